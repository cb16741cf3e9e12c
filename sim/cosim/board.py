"""The simulated board: the device's top (core + link + UART) in Verilator, served on TCP.

    python -m sim.board --port 5555 [--neurons 64 --inputs 32 --synapses 1024 ...] [--divisor 4]
                        [--board icebreaker] [--max-payload 256 --input-depth 256] [--quiet | --verbose]
    (then Device.open("socket://127.0.0.1:5555"), as for a board, only slower)

The Verilator build's output goes to build.log in its folder (a failed build: "error: ...",
naming it, exit status 1), the simulator's to a log beside it; --verbose sends both to the
terminal. On a terminal a line on stderr counts the build's seconds (--quiet: none).

The top gets the device options (max_payload, input_depth) of a board of boards.registry
(default: the iCEBreaker's), as boards.glue gives them to the bitstream's; flags override them.

    with BoardServer(top, divisor) as board:      # any wiring.Component with rx In(1), tx Out(1)
        serial.serial_for_url(board.url)

How: `BoardHarness(top, divisor)` puts a host-side UARTTx (behind a small FIFO) and UARTRx in
front of the top's serial pins and exposes bytes: `host_tx` (a stream: valid/ready/payload)
and `host_rx` (valid pulse/payload). `build_board` verilates it once per design (cached by
source hash under build/verilator/, like sim/cosim/verilator.build_core). `BoardServer` binds the
listening socket here (so port 0 is known at once; 127.0.0.1 unless told otherwise, with a
warning, and one client at a time: sim/serving.py), and runs the simulation
(sim/cosim/board_cocotb.py) in a child process that inherits that socket and one end of a control
socketpair: the child says "ready" after reset, and stops when the control socket reaches
EOF, i.e. when this process asks it to or dies (even by SIGKILL). The child runs in its own
session, so a terminal's Ctrl-C reaches only this process, which then stops it cleanly.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from amaranth.hdl import Module, Shape
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from host.progress import Elapsed
from rtl.lib.ports import flow_signature
from rtl.link.uart import FRAME_BITS, UARTRx, UARTTx

from ..serving import DEFAULT_HOST, ServeError, listen
from .verilator import ROOT, Build, build_verilog, core_ports

TX_FIFO_DEPTH = 16            # bytes the harness buffers in front of its UARTTx
READY_TIMEOUT_S = 120.0       # simulator start-up (load of the verilated model + reset)
STOP_TIMEOUT_S = 10.0


class BoardHarness(wiring.Component):
    """The host's end of the serial line, in HDL.

    host_tx   In(stream.Signature(8)): bytes to send to the top (valid/ready/payload); a
              FIFO of TX_FIFO_DEPTH bytes sits before the UARTTx, so Python can push a burst
              one byte per clock and then sleep for several byte times.
    host_rx   Out(flow_signature(8)): a one-cycle `valid` pulse per byte received from the
              top, `payload` the byte (no backpressure; pulses are >= 9 * divisor cycles apart).
    host_rx_error Out(1): a pulse per framing error on the top's tx line.
    `top` is any component with `rx` In(1) (idle high) and `tx` Out(1).
    """

    def __init__(self, top: wiring.Component, divisor: int):
        members = top.signature.members
        for name, flow in (("rx", In), ("tx", Out)):
            if name not in members or members[name].flow != flow or Shape.cast(members[name].shape).width != 1:
                raise TypeError(f"BoardHarness: the top needs a 1-bit {flow.name if hasattr(flow, 'name') else flow} "
                                f"port `{name}`; it has {sorted(members)}")
        self.top, self.divisor = top, divisor
        super().__init__({
            "host_tx": In(stream.Signature(8)),
            "host_rx": Out(flow_signature(8)),
            "host_rx_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.top = top = self.top
        m.submodules.tx_fifo = tx_fifo = fifo.SyncFIFOBuffered(width=8, depth=TX_FIFO_DEPTH)
        m.submodules.uart_tx = uart_tx = UARTTx(self.divisor)
        m.submodules.uart_rx = uart_rx = UARTRx(self.divisor)
        m.d.comb += [
            tx_fifo.w_data.eq(self.host_tx.payload),
            tx_fifo.w_en.eq(self.host_tx.valid),
            self.host_tx.ready.eq(tx_fifo.w_rdy),
            uart_tx.i.payload.eq(tx_fifo.r_data),
            uart_tx.i.valid.eq(tx_fifo.r_rdy),
            tx_fifo.r_en.eq(uart_tx.i.ready),
            top.rx.eq(uart_tx.tx),
            uart_rx.rx.eq(top.tx),
            self.host_rx.valid.eq(uart_rx.o.valid),
            self.host_rx.payload.eq(uart_rx.o.payload),
            self.host_rx_error.eq(uart_rx.error),
        ]
        return m


def harness_verilog(harness: BoardHarness) -> tuple[str, list[tuple[str, str, int]]]:
    """The harness as Verilog module `axonite_core` (the name sim/cosim/verilator.wrapper_verilog
    instantiates), and its ports as (name, 'in'|'out', width)."""
    from amaranth.back import verilog

    return verilog.convert(harness, name="axonite_core", emit_src=False), core_ports(harness)


def build_board(top: wiring.Component, divisor: int, name: str = "board", meta: dict | None = None,
                log: bool = False) -> Build:
    """Verilate BoardHarness(top, divisor) under build/verilator/<name>-<hash>/, reusing a
    previous build of identical sources (same lock and layout as sim/cosim/verilator.build_core);
    `log`: the tools' output to its build.log (sim.cosim.verilator.build_verilog)."""
    text, ports = harness_verilog(BoardHarness(top, divisor))
    return build_verilog(name, text, ports, {"top": type(top).__qualname__, "divisor": divisor, **(meta or {})},
                         log=log)


