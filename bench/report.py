"""Write one section of docs/benchmarks.md, leaving the other sections as they are."""

from __future__ import annotations

import platform
import re
import subprocess
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nEvery number here was produced by the command shown with it.\n"


def machine() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=BENCHMARKS.parent).stdout.strip()
    except OSError:
        commit = "?"
    import os
    return (f"{time.strftime('%Y-%m-%d')}, commit {commit}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")


def update_section(title: str, body: str) -> None:
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    BENCHMARKS.parent.mkdir(exist_ok=True)
    BENCHMARKS.write_text(text.rstrip() + "\n")
