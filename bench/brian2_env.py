"""The Brian2 environment of the golden-model benchmark: a virtual environment of its own under
the checkout (build/brian2-venv), made on first use, never the project's.

Brian2 2.9.0 is the newest release for Python 3.11 (2.10 and 2.11 need Python 3.12 and 3.13);
it is run with numpy 1.26 (it was released against numpy 1.x), while the project pins numpy 2,
so it gets its own interpreter: `python -m venv build/brian2-venv` and a pip install of the
pinned versions below (from PyPI, about a minute). The pins are checked on every use; a
changed list makes the environment again.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.report import ROOT, BenchError

VENV = ROOT / "build" / "brian2-venv"
REQUIREMENTS = (
    "brian2==2.9.0", "numpy==1.26.4",
    # what brian2 2.9.0 pulls in, pinned to the versions it was benchmarked with
    "cython==3.3.2", "sympy==1.14.0", "mpmath==1.3.0", "jinja2==3.1.6", "markupsafe==3.0.4",
    "pyparsing==3.3.3", "packaging==26.4",
)
MARKER = "axonite-requirements.txt"


def python_path(venv: Path = VENV) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure(venv: Path = VENV, say=print) -> Path:
    """The Python of the Brian2 environment, made (or remade, when the pins changed) first."""
    marker = venv / MARKER
    wanted = "\n".join(REQUIREMENTS) + "\n"
    python = python_path(venv)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    say(f"making the Brian2 environment {venv} ({', '.join(REQUIREMENTS[:2])}) ...")
    steps = ([sys.executable, "-m", "venv", "--clear", str(venv)],
             [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *REQUIREMENTS])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise BenchError(f"making the Brian2 environment failed: `{' '.join(step)}` exited with "
                             f"{done.returncode}: {' / '.join(tail)}")
    marker.write_text(wanted)
    return python
