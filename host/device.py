"""Device.open(url): one API over the golden model, the simulated board and a real board.

    with Device.open("socket://127.0.0.1:5555") as dev:     # or "/dev/ttyUSB1", or "model"
        dev.load(network)                                     # a firmware.Network, Image or .axi path
        result = dev.run(100, {0: [1, 2], 5: [3]})            # tick -> input axons
        result.times, result.neurons                          # one entry per output spike
        result.spikes                                         # the same as a bool raster [ticks, outputs]
        dev.weights("plastic")                                # [pre, post], NaN where no synapse
        dev.probe("v", "exc"), dev.counters()

URLs: "model" (the golden model in this process, no protocol), "emulator://" (the protocol
emulator in this process), any pyserial port or URL: "/dev/ttyUSB1", "COM3",
"socket://127.0.0.1:5555" (python -m sim.device_emulator), "rfc2217://..."; "auto" or a board's
name ("icebreaker"): the port of the only such board plugged in (host.ports.find_boards).
The same network and inputs give the same spikes, weights and counters on every backend.
"""

from __future__ import annotations

import abc
import collections
import functools
import os
from dataclasses import fields
from typing import Iterable, Iterator

import numpy as np

from firmware import formats
from firmware import protocol as P
from firmware.compiler import compile_network
from firmware.config import CoreConfig
from firmware.errors import ConfigError
from firmware.formats import MAX_RUN_TICKS
from firmware.image import Image
from firmware.network import Network
from firmware.run import InputError, RunResult, check_ticks, input_groups, normalize_inputs, tick_axons
from firmware.tables import decode
from sim.model import GoldenModel

from .errors import ConfigMismatchError, FrameError, LinkError, SpikesLostError
from .latency import check_latency_timer

from .link import LinkClient
from .ports import resolve_port
from .transport import LoopbackTransport, SerialTransport

# Probe names -> (region, field). x is per source (inputs, then neurons); acc is [max_delay, neurons].
PROBES = {"u": ("state_u", "u"), "v": ("state_v", "v"), "ref": ("state_ref", "ref"),
          "x": ("trace_pre", "x"), "y": ("trace_post", "y"), "acc": ("accumulator", "a_in")}

STEP_CHUNK = 256          # ticks per STEP command: the device reports progress and credits after each
LOOKAHEAD_TICKS = 4096    # how far input may run ahead of the ticks the device has completed


def _stream_groups(inputs: Iterable, start: int, n_inputs: int) -> Iterator[np.ndarray]:
    """stream()'s items as checked, sorted input axons, one item per tick from tick `start`
    (firmware.run.tick_axons: the checks of run()); a bad item, or more than MAX_RUN_TICKS of
    them, raises InputError when it is reached."""
    for k, item in enumerate(inputs):
        if k >= MAX_RUN_TICKS:
            raise InputError(f"a stream runs at most {MAX_RUN_TICKS} ticks (the device's tick counter is "
                             f"{formats.TICK_BITS} bits); start another stream() for more")
        yield tick_axons(item, start + k, n_inputs)


def _next_group(groups: Iterator[np.ndarray]) -> tuple[np.ndarray | None, InputError | None]:
    """(the next group or None at the end, or None and the InputError that refused it)."""
    try:
        return next(groups, None), None
    except InputError as error:
        return None, error


def _device_result(start: int, ticks: int, output_ids: np.ndarray, rel: np.ndarray,
                   neurons: np.ndarray) -> RunResult:
    """A RunResult from spikes a device reported (ticks relative to `start`, in any order; a
    spike reported twice is one spike)."""
    order = np.lexsort((neurons, rel))
    rel, neurons = rel[order], neurons[order]
    once = np.ones(rel.size, bool)
    once[1:] = (rel[1:] != rel[:-1]) | (neurons[1:] != neurons[:-1])
    return RunResult(start_tick=start, ticks=ticks, output_ids=output_ids,
                     times=rel[once].astype(np.int64) + start, neurons=neurons[once].astype(np.int64))


