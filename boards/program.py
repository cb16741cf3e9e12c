"""Loading a bitstream onto the board: `python -m boards.build BOARD --program`.

    find_programmer(board, which=None) -> (Programmer, path) | None
        the first of the board's programmers that is on PATH (registry: iceprog, then
        openFPGALoader for the iCEBreaker; openFPGALoader for the ULX3S)
    program(board, bitstream, say=print, which=None) -> int
        the programmer's exit status; 1, after saying what to install, when there is none
    (`which` replaces shutil.which, for tests)

Nothing else in the flow needs these tools; they are system packages, not pip ones.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .registry import Board, Programmer


def find_programmer(board: Board, which=None) -> tuple[Programmer, str] | None:
    which = which or shutil.which
    for programmer in board.programmers:
        path = which(programmer.tool)
        if path:
            return programmer, path
    return None


def install_hint(board: Board) -> str:
    options = " or ".join(f"{p.tool} ({p.install})" for p in board.programmers)
    return f"no programmer for {board.name} on PATH: install {options}"


def program(board: Board, bitstream: Path, say=print, which=None) -> int:
    found = find_programmer(board, which)
    if found is None:
        say(install_hint(board))
        return 1
    programmer, path = found
    argv = [path, *(arg.format(bitstream=bitstream) for arg in programmer.args)]
    say("$ " + " ".join(map(str, argv)))
    return subprocess.run(argv).returncode
