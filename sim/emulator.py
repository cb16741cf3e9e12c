"""A protocol-level axonite device: the golden model behind firmware/protocol/.

It behaves as the board will: memory regions written and read through the memory map of
docs/spec.md §9 (tables 0-9 feed the model, state regions 10-16 read and write its state), an
input queue of `input_depth` entries with credits, STEP / FREERUN / STOP, counters, SEED,
RESET. Every bad frame is answered with an ERROR frame and the emulator keeps working; an
INPUT frame beyond the credits is refused whole, counted in `dropped` and reported.

With `cores` = K > 1 it is a device of K cores (spec §12.7; "emulator://?cores=K"): each core
has its own regions and its routing table (region `route`), which SELECT_CORE picks for READ,
WRITE, COUNTERS and SEED; INPUT entries and SPIKES name device axons and neurons
(firmware.protocol.cores); the cores tick in lock-step on sim.multicore.lockstep, so a spike
that crosses cores reaches its destination in the next tick, also across STEPs, until RESET.

    emu = DeviceEmulator(CoreConfig()); emu.receive(bytes); emu.service(); emu.take_output()
    (ticks run only inside service(): host "emulator://" calls it while it reads)

sim/device_emulator.py serves it over TCP (`python -m sim.device_emulator`). Every option is
checked against the HELLO_REPLY field that carries it (ConfigError naming the option and its
range); every frame, however it is formed, gets its answer and nothing else
(tests/sim/test_emulator_hardening.py sends it thousands).
"""

from __future__ import annotations

import collections
import time
from types import SimpleNamespace

import numpy as np

from firmware import formats
from firmware import protocol as P
from firmware.config import CoreConfig
from firmware.errors import AxoniteError, ConfigError
from firmware.image import Image

from .model import GoldenModel
from .multicore import lockstep, take_group

EMULATOR_BUILD = 1
SERVICE_BUDGET_S = 0.005      # ticks run per service() call before the link is polled again


class _Refuse(Exception):
    def __init__(self, code: P.ErrorCode, detail: int = 0, text: str = ""):
        super().__init__(text)
        self.code, self.detail, self.text = code, int(detail), text


# The state regions the model's arrays hold: region -> (attribute, field of the region's word).
STATE_OF_REGION = {region: (name, field) for name, (region, field) in formats.STATE_FIELDS.items()}


class _Unit:
    """One core of the device: its tables' words, its state (`core`: a namespace, or the model
    once it runs), the counts its model does not keep (`extra`)."""

    def __init__(self, config: CoreConfig, regions: dict):
        c = config
        self.words = {name: np.zeros(regions[name].depth, np.uint64)
                      for name in formats.TABLE_REGIONS + tuple(n for n in ("route",) if n in regions)}
        self.core = SimpleNamespace(
            tick=0, u=np.zeros(c.n_neurons, np.int64), v=np.zeros(c.n_neurons, np.int64),
            ref=np.zeros(c.n_neurons, np.int64), x=np.zeros(c.n_sources, np.int64),
            y=np.zeros(c.n_neurons, np.int64), acc=np.zeros((c.max_delay, c.n_neurons), np.int64),
            lfsr_state=0, counters=dict.fromkeys(formats.COUNTERS, 0),
            weights=np.zeros(regions["synapse"].depth, np.int64))
        self.model: GoldenModel | None = None
        self.extra = {"overruns": 0, "dropped": 0}   # what the model never counts


