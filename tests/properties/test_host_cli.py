"""The command lines under fuzzing: `python -m host` (host/__main__.py) with junk arguments and
junk network files (images mutated or random, Python files that fail in every way, NIR files
that are not), against the golden model and the in-process emulator; and `python -m firmware.nir
info` with junk files and options.

Each ends with exit status 0 (and the files it said it wrote), 1 with exactly one line
"error: ..." on stderr that names something, 2 from argparse (its usage and one "error:"
line), or 130 ("interrupted"): never a traceback. They run in this process (main(argv)), so
an exception that escapes main() fails the property with its traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import zlib

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from firmware import CoreConfig, compile_network
from firmware.nir import main as nir_main
from host.__main__ import main as host_main
from tests.support.hardening import budget, check_message, networks
from tests.support.networks import RELAY_FILE


pytestmark = pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning")

CORE = CoreConfig(n_neurons=16, n_inputs=12, n_synapses=256, n_segments=96, n_reverse=256, max_delay=2)

# Endings of a network file: each valid, or wrong in its own way.
ENDINGS = [
    "", "inputs = {0: [0, 1], 3: [2]}", "inputs = {0: [9]}", "inputs = 'junk'", "inputs = [[0], [1.5]]",
    "config = CoreConfig(n_neurons=4, n_inputs=4)", "config = CoreConfig(n_neurons=2, n_inputs=4)",
    "config = 'junk'", "config = 5", "network = 5", "del network", "network = None",
    "raise ValueError('bad value')", "raise KeyError('k')", "raise MemoryError()", "import sys; sys.exit(3)",
    "import sys; sys.exit('bye')", "raise SystemExit", "class Odd(BaseException): pass\nraise Odd()",
    "def f(): f()\nf()", "x = (", "1 / 0", "import no_such_module_here", "open('/nonexistent/x')",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


def run_cli(main, argv) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of main(argv), SystemExit included."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def assert_clean_exit(code: int, out: str, err: str) -> None:
    """Exit 0, 1 with one named "error:" line, 2 from argparse, or 130; never a traceback."""
    assert "Traceback" not in err + out, err
    assert code in (0, 1, 2, 130), (code, out, err)
    lines = err.strip().splitlines()
    if code == 1:
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        check_message(Exception(lines[0][len("error: "):]))
    elif code == 2:
        assert lines and lines[-1].split(": ")[1:2] == ["error"], err       # "prog: error: ..."
    elif code == 130:
        assert lines == ["interrupted"], err


@st.composite
def network_files(draw, folder):
    """A path: a valid or mutated image, a Python network file with some ending, a random file,
    a directory, or no file at all."""
    kind = draw(st.sampled_from(["python", "image", "python", "mutated", "python", "random", "image", "dir", "missing", "nir"]))
    if kind in ("image", "mutated"):
        data = bytearray(compile_network(draw(networks()), CORE).to_bytes())
        if kind == "mutated":
            for _ in range(draw(st.integers(1, 3))):
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
            if draw(st.booleans()):          # a CRC that agrees takes the mutation further in
                data[24:28] = zlib.crc32(bytes(data[28:])).to_bytes(4, "little")
        path = folder / "net.axi"
        path.write_bytes(bytes(data))
    elif kind == "python":
        path = folder / "net.py"
        path.write_text(RELAY_FILE + "from firmware import CoreConfig\n" + draw(st.sampled_from(ENDINGS)) + "\n")
    elif kind in ("random", "nir"):
        path = folder / draw(st.sampled_from(["junk.axi", "junk.py", "junk.nir", "junk"] if kind == "random" else ["junk.nir"]))
        path.write_bytes(draw(st.binary(max_size=64)) if kind == "random" else b"\x89HDF\r\n\x1a\n" + draw(st.binary(max_size=64)))
    elif kind == "dir":
        path = folder
    else:                                   # names a message must show on its one line
        path = folder / draw(st.sampled_from(["missing/net.axi", "new\nline.axi", " lead.py", "tab\t.nir", "cr\r.py"]))
    event(f"network: {kind}")
    return str(path)


def options(folder):
    """Options of `run`: (valid values, junk values) of each."""
    numbers = ["0", "-1", "2.5", "abc", "", "4294967296", "nan", "inf", "1e-3"]
    return {
        "--ticks": (["5", "20"], numbers),
        # --out is always given: the default would write into the current folder
        "--out": ([str(folder / "r.npz")], [str(folder / "r.png"), str(folder / "missing" / "r.npz"), str(folder),
                                            "", str(folder / "r\0.npz"), str(folder / "no\ndir" / "r.npz")]),
        "--plot": ([str(folder / "r.png"), str(folder / "r.svg")], [str(folder / "r.xyz"), str(folder / "r")]),
        "--device": (["model", "emulator://"], ["model://", "socket://127.0.0.1:1", "x-no-such-port", ""]),
        "--seed": (["1", "77"], numbers), "--timeout": (["5", "30"], numbers), "--dt": (["1e-3"], numbers),
    }


@st.composite
def run_arguments(draw, folder):
    """`run`'s options: all valid, or all valid but one junk, so that the junk one is what the
    command meets (a junk --ticks would end every run in argparse)."""
    table = options(folder)
    given = ["--ticks", "--out"] + [name for name in ("--device", "--plot", "--seed", "--timeout", "--dt")
                                    if draw(st.booleans())]
    junk = draw(st.one_of(st.none(), st.sampled_from(given)))
    argv = []
    for name in given:
        valid, bad = table[name]
        argv += [name, draw(st.sampled_from(bad if name == junk else valid))]
    return argv, junk


@budget(60)
@given(data=st.data())
def test_host_run_exits_cleanly(folder, data):
    options_, junk = data.draw(run_arguments(folder))
    argv = ["run", data.draw(network_files(folder))] + options_
    if junk is not None:
        argv += data.draw(st.sampled_from([[], [], ["--bogus"], ["extra"], ["--ticks"]]))
    for stale in (folder / "r.npz", folder / "r.png", folder / "r.svg"):
        if stale.exists():
            stale.unlink()
    code, out, err = run_cli(host_main, argv)
    event(f"exit {code}")
    assert_clean_exit(code, out, err)
    if code == 0:
        written = argv[argv.index("--out") + 1]
        assert f"wrote {written}" in out and os.path.exists(written), out
        assert set(np.load(written)) >= {"times", "neurons", "output_ids", "counters"}


@budget(30)
@given(command=st.sampled_from(["info", "run", "", "--bogus"]),
       device=st.one_of(st.sampled_from(["emulator://", "model", "x-no-such-port", ""]), st.none()),
       timeout=st.one_of(st.sampled_from(["nan", "-1", "0", "0.5", "x", "inf"]), st.none()),
       stray=st.lists(st.sampled_from(["x", "--device", "--ticks", "3", "-"]), max_size=2))
def test_any_argument_list_exits_cleanly(command, device, timeout, stray):
    argv = [command] + (["--device", device] if device is not None else []) + (
        ["--timeout", timeout] if timeout is not None else []) + stray
    code, out, err = run_cli(host_main, argv)
    assert_clean_exit(code, out, err)


@budget(30)
@given(data=st.data())
def test_nir_info_exits_cleanly(folder, data):
    kind = data.draw(st.sampled_from(["hdf5-junk", "random", "dir", "missing", "empty"]))
    path = folder / "graph.nir"
    if kind == "hdf5-junk":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + data.draw(st.binary(max_size=256)))
    elif kind == "random":
        path.write_bytes(data.draw(st.binary(max_size=256)))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "dir":
        path = folder
    else:
        path = folder / "missing.nir"
    argv = ["info", str(path)]
    for option in data.draw(st.lists(st.sampled_from(["--dt", "--n-neurons", "--weight-bits", "--scaling"]),
                                     max_size=2, unique=True)):
        argv += [option, data.draw(st.sampled_from(["1e-3", "0", "-1", "nan", "2", "abc", "weights"]))]
    code, out, err = run_cli(nir_main, argv)
    event(f"exit {code}")
    assert_clean_exit(code, out, err)
    assert code != 0