def _projection_layout(image: Image, tables, name: str):
    """Synapse addresses of projection `name` and their (pre, post) indices into its groups."""
    sym = image.projection(name)            # SymbolError (a KeyError) if there is none
    kind, pre = image.group(sym["pre"])
    post = image.group(sym["post"])[1]
    base = pre["first"] + (0 if kind == "inputs" else image.config.n_inputs)
    addr = np.nonzero(tables.syn_projection == sym["index"])[0]
    row = image.table("projection")
    idx = sym["index"]
    bounds = ((int(row["w_min"][idx]), int(row["w_max"][idx])) if int(row["plastic"][idx])
              else formats.signed_range(image.config.weight_bits))
    return addr, tables.syn_source[addr] - base, tables.syn_target[addr] - post["first"], \
        (pre["size"], post["size"]), bounds


def _config_mismatch(image_config: CoreConfig, device_config: CoreConfig, what: str, where: str) -> str:
    diffs = [f"{f.name}: image {getattr(image_config, f.name)}, device {getattr(device_config, f.name)}"
             for f in fields(CoreConfig) if getattr(image_config, f.name) != getattr(device_config, f.name)]
    return (f"{what} was compiled for {image_config} but the device at {where} is {device_config} "
            f"({'; '.join(diffs)}). Recompile the network for the device: "
            f"compile_network(network, device.config), or pass the Network to load().")


