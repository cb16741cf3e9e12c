"""`python -m sim.board`: the simulated board (sim/cosim/board.py), under the name the docs give."""

import sys

from .cosim.board import BoardHarness, BoardServer, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
