"""Loading a bitstream onto the board: `python -m boards.build BOARD --program`.

    find_programmer(board, which=None) -> (Programmer, path) | None
        the first of the board's programmers that is on PATH (registry: iceprog, then
        openFPGALoader for the iCEBreaker; openFPGALoader for the ULX3S)
    program(board, bitstream, say=print, which=None) -> int
        the programmer's exit status; 1, after saying what to install, when there is none
    (`which` replaces shutil.which, for tests)
    check_board(board, config, baud, say=print) -> bool
        after programming: find the board (host.find_boards) and run the doctor on it
        (host.doctor), expecting the configuration and baud rate just built; True if it passes

Nothing else in the flow needs these tools; they are system packages, not pip ones.
"""

from __future__ import annotations

import shutil
import subprocess
import time
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


SETTLE_S = 1.0      # after the programmer ends: the FPGA loads the bitstream from the flash


def check_board(board: Board, config, baud: int, say=print, settle_s: float | None = None) -> bool:
    from host.doctor import Doctor
    from host.ports import find_boards

    time.sleep(SETTLE_S if settle_s is None else settle_s)
    found = find_boards(board=board.name)
    found = [b for b in found if b.named] or found
    if len(found) != 1:
        what = ("none" if not found else
                f"{len(found)}: " + "; ".join(b.describe() for b in found))
        say(f"[doctor] not run: looking for the {board.name} just programmed, found {what}. Run "
            f"`python -m host doctor PORT` on its port (`python -m host list` lists the boards)")
        return False
    say(f"[doctor] {found[0].describe()}")
    report = Doctor(found[0].port, baudrate=baud, expect_config=config, say=say).run()
    say(report.verdict)
    return report.passed
