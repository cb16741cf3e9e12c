"""The simulated board (sim/board.py): Verilator behind a TCP socket, seen through pyserial.

With a stand-in top (UARTRx -> FIFO -> UARTTx, an echo) and, when rtl/link/top.py exists, the real
DeviceTop through host.Device. Every socket is on 127.0.0.1, every wait bounded.
"""

import io
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import serial
from amaranth.hdl import Module
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from firmware import protocol as P
from rtl.link.uart import UARTRx, UARTTx
from tests.support import ENV, ROOT
from tests.support.networks import relay_network
from tests.support.raw_client import RawClient

DIVISOR = 4


class EchoTop(wiring.Component):
    """Stand-in for rtl.link.top.DeviceTop: every byte received on rx goes back out on tx."""

    def __init__(self, config=None, divisor=DIVISOR, **_):
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = rx = UARTRx(self.divisor)
        m.submodules.tx = tx = UARTTx(self.divisor)
        m.submodules.fifo = q = fifo.SyncFIFOBuffered(width=8, depth=16)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx),
                     q.w_data.eq(rx.o.payload), q.w_en.eq(rx.o.valid),
                     tx.i.payload.eq(q.r_data), tx.i.valid.eq(q.r_rdy), q.r_en.eq(tx.i.ready)]
        return m


def children_of(pid):
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def read_exactly(port, n, timeout):
    data = bytearray()
    deadline = time.monotonic() + timeout
    while len(data) < n and time.monotonic() < deadline:
        data += port.read(n - len(data))
    return bytes(data)


def test_harness_rejects_a_top_without_serial_pins():
    from sim.cosim.board import BoardHarness

    class NoPins(wiring.Component):
        def __init__(self):
            super().__init__({"a": In(1)})

        def elaborate(self, platform):
            return Module()

    with pytest.raises(TypeError):
        BoardHarness(NoPins(), DIVISOR)


def test_echo_over_socket_in_process():
    from sim.cosim.board import BoardServer

    rng = np.random.default_rng(1)
    payload = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    with BoardServer(EchoTop(divisor=DIVISOR), DIVISOR, name="board-echo") as board:
        pid = board.pid
        port = serial.serial_for_url(board.url, timeout=0.5)
        try:
            start = time.monotonic()
            port.write(payload)
            got = read_exactly(port, len(payload), timeout=120)
            elapsed = time.monotonic() - start
            # a second connection while the first holds the board: one BUSY frame, nothing echoed
            port2 = serial.serial_for_url(board.url, timeout=0.5)
            port2.write(b"again")
            refusal = read_exactly(port2, len(P.busy_refusal()), timeout=30)
            port2.close()
        finally:
            port.close()
        # the first has gone: the next connection gets the board
        port3 = serial.serial_for_url(board.url, timeout=0.5)
        try:
            port3.write(b"again")
            again = read_exactly(port3, 5, timeout=30)
        finally:
            port3.close()
    stats = board.stats
    assert got == payload
    assert refusal == P.busy_refusal()
    assert again == b"again"
    print(f"\necho: {len(payload)} bytes round trip in {elapsed:.2f} s = {len(payload) / elapsed:.0f} bytes/s; "
          f"simulated {stats['cycles']} cycles at {stats['cycles_per_s']:.0f} cycles/s")
    assert stats["bytes_in"] == stats["bytes_out"] == len(payload) + 5
    assert not alive(pid)


def start_echo_board_cli():
    """`python -m sim.board` serving the echo top; returns the process and its last line
    (the 'listening on' line once it is up)."""
    proc = subprocess.Popen([sys.executable, "-m", "sim.board", "--port", "0", "--top", "tests.rtl.test_board:EchoTop",
                             "--divisor", str(DIVISOR)], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True)
    line, deadline = "", time.monotonic() + 300
    while "listening on" not in line and time.monotonic() < deadline and proc.poll() is None:
        line = proc.stdout.readline()
    return proc, line


def test_cli_serves_and_stops_on_sigterm():
    proc, line = start_echo_board_cli()
    try:
        assert "listening on 127.0.0.1:" in line, line
        port_number = int(line.split("127.0.0.1:")[1].split()[0])
        sims = children_of(proc.pid)
        assert sims, "no simulator process"
        rng = np.random.default_rng(2)
        payload = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
        port = serial.serial_for_url(f"socket://127.0.0.1:{port_number}", timeout=0.5)
        try:
            start = time.monotonic()
            port.write(payload)
            got = read_exactly(port, len(payload), timeout=120)
            elapsed = time.monotonic() - start
        finally:
            port.close()
        assert got == payload
        print(f"\ncli echo: {len(payload) / elapsed:.0f} bytes/s")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        print(out.strip())
        assert proc.returncode == 0
        assert "stopped" in out
        time.sleep(0.2)
        assert not any(alive(p) for p in sims), "simulator left running"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_simulator_stops_when_the_board_process_is_killed():
    """SIGKILL of `python -m sim.board` gives it no chance to clean up; the simulator sees
    its control socket close and ends by itself."""
    proc, line = start_echo_board_cli()
    try:
        assert "listening on" in line, line
        sims = children_of(proc.pid)
        assert sims
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 15
        while any(alive(p) for p in sims) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in sims), "simulator orphaned"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- the real top (rtl/link/top.py); the device_board fixture is in conftest.py --------------------