class Device(abc.ABC):
    """The common API. Use Device.open(url)."""

    url: str
    config: CoreConfig | None
    image: Image | None = None

    @staticmethod
    def open(url: str, config: CoreConfig | None = None, timeout: float = 5.0, baudrate: int | None = None,
             sysfs: str = "/sys", fast: bool = False, **emulator_options) -> "Device":
        """Open a device.

        url:      "model", "emulator://", a serial port path, a pyserial URL (socket://...),
                  "auto" (the only board plugged in) or a board's name ("icebreaker", "ulx3s":
                  the only one of that kind); host.find_boards() lists what is there
        config:   for "model" / "emulator://": the core configuration (default CoreConfig());
                  for a real device it comes from the device itself
        timeout:  seconds without an answer before DeviceTimeoutError
        baudrate: serial ports only; default the bitstreams' (firmware.protocol.DEFAULT_BAUD)
        fast:     "model" only: run on sim.FastModel (numba; the same results, bit for bit)
        """
        if url in ("model", "model://"):
            return ModelDevice(config, fast=fast)
        if url.startswith("emulator://"):
            from sim.device_emulator import DeviceEmulator
            emulator = DeviceEmulator(config or CoreConfig(), **emulator_options)
            return LinkDevice(LoopbackTransport(emulator, url), timeout)
        url, baudrate = resolve_port(url, baudrate)      # "auto", a board's name: its port
        if "://" not in url:
            check_latency_timer(url, sysfs)
        return LinkDevice(SerialTransport(url, baudrate), timeout)

    # --- context manager ---------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        pass

    # --- shared helpers ------------------------------------------------------------------------

    def _as_image(self, what) -> tuple[Image, str]:
        if isinstance(what, Network):
            return compile_network(what, self.config or CoreConfig()), f"network {what.name!r}"
        if isinstance(what, Image):
            return what, "image"
        if isinstance(what, (str, os.PathLike)):
            return Image.load(what), f"image {str(what)!r}"
        raise TypeError(f"load() takes a firmware.Network, a firmware.Image or an image path, "
                        f"not {type(what).__name__}")

    def _check_image(self, image: Image, what: str) -> None:
        fixed = getattr(self, "_fixed", self.config)
        if fixed is not None and image.config != fixed:
            raise ConfigMismatchError(_config_mismatch(image.config, fixed, what, self.url))

    def _need_image(self) -> Image:
        if self.image is None:
            raise LinkError(f"{self.url}: no network is loaded; call load(network_or_image) first")
        return self.image

    @property
    def output_ids(self) -> np.ndarray:
        return self._need_image().output_ids

    def _matrix(self, name, weights_by_addr, masked):
        image = self._need_image()
        addr, pre, post, shape, _ = _projection_layout(image, self._tables, name)
        w = weights_by_addr[addr]
        if masked:
            m = np.ma.masked_all(shape, dtype=np.int64)
            m[pre, post] = w
            return m
        out = np.full(shape, np.nan)
        out[pre, post] = w
        return out

    def _new_weights(self, name, matrix):
        """Validate a weight matrix for projection `name`: (addresses, mantissas)."""
        image = self._need_image()
        addr, pre, post, shape, (lo, hi) = _projection_layout(image, self._tables, name)
        m = np.ma.asarray(matrix, dtype=np.float64)
        if m.shape != shape:
            raise ValueError(f"projection {name!r}: weight matrix has shape {m.shape}; expected {shape} "
                             f"[pre, post]")
        mask = np.ma.getmaskarray(m)
        data = np.where(mask, np.nan, np.ma.getdata(m))
        has = np.zeros(shape, bool)
        has[pre, post] = True
        extra = np.argwhere(~has & ~np.isnan(data))
        if extra.size:
            i, j = extra[0]
            raise ValueError(f"projection {name!r} has no synapse ({i}, {j}), but the matrix gives it "
                             f"weight {data[i, j]}; leave NaN (or masked) where there is no synapse")
        w = data[pre, post]
        bad = ~np.isfinite(w) | (w != np.round(w)) | (w < lo) | (w > hi)
        if np.any(bad):
            k = np.nonzero(bad)[0][0]
            raise ValueError(f"projection {name!r}: weight {w[k]} of synapse ({pre[k]}, {post[k]}) must be "
                             f"an integer mantissa in [{lo}, {hi}]"
                             f"{' (its STDP bounds)' if (lo, hi) != formats.signed_range(image.config.weight_bits) else ''}")
        return addr, w.astype(np.int64)

    def _probe_slice(self, name, values, population):
        if population is None:
            return values
        image = self._need_image()
        if name == "x":
            try:
                return values[image.input_ids(population)]
            except KeyError:
                return values[image.config.n_inputs + image.neuron_ids(population)]
        ids = image.neuron_ids(population)
        return values[..., ids]

    @staticmethod
    def _check_seed(value: int) -> int:
        if not isinstance(value, (int, np.integer)) or not 0 < int(value) < (1 << formats.LFSR_BITS):
            raise ValueError(f"LFSR seed {value!r} must be an integer in [1, 2**32 - 1] (0 would stall the LFSR)")
        return int(value)

    def run(self, ticks: int, inputs=None) -> RunResult:
        """Run `ticks` ticks (0 .. formats.MAX_RUN_TICKS). `inputs` (relative to this run's
        first tick): None, a dict {tick: axons}, a (times, axons) pair, a raster [ticks, axons]
        (a 2-D numpy array of booleans or 0/1), or one collection of axons per tick; checked
        by firmware.run.normalize_inputs, and refused (InputError) before anything runs. Returns
        the output spikes as events; memory grows with the spikes, not the ticks."""
        ticks = check_ticks(ticks)
        image = self._need_image()
        times, axons = normalize_inputs(inputs, ticks, image.config.n_inputs)
        return self._run_events(ticks, times, axons)

    @abc.abstractmethod
    def stream(self, inputs: Iterable, block_ticks: int = 64) -> Iterator[RunResult]:
        """Continuous input and output. `inputs` is any iterable (a generator may produce it as
        it goes) with one item per tick: the input axons of that tick (an empty collection or
        None for none), checked as run() checks them. Yields RunResults of consecutive tick
        ranges as their ticks complete, until the inputs end. Concatenated, they equal run()
        with the same inputs; where the blocks start and end depends on the backend (the model
        yields every `block_ticks` ticks, a device as its reports arrive). A bad item (or one
        beyond MAX_RUN_TICKS ticks) raises InputError naming its tick once the ticks before it
        have run and been yielded: nothing before it is lost, nothing of it runs."""