def _runner_class():
    from cocotb_tools.runner import Verilator

    class ControlledVerilator(Verilator):
        """cocotb's Verilator runner, but the simulator is a Popen we can stop, in its own
        session, inheriting the given file descriptors."""

        pass_fds: tuple = ()
        log_path: Path | None = None
        process: subprocess.Popen | None = None
        started = threading.Event

        def _execute_cmds(self, cmds, cwd, stdout=None):
            for cmd in cmds:
                log = open(self.log_path, "wb") if self.log_path else None
                try:
                    self.process = subprocess.Popen(
                        cmd, cwd=cwd, env=self.env, pass_fds=self.pass_fds, start_new_session=True,
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT if log else None)
                    self.started.set()
                    code = self.process.wait()
                finally:
                    if log:
                        log.close()
                if code != 0:
                    raise RuntimeError(f"simulator exited with {code}")

    return ControlledVerilator


class SimulatorStartError(RuntimeError):
    """The simulated board's simulator did not start or come up (the message names its log).
    Not boards.registry.BoardError, which refuses a board's parameters."""


class BoardServer:
    """A simulated board on a TCP port (127.0.0.1 unless `host` says otherwise, with a warning).
    One host at a time: a connection while another holds the board is refused with ERROR BUSY
    and closed (sim/cosim/board_cocotb.py); a host that closed its connection makes way."""

    def __init__(self, top: wiring.Component, divisor: int, host: str = DEFAULT_HOST, port: int = 0,
                 name: str = "board", meta: dict | None = None, poll_cycles: int | None = None,
                 verbose: bool = False):
        self.top, self.divisor, self.name, self.meta = top, divisor, name, meta
        self.poll_cycles = poll_cycles or max(64, 4 * FRAME_BITS * divisor)
        self.verbose = verbose
        self._listen = listen(host, port, "simulated board")
        self.host, self.port = self._listen.getsockname()[:2]
        self._control: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._runner = None
        self._error: BaseException | None = None
        self.build: Build | None = None
        self.stats: dict = {}
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The simulator's process id (None before it starts)."""
        p = self._runner.process if self._runner else None
        return p.pid if p else None

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def prepare(self) -> Build:
        """Verilate (or find the cached build); start() does it when not done before. The
        tools' output goes to the build's build.log, or with `verbose` to stdout."""
        if self.build is None:
            self.build = build_board(self.top, self.divisor, self.name, self.meta, log=not self.verbose)
        return self.build

    def start(self, timeout: float = READY_TIMEOUT_S) -> "BoardServer":
        build = self.prepare()
        ours, theirs = socket.socketpair()
        self._control = ours
        runner = self._runner = _runner_class()()
        runner.started = threading.Event()
        runner.pass_fds = (self._listen.fileno(), theirs.fileno())
        self.log_path = runner.log_path = None if self.verbose else build.directory / f"board-{os.getpid()}-{self.port}.log"
        paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
        env = {"PYTHONPATH": os.pathsep.join(p for p in paths if p),
               "AXONITE_BOARD_LISTEN_FD": str(self._listen.fileno()),
               "AXONITE_BOARD_CONTROL_FD": str(theirs.fileno()),
               "AXONITE_BOARD_DIVISOR": str(self.divisor),
               "AXONITE_BOARD_POLL_CYCLES": str(self.poll_cycles),
               "AXONITE_BOARD_TX_FIFO": str(TX_FIFO_DEPTH),
               "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING")}
        results = build.directory / f"results-{os.getpid()}-{self.port}-board.xml"

        def run():
            try:
                runner.test(test_module="sim.cosim.board_cocotb", hdl_toplevel=build.toplevel,
                            hdl_toplevel_lang="verilog", build_dir=build.directory / "sim",
                            test_dir=build.directory, extra_env=env, results_xml=str(results),
                            timescale=("1ns", "1ps"))
            except BaseException as error:      # runner.test raises SystemExit on failure
                self._error = error

        self._thread = threading.Thread(target=run, name=f"axonite-board-{self.port}", daemon=True)
        self._thread.start()
        try:
            if not runner.started.wait(timeout):
                raise SimulatorStartError("the simulator did not start")
            theirs.close()            # the child holds it now; EOF reaches it when we go
            ours.settimeout(timeout)
            line = self._read_line()
            if line != "ready":
                raise SimulatorStartError(f"the simulator did not come up ({line or 'it exited'}); "
                                 f"log: {self.log_path}")
        except BaseException:
            self.stop()
            raise
        return self

    def _read_line(self) -> str:
        data = b""
        while not data.endswith(b"\n"):
            try:
                chunk = self._control.recv(4096)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace").strip()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> dict:
        """Stop the simulator (cleanly if it listens, else killed); return its statistics."""
        if self._control is not None:
            try:
                self._control.shutdown(socket.SHUT_WR)        # EOF: the simulation ends
                self._control.settimeout(timeout)
                line = self._read_line()
                if line.startswith("stats "):
                    self.stats = json.loads(line[6:])
            except OSError:
                pass
            self._control.close()
            self._control = None
        if self._thread is not None:
            self._thread.join(timeout)
            process = self._runner.process if self._runner else None
            if self._thread.is_alive() and process is not None:
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(process.pid, sig)      # its own session: only the simulator
                    except ProcessLookupError:
                        break
                    self._thread.join(2.0)
                    if not self._thread.is_alive():
                        break
            self._thread = None
        if self._listen.fileno() >= 0:
            self._listen.close()
        return self.stats

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --- command line -----------------------------------------------------------------------------

