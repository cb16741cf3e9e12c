"""What the tests share, each written once: the scalar reference, the networks, harnesses and
helpers (tests/README.md lists them and the layout of tests/).

A package, imported by its full name (`from tests.support.networks import relay_network`), not
a folder put on sys.path: an import then says where a helper lives, no bare name (`reference`,
`hardening`, `networks`) can collide with a project or third-party module, and the same import
works wherever the checkout is importable: in pytest (pyproject.toml's `pythonpath = ["."]`,
for `pytest` started without `python -m`), in the cocotb simulator's process (run_cocotb puts
the checkout on its PYTHONPATH), in a network file that `python -m host run` executes and in
bench/link.py. Test modules import from here and never from one another; nothing under tests/
edits sys.path (tests/test_layers.py checks both).

ROOT, DATA and EXAMPLES are the checkout, tests/data and examples/; ENV is this process's
environment with the checkout first on PYTHONPATH, for the tests that run a command line in a
subprocess. `sigint_as_from_a_shell` is a Popen preexec_fn for the tests that interrupt one.
"""

import os
import signal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
EXAMPLES = ROOT / "examples"
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def sigint_as_from_a_shell():
    """subprocess.Popen(preexec_fn=...): SIGINT unblocked and at its default disposition in the
    child, as a shell starts a command, whatever this test process inherited or set (a Ctrl-C
    test's child must not inherit an ignored or blocked SIGINT)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)
