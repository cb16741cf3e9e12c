"""The doctor (host/doctor.py) on the device emulator: every layer passes on a sound device, and
each fault is reported at its layer with a fix. port: a port that will not open, a board's
other interface, the latency timer (a remark); hello: a silent port, a foreign bitstream,
another protocol version, a wrong baud rate on a serial port (a pseudo-terminal), an image for
another configuration; link: a corrupted byte stream; core: a stuck memory bit; freerun:
dropped events, a board clock off its frequency. The same on the simulated board:
tests/rtl/test_doctor_board.py."""

import errno
import json
import socket
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest
import serial

from boards.registry import ICEBREAKER_CONFIG, ULX3S_CONFIG
from firmware import CoreConfig, compile_network
from firmware import protocol as P
from host import DeviceError, DeviceTimeoutError, LatencyTimerWarning, LinkDevice
from host import doctor as doctor_module
from host import ports
from host.doctor import LAYERS, Doctor, doctor, reference_image
from host.transport import LoopbackTransport, open_hint
from sim import GoldenModel
from sim.device_emulator import DeviceEmulator, EmulatorServer
from tests.support import ENV, ROOT
from tests.support.line_faults import ByteFlips, FaultyLine, PtyBoard
from tests.support.networks import relay_network
from tests.support.port_listings import icebreaker

QUICK = dict(frames=100, ticks=60, freerun_s=0.5, timeout=2.0)
SMALL = CoreConfig(n_neurons=32, n_inputs=16, n_synapses=512, n_segments=64, n_reverse=256,
                   n_profiles=4, n_projections=4, max_delay=3)


def statuses(report):
    return {layer.name: layer.status for layer in report.layers}


def layer(report, name):
    return next(x for x in report.layers if x.name == name)


def assert_fails_at(report, name):
    got = statuses(report)
    assert got[name] == "fail", report.text()
    before = LAYERS[:LAYERS.index(name)]
    assert all(got[n] in ("pass", "warn") for n in before), report.text()
    assert all(got[n] == "skipped" for n in LAYERS[LAYERS.index(name) + 1:]), report.text()
    assert not report.passed and report.verdict.startswith(f"FAIL at {name}: ")
    assert layer(report, name).fix
    return layer(report, name)


# --- a sound device ---------------------------------------------------------------------------


def test_every_layer_passes_on_the_emulator():
    lines = []
    with EmulatorServer(port=0) as server:
        report = doctor(server.url, say=lines.append, **QUICK)
    assert report.passed, report.text()
    assert statuses(report)["link"] == statuses(report)["core"] == "pass"
    assert statuses(report)["freerun"] in ("pass", "warn")   # the emulator's overruns are the host's
    assert report.verdict.startswith(f"PASS: {server.url}: axonite protocol 1, EMULATOR")
    assert len(lines) == len(LAYERS)
    link = layer(report, "link").details
    assert link["commands"] == 100 and link["retries"] == 0 and link["bit_error_rate"] is None
    assert link["bit_error_bound_95"] == pytest.approx(3 / link["bits"]) and link["bytes"] > 10_000
    core = layer(report, "core").details
    assert core["counters"]["plastic_updates"] > 100 and core["counters"]["ticks"] == 60
    assert set(core["projections"]) == {"in_exc", "exc_out"}
    freerun = layer(report, "freerun").details
    assert freerun["ticks"] > 10 and freerun["dropped"] == 0 and not freerun["clock_judged"]
    data = json.loads(report.to_json())
    assert data["verdict"] == "pass" and data["failed_layer"] is None
    assert [x["name"] for x in data["layers"]] == list(LAYERS)
    assert data["device"]["config"] == CoreConfig().to_dict()
    assert data["host"]["protocol_version"] == P.PROTOCOL_VERSION


@pytest.mark.parametrize("config", [CoreConfig(), SMALL, ICEBREAKER_CONFIG, ULX3S_CONFIG,
                                    CoreConfig(n_neurons=12, n_inputs=6, n_synapses=64, n_segments=32,
                                               n_reverse=16, n_profiles=4, n_projections=4, max_delay=2)],
                         ids=["default", "small", "icebreaker", "ulx3s", "board"])
def test_the_reference_network_fits_and_learns_on_every_configuration(config):
    image = reference_image(config)
    model = GoldenModel(image)
    n_in = image.group("in")[1]["size"]
    result = model.run(150, np.random.default_rng(1).random((150, n_in)) < 0.25)
    assert result.spikes.sum() > 50
    assert model.counters["plastic_updates"] > 50
    # and without input (free-run) the biased neurons fire
    assert GoldenModel(image).run(100).spikes.sum() > 5


