import sys
from pathlib import Path

# The regression's helpers (random_networks) are imported by name, here and inside cocotb.
sys.path.insert(0, str(Path(__file__).resolve().parent))


import pytest  # noqa: E402

from board_server import BOARD_CONFIG, simulated_board  # noqa: E402

# The simulated board that test_board.py, test_board_e2e.py and test_nir_board.py share:
# DeviceTop at a UART divisor of 4 (a 3 Mbaud bit time at 12 MHz), one cached Verilator build
# for all, with the iCEBreaker's device options (max_payload, input_depth), as the bitstream
# has them (board_server.py, BOARD_CONFIG).


@pytest.fixture(scope="module")
def device_board():
    """(BoardServer, CoreConfig) of the running simulated board of BOARD_CONFIG, stopped after
    the module."""
    with simulated_board(**BOARD_CONFIG) as running:
        yield running