CONFIG_FLAGS = {"neurons": "n_neurons", "inputs": "n_inputs", "synapses": "n_synapses",
                "segments": "n_segments", "reverse": "n_reverse", "profiles": "n_profiles",
                "projections": "n_projections", "weight_bits": "weight_bits", "max_delay": "max_delay"}


def load_factory(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr or "DeviceTop")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.board",
                                     description="Serve the device's RTL (Verilator) as a board over TCP.")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port, printed)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to bind (default {DEFAULT_HOST}; any other is reachable from other "
                             f"machines, with no authentication: a warning says so)")
    parser.add_argument("--config", default=None, help="core configuration as JSON (the flags below override it)")
    for flag, field in CONFIG_FLAGS.items():
        parser.add_argument("--" + flag.replace("_", "-"), type=int, default=None, help=f"CoreConfig.{field}")
    parser.add_argument("--divisor", type=int, default=4, help="UART clock cycles per bit (>= 4; default 4)")
    parser.add_argument("--board", default="icebreaker",
                        help="the board whose device options (max_payload, input_depth) the top gets "
                             "(boards.registry; default icebreaker)")
    parser.add_argument("--input-depth", type=int, default=None,
                        help="input-queue entries (credits; default: the board's)")
    parser.add_argument("--max-payload", type=int, default=None,
                        help="largest payload of a frame, announced in HELLO (default: the board's)")
    parser.add_argument("--clock-hz", type=int, default=12_000_000, help="the clock the top believes it has")
    parser.add_argument("--top", default="rtl.link.top:DeviceTop",
                        help="MODULE:FACTORY of the top, called with config, divisor, input_depth, "
                             "max_payload, clock_hz and memories as keywords (default rtl.link.top:DeviceTop)")
    parser.add_argument("--poll-cycles", type=int, default=None,
                        help="clock cycles the simulation runs between polls of the socket when idle")
    parser.add_argument("--verbose", action="store_true",
                        help="the Verilator build's and the simulator's output to the terminal, not log files")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no line counting the seconds of the Verilator build (shown only on a terminal)")
    args = parser.parse_args(argv)

    from firmware.config import CoreConfig
    from firmware.errors import AxoniteError
    from boards.glue import device_options
    from boards.registry import board as board_named

    try:
        fields = CoreConfig.json_fields(args.config) if args.config else {}
        fields.update({field: getattr(args, flag) for flag, field in CONFIG_FLAGS.items()
                       if getattr(args, flag) is not None})
        config = CoreConfig.from_dict(fields)
        options = device_options(board_named(args.board))
    except AxoniteError as error:
        print(f"python -m sim.board: error: {error}", file=sys.stderr, flush=True)
        return 2
    for key in options:
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    stop = threading.Event()
    serving = False
    parent = os.getppid()

    def on_signal(signum, frame):
        stop.set()
        if not serving:           # still building or starting: give up there (start() cleans up)
            raise SystemExit(128 + signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    # The bitstream's top with the iCE40 memory mapping, SPRAMs as behavioural models: what is
    # served here is what boards.build synthesizes, less the PLL and the pads.
    from rtl.lib.memory import ICE40Memories
    top = load_factory(args.top)(config=config, divisor=args.divisor, clock_hz=args.clock_hz,
                                 memories=ICE40Memories(behavioural=True), **options)
    try:
        server = BoardServer(top, args.divisor, host=args.host, port=args.port, poll_cycles=args.poll_cycles,
                             verbose=args.verbose, meta={"config": config.to_dict(), **options,
                                                         "clock_hz": args.clock_hz})
    except ServeError as error:
        print(f"python -m sim.board: error: {error}", file=sys.stderr, flush=True)
        return 2
    print(f"building and starting the simulated board ({args.top}, divisor {args.divisor}; the first "
          f"build of a design takes a minute or two) ...",
          file=sys.stderr, flush=True)
    stdout = os.dup(1)
    try:
        os.dup2(2, 1)             # Verilator's and make's chatter (--verbose) to stderr: stdout is for us
        with Elapsed("verilating the board", quiet=args.quiet or args.verbose):
            server.prepare()
    except AxoniteError as error:                 # VerilatorError: the build failed
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        sys.stdout.flush()
        os.dup2(stdout, 1)
        os.close(stdout)
    server.start()
    serving = True
    code = 0
    try:
        print(f"axonite simulated board listening on {server.host}:{server.port} ({server.url})", flush=True)
        while not stop.wait(0.25):
            if os.getppid() != parent:           # whoever started us has gone
                break
            if not server.running():
                print(f"the simulator exited unexpectedly; log: {server.log_path}", file=sys.stderr, flush=True)
                code = 1
                break
    finally:
        stats = server.stop()
    if stats:
        print(f"axonite simulated board stopped: {stats['cycles']} cycles in {stats['wall_s']:.1f} s "
              f"({stats['cycles_per_s']:.0f} cycles/s), {stats['bytes_in']} bytes in, "
              f"{stats['bytes_out']} bytes out", flush=True)
    else:
        print("axonite simulated board stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