def test_a_device_of_another_configuration_passes_and_an_image_for_another_fails_at_hello(tmp_path):
    with EmulatorServer(port=0, config=SMALL) as server:
        report = doctor(server.url, **QUICK)
        assert report.passed, report.text()
        assert layer(report, "hello").details["config"] == SMALL.to_dict()
        image = compile_network(relay_network(16))            # for CoreConfig(): 256 neurons
        failed = assert_fails_at(doctor(server.url, image=image, **QUICK), "hello")
    assert "the image is for another core" in failed.summary
    assert "n_neurons: image 256, device 32" in failed.summary
    assert "python -m boards.build" in failed.fix and "compile_network(network, device.config)" in failed.fix


# --- faults, one per layer ----------------------------------------------------------------------


def test_a_port_that_does_not_open_names_the_permission_fix(monkeypatch):
    def refuse(url, **kwargs):
        raise serial.SerialException(errno.EACCES, f"could not open port {url}: [Errno 13] Permission denied")
    monkeypatch.setattr(serial, "serial_for_url", refuse)
    monkeypatch.setattr("platform.system", lambda: "Linux")
    failed = assert_fails_at(doctor("/dev/ttyUSB1", **QUICK), "port")
    assert "does not open" in failed.summary
    assert "sudo usermod -aG" in failed.fix and "uucp" in failed.fix and "dialout" in failed.fix
    assert 'ATTRS{idVendor}=="0403", ATTRS{idProduct}=="6010"' in failed.fix and 'TAG+="uaccess"' in failed.fix


def test_open_hints_per_system():
    denied = serial.SerialException(errno.EACCES, "Permission denied")
    assert "usermod" in open_hint("/dev/ttyUSB1", denied, "Linux")
    assert "/dev/cu." in open_hint("/dev/tty.usbserial-1", denied, "Darwin")
    windows = serial.SerialException("could not open port 'COM3': PermissionError(13, 'Access is denied.')")
    assert "another program has it open" in open_hint("COM3", windows, "Windows")
    busy = serial.SerialException(errno.EBUSY, "Device or resource busy")
    assert "ModemManager" in open_hint("/dev/ttyUSB1", busy, "Linux")
    missing = serial.SerialException(errno.ENOENT, "No such file or directory")
    assert "python -m host list" in open_hint("/dev/ttyUSB9", missing, "Linux")


def test_the_programming_interface_is_not_the_uart(monkeypatch):
    with PtyBoard() as board:
        a, b = icebreaker(0, "ib1")
        a.device = board.port                      # the port given is interface A of an iCEBreaker
        monkeypatch.setattr(ports, "_comports", lambda: [a, b])
        failed = assert_fails_at(doctor(board.port, **QUICK), "port")
    assert "icebreaker interface A, not the FPGA's UART: that is interface B" in failed.summary
    assert "/dev/ttyUSB1" in failed.fix


def test_the_latency_timer_is_a_remark_with_its_command(monkeypatch):
    def slow(port, sysfs, fix=True):
        warnings.warn("the FTDI latency timer is 16 ms ... echo 1 | sudo tee ...", LatencyTimerWarning)
        return 16
    monkeypatch.setattr(doctor_module, "check_latency_timer", slow)
    with PtyBoard() as board:
        report = doctor(board.port, **QUICK)
    assert report.passed and statuses(report)["port"] == "warn"
    assert "FTDI latency timer 16 ms" in layer(report, "port").summary
    assert "sudo tee" in layer(report, "port").fix
    assert "(remarks: port" in report.verdict


def test_a_serial_port_at_the_wrong_baud_rate_names_the_right_one():
    with PtyBoard(baud=P.DEFAULT_BAUD) as board:
        report = doctor(board.port, **QUICK)
        assert report.passed, report.text()
        assert layer(report, "port").summary == f"{board.port} open at {P.DEFAULT_BAUD} baud"
        assert layer(report, "link").details["line_use"] > 0
        failed = assert_fails_at(doctor(board.port, baudrate=1_000_000, **QUICK), "hello")
    assert f"no answer at 1000000 baud, but an axonite device answers at {P.DEFAULT_BAUD} baud" in failed.summary
    assert f"--baud {P.DEFAULT_BAUD}" in failed.fix and "--baud 1000000 --program" in failed.fix


