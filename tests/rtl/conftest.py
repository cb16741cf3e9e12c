import contextlib
import sys
from pathlib import Path

# The regression's helpers (random_networks) are imported by name, here and inside cocotb.
sys.path.insert(0, str(Path(__file__).resolve().parent))


import pytest  # noqa: E402

# The simulated board that test_board.py and test_board_e2e.py share: DeviceTop at a UART
# divisor of 4 (a 3 Mbaud bit time at 12 MHz), one cached Verilator build for both, with the
# iCEBreaker's device options (max_payload, input_depth), as the bitstream has them.
BOARD_CONFIG = dict(n_neurons=12, n_inputs=6, n_synapses=64, n_segments=32, n_reverse=16,
                    n_profiles=4, n_projections=4, max_delay=2)
BOARD_DIVISOR = 4
BOARD_NAME = "icebreaker"


@contextlib.contextmanager
def simulated_board(**config_fields):
    """(BoardServer, CoreConfig) of a running simulated board of that configuration (Verilator
    build cached by source hash), stopped on exit; the server's `device_options` are the top's
    max_payload and input_depth."""
    from boards.glue import device_options
    from boards.registry import board as board_named
    from firmware import CoreConfig
    from rtl.memory import ICE40Memories
    from rtl.top import DeviceTop
    from sim.board import BoardServer

    config = CoreConfig(**config_fields)
    options = device_options(board_named(BOARD_NAME))
    # The bitstream's top and memory mapping (SPRAMs as behavioural models).
    top = DeviceTop(config, divisor=BOARD_DIVISOR, clock_hz=12_000_000,
                    memories=ICE40Memories(behavioural=True), **options)
    with BoardServer(top, BOARD_DIVISOR) as board:
        board.device_options = options
        yield board, config


@pytest.fixture(scope="module")
def device_board():
    """(BoardServer, CoreConfig) of the running simulated board of BOARD_CONFIG, stopped after
    the module."""
    with simulated_board(**BOARD_CONFIG) as running:
        yield running
