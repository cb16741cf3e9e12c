"""The command line against the emulator (as a separate process), and the FTDI latency timer."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from firmware import CoreConfig, compile_network
from host import Device, LatencyTimerWarning, check_latency_timer
from host.latency import latency_timer_path
from sim import GoldenModel
from tests.support import ENV, ROOT
from tests.support.networks import plastic_network


NETWORK_FILE = '''
import numpy as np
from firmware import FixedProbability, Network, STDPRule

network = Network("cli")
inp = network.inputs("in", 16)
exc = network.population("exc", 24, du=400, dv=200, vth=30, refractory=1)
network.connect(inp, exc, FixedProbability(0.5, seed=1), weight=60, stdp=STDPRule(), name="in_exc")
network.record(exc)
inputs = np.random.default_rng(4).random((150, 16)) < 0.15
'''


@pytest.fixture
def emulator_process():
    """python -m sim.device_emulator --port 0 in its own process; yields its URL; must stop
    cleanly on SIGTERM."""
    proc = subprocess.Popen([sys.executable, "-m", "sim.device_emulator", "--port", "0"], cwd=ROOT,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on socket://127.0.0.1:" in line, line + proc.stderr.read()
        yield line.split()[-1]
    finally:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err
    assert "stopped" in out


def run_cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "host", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def test_cli_runs_a_python_network_on_the_emulator(emulator_process, tmp_path):
    net_file = tmp_path / "net.py"
    net_file.write_text(NETWORK_FILE)
    out, png = tmp_path / "raster.npz", tmp_path / "raster.png"
    proc = run_cli("run", str(net_file), "--device", emulator_process, "--ticks", "200",
                   "--out", str(out), "--plot", str(png), "--timeout", "10")
    assert proc.returncode == 0, proc.stderr
    assert "output spikes" in proc.stdout
    data = np.load(out)
    assert data["spikes"].shape == (200, 24)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    # the same as the golden model with the file's inputs
    ns = {}
    exec(NETWORK_FILE, ns)
    expected = GoldenModel(compile_network(ns["network"])).run(200, ns["inputs"])
    assert data["spikes"].sum() > 0
    assert np.array_equal(data["spikes"], expected.spikes)
    assert np.array_equal(data["times"], expected.times) and np.array_equal(data["neurons"], expected.neurons)
    counters = dict(zip(data["counter_names"].tolist(), data["counters"].tolist()))
    assert counters["ticks"] == 200 and counters["output_spikes"] == expected.spikes.sum()


def test_cli_runs_an_image_file_and_reports_errors(emulator_process, tmp_path):
    image = tmp_path / "net.axi"
    compile_network(plastic_network()).save(image)
    out = tmp_path / "r.npz"
    proc = run_cli("run", str(image), "--device", emulator_process, "--ticks", "30", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert np.load(out)["spikes"].shape == (30, 27)
    small = tmp_path / "small.axi"
    compile_network(plastic_network(), CoreConfig(n_neurons=64)).save(small)
    proc = run_cli("run", str(small), "--device", emulator_process, "--ticks", "5")
    assert proc.returncode == 1
    assert "error:" in proc.stderr and "n_neurons: image 64, device 256" in proc.stderr
    proc = run_cli("run", str(tmp_path / "missing.axi"), "--device", "model", "--ticks", "5")
    assert proc.returncode == 1 and "no such file" in proc.stderr
    proc = run_cli("info", "--device", emulator_process)
    assert proc.returncode == 0 and "input_depth: 512" in proc.stdout


# --- FTDI latency timer, on a sysfs-like directory --------------------------------------------------


def fake_sysfs(tmp_path, tty="ttyUSB3", value="16"):
    d = tmp_path / "bus" / "usb-serial" / "devices" / tty
    d.mkdir(parents=True)
    (d / "latency_timer").write_text(value + "\n")
    return d / "latency_timer"


def test_latency_timer_is_set_to_1ms(tmp_path):
    path = fake_sysfs(tmp_path)
    assert latency_timer_path("/dev/ttyUSB3", tmp_path) == path
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_latency_timer("/dev/ttyUSB3", tmp_path) == 1
    assert path.read_text().strip() == "1"
    assert check_latency_timer("/dev/ttyUSB3", tmp_path) == 1          # already fine


def test_latency_timer_that_cannot_be_changed_says_how(tmp_path, monkeypatch):
    path = fake_sysfs(tmp_path)
    original = Path.write_text

    def refuse(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return original(self, *args, **kwargs)
    monkeypatch.setattr(Path, "write_text", refuse)
    with pytest.warns(LatencyTimerWarning, match=r"latency timer is 16 ms.*echo 1 \| sudo tee .*latency_timer.*udev"):
        assert check_latency_timer("/dev/ttyUSB3", tmp_path) == 16
    monkeypatch.undo()
    with pytest.warns(LatencyTimerWarning, match="16 ms"):           # fix=False only reports
        assert check_latency_timer("/dev/ttyUSB3", tmp_path, fix=False) == 16
    assert path.read_text().strip() == "16"


def test_latency_timer_ignores_other_ports(tmp_path):
    fake_sysfs(tmp_path)
    assert check_latency_timer("/dev/ttyACM0", tmp_path) is None
    assert check_latency_timer("/dev/ttyUSB9", tmp_path) is None        # no such device in sysfs
    assert check_latency_timer("COM3", tmp_path) is None


def test_device_open_checks_the_latency_timer_of_a_serial_port(tmp_path):
    path = fake_sysfs(tmp_path, "ttyUSB7")
    from host import DeviceNotFoundError
    with pytest.raises(DeviceNotFoundError, match="cannot open /dev/ttyUSB7"):
        Device.open("/dev/ttyUSB7", sysfs=str(tmp_path), timeout=0.2)
    assert path.read_text().strip() == "1"