def test_a_silent_port(silent_server):
    t0 = time.monotonic()
    failed = assert_fails_at(doctor(silent_server, **QUICK), "hello")
    assert time.monotonic() - t0 < 10
    assert failed.summary == "no answer" and failed.details["bytes_received"] == 0
    assert "Is the FPGA programmed" in failed.fix and "interface B" in failed.fix and "--baud" in failed.fix


@pytest.fixture
def chatter_server():
    """A TCP server whose 'bitstream' prints text forever (a demo, not axonite)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.1)
    stop = threading.Event()

    def run():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                while not stop.is_set():
                    try:
                        conn.sendall(b"Hello from the iCEBreaker!\r\n")
                    except OSError:
                        break
                    time.sleep(0.01)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"socket://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    listener.close()


def test_a_foreign_bitstream(chatter_server):
    failed = assert_fails_at(doctor(chatter_server, **QUICK), "hello")
    assert "none of them an axonite frame" in failed.summary and "48 65 6c 6c 6f" in failed.summary
    assert "another bitstream" in failed.fix and "--program" in failed.fix and "baud" in failed.fix


def test_an_older_bitstream():
    with EmulatorServer(port=0, protocol_version=2) as server:
        failed = assert_fails_at(doctor(server.url, **QUICK), "hello")
    assert "protocol version 2" in failed.summary and "older or newer bitstream" in failed.summary
    assert "rebuild and reprogram" in failed.fix


def test_a_corrupted_byte_stream_fails_the_link_with_counts():
    flips = dict(to_device=ByteFlips(3001, after=2000), to_host=ByteFlips(5003, after=2000))
    # frames of up to 1,024 payload bytes: most WRITE + READ pairs get through a flip every few
    # thousand bytes (of 2,048, nearly none would: every pair fails, before a rate is measured)
    with EmulatorServer(port=0, max_payload=1024) as server, FaultyLine(server.url, **flips) as line:
        failed = assert_fails_at(doctor(line.url, **{**QUICK, "frames": 200, "timeout": 1.0}), "link")
    d = failed.details
    assert d["corrupt_from_device"] + d["unreadable_at_device"] + d["lost"] >= 3
    assert d["corrupt_from_device"] >= 1 and d["unreadable_at_device"] >= 1
    assert d["retries"] >= 3 and d["bit_error_rate"] > 1e-6
    assert "bit-error rate >=" in failed.summary and "retries" in failed.summary
    assert "corrupted or lost" in failed.fix


class StuckBit(DeviceEmulator):
    """A core with bit 4 of synapse word 0's weight stuck at 1."""

    def _tick(self):
        self.model.weights[0] |= 16
        super()._tick()


def test_a_core_that_differs_from_the_golden_model_fails_at_core():
    with EmulatorServer(StuckBit(SMALL)) as server:
        failed = assert_fails_at(doctor(server.url, **QUICK), "core")
    assert failed.summary.startswith("the device differs from the golden model: ")
    assert any(what in failed.summary for what in ("output spikes at tick", "weight (", "state ", "counter "))
    assert "rebuild and reprogram" in failed.fix and "--json" in failed.fix


class LosesOutput(DeviceEmulator):
    """Every tenth free-run tick loses an output event, counted and reported (OUTPUT_OVERFLOW)."""

    def _tick(self):
        if self.period_s is not None and self.core.tick % 10 == 5:
            self.extra["dropped"] += 1
            self._send(P.Op.REPORT, P.REPORT.pack(P.ReportKind.OUTPUT_OVERFLOW, 0, 0, 1, self.core.tick))
        super()._tick()


def test_events_dropped_in_free_run_fail_at_freerun():
    with EmulatorServer(LosesOutput(SMALL)) as server:
        failed = assert_fails_at(doctor(server.url, **{**QUICK, "freerun_s": 1.0}), "freerun")
    assert failed.details["dropped"] >= 1 and "events were dropped" in failed.fix


class SlowClockBoard(DeviceEmulator):
    """An FPGA (so says its HELLO) whose clock runs at half the frequency it reports; its ticks
    fit their period (in its own cycles: no overruns, whatever this computer's scheduler does)."""

    def _send(self, opcode, payload=b""):
        if opcode == P.Op.HELLO_REPLY:
            payload = payload[:3] + bytes([P.DeviceKind.FPGA]) + payload[4:]
        elif opcode == P.Op.REPORT and payload[0] == P.ReportKind.OVERRUN:
            return
        super()._send(opcode, payload)

    def _freerun(self, frame):
        super()._freerun(frame)
        self.period_s *= 2

    def counter_values(self):
        self.extra["overruns"] = 0
        return super().counter_values()


