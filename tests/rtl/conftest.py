import pytest

from tests.support.board_server import BOARD_CONFIG, simulated_board

# The simulated board that the board tests here share (test_board.py, test_board_e2e.py,
# test_nir_board.py ...): DeviceTop at a UART divisor of 4 (a 3 Mbaud bit time at 12 MHz), one
# cached Verilator build for all, with the iCEBreaker's device options (max_payload,
# input_depth), as the bitstream has them (tests/support/board_server.py, BOARD_CONFIG).


@pytest.fixture(scope="module")
def device_board():
    """(BoardServer, CoreConfig) of the running simulated board of BOARD_CONFIG, stopped after
    the module."""
    with simulated_board(**BOARD_CONFIG) as running:
        yield running
