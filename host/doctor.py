"""`python -m host doctor [URL]`: a layered self-test of a device. It stops at the first layer
that fails, names it and says what to try.

    report = doctor("auto")          # or "/dev/ttyUSB1", "socket://127.0.0.1:7777", "emulator://"
    print(report.verdict)            # one line: PASS ... / FAIL at <layer>: ...
    report.to_json()                 # everything, to attach to a bug report

The layers, in order (LAYERS); each is pass, warn (it works, with a remark), fail, or skipped
(after a failure):

  port     the port opens: a board's name or "auto" resolves to a port (host.ports); the
           permissions (the group to join or the udev rule, for the user's OS); not a board's
           other interface (the iCEBreaker's interface A programs the flash); the FTDI latency
           timer (host.latency, warn when it stays above 1 ms); the baud rate.
  hello    HELLO answers, with the protocol version, the device kind, the clock and the core
           configuration. An older or newer bitstream (another protocol version), a foreign one
           (bytes but no frame), corrupt frames and silence are each named, with what to try; on
           a serial port the board's own and the common baud rates are tried, to name the one
           the bitstream answers at. With `image`, its configuration must be the device's.
  link     `frames` commands carrying random words, WRITE then READ of a state region (scratch:
           load and reset zero it), every READ compared with its WRITE. Corrupt frames from the
           device, frames it could not read and lost frames are counted, each recovered by
           retrying (host.link_device resynchronizes); any error fails the layer, since a sound link
           at its baud rate has none. The bit-error rate is estimated from the bits carried
           (10 per byte: 8N1), or bounded (3 / bits, 95 %) when there was none.
  core     the reference network (reference_network: plastic, so STDP and the LFSR's
           stochastic rounding run) compiled for the device's own configuration, run for
           `ticks` ticks of random input on the device and on the golden model: output spikes,
           weights, state (u, v, traces) and counters must be equal bit for bit.
  freerun  the reference network (reloaded) free-running at a 1 ms tick for `freerun_s` s:
           ticks completed, overruns, dropped events, and its spikes equal the golden model's.
           A dropped event or a spike that differs fails. Overruns fail on an FPGA and are a
           remark on the emulator (its ticks are timed by this computer's scheduler). The tick
           rate measures the device's clock: on a serial port (a board on its cable) a clock more
           than 5 % off the one it reports fails (PLL); over TCP (the simulated board, which runs
           far slower than real time, or a network bridge) and on the emulator it is reported,
           not judged.

The doctor replaces the network and the state the device holds. It talks to the device only
through host.Device, host.link and the transport a real serial port uses.

Here: Doctor, the port and hello layers; host/doctor_layers.py: the link, core and freerun
layers and the reference network; host/doctor_report.py: Layer, Report.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import fields

from firmware import protocol as P
from firmware.config import CoreConfig
from firmware.errors import AxoniteError
from firmware.image import Image

from .doctor_layers import REPROGRAM, DeviceLayers, reference_image, reference_network  # noqa: F401
from .doctor_report import LAYERS, Layer, LayerFailed, Report
from .errors import DeviceNotFoundError, LinkError
from .latency import LatencyTimerWarning, check_latency_timer
from .link_device import LinkDevice
from .ports import CountingTransport, board_names, describe_hello, no_answer, probe_port, \
    resolve_port, survey
from .transport import LoopbackTransport, SerialTransport

FRAMES = 2000               # link: commands (half WRITE, half READ), each with its reply
TICKS = 300                 # core: ticks on the device and on the golden model
FREERUN_S = 3.0             # freerun: seconds at a 1 ms tick
SCAN_BAUDS = (P.DEFAULT_BAUD, 1_000_000, 2_000_000, 115_200, 921_600, 12_000_000)


# --- the doctor ---------------------------------------------------------------------------------


class Doctor(DeviceLayers):
    """The doctor of the device at `url` ("auto", a board's name, a serial port, socket://,
    emulator://). baudrate: serial ports only (default: the board's). timeout: seconds to wait
    for each answer. frames, ticks, freerun_s: the sizes of the link, core and freerun layers
    (default FRAMES, TICKS, FREERUN_S). image: an image to be run on the device (its
    configuration must be the device's); expect_config: the same for a configuration (a build's).
    say: called with each layer's lines as the layer ends. run() returns the Report."""

    def __init__(self, url: str = "auto", baudrate: int | None = None, timeout: float = 2.0,
                 frames: int | None = None, ticks: int | None = None, freerun_s: float | None = None,
                 image: Image | None = None, expect_config: CoreConfig | None = None,
                 sysfs: str = "/sys", seed: int = 1, say=None):
        frames = FRAMES if frames is None else frames
        ticks = TICKS if ticks is None else ticks
        freerun_s = FREERUN_S if freerun_s is None else freerun_s
        if url in ("model", "model://"):
            raise AxoniteError("the doctor tests a device behind the link; 'model' has none (try "
                               "emulator://, a port or socket://HOST:PORT)")
        for name, value, low in (("frames", frames, 2), ("ticks", ticks, 2)):
            if not isinstance(value, int) or value < low:
                raise AxoniteError(f"{name} = {value!r} must be an integer >= {low}")
        for name, value in (("freerun_s", freerun_s), ("timeout", timeout)):
            if not isinstance(value, (int, float)) or not value > 0:
                raise AxoniteError(f"{name} = {value!r} must be a positive number of seconds")
        self.url, self.baudrate, self.timeout = url, baudrate, timeout
        self.frames, self.ticks, self.freerun_s = frames, ticks, freerun_s
        self.image, self.sysfs, self.seed = image, sysfs, seed
        self.expect_config = image.config if image is not None else expect_config
        self.say = say or (lambda text: None)
        self.port: str | None = None
        self.board: str | None = None        # the board the port belongs to, when known
        self.native = False                  # a serial port (not TCP, not in process)
        self.transport: CountingTransport | None = None
        self.dev: LinkDevice | None = None
        self.reference: Image | None = None

    def run(self) -> Report:
        report = Report(self.url, [Layer(name) for name in LAYERS])
        start = time.monotonic()
        try:
            for layer in report.layers:
                t0 = time.monotonic()
                try:
                    status, summary, fix, details = getattr(self, "_" + layer.name)()
                    layer.status, layer.summary, layer.fix, layer.details = status, summary, fix, details
                except LayerFailed as failure:
                    layer.status, layer.summary, layer.fix, layer.details = \
                        "fail", failure.summary, failure.fix, failure.details
                except LinkError as error:      # the link broke in the middle of a layer
                    layer.status, layer.summary = "fail", str(error)
                    layer.fix = ("the link failed in the middle of this layer; run the doctor again, "
                                 "and if it fails here again attach its --json report to a bug report")
                layer.seconds = time.monotonic() - t0
                if layer.name == "hello" and self.dev is not None:
                    report.device = self._device_summary()
                report.port = self.port
                self.say(layer.line())
                if layer.status == "fail":
                    break
        finally:
            if self.dev is not None:
                self.dev.close()
            elif self.transport is not None:
                self.transport.close()
        report.seconds = time.monotonic() - start
        return report

    # --- port ----------------------------------------------------------------------------------

    def _open_transport(self, baudrate: int):
        if self.port.startswith("emulator://"):
            from sim.emulator import DeviceEmulator
            return CountingTransport(LoopbackTransport(DeviceEmulator(), self.port))
        return CountingTransport(SerialTransport(self.port, baudrate, write_timeout=self.timeout))

    def _port(self):
        details = {}
        try:
            self.port, self.baudrate = (self.url, self.baudrate) if self.url.startswith("emulator://") \
                else resolve_port(self.url, self.baudrate)
        except DeviceNotFoundError as error:
            several = "found:" in str(error)
            raise LayerFailed(str(error), ("name the board to test by its port: python -m host doctor PORT"
                                           if several else "plug the board in, or name its port")
                              + " (`python -m host list` lists the boards it finds)") from None
        details["port"] = self.port
        self.native = "://" not in self.port
        if self.url == "auto" or self.url in board_names():
            details["resolved_from"] = self.url
        notes = []
        fix = None
        if self.native:
            here = survey()
            real = os.path.realpath(self.port)
            for found in here.boards:
                if os.path.realpath(found.port) == real:
                    self.board = found.board
                    details["board"] = found.to_dict()
            for port, what in here.not_uart.items():
                if os.path.realpath(port) == real:
                    uarts = [b.port for b in here.boards]
                    uart = uarts[0] if len(uarts) == 1 else "the board's port in `python -m host list`"
                    raise LayerFailed(f"{self.port} is {what}",
                                      f"open the UART instead: {uart} (the second port of an iCEBreaker: "
                                      f"/dev/ttyUSB1 on Linux when it is the only FTDI device)", **details)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", LatencyTimerWarning)
                latency = check_latency_timer(self.port, self.sysfs)
            details["latency_timer_ms"] = latency
            if caught:
                fix = str(caught[-1].message)
                notes.append(f"FTDI latency timer {latency} ms (1 ms wanted)")
            elif latency is not None:
                notes.append(f"FTDI latency timer {latency} ms")
            if self.board is not None:
                from boards.registry import board as board_named
                default = board_named(self.board).default_baud
                details["board_default_baud"] = default
                if self.baudrate != default:
                    notes.append(f"not the {self.board}'s default of {default} baud: right only for a "
                                 f"bitstream built with --baud {self.baudrate}")
        try:
            self.transport = self._open_transport(self.baudrate)
        except DeviceNotFoundError as error:
            raise LayerFailed(f"{self.port} does not open", str(error).split("; ", 1)[-1],
                              error=str(error), **details) from None
        details["baudrate"] = self.baudrate if self.native else None
        if self.native:
            summary = f"{self.port} open at {self.baudrate} baud"
        elif self.port.startswith("emulator://"):
            summary = f"{self.port}: the device emulator in this process (no port, no baud rate)"
        else:
            summary = f"{self.port} connected (TCP: no baud rate or latency timer; a simulated board or a bridge)"
        if self.board:
            summary += f"; a{'n' if self.board[0] in 'aeiou' else ''} {self.board}"
        if notes:
            summary += "; " + "; ".join(notes)
        return ("warn" if fix else "pass"), summary, fix, details

    # --- hello ---------------------------------------------------------------------------------

    def _hello(self):
        board = self.board or "icebreaker"
        reprogram = REPROGRAM.format(board=board)
        attempts = []
        for attempt in range(3):
            if attempt:
                self.transport = self._open_transport(self.baudrate)
            try:
                self.dev = LinkDevice(self.transport, self.timeout)
                break
            except LinkError as error:
                answer = no_answer(error, self.transport)
                attempts.append(answer)
                # corrupt frames may be noise: try twice more; anything else is an answer
                if answer.status not in ("corrupt", "refused") or attempt == 2:
                    break
        if self.dev is None:
            answer = attempts[-1]
            details = {"answer": answer.status, "bytes_received": answer.bytes_received,
                       "attempts": len(attempts)}
            if self.native:
                other = self._scan_bauds()
                if other is not None:
                    baud, found = other
                    raise LayerFailed(
                        f"no answer at {self.baudrate} baud, but an axonite device answers at {baud} "
                        f"baud ({found.text})",
                        f"open at the bitstream's baud rate: --baud {baud} (Device.open(port, "
                        f"baudrate={baud})), or rebuild the bitstream for {self.baudrate} baud: "
                        f"python -m boards.build {board} --baud {self.baudrate} --program",
                        answer_baud=baud, **details)
            speed = f" at {self.baudrate} baud" if self.native else ""
            if answer.status == "version":
                fix = (f"the board holds another release's bitstream: rebuild and reprogram it from "
                       f"this source tree ({reprogram}), or use the host library of its release")
            elif answer.status in ("foreign", "corrupt"):
                fix = (f"bytes arrive{speed}, but no axonite frame: the FPGA runs another "
                       f"bitstream (rebuild and reprogram: {reprogram}), or the host and the bitstream "
                       f"disagree on the baud rate (--baud: the rate `boards.build --baud` built it for, "
                       f"{P.DEFAULT_BAUD} by default)")
            elif answer.status == "refused":
                fix = (f"it answers, but refuses HELLO: a broken or foreign bitstream; rebuild and "
                       f"reprogram it ({reprogram})")
            elif answer.status == "silent":
                fix = (f"nothing answers{speed}. Is the FPGA programmed ({reprogram}: iceprog ends "
                       f"with `cdone: high`, then the heartbeat LED blinks, green on the iCEBreaker)? "
                       f"Is this its UART "
                       f"(`python -m host list`; the iCEBreaker's is interface B, the second port, "
                       f"/dev/ttyUSB1 on Linux, not /dev/ttyUSB0)? Is the baud rate the bitstream's "
                       f"(--baud)?")
            else:
                fix = "see the message; `python -m host list` shows the boards it finds"
            raise LayerFailed(f"{answer.text}", fix, **details)
        dev = self.dev
        info = dev.info
        summary = describe_hello(info, dev.config)
        details = {k: (v.name if hasattr(v, "name") and not isinstance(v, P.Capability) else v)
                   for k, v in info.items() if k not in ("ref_seq", "ref_opcode", "reserved")}
        details["capabilities"] = [c.name for c in P.Capability if c in info["capabilities"]]
        details["config"] = dev.config.to_dict()
        summary += (f"; max payload {info['max_payload']}, window {info['window']}, input queue "
                    f"{info['input_depth']}")
        expect = self.expect_config
        if expect is not None and expect != dev.config:
            noun = "image" if self.image is not None else "build"
            diffs = [f"{f.name}: {noun} {getattr(expect, f.name)}, device {getattr(dev.config, f.name)}"
                     for f in fields(CoreConfig) if getattr(expect, f.name) != getattr(dev.config, f.name)]
            raise LayerFailed(
                f"the {noun} is for another core ({'; '.join(diffs)})",
                f"rebuild the bitstream for that configuration (python -m boards.build {board} "
                f"--neurons N --inputs N --synapses N ... --program) or recompile the network for the "
                f"device (compile_network(network, device.config))", **details)
        status, fix = "pass", None
        if self.board is not None:
            from boards.registry import board as board_named
            default = board_named(self.board).default_config
            if dev.config != default:
                summary += f"; not the {self.board}'s default configuration"
        return status, summary, fix, details

    def _scan_bauds(self):
        """On a serial port: the first other baud rate at which an axonite device answers."""
        if self.transport is not None:
            self.transport.close()
        for baud in SCAN_BAUDS:
            if baud == self.baudrate:
                continue
            answer = probe_port(self.port, baud, min(self.timeout, 0.3))
            if answer.ok or answer.status == "version":
                return baud, answer
        return None

    def _device_summary(self) -> dict:
        dev = self.dev
        return {"summary": describe_hello(dev.info, dev.config), "config": dev.config.to_dict(),
                "device_kind": getattr(dev.info["device_kind"], "name", dev.info["device_kind"]),
                "version": dev.info["version"], "clock_hz": dev.info["clock_hz"], "build": dev.info["build"]}

    # --- link ----------------------------------------------------------------------------------


def doctor(url: str = "auto", **options) -> Report:
    """Run the doctor on `url` (see Doctor for the options); the report of every layer."""
    return Doctor(url, **options).run()