def test_a_board_clock_off_its_frequency_fails_at_freerun():
    with PtyBoard(emulator=SlowClockBoard(SMALL)) as board:
        failed = assert_fails_at(doctor(board.port, **{**QUICK, "freerun_s": 1.0}), "freerun")
    d = failed.details
    assert d["clock_judged"] and d["real_time_ratio"] < 0.7 and d["overruns"] == 0
    assert "the device's clock measures" in failed.summary and "it reports 12 MHz" in failed.summary
    assert "PLL" in failed.fix


def test_the_doctor_refuses_what_it_cannot_test():
    from firmware.errors import AxoniteError
    with pytest.raises(AxoniteError, match="'model' has none"):
        Doctor("model")
    with pytest.raises(AxoniteError, match="frames = 1 must be an integer >= 2"):
        Doctor("emulator://", frames=1)
    with pytest.raises(AxoniteError, match="freerun_s = 0 must be a positive number of seconds"):
        Doctor("emulator://", freerun_s=0)


# --- the command line ---------------------------------------------------------------------------


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "host", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def test_cli_doctor_json_and_exit_status(silent_server):
    with EmulatorServer(port=0) as server:
        proc = run_cli("doctor", server.url, "--frames", "60", "--ticks", "40", "--freerun", "0.5", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["verdict"] == "pass" and data["line"].startswith("PASS")
    assert "  core     pass" in proc.stderr and proc.stderr.rstrip().splitlines()[-1] == data["line"]
    proc = run_cli("doctor", silent_server, "--timeout", "0.5")
    assert proc.returncode == 1
    assert "  hello    fail    no answer" in proc.stdout and "FAIL at hello" in proc.stdout.splitlines()[-1]


# --- what the doctor found in the host library (each failed before its fix) ---------------------


class CorruptOnce:
    """A transport that flips a byte in the `nth` write, or (`drop_delimiter`) loses its 0x00."""

    def __init__(self, transport, nth, drop_delimiter=False):
        self.transport, self.url, self.nth, self.writes = transport, transport.url, nth, 0
        self.drop_delimiter = drop_delimiter

    def write(self, data):
        self.writes += 1
        if self.writes == self.nth:
            data = data[:-1] if self.drop_delimiter else data[:3] + bytes([data[3] ^ 0x40]) + data[4:]
        self.transport.write(data)

    def read_some(self, timeout):
        return self.transport.read_some(timeout)

    def close(self):
        self.transport.close()


def test_a_frame_the_device_could_not_read_does_not_wedge_a_window_1_link():
    """A command the device could not read is never answered; with window 1 (the board's) the
    STOP that resynchronizes used to wait behind it until it timed out, and so did every later
    operation."""
    emulator = DeviceEmulator(SMALL, window=1)
    dev = LinkDevice(CorruptOnce(LoopbackTransport(emulator), nth=3), timeout=1.0)   # 1: 0x00, 2: HELLO
    region = "state_v"
    with pytest.raises(DeviceError, match="could not read a frame"):
        dev.write_region(region, np.arange(4), 0)
    dev.write_region(region, np.arange(4), 0)
    assert dev.read_region(region, 0, 4).tolist() == [0, 1, 2, 3]
    assert dev.counters()["ticks"] == 0


def test_a_frame_that_lost_its_delimiter_does_not_swallow_the_resynchronizing_stop():
    """A command whose 0x00 was lost leaves the device holding a partial frame; the STOP that
    resynchronizes used to join it (one unreadable frame, no STOP reply), so the next operation
    failed too."""
    emulator = DeviceEmulator(SMALL, window=1)
    dev = LinkDevice(CorruptOnce(LoopbackTransport(emulator), nth=3, drop_delimiter=True), timeout=0.5)
    with pytest.raises(DeviceTimeoutError, match="reply to WRITE"):
        dev.write_region("state_v", np.arange(4), 0)
    dev.write_region("state_v", np.arange(4), 0)
    assert dev.read_region("state_v", 0, 4).tolist() == [0, 1, 2, 3]


def test_hello_skips_the_error_for_garbage_the_device_held():
    """A device left holding garbage (a session at the wrong baud rate, noise at power-up)
    answers the 0x00 that opens a session with an ERROR for it; Device.open used to fail on that
    ERROR instead of waiting for the HELLO reply behind it."""
    emulator = DeviceEmulator(SMALL)
    emulator.receive(b"\x17garbage at the wrong baud rate")
    with LinkDevice(LoopbackTransport(emulator), timeout=1.0) as dev:
        assert dev.config == SMALL
