"""The command lines: `python -m firmware.nir info GRAPH` prints what maps, how and with what
error (or the refusal); `python -m host run GRAPH.nir --dt ...` runs a NIR graph as it runs an
image or a network file."""

import subprocess
import sys

import numpy as np
import pytest

import nir
from firmware import compile_network
from firmware.nir import from_nir, main, to_nir
from host.__main__ import main as host_main
from sim import GoldenModel
from tests.support import DATA as TEST_DATA, ROOT
from tests.support.nir_reference import self_driven_graph

DATA = TEST_DATA / "nir"
DIGITS = ROOT / "examples" / "data" / "digits_snn.nir"


def test_info_prints_the_mapping_and_the_errors(capsys):
    assert main(["info", str(DIGITS), "--dt", "1e-3"]) == 0
    out = capsys.readouterr().out
    assert "LIF 'lif1' -> population 'lif1': 40 neurons, du 4095, dv 410" in out
    assert "Linear 'fc1' -> projection 'fc1': 2560 synapses" in out and "[error: weight " in out
    assert "Output 'output' <- spikes of 'lif2', 2 ticks behind" in out
    assert "core usage: neurons 50, synapses 2960" in out


def test_info_takes_the_graphs_step_or_says_what_it_assumes(capsys):
    assert main(["info", str(DIGITS)]) == 0                  # examples/nir_digits.py writes its dt
    assert "NIR graph at dt = 0.001 s" in capsys.readouterr().out
    assert main(["info", str(DATA / "snntorch_leaky.nir")]) == 0
    out = capsys.readouterr().out
    assert "no --dt given and the graph names no step: assuming dt = 0.0001 s (snnTorch's)" in out
    assert "NIR graph at dt = 0.0001 s" in out


def test_info_refuses_clearly(capsys, tmp_path):
    assert main(["info", str(DATA / "norse_lifbox.nir"), "--dt", "1e-3"]) == 1
    assert "pass tau_times_dt=True" in capsys.readouterr().err
    assert main(["info", str(DATA / "norse_lifbox.nir"), "--dt", "1e-3", "--tau-times-dt"]) == 0
    assert main(["info", str(DIGITS), "--dt", "1e-3", "--n-neurons", "45"]) == 1
    assert "node 'lif2' (LIF, 10 neurons): the graph needs 50 neurons up to it, the core holds 45" in capsys.readouterr().err
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5")
    assert main(["info", str(bad), "--dt", "1e-3"]) == 1
    assert "not a readable NIR file" in capsys.readouterr().err


def test_info_takes_the_step_to_nir_wrote(tmp_path, capsys):
    network, _ = from_nir(self_driven_graph(), dt=1e-3)
    path = tmp_path / "ours.nir"
    nir.write(path, to_nir(network, dt=1e-3))
    assert main(["info", str(path)]) == 0
    assert "NIR graph at dt = 0.001 s, scaling 'native'" in capsys.readouterr().out


def test_python_m_firmware_nir_runs():
    done = subprocess.run([sys.executable, "-m", "firmware.nir", "info", str(DATA / "snntorch_leaky.nir"), "--dt", "1e-4"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "LIF '1' -> population '1'" in done.stdout


def test_host_run_takes_a_nir_graph(tmp_path, capsys):
    path, out = tmp_path / "driven.nir", tmp_path / "raster.npz"
    nir.write(path, self_driven_graph())
    assert host_main(["run", str(path), "--dt", "1e-3", "--ticks", "40", "--out", str(out)]) == 0
    network, report = from_nir(self_driven_graph(), dt=1e-3)
    want = GoldenModel(compile_network(network)).run(40)
    data = np.load(out)
    assert want.spikes.sum() > 20 and np.array_equal(data["spikes"], want.spikes)
    capsys.readouterr()
    assert host_main(["run", str(path), "--ticks", "40", "--out", str(out)]) == 1
    assert "give the step with --dt" in capsys.readouterr().err


def test_info_refuses_a_corrupt_hdf5_file_and_what_is_no_path(capsys, tmp_path):
    """Found by tests/properties/test_firmware_nir.py: h5py raises RuntimeError on a corrupt
    file (here one byte of a heap changed), which escaped read() with a traceback."""
    data = bytearray((DATA / "norse_iaf.nir").read_bytes())
    data[6232] = 123
    bad = tmp_path / "corrupt.nir"
    bad.write_bytes(bytes(data))
    assert main(["info", str(bad), "--dt", "1e-3"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: not a readable NIR file (RuntimeError: ") and err.count("\n") == 1, err
    from firmware.errors import NIRError
    from firmware.nir import read
    with pytest.raises(NIRError, match="NIR path 3: a path is a str or os.PathLike, not a int"):
        read(3)