def test_device_top_hello(device_board):
    from host import Device

    board, config = device_board
    with Device.open(board.url, timeout=30) as dev:
        assert dev.config == config
        # the board's device options, as HELLO announces them and the host takes them
        assert dev.link.max_payload == board.device_options["max_payload"] == 256
        assert dev.link.input_depth == board.device_options["input_depth"] == 256


def test_device_top_oversize_frame_then_the_next_frame_works(device_board):
    """A frame too long for the board's max_payload (256: the iCEBreaker's) gets one ERROR
    OVERSIZE (detail 256, no header: the device does not store it); the frame after it works.
    Also when the frame arrives behind a SPIKES reply (the RX FIFO holds it)."""

    board, config = device_board
    limit = board.device_options["max_payload"]
    client = RawClient(board.url)
    try:
        client.send_raw(b"\0")
        big = bytes(range(1, 256)) * 2                  # 510 bytes: 519 encoded (> 265)
        client.send_raw(P.encode_frame(P.Op.INPUT, 7, big[:limit + 60]))
        seq = client.send(P.Op.HELLO)
        # a STEP 0 (ACK, then SPIKES) with an oversize frame and a HELLO right behind it
        client.send(P.Op.STEP, P.STEP.pack(0))
        client.send_raw(P.encode_frame(P.Op.INPUT, 8, big)[:-1] + bytes(np.random.default_rng(1).integers(
            1, 256, 1500, dtype=np.uint8)) + b"\0")
        seq2 = client.send(P.Op.HELLO)
        frames = client.frames(6, timeout=60)
    finally:
        client.close()
    assert [f.opcode for f in frames] == [P.Op.ERROR, P.Op.HELLO_REPLY, P.Op.ACK, P.Op.SPIKES,
                                          P.Op.ERROR, P.Op.HELLO_REPLY], [
        P.ERROR.unpack_from(f.payload) if f.opcode == P.Op.ERROR else f.opcode for f in frames]
    for err in (frames[0], frames[4]):
        assert P.ERROR.unpack_from(err.payload) == (0, 0, P.ErrorCode.OVERSIZE, 0, limit)
    assert frames[1].payload[0] == seq and frames[5].payload[0] == seq2


def test_device_top_run_matches_model(device_board):
    from host import Device

    board, config = device_board
    inputs = {0: [0, 2], 1: [5], 3: [1, 2, 3]}
    with Device.open(board.url, timeout=30) as dev:
        dev.load(relay_network(6))
        got = dev.run(10, inputs)
    with Device.open("model", config=config) as model:
        model.load(relay_network(6))
        want = model.run(10, inputs)
    np.testing.assert_array_equal(got.spikes, want.spikes)


# --- the build: its output in a log, its seconds on a terminal (issue 13, item 4) --------------------


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_cli_counts_the_build_seconds_on_a_terminal_and_names_the_log_of_a_failed_build(monkeypatch, quiet):
    from host import progress
    from sim.cosim import board
    from sim.cosim.verilator import VerilatorError

    def failing_build(top, divisor, name="board", meta=None, log=False):
        assert log                               # without --verbose the tools' output goes to a log
        time.sleep(0.3)
        raise VerilatorError("the Verilator build of board failed (Command failed with return code: 2); "
                             "its output is in build/verilator/board-0/build.log")
    monkeypatch.setattr(board, "build_board", failing_build)
    monkeypatch.setattr(progress, "REFRESH_S", 0.02)
    monkeypatch.setattr(signal, "signal", lambda *args: None)    # main's handlers would outlive the test
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert board.main(["--port", "0", *(["--quiet"] if quiet else [])]) == 1
    text = terminal.getvalue()
    assert text.endswith("error: the Verilator build of board failed (Command failed with return code: 2); "
                         "its output is in build/verilator/board-0/build.log\n"), text
    ticker = "\rverilating the board ... 0 s\x1b[K"
    assert (ticker not in text) if quiet else (text.count(ticker) >= 3 and "\r\x1b[Kerror:" in text), text


def test_a_failed_verilator_build_raises_naming_its_log():
    import shutil

    from sim.cosim.verilator import BUILD_LOG, VerilatorError, build_verilog
    with pytest.raises(VerilatorError, match=f"the Verilator build of bad-verilog failed .*; its output is in "
                                             f".*/bad-verilog-[0-9a-f]+/{BUILD_LOG}") as refused:
        build_verilog("bad-verilog", "module axonite_core(input clk); not verilog\nendmodule\n", [], {}, log=True)
    log = Path(str(refused.value).rsplit(" ", 1)[1])
    try:
        assert "syntax error" in log.read_text()
        assert not (log.parent / "build.json").exists()        # not taken for a finished build
    finally:
        shutil.rmtree(log.parent)