class DeviceEmulator:
    """A device of `cores` cores (one by default) and its link, driven by bytes in and bytes out."""

    def __init__(self, config: CoreConfig | None = None, input_depth: int = 512, window: int = 8,
                 clock_hz: int = 12_000_000, protocol_version: int = P.PROTOCOL_VERSION,
                 max_payload: int = P.MAX_PAYLOAD, cores: int = 1):
        self.cores = P.check_cores(CoreConfig() if config is None else config, cores)
        self.config = c = P.check_device_config(CoreConfig() if config is None else config, self.cores)
        # a device may buffer less than the protocol allows
        self.max_payload = P.check_device_option("max_payload", max_payload)
        P.check_spike_record(c, self.cores, self.max_payload)
        self.input_depth = P.check_device_option("input_depth", input_depth)
        self.window = P.check_device_option("window", window)
        self.clock_hz = P.check_device_option("clock_hz", clock_hz)
        self.version = P.check_device_option("protocol_version", protocol_version)
        self.regions = formats.memory_map(c, self.cores)
        self.by_index = {r.index: r for r in self.regions.values()}
        try:
            self.units = [_Unit(c, self.regions) for _ in range(self.cores)]
        except MemoryError:
            raise ConfigError(f"{self.cores} core(s) of configuration {c} do not fit this machine's "
                              f"memory") from None
        self.selected = 0                       # SELECT_CORE's core (0 after power-on)
        self._axon_bits = formats.bits_for(c.n_inputs)
        self._routes = None                     # each core's routing table (MultiImage.routes form)
        self._pending = [np.zeros(0, np.int64)] * self.cores   # remote axons in flight, per core
        self.queue: collections.deque[int] = collections.deque()
        self.consumed = 0                       # entries consumed since power-on, mod 2**32
        self.steps: collections.deque[int] = collections.deque()   # remaining ticks per STEP
        self.period_s: float | None = None      # free-run period, None when not free-running
        self._next_due = 0.0
        self._last_flush = 0.0
        self._records = bytearray()             # spike records not yet sent
        self._overruns_unreported = 0
        self.tx_seq = 0
        self.decoder = P.FrameDecoder(protocol_version, max_payload)
        self._out = bytearray()
        self.frames_in = 0
        self.bad_frames = 0

    # The selected core's (core 0's on a one-core device): its words, state, model, counts.
    unit = property(lambda self: self.units[self.selected])
    words = property(lambda self: self.unit.words)
    core = property(lambda self: self.unit.core)
    model = property(lambda self: self.unit.model)
    extra = property(lambda self: self.unit.extra)

    @property
    def tick(self) -> int:
        """The device's tick (every core's)."""
        return self.units[0].core.tick

    # --- link ----------------------------------------------------------------------------------

    def connection_reset(self) -> None:
        """A new host connected: drop any half-received frame (the device state stays)."""
        self.decoder = P.FrameDecoder(self.version, self.max_payload)

    def receive(self, data: bytes) -> None:
        for item in self.decoder.feed(data):
            if isinstance(item, P.BadFrame):
                self.bad_frames += 1
                self._error(item.code, item.detail, item.reason, item.seq if item.header_valid else None,
                            item.opcode)
                continue
            self.frames_in += 1
            try:
                if len(item.payload) > self.max_payload:
                    raise _Refuse(P.ErrorCode.OVERSIZE, self.max_payload,
                                  f"payload of {len(item.payload)} bytes; this device accepts {self.max_payload}")
                self._handle(item)
            except _Refuse as refuse:
                self._error(refuse.code, refuse.detail, refuse.text, item.seq, item.opcode)

    def take_output(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    @property
    def busy(self) -> bool:
        return bool(self.steps) or self.period_s is not None

    def _send(self, opcode: P.Op, payload: bytes = b"") -> None:
        self._out += P.encode_frame(opcode, self.tx_seq, payload, self.version)
        self.tx_seq = (self.tx_seq + 1) % P.SEQ_MODULO

    def _error(self, code, detail, text, ref_seq, ref_opcode) -> None:
        valid = ref_seq is not None
        payload = P.ERROR.pack(ref_seq if valid else 0, ref_opcode if valid else 0, int(code), int(valid),
                               formats.wrap32(int(detail)))
        self._send(P.Op.ERROR, payload + text.encode()[:self.max_payload - P.ERROR.size])

    def _ack(self, frame: P.Frame) -> None:
        self._send(P.Op.ACK, P.ACK.pack(frame.seq, frame.opcode, 0, formats.wrap32(self.tick), self.consumed))

    # --- commands ------------------------------------------------------------------------------

    def _handle(self, frame: P.Frame) -> None:
        handler = {
            P.Op.HELLO: self._hello, P.Op.WRITE: self._write, P.Op.READ: self._read,
            P.Op.INPUT: self._input, P.Op.STEP: self._step, P.Op.FREERUN: self._freerun,
            P.Op.STOP: self._stop, P.Op.COUNTERS: self._counters, P.Op.SEED: self._seed,
            P.Op.RESET: self._reset, P.Op.SELECT_CORE: self._select_core if self.cores > 1 else None,
        }.get(frame.opcode)
        if handler is None:
            raise _Refuse(P.ErrorCode.UNKNOWN_OPCODE, frame.opcode,
                          f"{P.op_name(frame.opcode)} is not a command this device accepts")
        handler(frame)

    @staticmethod
    def _expect(frame, size, exact=True):
        n = len(frame.payload)
        if (n != size) if exact else (n < size):
            raise _Refuse(P.ErrorCode.BAD_PAYLOAD, size, f"{frame.op_name} payload is {n} bytes; "
                          f"it must be {'' if exact else 'at least '}{size}")

    def _not_busy(self, frame):
        if self.busy:
            pending = sum(self.steps) if self.steps else P.BUSY_FREERUN_DETAIL
            raise _Refuse(P.ErrorCode.BUSY, pending, f"{frame.op_name} refused: the core is "
                          f"{'free-running' if self.period_s is not None else f'running ({pending} ticks pending)'}")

    def _hello(self, frame):
        self._expect(frame, 0)
        status = P.Status.FREERUN if self.period_s is not None else (P.Status.STEPPING if self.steps else P.Status.IDLE)
        self._send(P.Op.HELLO_REPLY, P.hello_reply(
            self.config, self.cores, ref_seq=frame.seq, ref_opcode=frame.opcode, version=self.version,
            device_kind=P.DeviceKind.EMULATOR, capabilities=P.CAPABILITIES, max_payload=self.max_payload,
            window=self.window, status=status, input_depth=self.input_depth, clock_hz=self.clock_hz,
            tick=formats.wrap32(self.tick), consumed=self.consumed, queued=len(self.queue),
            build=EMULATOR_BUILD))

    def _select_core(self, frame):
        self._expect(frame, P.SELECT_CORE.size)
        (core,) = P.SELECT_CORE.unpack(frame.payload)
        if core >= self.cores:
            raise _Refuse(P.ErrorCode.BAD_CORE, self.cores,
                          f"core {core} does not exist; this device has cores 0 .. {self.cores - 1}")
        self.selected = core
        self._ack(frame)

    def _access(self, frame):
        self._expect(frame, P.REGION_ACCESS.size, exact=frame.opcode == P.Op.READ)
        index, nbytes, addr, count = P.REGION_ACCESS.unpack_from(frame.payload)
        region = self.by_index.get(index)
        if region is None:
            raise _Refuse(P.ErrorCode.BAD_REGION, len(self.regions),
                          f"region {index} does not exist; regions are 0 .. {len(self.regions) - 1}")
        if nbytes != P.word_bytes(region):
            raise _Refuse(P.ErrorCode.WORD_SIZE, P.word_bytes(region),
                          f"region {region.name} has {P.word_bytes(region)}-byte words, the frame says {nbytes}")
        if addr + count > region.depth:
            raise _Refuse(P.ErrorCode.OUT_OF_RANGE, region.depth,
                          f"words {addr} .. {addr + count - 1} are outside region {region.name} "
                          f"(depth {region.depth})")
        return region, nbytes, addr, count

    def _write(self, frame):
        self._not_busy(frame)
        region, nbytes, addr, count = self._access(frame)
        self._expect(frame, P.REGION_ACCESS.size + count * nbytes)
        if region.name == "counters":
            raise _Refuse(P.ErrorCode.READ_ONLY, region.index, "the counters region is read-only; "
                          "clear counters with COUNTERS (flag CLEAR) or RESET")
        words = P.unpack_words(frame.payload[P.REGION_ACCESS.size:], nbytes)
        if words.size and int(words.max()) >> region.layout.width:
            raise _Refuse(P.ErrorCode.BAD_VALUE, region.layout.width,
                          f"a word for region {region.name} is wider than {region.layout.width} bits")
        if words.size:          # as the gateware: a WRITE of no word is checked, then ACKed
            self._write_words(region, addr, words)
        self._ack(frame)

    def _write_words(self, region, addr, words):
        end = addr + words.size
        name, core = region.name, self.core
        if name in self.words:
            self.words[name][addr:end] = words
            if name == "synapse":       # live weights: the model keeps running with them
                core.weights[addr:end] = region.layout.unpack(words)["weight"]
            elif name == "route":
                self._routes = None
            else:
                self._detach(self.unit)
        elif name in STATE_OF_REGION:      # acc is [max_delay, n_neurons]: its region, flat
            attr, field = STATE_OF_REGION[name]
            getattr(core, attr).reshape(-1)[addr:end] = region.layout.unpack(words)[field]
        elif name == "lfsr_state":     # as the core's access port: any value (SEED refuses 0)
            core.lfsr_state = int(region.layout.unpack(words)["state"][-1])
        else:
            raise AssertionError(f"region {name} has no write path")   # _write refuses counters first

    def _read(self, frame):
        self._not_busy(frame)
        region, nbytes, addr, count = self._access(frame)
        most = P.max_words(nbytes, self.max_payload)
        if count > most:
            raise _Refuse(P.ErrorCode.OVERSIZE, most, f"READ of {count} words of {nbytes} bytes exceeds "
                          f"the payload limit; at most {most} words per READ")
        words = self.read_region(region.name)[addr:addr + count]
        self._send(P.Op.READ_REPLY, P.REPLY.pack(frame.seq, frame.opcode) + frame.payload
                   + P.pack_words(words, nbytes))

    def read_region(self, name: str) -> np.ndarray:
        """All words of a region as the selected core holds them now."""
        region, core = self.regions[name], self.core
        lay = region.layout
        if name == "synapse":
            fields = lay.unpack(self.words[name])
            fields["weight"] = core.weights
            return lay.pack(**fields)
        if name in self.words:
            return self.words[name].copy()
        if name in STATE_OF_REGION:
            attr, field = STATE_OF_REGION[name]
            return lay.pack(**{field: getattr(core, attr).reshape(-1)})
        if name == "lfsr_state":
            return lay.pack(state=[core.lfsr_state])
        if name == "counters":
            return np.array([c % 2**64 for c in self.counter_values()], dtype=np.uint64)
        raise KeyError(f"region {name} has no read path")

    def counter_values(self) -> list[int]:
        k = self.core.counters
        return [k[name] + self.extra.get(name, 0) for name in formats.COUNTERS]

    def _input(self, frame):
        if len(frame.payload) % 2:
            raise _Refuse(P.ErrorCode.BAD_PAYLOAD, len(frame.payload) + 1,
                          f"INPUT payload of {len(frame.payload)} bytes is not a whole number of u16 entries")
        entries = P.decode_input_entries(frame.payload)
        free = self.input_depth - len(self.queue)
        if entries.size > free:
            axons = int(np.count_nonzero(entries < P.TICK_END))
            self.units[0].extra["dropped"] += axons      # the device's own counts: core 0's
            self._send(P.Op.REPORT, P.REPORT.pack(P.ReportKind.INPUT_OVERFLOW, 0, 0, axons,
                                                  formats.wrap32(self.tick)))
        else:
            self.queue.extend(int(e) for e in entries)
        self._ack(frame)

    def _step(self, frame):
        self._expect(frame, P.STEP.size)
        (ticks,) = P.STEP.unpack(frame.payload)
        if self.period_s is not None:
            raise _Refuse(P.ErrorCode.BUSY, P.BUSY_FREERUN_DETAIL, "STEP refused: the core is free-running; STOP first")
        if ticks:
            self._ensure_model()
            self.steps.append(ticks)
        self._ack(frame)
        if not ticks:
            self._flush()

    def _freerun(self, frame):
        self._expect(frame, P.FREERUN.size)
        self._not_busy(frame)
        (period,) = P.FREERUN.unpack(frame.payload)
        self._ensure_model()
        self.period_s = period / self.clock_hz
        self._next_due = self._last_flush = time.monotonic()
        self._ack(frame)

    def _stop(self, frame):
        self._expect(frame, 0)
        self.period_s = None
        self.steps.clear()
        self._flush()
        self._ack(frame)

    def _counters(self, frame):
        self._expect(frame, P.COUNTERS_REQUEST.size)
        self._not_busy(frame)
        (flags,) = P.COUNTERS_REQUEST.unpack(frame.payload)
        values = self.counter_values()
        self._send(P.Op.COUNTERS_REPLY, P.COUNTERS_REPLY.pack(frame.seq, frame.opcode, len(values), 0)
                   + b"".join(P.COUNTER.pack(v % 2**64) for v in values))
        if flags & P.COUNTERS_CLEAR:
            self._clear_counters()

    def _clear_counters(self):
        """Every core's counters (the cores clear them together)."""
        for unit in self.units:
            unit.core.counters = dict.fromkeys(formats.COUNTERS, 0)
            unit.extra = dict.fromkeys(unit.extra, 0)

    def _seed(self, frame):
        self._expect(frame, P.SEED.size)
        self._not_busy(frame)
        (seed,) = P.SEED.unpack(frame.payload)
        if seed == 0:
            raise _Refuse(P.ErrorCode.BAD_ARGUMENT, 1, "LFSR seed 0 would stall the LFSR; use 1 .. 2**32-1")
        self.core.lfsr_state = seed
        self._ack(frame)

    def _reset(self, frame):
        self._expect(frame, 0)
        self.period_s = None
        self.steps.clear()
        self._flush()
        self.consumed = formats.wrap32(self.consumed + len(self.queue))
        self.queue.clear()
        for unit in self.units:
            core = unit.core
            core.tick = 0
            for name in ("u", "v", "ref", "x", "y", "acc"):
                getattr(core, name)[...] = 0
            core.lfsr_state = int(unit.words["lfsr_seed"][0])
        self._pending = [np.zeros(0, np.int64)] * self.cores
        self._clear_counters()
        self._ack(frame)

    # --- the model behind the tables -----------------------------------------------------------

    @staticmethod
    def _detach(unit):
        """A core's tables changed: keep its state, rebuild its model before the next tick."""
        if unit.model is not None:
            m = unit.model
            unit.core = SimpleNamespace(tick=m.tick, u=m.u, v=m.v, ref=m.ref, x=m.x, y=m.y, acc=m.acc,
                                        lfsr_state=m.lfsr_state, counters=m.counters, weights=m.weights)
            unit.model = None

    def _ensure_model(self):
        """Every core's model (and, on several cores, the routing tables) for the coming ticks;
        BAD_TABLES, with nothing changed, if some core's tables cannot run."""
        for k, unit in enumerate(self.units):
            if unit.model is not None:
                continue
            # The model follows the pointers from the per-source and per-neuron tables, as the
            # core does (firmware.tables.decode): words nothing reaches do not matter, and a load
            # replaces every word that is reached (docs/protocol.md, "What a device checks").
            try:
                model = GoldenModel(Image(self.config, {name: unit.words[name].copy()
                                                        for name in formats.TABLE_REGIONS}, {}))
            except (AxoniteError, ValueError, IndexError) as error:
                reason = str(error).removeprefix("image: ")
                where = f"core {k}: " if self.cores > 1 else ""
                raise _Refuse(P.ErrorCode.BAD_TABLES, 0, f"the tables cannot run: {where}{reason}; load an "
                              f"image to replace them") from None
            core = unit.core
            for name in ("tick", "u", "v", "ref", "x", "y", "acc", "lfsr_state", "counters", "weights"):
                setattr(model, name, getattr(core, name))
            unit.model = unit.core = model
        if self._routes is None:
            self._routes = [self._route_table(k) for k in range(self.cores)]
        return self.units[0].model

    def _route_table(self, k: int):
        """Core k's routing table (region `route`, word n * K + d: neuron n to core d) as
        (ptr per neuron, destination cores, remote axons); BAD_TABLES for a valid word whose
        axon the destination has not."""
        K, c = self.cores, self.config
        if K == 1:
            return np.zeros(c.n_neurons + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        fields = formats.route_layout(c).unpack(self.units[k].words["route"])
        valid = fields["valid"].astype(bool)
        bad = np.nonzero(valid & (fields["axon"] >= c.n_inputs))[0]
        if bad.size:
            w = int(bad[0])
            raise _Refuse(P.ErrorCode.BAD_TABLES, 0, f"the tables cannot run: core {k}: route word {w} "
                          f"(neuron {w // K} to core {w % K}) names axon {int(fields['axon'][w])}, but a core "
                          f"has {c.n_inputs} input axons; load an image to replace them")
        at = np.nonzero(valid)[0]
        ptr = np.zeros(c.n_neurons + 1, np.int64)
        ptr[1:] = np.cumsum(valid.reshape(c.n_neurons, K).sum(axis=1))
        return ptr, at % K, fields["axon"][at]

    def _pop_group(self) -> tuple[list, int]:
        """The next tick's input entries from the queue (spec §5.1, §12.7), up to and including
        the end-of-tick entry: each core's axons in queue order (an entry names core `axon >>
        bits_for(n_inputs)` and its axon there on a device of several cores), and the count of
        entries for a core the device has not (dropped, counted by no core)."""
        q, groups, nowhere = self.queue, [[] for _ in self.units], 0
        bits = self._axon_bits
        while q:
            e = q[0]
            if e & P.TICK_END:
                if e & P.MAX_EMPTY_REPEAT:
                    q[0] = e - 1
                else:
                    q.popleft()
                    self.consumed = formats.wrap32(self.consumed + 1)
                break
            q.popleft()
            self.consumed = formats.wrap32(self.consumed + 1)
            k, axon = (e >> bits, e & ((1 << bits) - 1)) if self.cores > 1 else (0, e)
            if k < self.cores:
                groups[k].append(axon)
            else:
                nowhere += 1
        return groups, nowhere

    def _tick(self):
        groups, nowhere = self._pop_group()
        if self.cores == 1:                 # (one core: no routing, no barrier)
            model = self.units[0].model
            tick = model.tick
            axons, dropped = take_group(groups[0], (), self.config.n_inputs)
            fired = model.step(axons)
            out = fired[model.tables.output[fired]]
            dropped = [dropped]
        else:
            tick = self.tick
            models = [unit.model for unit in self.units]
            fired, self._pending, dropped = lockstep(models, self._routes, groups, self._pending)
            out = np.concatenate([P.device_neuron(self.config, k, f[m.tables.output[f]])
                                  for k, (f, m) in enumerate(zip(fired, models))])
        if nowhere + sum(dropped):          # each core counts its own (rtl/core/inputs.py)
            for unit, n in zip(self.units, dropped):
                unit.extra["dropped"] += n
            self._send(P.Op.REPORT, P.REPORT.pack(P.ReportKind.INPUT_DROPPED, 0, 0, nowhere + sum(dropped),
                                                  formats.wrap32(tick)))
        if out.size:
            if len(self._records) + P.spike_record_size(out) > self.max_payload - P.SPIKES.size:
                self._flush(through=tick)      # tick's own record goes into the next frame
            self._records += P.encode_spike_record(formats.wrap32(tick), out)

    def _flush(self, through: int | None = None):
        """Send the spike records held, with the credits consumed and the tick `through`
        (default: the current tick) before which every output spike has now been sent."""
        through = self.tick if through is None else through
        if self._overruns_unreported:
            self._send(P.Op.REPORT, P.REPORT.pack(P.ReportKind.OVERRUN, 0, 0, self._overruns_unreported,
                                                  formats.wrap32(self.tick)))
            self._overruns_unreported = 0
        self._send(P.Op.SPIKES, P.SPIKES.pack(formats.wrap32(through), self.consumed) + bytes(self._records))
        self._records.clear()
        self._last_flush = time.monotonic()

    def service(self, budget_s: float = SERVICE_BUDGET_S) -> bool:
        """Run pending ticks for up to `budget_s` seconds; return whether work remains."""
        end = time.monotonic() + budget_s
        if self.steps:
            while self.steps:
                self._tick()
                self.steps[0] -= 1
                if self.steps[0] == 0:
                    self.steps.popleft()
                    self._flush()
                if time.monotonic() > end:
                    break
        elif self.period_s is not None:
            while True:
                now = time.monotonic()
                if now >= self._next_due:
                    self._tick()
                    done = time.monotonic()
                    if self.period_s and done - now > self.period_s:
                        self.units[0].extra["overruns"] += 1
                        self._overruns_unreported += 1
                    # the next tick starts a period after this one started, or when it ends
                    self._next_due = max(now + self.period_s, done)
                    now = done
                if now - self._last_flush >= P.FREERUN_FLUSH_S:
                    self._flush()
                if now >= end:
                    break
                if self._next_due > now:
                    time.sleep(min(self._next_due, end) - now)
        return self.busy
