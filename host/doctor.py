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
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from dataclasses import dataclass, field, fields

import numpy as np
import serial

from firmware import formats
from firmware import protocol as P
from firmware.compiler import compile_network
from firmware.config import CoreConfig
from firmware.errors import AxoniteError, CapacityError, ConfigError, NetworkError
from firmware.image import Image
from firmware.network import FixedProbability, Network, STDPRule

from .device import Device
from .link_device import LinkDevice
from .errors import DeviceError, DeviceNotFoundError, DeviceTimeoutError, FrameError, LinkError
from .latency import LatencyTimerWarning, check_latency_timer
from .link import OverrunWarning
from .ports import CountingTransport, board_names, describe_hello, no_answer, probe_port, \
    resolve_port, survey
from .transport import LoopbackTransport, SerialTransport

LAYERS = ("port", "hello", "link", "core", "freerun")
REPORT_VERSION = 1
FRAMES = 2000               # link: commands (half WRITE, half READ), each with its reply
TICKS = 300                 # core: ticks on the device and on the golden model
FREERUN_S = 3.0             # freerun: seconds at a 1 ms tick
TICK_S = 1e-3
CLOCK_TOLERANCE = 0.05      # freerun: a board's measured clock within 5 % of what it reports
RETRIES = 3                 # link: attempts after the first, per WRITE + READ
SEED = 0x5EED_1234          # the LFSR seed the core layer sets (SEED command)
SCAN_BAUDS = (P.DEFAULT_BAUD, 1_000_000, 2_000_000, 115_200, 921_600, 12_000_000)
REPROGRAM = "python -m boards.build {board} --program"


@dataclass
class Layer:
    name: str
    status: str = "skipped"          # pass | warn | fail | skipped
    summary: str = ""
    fix: str | None = None
    details: dict = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        text = f"  {self.name:<8} {self.status:<7} {self.summary}"
        if self.fix:
            text += f"\n  {'':<8} {'fix:':<7} {self.fix}"
        return text

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "summary": self.summary, "fix": self.fix,
                "details": self.details, "seconds": round(self.seconds, 3)}


@dataclass
class Report:
    url: str
    layers: list[Layer]
    port: str | None = None
    device: dict | None = None
    started: float = field(default_factory=time.time)
    seconds: float = 0.0

    @property
    def failed(self) -> Layer | None:
        return next((layer for layer in self.layers if layer.status == "fail"), None)

    @property
    def passed(self) -> bool:
        return self.failed is None and all(layer.status in ("pass", "warn") for layer in self.layers)

    @property
    def verdict(self) -> str:
        where = self.port or self.url
        failed = self.failed
        if failed is not None:
            return f"FAIL at {failed.name}: {where}: {failed.summary}"
        warned = [layer.name for layer in self.layers if layer.status == "warn"]
        what = (self.device or {}).get("summary", "")
        note = f" (remarks: {', '.join(warned)})" if warned else ""
        return f"PASS: {where}{': ' + what if what else ''}; {', '.join(LAYERS)} pass{note}"

    def text(self) -> str:
        return "\n".join([f"axonite doctor {self.url}", *(layer.line() for layer in self.layers),
                          self.verdict])

    def to_dict(self) -> dict:
        from importlib import metadata
        try:
            version = metadata.version("axonite")
        except metadata.PackageNotFoundError:
            version = None
        failed = self.failed
        return {"axonite_doctor": REPORT_VERSION,
                "verdict": "pass" if self.passed else "fail",
                "failed_layer": failed.name if failed else None,
                "line": self.verdict, "url": self.url, "port": self.port, "device": self.device,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
                "seconds": round(self.seconds, 3),
                "host": {"platform": platform.platform(), "python": platform.python_version(),
                         "axonite": version, "protocol_version": P.PROTOCOL_VERSION,
                         "pyserial": serial.VERSION},
                "layers": [layer.to_dict() for layer in self.layers]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_jsonable)