class ModelDevice(Device):
    """The golden model in this process (no protocol). Opened with a config, it refuses images
    of another; opened without, it takes the configuration of the image it loads (a Network
    is compiled for CoreConfig()). fast=True runs sim.FastModel, whole runs at a time."""

    def __init__(self, config: CoreConfig | None = None, fast: bool = False):
        self.url, self._fixed, self._fast = "model", config, bool(fast)
        self.model: GoldenModel | None = None

    @property
    def config(self) -> CoreConfig | None:
        if self._fixed is not None:
            return self._fixed
        return self.image.config if self.image is not None else None

    def load(self, network_or_image) -> Image:
        image, what = self._as_image(network_or_image)
        self._check_image(image, what)
        if self._fast:
            from sim.fast import FastModel
            self.model = FastModel(image)
        else:
            self.model = GoldenModel(image)
        self.image, self._tables = image, self.model.tables
        return image

    def _need_model(self) -> GoldenModel:
        self._need_image()
        return self.model

    @property
    def tick(self) -> int:
        return self.model.tick if self.model is not None else 0

    def _run_events(self, ticks, times, axons):
        return self._need_model().run(ticks, (times, axons))

    def stream(self, inputs, block_ticks=64):
        model = self._need_model()
        groups = _stream_groups(inputs, model.tick, self.image.config.n_inputs)
        block = []

        def emit():
            sizes = [g.size for g in block]
            times = np.repeat(np.arange(len(block), dtype=np.int64), sizes)
            result = self._run_events(len(block), times, np.concatenate(block))
            block.clear()
            return result
        while True:
            group, refused = _next_group(groups)
            if group is None:
                break
            block.append(group)
            if len(block) >= block_ticks:
                yield emit()
        if block:
            yield emit()
        if refused is not None:
            raise refused

    def weights(self, projection: str, masked: bool = False):
        return self._matrix(projection, self._need_model().weights, masked)

    def set_weights(self, projection: str, matrix) -> None:
        addr, w = self._new_weights(projection, matrix)
        self._need_model().weights[addr] = w

    def probe(self, name: str, population: str | None = None) -> np.ndarray:
        if name not in PROBES:
            raise KeyError(f"no state named {name!r}; probe one of {sorted(PROBES)}")
        return self._probe_slice(name, self._need_model().state()[name], population)

    def counters(self, clear: bool = False) -> dict[str, int]:
        model = self._need_model()
        out = {name: int(model.counters.get(name, 0)) for name in formats.COUNTERS}
        if clear:
            model.counters = dict.fromkeys(formats.COUNTERS, 0)
        return out

    def reset(self, keep_weights: bool = False) -> None:
        """State, counters and tick to zero, LFSR to the image's seed; weights to the image's,
        or (keep_weights) as learned."""
        model = self._need_model()
        weights = model.weights.copy()
        model.reset()
        if keep_weights:
            model.weights[:] = weights

    def seed(self, value: int) -> None:
        self._need_model().seed(self._check_seed(value))

    def freerun(self, period_cycles: int) -> None:
        raise LinkError("the 'model' backend has no clock to free-run; use run() or stream(), or "
                        "open a device (socket://..., a serial port, emulator://)")

    def stop(self) -> RunResult:
        raise LinkError("the 'model' backend does not free-run; nothing to stop")


