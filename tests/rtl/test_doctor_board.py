"""The doctor (host/doctor.py) on the simulated board (rtl.link.top.DeviceTop in Verilator behind
socket://, the `device_board` fixture of tests/rtl/conftest.py: the build CI already has):
`python -m host doctor socket://...` passes every layer, and the faults on the simulated line
are reported at their layers: a wrong baud rate (the line's UART timing modelled by a proxy,
host at 1 Mbaud and board at 3 Mbaud), a corrupted byte stream, an image for another core.

The simulated board runs about 1/300 of real time, so the sizes are small: its free-run at a
1 ms tick (12,000 of its cycles) completes a few ticks in the seconds given, and the doctor
reports that rate without judging it (only a board on a serial port is held to real time).
"""

import json
import subprocess
import sys

from firmware import compile_network
from firmware import protocol as P
from host.doctor import LAYERS, doctor
from tests.support import ROOT
from tests.support.line_faults import BaudMismatch, ByteFlips, FaultyLine
from tests.support.networks import relay_network

QUICK = dict(frames=40, ticks=60, freerun_s=1.0)


def test_doctor_passes_every_layer_on_the_simulated_board(device_board):
    board, config = device_board
    proc = subprocess.run([sys.executable, "-m", "host", "doctor", board.url, "--frames", "60", "--ticks", "100",
                           "--freerun", "2", "--timeout", "30", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"] == "pass", proc.stderr
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert list(layers) == list(LAYERS) and all(x["status"] == "pass" for x in layers.values()), proc.stderr
    assert report["device"]["device_kind"] == "FPGA" and report["device"]["config"] == config.to_dict()
    assert layers["hello"]["details"]["max_payload"] == board.device_options["max_payload"]
    assert layers["link"]["details"]["commands"] == 60 and layers["link"]["details"]["retries"] == 0
    core = layers["core"]["details"]["counters"]
    assert core["ticks"] == 100 and core["plastic_updates"] > 50
    freerun = layers["freerun"]["details"]
    assert freerun["ticks"] >= 1 and freerun["overruns"] == 0 and freerun["dropped"] == 0
    assert freerun["real_time_ratio"] < 0.2 and not freerun["clock_judged"]
    print("\n" + proc.stderr)


def test_a_wrong_baud_rate_on_the_simulated_line_fails_at_hello(device_board):
    board, _ = device_board
    host_baud, board_baud = 1_000_000, P.DEFAULT_BAUD
    with FaultyLine(board.url, to_device=BaudMismatch(host_baud, board_baud),
                    to_host=BaudMismatch(board_baud, host_baud)) as line:
        report = doctor(line.url, timeout=3.0, **QUICK)
    status = {x.name: x.status for x in report.layers}
    assert status["port"] == "pass" and status["hello"] == "fail", report.text()
    hello = report.layers[1]
    assert "baud" in hello.fix and "--program" in hello.fix
    # and the board itself is fine afterwards
    assert doctor(board.url, timeout=30, frames=4, ticks=10, freerun_s=0.5).passed


def test_a_corrupted_byte_stream_on_the_simulated_line_fails_at_link(device_board):
    board, _ = device_board
    with FaultyLine(board.url, to_device=ByteFlips(701, after=400), to_host=ByteFlips(907, after=600)) as line:
        report = doctor(line.url, timeout=3.0, **{**QUICK, "frames": 100})
    status = {x.name: x.status for x in report.layers}
    assert status["hello"] == "pass" and status["link"] == "fail", report.text()
    link = report.layers[2]
    print("\n" + report.text())
    assert link.details["retries"] >= 2 and link.details["bit_error_rate"] > 1e-5
    assert "corrupted or lost" in link.fix


def test_an_image_for_another_core_fails_at_hello(device_board):
    board, config = device_board
    image = compile_network(relay_network(16))                  # CoreConfig(): 256 neurons
    report = doctor(board.url, timeout=30, image=image, **QUICK)
    hello = report.layers[1]
    assert hello.status == "fail" and f"n_neurons: image 256, device {config.n_neurons}" in hello.summary