def _jsonable(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if hasattr(value, "name"):
        return value.name
    return str(value)


class LayerFailed(Exception):
    def __init__(self, summary: str, fix: str | None = None, **details):
        super().__init__(summary)
        self.summary, self.fix, self.details = summary, fix, details


# --- the reference network --------------------------------------------------------------------

# (inputs, excitatory, output neurons, p input->exc, p exc->exc, p exc->out), largest first: the
# first that the configuration holds is used.
REFERENCE_SIZES = ((8, 8, 4, 0.5, 0.2, 0.4), (6, 6, 4, 0.3, 0.2, 0.2), (4, 4, 2, 0.3, 0.2, 0.3),
                   (2, 2, 1, 0.5, 0.0, 0.5))
PLASTIC = ("in_exc", "exc_out")


def reference_network(config: CoreConfig, stdp: bool = True, sizes=REFERENCE_SIZES[0]) -> Network:
    """Inputs -> excitatory neurons with STDP, excitatory -> excitatory inhibitory with a delay,
    excitatory -> output with another STDP rule (signed bounds) and a longer delay; biases that
    make some neurons fire without input (free-run). All of it recorded."""
    n_in, n_exc, n_out, p_in, p_rec, p_out = sizes
    lo, hi = formats.signed_range(config.weight_bits)

    def weight(value: int) -> int:            # within what the configuration's weights hold
        return int(np.clip(value, lo, hi))

    def rule(w_min: int = 0, w_max: int = 127, **options) -> STDPRule | None:
        return STDPRule(w_min=weight(w_min), w_max=weight(w_max), **options) if stdp else None

    net = Network("doctor_reference")
    inp = net.inputs("in", min(n_in, config.n_inputs))
    exc = net.population("exc", n_exc, du=400, dv=200, vth=30, refractory=1,
                         bias_mant=[0, 120, 0, 200, 0, 0, 150, 0][:n_exc])
    out = net.population("out", n_out, du=1000, dv=100, vth=20, bias_mant=3)
    net.connect(inp, exc, FixedProbability(p_in, seed=11), weight=weight(60), stdp=rule(), name="in_exc")
    if p_rec and config.max_delay >= 2:
        net.connect(exc, exc, FixedProbability(p_rec, seed=12), weight=weight(-20), delay=2, name="exc_exc")
    net.connect(exc, out, FixedProbability(p_out, seed=13), weight=weight(25), delay=min(3, config.max_delay),
                stdp=rule(a_plus=40, a_minus=-50, w_min=-10, w_max=90), name="exc_out")
    net.record(exc)
    net.record(out)
    return net


def reference_image(config: CoreConfig, stdp: bool = True) -> Image:
    """The reference network compiled for `config`, in the largest size it holds;
    CapacityError when it holds none (a core smaller than 4 neurons and 2 projections)."""
    last = None
    for sizes in REFERENCE_SIZES:
        if sizes[1] + sizes[2] > config.n_neurons:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")          # InputWrapWarning cannot arise at these sizes
                return compile_network(reference_network(config, stdp, sizes), config)
        except (CapacityError, NetworkError, ConfigError) as error:
            last = error
    raise CapacityError(f"the core ({config}) holds no size of the doctor's reference network"
                        f"{': ' + str(last) if last else ''}")


# --- the doctor ---------------------------------------------------------------------------------


class Doctor:
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

    def _scratch_region(self):
        regions = formats.memory_map(self.dev.config)
        usable = [regions[name] for name in formats.STATE_REGIONS if name not in ("counters", "lfsr_state")]
        return max(usable, key=lambda r: (r.depth * P.word_bytes(r), -r.index))

    def _link(self):
        dev, transport = self.dev, self.transport
        region = self._scratch_region()
        nbytes = P.word_bytes(region)
        per = min(region.depth, P.max_words(nbytes, dev.link.max_payload))
        mask = np.uint64((1 << region.layout.width) - 1)
        rng = np.random.default_rng(self.seed)
        counts = {"corrupt_from_device": 0, "unreadable_at_device": 0, "lost": 0}
        commands = retries = 0
        in0, out0 = transport.bytes_in, transport.bytes_out
        t0 = time.monotonic()
        errors: list[str] = []
        for _ in range(self.frames // 2):
            count = int(rng.integers(1, per + 1)) if per > 1 else 1
            addr = int(rng.integers(0, region.depth - count + 1))
            words = rng.integers(0, np.iinfo(np.uint64).max, count, dtype=np.uint64, endpoint=True) & mask
            for attempt in range(RETRIES + 1):
                try:
                    commands += 1
                    dev.write_region(region.name, words, addr)
                    commands += 1
                    back = dev.read_region(region.name, addr, count)
                    break
                except FrameError as error:
                    kind, message = ("lost" if error.code is None else "corrupt_from_device"), str(error)
                except DeviceError as error:
                    if error.command is not None:       # a sound frame refused: not the line
                        raise LayerFailed(f"the device refused a {error.command} of region {region.name} "
                                          f"({count} words at {addr}): {error}",
                                          f"the bitstream and this host disagree about the memory map: "
                                          f"rebuild and reprogram from this source tree "
                                          f"({REPROGRAM.format(board=self.board or 'icebreaker')})") from None
                    kind, message = "unreadable_at_device", str(error)
                except DeviceTimeoutError as error:
                    kind, message = "lost", str(error)
                counts[kind] += 1
                if len(errors) < 5:
                    errors.append(message)
                if attempt == RETRIES:
                    raise LayerFailed(
                        f"a WRITE + READ of {count} words failed {RETRIES + 1} times in a row after "
                        f"{commands} commands ({self._error_text(counts)})",
                        self._link_fix(), **self._link_details(counts, commands, retries, in0, out0, t0,
                                                               region, errors))
                retries += 1
            if not np.array_equal(back, words):
                k = int(np.nonzero(back != words)[0][0])
                raise LayerFailed(
                    f"read back {region.name}[{addr + k}] = {int(back[k]):#x}, written {int(words[k]):#x}, "
                    f"and no frame failed its CRC", "the device's memory or link logic is faulty: rebuild "
                    "and reprogram; if it persists, attach the --json report to a bug report",
                    **self._link_details(counts, commands, retries, in0, out0, t0, region, errors))
        details = self._link_details(counts, commands, retries, in0, out0, t0, region, errors)
        summary = (f"{commands} commands (WRITE, READ of {region.name}) and their replies, "
                   f"{details['bytes']:,} bytes in {details['seconds']:.1f} s: "
                   f"{self._error_text(counts)}, {retries} retries; {details['bit_errors']}")
        if sum(counts.values()):
            raise LayerFailed(summary, self._link_fix(), **details)
        return "pass", summary, None, details

    @staticmethod
    def _error_text(counts) -> str:
        return (f"{counts['corrupt_from_device']} corrupt frames from the device (CRC), "
                f"{counts['unreadable_at_device']} the device could not read, {counts['lost']} lost")

    def _link_fix(self) -> str:
        if not self.native:
            return ("bytes are corrupted or lost between this host and the device: a proxy or bridge on "
                    "the way, or the device's own link; on a board, run the doctor on its serial port")
        board = self.board or "icebreaker"
        return (f"frames were corrupted or lost at {self.baudrate} baud: a marginal baud rate or a poor "
                f"USB connection. Try another cable or USB port (no hub); or a lower baud rate, built "
                f"and opened alike: python -m boards.build {board} --baud 1000000 --program, then "
                f"--baud 1000000 (Device.open(port, baudrate=1000000))")

    def _link_details(self, counts, commands, retries, in0, out0, t0, region, errors) -> dict:
        seconds = max(time.monotonic() - t0, 1e-9)
        nbytes = (self.transport.bytes_in - in0) + (self.transport.bytes_out - out0)
        bits = 10 * nbytes                    # 8N1: start, 8 data, stop
        n_errors = sum(counts.values())
        if n_errors:
            ber, text = n_errors / bits, f"bit-error rate >= {n_errors / bits:.1e}"
        else:
            ber, text = None, f"bit-error rate < {3 / max(bits, 1):.1e} (95 %)"
        details = {"region": region.name, "commands": commands, "retries": retries, **counts,
                   "bytes": nbytes, "bits": bits, "seconds": round(seconds, 3),
                   "bytes_per_s": round(nbytes / seconds), "bit_error_rate": ber,
                   "bit_error_bound_95": None if n_errors else 3 / max(bits, 1), "bit_errors": text,
                   "first_errors": errors}
        if self.native:
            details["line_use"] = round(nbytes / seconds / (self.baudrate / 10), 3)
        return details

    # --- core ----------------------------------------------------------------------------------

    def _reference(self):
        if self.reference is None:
            stdp = P.Capability.STDP in self.dev.info["capabilities"]
            try:
                self.reference = reference_image(self.dev.config, stdp)
            except CapacityError as error:
                raise LayerFailed(f"cannot test the core: {error}",
                                  "the doctor needs a core of at least 4 neurons and 2 projections; "
                                  "build a larger configuration") from None
        return self.reference

    def _session(self, dev, image) -> list[dict]:
        """Two runs of random input (the second continues the first), with what to compare
        after each."""
        rng = np.random.default_rng(self.seed)
        n_in = image.group("in")[1]["size"]
        flags = image.table("projection")["plastic"]
        plastic = [name for name in PLASTIC if int(flags[image.projection(name)["index"]])]
        dev.load(image)
        dev.seed(SEED)
        seen = []
        first = self.ticks * 3 // 5
        for ticks, p in ((first, 0.25), (self.ticks - first, 0.4)):
            result = dev.run(ticks, rng.random((ticks, n_in)) < p)
            seen.append({"start": result.start_tick, "spikes": result.spikes,
                         "weights": {name: dev.weights(name) for name in plastic},
                         "state": {name: dev.probe(name) for name in ("u", "v", "ref", "x", "y")},
                         "counters": dev.counters()})
        return seen

    def _core(self):
        image = self._reference()
        with Device.open("model", config=self.dev.config) as model:
            want = self._session(model, image)
        got = self._session(self.dev, image)
        difference = _first_difference(want, got, image)
        totals = want[-1]["counters"]
        details = {"ticks": self.ticks, "network": {"neurons": int(image.config.n_neurons),
                                                    "synapses": int(image.tables["synapse"].size)},
                   "counters": totals, "projections": sorted(want[-1]["weights"])}
        if difference:
            raise LayerFailed(
                f"the device differs from the golden model: {difference}",
                f"the bitstream is not the gateware of this source tree, or the FPGA misbehaves "
                f"(a timing or power problem): rebuild and reprogram "
                f"({REPROGRAM.format(board=self.board or 'icebreaker')}); if it persists, attach the "
                f"--json report to a bug report", **details)
        spikes = sum(int(s["spikes"].sum()) for s in want)
        summary = (f"reference network, {self.ticks} ticks: {spikes} output spikes, "
                   f"{totals['synaptic_events']} synaptic events, {totals['plastic_updates']} plastic "
                   f"updates; spikes, weights ({', '.join(sorted(want[-1]['weights'])) or 'no STDP'}), "
                   f"state and counters equal the golden model's bit for bit")
        if not want[-1]["weights"]:
            return "warn", summary + " (the device has no STDP)", None, details
        return "pass", summary, None, details

    # --- freerun -------------------------------------------------------------------------------

    def _freerun(self):
        dev = self.dev
        if P.Capability.FREERUN not in dev.info["capabilities"]:
            return "warn", "the device cannot free-run (no FREERUN capability): not tested", None, {}
        image = self._reference()
        clock_hz = dev.info["clock_hz"]
        period = max(1, round(clock_hz * TICK_S))
        dev.load(image)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always", OverrunWarning)
            t0 = time.monotonic()
            dev.freerun(period)
            while time.monotonic() - t0 < self.freerun_s:
                dev.link.pump(min(0.05, max(0.0, self.freerun_s - (time.monotonic() - t0))))
            wall = time.monotonic() - t0
            result = dev.stop()
        counters = dev.counters()
        with Device.open("model", config=dev.config) as model:
            model.load(image)
            expected = model.run(result.ticks)
        ticks, overruns, dropped = result.ticks, counters["overruns"], counters["dropped"]
        fpga = dev.info["device_kind"] == P.DeviceKind.FPGA
        measured_hz = ticks * period / wall
        ratio = measured_hz / clock_hz
        details = {"period_cycles": period, "seconds": round(wall, 3), "ticks": ticks,
                   "expected_ticks": round(wall / TICK_S), "overruns": overruns, "dropped": dropped,
                   "output_spikes": int(result.spikes.sum()), "measured_clock_hz": round(measured_hz),
                   "clock_hz": clock_hz, "real_time_ratio": round(ratio, 4),
                   "clock_judged": self.native and fpga}
        summary = (f"{ticks} ticks in {wall:.1f} s at a {period}-cycle (1 ms) period, {overruns} "
                   f"overruns, {dropped} dropped events, {details['output_spikes']} output spikes")
        if ticks == 0:
            raise LayerFailed(summary + ": no tick ran", "the device's tick timer does not run: a clock or "
                              "bitstream problem; rebuild and reprogram", **details)
        if not np.array_equal(result.spikes, expected.spikes):
            k = int(np.nonzero((result.spikes != expected.spikes).any(axis=1))[0][0])
            raise LayerFailed(summary + f"; its spikes differ from the golden model's first at tick {k}",
                              "rebuild and reprogram; if it persists, attach the --json report to a bug report",
                              **details)
        if dropped:
            raise LayerFailed(summary, "events were dropped in free-run (an output buffer overflowed): "
                              "attach the --json report to a bug report", **details)
        if overruns and fpga:
            raise LayerFailed(summary + ": ticks of the reference network took longer than 1 ms of the "
                              "device's own cycles", "a small network cannot need that long: the core or "
                              "its link stalls; rebuild and reprogram, and if it persists attach the "
                              "--json report to a bug report", **details)
        if self.native and fpga:
            summary += (f"; the device's clock measures {measured_hz / 1e6:.3f} MHz, it reports "
                        f"{clock_hz / 1e6:g} MHz")
            if abs(ratio - 1) > CLOCK_TOLERANCE:
                raise LayerFailed(summary, f"the board's clock is {ratio:.2f} times what its bitstream "
                                  f"was built for: a PLL or oscillator problem, or a bitstream built for "
                                  f"another clock (--clock); rebuild and reprogram", **details)
        elif fpga:
            summary += (f"; {ratio:.2%} of real time (reported, not judged: not a serial port, so the "
                        f"simulated board, far slower than a board, or a bridge)")
        else:
            summary += f"; {ratio:.2%} of real time (reported, not judged: the emulator has no clock of its own)"
        if overruns:
            return ("warn", summary + "; the emulator's ticks are timed by this computer's scheduler, so "
                    "its overruns are not the device's", None, details)
        return "pass", summary, None, details


def _first_difference(want: list[dict], got: list[dict], image: Image) -> str | None:
    """Where the device's session first differs from the golden model's, in words."""
    for k, (a, b) in enumerate(zip(want, got)):
        bad = np.nonzero((a["spikes"] != b["spikes"]).any(axis=1))[0]
        if a["start"] != b["start"] or a["spikes"].shape != b["spikes"].shape:
            return (f"run {k + 1}: the device ran ticks from {b['start']} ({b['spikes'].shape}), the "
                    f"model from {a['start']} ({a['spikes'].shape})")
        if bad.size:
            t = int(bad[0])
            ids = image.output_ids
            return (f"output spikes at tick {a['start'] + t}: model neurons "
                    f"{ids[a['spikes'][t]].tolist()}, device {ids[b['spikes'][t]].tolist()}")
        for name in a["weights"]:
            wa, wb = a["weights"][name], b["weights"][name]
            if not np.array_equal(wa, wb, equal_nan=True):
                i, j = np.argwhere(~((wa == wb) | (np.isnan(wa) & np.isnan(wb))))[0]
                return (f"after run {k + 1}, weight ({i}, {j}) of projection {name}: model {wa[i, j]:g}, "
                        f"device {wb[i, j]:g}")
        for name in a["state"]:
            sa, sb = a["state"][name], b["state"][name]
            if not np.array_equal(sa, sb):
                i = int(np.nonzero(sa != sb)[0][0])
                return f"after run {k + 1}, state {name}[{i}]: model {int(sa[i])}, device {int(sb[i])}"
        for name in a["counters"]:
            if a["counters"][name] != b["counters"].get(name):
                return (f"after run {k + 1}, counter {name}: model {a['counters'][name]}, device "
                        f"{b['counters'].get(name)}")
    return None


def doctor(url: str = "auto", **options) -> Report:
    """Run the doctor on `url` (see Doctor for the options); the report of every layer."""
    return Doctor(url, **options).run()
