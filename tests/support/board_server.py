"""A simulated board of any configuration: tests/rtl/conftest.py's `device_board` fixture is this
with BOARD_CONFIG; tests/properties/test_sim_board.py and bench/link.py run it too."""

import contextlib

# The board the RTL tests simulate, its UART divisor (a 3 Mbaud bit time at 12 MHz) and the
# registry board whose device options (max_payload, input_depth) the bitstream gets.
BOARD_DIVISOR = 4
BOARD_NAME = "icebreaker"
# The configuration tests/rtl's board tests (test_board.py, test_board_e2e.py, test_nir_board.py ...),
# the Core's and the Link's simulator tests and the property suite share: one cached Verilator build.
BOARD_CONFIG = dict(n_neurons=12, n_inputs=6, n_synapses=64, n_segments=32, n_reverse=16,
                    n_profiles=4, n_projections=4, max_delay=2)


@contextlib.contextmanager
def simulated_board(cores: int = 1, **config_fields):
    """(BoardServer, CoreConfig) of a running simulated board of that configuration (Verilator
    build cached by source hash), of `cores` cores (rtl.multicore.MultiCore behind the Link
    when more than one), stopped on exit; the server's `device_options` are the top's
    max_payload and input_depth."""
    from boards.glue import device_options
    from boards.registry import board as board_named
    from firmware import CoreConfig
    from rtl.lib.memory import ICE40Memories
    from rtl.link.top import DeviceTop
    from sim.cosim.board import BoardServer

    config = CoreConfig(**config_fields)
    options = device_options(board_named(BOARD_NAME))
    # The bitstream's top and memory mapping (SPRAMs as behavioural models).
    top = DeviceTop(config, divisor=BOARD_DIVISOR, clock_hz=12_000_000,
                    memories=ICE40Memories(behavioural=True), cores=cores, **options)
    with BoardServer(top, BOARD_DIVISOR) as board:
        board.device_options = options
        yield board, config