def _operation(method):
    """A LinkDevice operation: first end a free-run or recover from an interrupted operation;
    if this one fails on the link, the next one recovers (STOP, forget stale replies)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        self._stop_if_running()
        try:
            return method(self, *args, **kwargs)
        except LinkError:
            self._interrupted = True
            raise
    return wrapper


class LinkDevice(Device):
    """A device behind firmware/protocol/: a board, the TCP emulator or the in-process one."""

    def __init__(self, transport, timeout: float = 5.0):
        self.url = transport.url
        self.link = link = LinkClient(transport, timeout)
        self.image = None
        self._freerun_start = None
        self._interrupted = False
        try:
            self.info = info = link.hello()
            try:
                self.config = info.config
            except ConfigError as error:
                raise LinkError(f"{self.url}: the device reports an impossible configuration: {error}") from None
            if self.config.n_inputs > P.MAX_AXON + 1:
                raise LinkError(f"{self.url}: the device has {self.config.n_inputs} input axons; protocol "
                                f"version {P.PROTOCOL_VERSION} addresses at most {P.MAX_AXON + 1}")
            if link.max_payload < P.MIN_MAX_PAYLOAD:
                raise LinkError(f"{self.url}: the device accepts payloads of {link.max_payload} bytes; "
                                f"this host needs at least {P.MIN_MAX_PAYLOAD}")
            if info.status != P.Status.IDLE:
                link.request(P.Op.STOP)
            link.clear_spikes()
        except BaseException:
            link.close()
            raise

    def close(self) -> None:
        link = self.link
        if not link.closed:
            try:
                if self._freerun_start is not None:
                    link.request(P.Op.STOP)
            except LinkError:
                pass
            link.close()

    @property
    def tick(self) -> int:
        return self.link.device_tick

    # --- memory --------------------------------------------------------------------------------

    def _region(self, name):
        return formats.memory_map(self.config)[name]

    @_operation
    def write_region(self, name: str, words, addr: int = 0) -> None:
        """Write raw words to a region (see docs/spec.md §9), pipelined, then wait for the ACKs."""
        region = self._region(name)
        nbytes = P.word_bytes(region)
        words = np.asarray(words, dtype=np.uint64)
        per = P.max_words(nbytes, self.link.max_payload)
        for at in range(0, words.size, per):
            chunk = words[at:at + per]
            self.link.send(P.Op.WRITE, P.REGION_ACCESS.pack(region.index, nbytes, addr + at, chunk.size)
                           + P.pack_words(chunk, nbytes))
        self.link.drain()

    @_operation
    def read_region(self, name: str, addr: int = 0, count: int | None = None) -> np.ndarray:
        """Read raw words of a region, pipelined."""
        region = self._region(name)
        nbytes = P.word_bytes(region)
        count = region.depth - addr if count is None else count
        per = P.max_words(nbytes, self.link.max_payload)
        seqs = []
        for at in range(0, count, per):
            n = min(per, count - at)
            seqs.append(self.link.send(P.Op.READ, P.REGION_ACCESS.pack(region.index, nbytes, addr + at, n)))
        parts = []
        for seq in seqs:
            frame = self.link.wait(seq)
            head = P.REPLY.size + P.REGION_ACCESS.size
            parts.append(P.unpack_words(frame.payload[head:], nbytes))
        return np.concatenate(parts) if parts else np.zeros(0, np.uint64)

    @_operation
    def load(self, network_or_image) -> Image:
        image, what = self._as_image(network_or_image)
        self._check_image(image, what)
        tables = decode(image)
        for name in formats.TABLE_REGIONS:
            self.write_region(name, image.tables[name])
        self.link.request(P.Op.RESET)
        self.image, self._tables = image, tables
        return image

    def _stop_if_running(self):
        """Every operation starts here: end a free-run, and recover from an interrupted one."""
        if self._freerun_start is not None:
            self.stop()
        if self._interrupted:
            self.link.resync()
            self._interrupted = False

    # --- running -------------------------------------------------------------------------------

    def _check_group_size(self, size: int, tick: int) -> InputError | None:
        """The refusal of a tick with `size` input spikes, if the device's queue cannot hold it."""
        if size + 1 > self.link.input_depth:
            return InputError(f"tick {tick} has {size} input spikes; the device's input queue holds "
                              f"{self.link.input_depth} entries, one of them the end-of-tick marker: "
                              f"spread the spikes over more ticks")
        return None

    @_operation
    def _run_events(self, ticks, times, axons):
        in_ticks, counts = np.unique(times, return_counts=True)
        if counts.size:
            k = int(np.argmax(counts))
            refused = self._check_group_size(int(counts[k]), self.tick + int(in_ticks[k]))
            if refused is not None:
                raise refused                 # before anything is sent
        parts = []
        start = self.tick

        def keep(block):              # blocks without spikes are kept as their tick count only
            parts.append(block if block.times.size or not parts or parts[-1].times.size
                         else RunResult.concatenate([parts.pop(), block], self.output_ids, start))
        try:
            for block in self._drive(input_groups(times, axons), total=ticks):
                keep(block)
        except SpikesLostError as lost:     # hand over everything that did arrive
            if lost.result is not None:
                keep(lost.result)
            lost.result = RunResult.concatenate(parts, self.output_ids, start)
            raise
        return RunResult.concatenate(parts, self.output_ids, start)

    def stream(self, inputs, block_ticks=64):
        self._need_image()
        yield from self._drive(_stream_groups(inputs, self.tick, self.config.n_inputs), total=None)

    def _drive(self, groups: Iterator[np.ndarray], total: int | None) -> Iterator[RunResult]:
        """Send input groups with credits, STEP the ticks whose groups are queued, yield the
        output spikes of the ticks that completed. `total`: ticks to run in all (the ticks after
        the last group need no entries); None: as many as there are groups."""
        self._stop_if_running()
        link = self.link
        self._need_image()
        out = self.output_ids
        depth, per_frame = link.input_depth, link.max_payload // P.INPUT_ENTRY.size
        link.drain()
        link.clear_spikes()
        self._interrupted = True          # until the run completes: the next operation resyncs
        reports_before = len(link.reports)
        start = link.device_tick
        entries: list[int] = []
        marker = None                 # index in `entries` of an end-of-tick that may absorb empty ticks
        sent_ticks = stepped = reported = 0
        steps = collections.deque()   # seqs of the STEPs sent, until their ACKs arrive
        since_step = 0                # entries sent since the last STEP
        exhausted = False
        refused = None                # the InputError of a bad group: raised once the ticks before it ran
        look = None

        def flush():
            nonlocal marker
            for at in range(0, len(entries), per_frame):      # a large group spans frames
                part = entries[at:at + per_frame]
                link.send(P.Op.INPUT, P.encode_input_entries(part))
                link.sent_entries = formats.wrap32(link.sent_entries + len(part))
            entries.clear()
            marker = None

        def done_ticks():
            return 0 if link.progress is None else formats.wrap32(link.progress - start)

        def lost_check(result):
            new = link.reports[reports_before:]
            lost = [r for r in new if r[0] != P.ReportKind.OVERRUN]
            if lost:
                text = "; ".join(f"{kind.name}: {count} at tick {tick}" for kind, count, tick in lost)
                raise SpikesLostError(f"{self.url}: the device counted lost events ({text}); they are "
                                      f"in counters()['dropped']. The received spikes are in .result.",
                                      result, lost)

        while True:
            progressed = False
            # Queue input in batches of a quarter of the queue, each closed by a STEP, so that
            # the device returns credits (SPIKES after each STEP) while it still has ticks to
            # run; a batch starts only when a quarter of the queue is free (or the device idles).
            quarter = max(1, depth // 4)
            batch_ok = link.credits() >= quarter or sent_ticks == done_ticks()
            while (batch_ok and not exhausted and sent_ticks - done_ticks() < LOOKAHEAD_TICKS
                   and since_step < quarter):
                if look is None:
                    look, refused = _next_group(groups)
                    if look is None:
                        exhausted = True
                        break
                if look.size == 0 and marker is not None and entries[marker] & P.MAX_EMPTY_REPEAT < P.MAX_EMPTY_REPEAT:
                    entries[marker] += 1
                    sent_ticks += 1
                    look = None
                    continue
                need = look.size + 1
                refused = self._check_group_size(look.size, start + sent_ticks)
                if refused is not None:
                    exhausted, look = True, None
                    break
                if need > link.credits(len(entries)):
                    break
                if entries and len(entries) + need > per_frame:
                    flush()                   # keep groups whole within a frame where they fit
                entries.extend(look.tolist())
                entries.append(P.TICK_END)
                marker = len(entries) - 1
                sent_ticks += 1
                since_step += need
                look = None
            flush()
            if exhausted and total is not None and refused is None:
                sent_ticks = max(sent_ticks, total)
            while stepped < sent_ticks:
                n = min(sent_ticks - stepped, STEP_CHUNK)
                steps.append(link.send(P.Op.STEP, P.STEP.pack(n)))
                stepped += n
                since_step = 0
                progressed = True
            while steps and steps[0] not in link.pending:    # answered: forget the ACK (memory
                link.replies.pop(steps.popleft(), None)      # would grow with the ticks)
            done = done_ticks()
            if done > reported:
                times, neurons = link.take_spikes()
                rel = formats.wrap32(times - start) - reported
                bad = ~np.isin(neurons, out) | (rel < 0) | (rel >= done - reported)
                if np.any(bad):
                    k = np.nonzero(bad)[0][0]
                    raise FrameError(f"{self.url}: the device reported a spike of neuron {neurons[k]} at "
                                     f"tick {times[k]}, which is not an output of the loaded image or "
                                     f"not a tick of this run: the device's tables differ from the image")
                block = _device_result(start + reported, done - reported, out, rel, neurons)
                reported = done
                lost_check(block)
                yield block
                continue
            if exhausted and stepped == sent_ticks and done >= sent_ticks:
                link.drain()
                self._interrupted = False
                lost_check(None)
                if refused is not None:
                    raise refused
                return
            if not progressed and not link.pump(link.timeout):
                raise link._timeout(f"progress of the run (tick {start + done} of "
                                    f"{start + sent_ticks} reached)")

    @_operation
    def freerun(self, period_cycles: int) -> None:
        """Run a tick every `period_cycles` core clock cycles (0: as fast as possible) until
        stop(), without input (run() and stream() are the ways to give input). Output spikes
        collect on the host; stop() returns them. A tick longer than its period is an overrun
        (counted, reported, and warned about with OverrunWarning)."""
        self._need_image()
        if not isinstance(period_cycles, (int, np.integer)) or not 0 <= period_cycles < formats.MOD32:
            raise ValueError(f"period_cycles = {period_cycles!r} must be an integer in [0, 2**32 - 1]")
        self.link.drain()
        self.link.clear_spikes()
        start = self.link.device_tick
        self.link.request(P.Op.FREERUN, P.FREERUN.pack(int(period_cycles)))
        self._freerun_start = start

    def stop(self) -> RunResult:
        """Stop free-running; return the output spikes of the ticks that ran (as events: a long
        free-run costs memory by its spikes; its tick count is taken modulo 2**32, the width of
        the device's tick counter)."""
        if self._freerun_start is None:
            raise LinkError(f"{self.url}: the device is not free-running (call freerun() first)")
        start, self._freerun_start = self._freerun_start, None
        try:
            ack = self.link.request(P.Op.STOP)
        except LinkError:
            self._interrupted = True
            raise
        _, _, _, tick, _ = P.ACK.unpack(ack.payload)
        times, neurons = self.link.take_spikes()
        out = self.output_ids
        ticks = formats.wrap32(tick - start)
        rel = formats.wrap32(times - start)
        ok = np.isin(neurons, out) & (rel < ticks)
        return _device_result(start, ticks, out, rel[ok], neurons[ok])

    # --- read-back -----------------------------------------------------------------------------

    def _live_weights(self) -> np.ndarray:
        image = self._need_image()
        n = image.tables["synapse"].size
        words = self.read_region("synapse", 0, n)
        return self._region("synapse").layout.unpack(words)["weight"]

    @_operation
    def weights(self, projection: str, masked: bool = False):
        """Weight mantissas of a projection as a [pre, post] matrix: float with NaN where no
        synapse exists, or (masked=True) an integer masked array."""
        self._need_image()
        _projection_layout(self.image, self._tables, projection)     # a bad name fails before I/O
        return self._matrix(projection, self._live_weights(), masked)

    @_operation
    def set_weights(self, projection: str, matrix) -> None:
        """Write a projection's weights from a [pre, post] matrix (NaN or masked where there is
        no synapse; plastic projections must stay within their STDP bounds)."""
        addr, w = self._new_weights(projection, matrix)
        if addr.size == 0:
            return
        region = self._region("synapse")
        order = np.argsort(addr)
        addr, w = addr[order], w[order]
        target = region.layout.unpack(self.image.tables["synapse"][addr])["target"]
        words = region.layout.pack(weight=w, target=target)
        breaks = np.nonzero(np.diff(addr) != 1)[0] + 1
        for a, chunk in zip(np.split(addr, breaks), np.split(words, breaks)):
            nbytes = P.word_bytes(region)
            per = P.max_words(nbytes, self.link.max_payload)
            for at in range(0, chunk.size, per):
                part = chunk[at:at + per]
                self.link.send(P.Op.WRITE, P.REGION_ACCESS.pack(region.index, nbytes, int(a[0]) + at, part.size)
                               + P.pack_words(part, nbytes))
        self.link.drain()

    @_operation
    def probe(self, name: str, population: str | None = None) -> np.ndarray:
        """State of every neuron (u, v, ref, y), source (x) or accumulator slot (acc, shape
        [max_delay, neurons]); with `population`, only its members."""
        if name not in PROBES:
            raise KeyError(f"no state named {name!r}; probe one of {sorted(PROBES)}")
        region_name, field = PROBES[name]
        values = self._region(region_name).layout.unpack(self.read_region(region_name))[field]
        if name == "acc":
            values = values.reshape(self.config.max_delay, self.config.n_neurons)
        return self._probe_slice(name, values, population)

    @_operation
    def counters(self, clear: bool = False) -> dict[str, int]:
        frame = self.link.request(P.Op.COUNTERS, P.COUNTERS_REQUEST.pack(P.COUNTERS_CLEAR if clear else 0))
        _, _, n, _ = P.COUNTERS_REPLY.unpack_from(frame.payload)
        if len(frame.payload) != P.COUNTERS_REPLY.size + n * P.COUNTER.size:
            raise FrameError(f"{self.url}: COUNTERS_REPLY announces {n} counters in {len(frame.payload)} bytes")
        values = [P.COUNTER.unpack_from(frame.payload, P.COUNTERS_REPLY.size + 8 * k)[0] for k in range(n)]
        if n != len(formats.COUNTERS):
            raise LinkError(f"{self.url}: the device has {n} counters, this host knows "
                            f"{len(formats.COUNTERS)} ({', '.join(formats.COUNTERS)})")
        return dict(zip(formats.COUNTERS, values))

    @_operation
    def reset(self, keep_weights: bool = False) -> None:
        """State, counters and tick to zero, weights to the loaded image's, LFSR to its seed
        (spec §8). The device cannot restore weights itself: the host rewrites them, unless
        keep_weights (the weights stay as learned, as the device's RESET leaves them)."""
        image = self._need_image()
        if not keep_weights:
            self.write_region("synapse", image.tables["synapse"])
        self.link.request(P.Op.RESET)

    @_operation
    def seed(self, value: int) -> None:
        self.link.request(P.Op.SEED, P.SEED.pack(self._check_seed(value)))
