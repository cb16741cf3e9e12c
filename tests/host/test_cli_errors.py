"""python -m host run: bad paths and interruptions end in one line on stderr, never a traceback,
and output paths are checked before anything runs (issue 12, findings 7 and 9).

Most cases call host.__main__.main in this process against the golden model ("model"), so
they are cheap; one starts the command in its own process to send it a real Ctrl-C (SIGINT).
"""

import builtins
import io
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

from firmware import compile_network
from host import __main__ as cli
from host.device import Device
from tests.support import ENV, ROOT, sigint_as_from_a_shell
from tests.support.networks import RELAY_FILE, relay_network


NETWORK_FILE = RELAY_FILE + "inputs = {0: [0, 1], 3: [2]}\n"


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "relay.axi"
    compile_network(relay_network(4)).save(path)
    return path


def one_line_error(capsys, code, expected_code=1):
    """The captured stderr: exactly one line starting with 'error:' (or 'interrupted')."""
    out, err = capsys.readouterr()
    assert code == expected_code, (code, out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return out, err.strip()


@pytest.fixture
def no_run(monkeypatch):
    """Fails the test if the command gets as far as opening a device."""
    def refuse(*args, **kwargs):
        raise AssertionError("the command opened a device before refusing its arguments")
    monkeypatch.setattr(Device, "open", staticmethod(refuse))


# --- NETWORK -------------------------------------------------------------------------------------


def test_a_directory_as_network(tmp_path, capsys, no_run):
    _, err = one_line_error(capsys, cli.main(["run", str(tmp_path), "--ticks", "5", "--out", str(tmp_path / "r.npz")]))
    assert err == f"error: {tmp_path}: is a directory, not an image (.axi) or Python file"


@pytest.mark.parametrize("suffix", [".axi", ".py"])
def test_an_unreadable_network_file(tmp_path, capsys, monkeypatch, no_run, suffix):
    path = tmp_path / f"net{suffix}"
    path.write_text(NETWORK_FILE)
    # chmod does not stop root, so the refusal is simulated where each kind of file is opened:
    # Image.load with open(), runpy with io.open_code().
    for module, name in ((builtins, "open"), (io, "open_code")):
        def deny(file, *args, real=getattr(module, name), **kwargs):
            if str(file) == str(path):
                raise PermissionError(13, "Permission denied", str(file))
            return real(file, *args, **kwargs)
        monkeypatch.setattr(module, name, deny)
    _, err = one_line_error(capsys, cli.main(["run", str(path), "--ticks", "5", "--out", str(tmp_path / "r.npz")]))
    assert err == f"error: {path}: cannot read: Permission denied"


def test_a_missing_network_file(tmp_path, capsys, no_run):
    _, err = one_line_error(capsys, cli.main(["run", str(tmp_path / "nope.axi"), "--ticks", "5",
                                              "--out", str(tmp_path / "r.npz")]))
    assert err == f"error: {tmp_path / 'nope.axi'}: no such file"


@pytest.mark.parametrize("body,fragment", [
    ("network = Network(\n", "line 1: SyntaxError: '(' was never closed"),
    ("from firmware import Network\nnetwork = Network('x')\nnetwork.inputs('a', -1)\n",
     "line 3: NetworkError: inputs 'a': size = -1 must be a positive integer"),
    ("x = 1\nraise RuntimeError('boom')\n", "line 2: RuntimeError: boom"),
])
def test_a_network_file_that_fails(tmp_path, capsys, no_run, body, fragment):
    path = tmp_path / "net.py"
    path.write_text(body)
    _, err = one_line_error(capsys, cli.main(["run", str(path), "--ticks", "5", "--out", str(tmp_path / "r.npz")]))
    assert err.startswith(f"error: {path}, ") and fragment in err, err


@pytest.mark.parametrize("ending,fragment", [
    ("import sys\nsys.exit(3)\n", "line 2: SystemExit: 3"),
    ("class Odd(BaseException):\n    pass\nraise Odd('odd')\n", "line 3: Odd: odd"),
])
def test_a_network_file_that_exits_or_raises_a_base_exception(tmp_path, capsys, no_run, ending, fragment):
    """Found by tests/properties/test_host_cli.py: sys.exit(3) in a network file ended the
    command with status 3 and no word; a BaseException of its own with a traceback."""
    path = tmp_path / "net.py"
    path.write_text(ending)
    _, err = one_line_error(capsys, cli.main(["run", str(path), "--ticks", "5", "--out", str(tmp_path / "r.npz")]))
    assert err.startswith(f"error: {path}, ") and fragment in err, err


def test_an_error_is_one_line_whatever_its_path_or_message_holds(tmp_path, capsys, no_run):
    """Found by the property suite's slow profile: a path with a newline or a carriage return
    split or hid the error line; a network file's multi-line message split it."""
    missing = tmp_path / "two\nlines.axi"
    _, err = one_line_error(capsys, cli.main(["run", str(missing), "--ticks", "5", "--out", str(tmp_path / "r.npz")]))
    assert err == f"error: {str(missing)!r}: no such file"
    path = tmp_path / "net.py"
    path.write_text("raise ValueError('first\\nsecond')\n")
    _, err = one_line_error(capsys, cli.main(["run", str(path), "--ticks", "5", "--out", str(tmp_path / "r.npz")]))
    assert err.endswith("line 1: ValueError: first second"), err


@pytest.mark.parametrize("device", ["model", "emulator://"])
def test_a_network_file_whose_config_is_no_core_configuration(tmp_path, capsys, device):
    """Found by tests/properties/test_host_cli.py: with emulator://, `config = 'junk'` reached
    DeviceEmulator and ended in an AttributeError's traceback."""
    path = tmp_path / "net.py"
    path.write_text(NETWORK_FILE + "config = 'junk'\n")
    _, err = one_line_error(capsys, cli.main(["run", str(path), "--ticks", "5", "--device", device,
                                              "--out", str(tmp_path / "r.npz")]))
    assert "config is a str, not a CoreConfig" in err, err


def test_a_timeout_that_is_no_positive_number(tmp_path, capsys, image_file):
    """--timeout nan waited forever for a silent device (no comparison with NaN is true)."""
    for value in ("nan", "-1", "0", "inf"):
        _, err = one_line_error(capsys, cli.main(["run", str(image_file), "--ticks", "5", "--timeout", value,
                                                  "--device", "emulator://", "--out", str(tmp_path / "r.npz")]))
        assert f"timeout = {float(value)} must be a positive, finite number of seconds" in err, err


# --- --out and --plot: checked before running, written exactly as given ---------------------------


@pytest.mark.parametrize("option,name,fragment", [
    ("--out", "missing/r.npz", "the directory {tmp}/missing does not exist"),
    ("--plot", "missing/r.png", "the directory {tmp}/missing does not exist"),
    ("--out", "r.png", "--out {tmp}/r.png: the raster is written as .npz; give a name ending in .npz"),
    ("--out", "r", "give a name ending in .npz"),
    ("--out", "dir.npz", "--out {tmp}/dir.npz is a directory"),
    ("--out", "file/r.npz", "{tmp}/file is not a directory"),
    ("--plot", "r", "--plot {tmp}/r: give a name ending in one of"),
    ("--plot", "r.xyz", "--plot {tmp}/r.xyz: give a name ending in one of"),
    ("--out", "r\0.npz", "--out '{tmp}/r\\x00.npz': a path cannot hold a NUL byte"),   # was: "embedded null byte"
])
def test_output_paths_are_refused_before_running(tmp_path, capsys, image_file, no_run, option, name, fragment):
    (tmp_path / "dir.npz").mkdir()
    (tmp_path / "file").write_text("")
    args = ["run", str(image_file), "--ticks", "5", "--out", str(tmp_path / "ok.npz"), option, str(tmp_path / name)]
    _, err = one_line_error(capsys, cli.main(args))
    assert err.startswith("error: ") and fragment.format(tmp=tmp_path) in err, err


def test_an_unwritable_output_directory(tmp_path, capsys, image_file, no_run, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: str(p) != str(tmp_path) and real_access(p, mode))
    _, err = one_line_error(capsys, cli.main(["run", str(image_file), "--ticks", "5", "--out", str(tmp_path / "r.npz")]))
    assert err == f"error: --out {tmp_path / 'r.npz'}: cannot write into {tmp_path}"


def test_outputs_are_written_exactly_where_asked(tmp_path, capsys, image_file):
    out, png = tmp_path / "raster.npz", tmp_path / "raster.png"
    assert cli.main(["run", str(image_file), "--ticks", "20", "--out", str(out), "--plot", str(png)]) == 0
    stdout = capsys.readouterr().out
    assert f"wrote {out}\n" in stdout and f"wrote {png}\n" in stdout, stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raster.npz", "raster.png", "relay.axi"]
    assert np.load(out)["spikes"].shape == (20, 4)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- Ctrl-C and out of memory -----------------------------------------------------------------------


@pytest.mark.parametrize("method,exception,code,expected", [
    ("load", KeyboardInterrupt, 130, "interrupted"),     # before the run (during it: test_cli_input.py)
    ("stream", MemoryError, 1, "error: out of memory (fewer --ticks or a smaller network need less)"),
])
def test_interrupt_and_out_of_memory_during_the_run(tmp_path, capsys, image_file, monkeypatch, method, exception,
                                                    code, expected):
    from host.model_device import ModelDevice

    def fail(self, *args, **kwargs):
        raise exception()
    monkeypatch.setattr(ModelDevice, method, fail)
    _, err = one_line_error(capsys, cli.main(["run", str(image_file), "--ticks", "5", "--out", str(tmp_path / "r.npz")]),
                            expected_code=code)
    assert err == expected
    assert not (tmp_path / "r.npz").exists()


def test_ctrl_c_in_a_separate_process(tmp_path):
    """A real SIGINT while the command runs: 'interrupted', exit status 130, no traceback. The
    network file prints a line when it is loaded, that is, once the command is inside main()."""
    net = tmp_path / "net.py"
    net.write_text(NETWORK_FILE + "print('loaded', flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-m", "host", "run", str(net), "--ticks", "300000",
                             "--out", str(tmp_path / "r.npz")], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=sigint_as_from_a_shell)
    try:
        assert proc.stdout.readline().strip() == "loaded"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)   # a loaded machine: seconds of JIT before the handler runs
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    # before the run: "interrupted"; once it runs, the ticks completed are saved (test_cli_input.py)
    assert re.fullmatch(rf"interrupted( after \d+ ticks; partial results in {re.escape(str(tmp_path / 'r.npz'))})?",
                        err.strip()), err
