"""LinkDevice: a device behind the link (firmware/protocol/): a board on a serial port, the
simulated board or the emulator over TCP, or the emulator in this process (emulator://). Its
runs are scheduled by host/scheduler.py; every operation first ends a free-run or recovers from
an interrupted operation (_operation).

A device of K > 1 cores (HELLO's n_cores) takes a firmware.MultiImage of at most K cores (core k
on its core k, SELECT_CORE before each core's regions, the routing tables in region `route`)
or an Image (on core 0); its other cores get an idle image and no routes. A MultiImage's runs,
weights, state and counters are in the network's global numbering (host/multicore.py maps
them): the host sends an input spike to every replica and takes SPIKES' device neurons back to
the network's."""

from __future__ import annotations

import functools

import numpy as np

from firmware import formats
from firmware import protocol as P
from firmware.errors import ConfigError
from firmware.image import Image
from firmware.multicore import MultiImage, network_counters
from firmware.partition import idle_image
from firmware.run import RunResult, input_groups
from firmware.tables import decode

from .device import PROBES, Device, n_inputs_of, projection_layout, stream_groups, weight_matrix
from .errors import FrameError, LinkError, SpikesLostError
from .link import LinkClient
from .multicore import DevicePlacement, gather_state, scatter_weights
from .scheduler import Scheduler, check_queue, device_result


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
        self._selected = None         # the core SELECT_CORE picked last (None: not known)
        self._placement = None        # a MultiImage's maps (host/multicore.py), when one is loaded
        self._images = []             # the images loaded, core by core
        self._input_events = 0        # a MultiImage's host input spikes since reset (counters())
        try:
            self.info = info = link.hello()
            try:
                self.config = info.config
            except ConfigError as error:
                raise LinkError(f"{self.url}: the device reports an impossible configuration: {error}") from None
            if self.config.n_inputs > P.MAX_AXON + 1:
                raise LinkError(f"{self.url}: the device has {self.config.n_inputs} input axons; protocol "
                                f"version {P.PROTOCOL_VERSION} addresses at most {P.MAX_AXON + 1}")
            try:
                self.cores = P.check_cores(self.config, info.n_cores)
            except ConfigError as error:
                raise LinkError(f"{self.url}: the device reports {info.n_cores} cores: {error}") from None
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
        return formats.memory_map(self.config, self.cores)[name]

    def _select(self, core: int | None) -> None:
        """SELECT_CORE `core` (on a device of several cores), unless it is selected already."""
        if core is None or self.cores == 1 or core == self._selected:
            return
        if not 0 <= core < self.cores:
            raise ValueError(f"core {core!r}: the device at {self.url} has cores 0 .. {self.cores - 1}")
        self._selected = None                   # until the device acknowledges
        self.link.request(P.Op.SELECT_CORE, P.SELECT_CORE.pack(core))
        self._selected = core

    @_operation
    def write_region(self, name: str, words, addr: int = 0, core: int | None = None) -> None:
        """Write raw words to a region (see docs/spec.md §9) of core `core` (default: the one
        selected last, on a device of several cores), pipelined, then wait for the ACKs."""
        self._select(core)
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
    def read_region(self, name: str, addr: int = 0, count: int | None = None, core: int | None = None) -> np.ndarray:
        """Read raw words of a region of core `core` (as write_region), pipelined."""
        self._select(core)
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
    def load(self, network_or_image) -> Image | MultiImage:
        """Load a Network, an Image or a MultiImage (or an image file's path): every core's
        tables (and routing table), then RESET."""
        image, what = self._as_image(network_or_image)
        self._check_image(image, what)
        images = image.images if isinstance(image, MultiImage) else [image]
        tables = [decode(one) for one in images]          # ImageError before anything is sent
        self.image = self._placement = None
        idle = idle_image(self.config) if self.cores > len(images) else None
        for k in range(self.cores):
            self._select(k)
            for name in formats.TABLE_REGIONS:
                self.write_region(name, (images[k] if k < len(images) else idle).tables[name])
            if self.cores > 1:
                self.write_region("route", image.route_words(k, self.cores) if isinstance(image, MultiImage)
                                  and k < image.cores else np.zeros(self._region("route").depth, np.uint64))
        self.link.request(P.Op.RESET)
        self.image, self._images, self._tables = image, images, tables[0]
        self._core_tables, self._input_events = tables, 0
        if isinstance(image, MultiImage):
            self._placement = DevicePlacement(image, self.cores)
        return image

    def _stop_if_running(self):
        """Every operation starts here: end a free-run, and recover from an interrupted one."""
        if self._freerun_start is not None:
            self.stop()
        if self._interrupted:
            self._selected = None             # the SELECT_CORE under way may or may not have acted
            self.link.resync()
            self._interrupted = False

    # --- running -------------------------------------------------------------------------------

    def _set_interrupted(self, running: bool) -> None:
        self._interrupted = running       # while a run is under way: the next operation resyncs

    def check_inputs(self, times: np.ndarray) -> None:
        check_queue(times, self.tick, self.link.input_depth)

    @_operation
    def _run_events(self, ticks, times, axons):
        if self._placement is not None:          # an entry for every replica, in device numbers
            self._input_events += axons.size
            times, axons = self._placement.inputs(times, axons)
        self.check_inputs(times)                 # before anything is sent
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
        groups = stream_groups(inputs, self.tick, n_inputs_of(self._need_image()))
        placement = self._placement
        if placement is not None:
            groups = (self._count_inputs(group) for group in groups)
        yield from self._drive(groups, total=None)

    def _count_inputs(self, group: np.ndarray) -> np.ndarray:
        """A tick's global input axons as device axons, counted as the network's input events."""
        self._input_events += group.size
        return self._placement.group(group)

    def _drive(self, groups, total: int | None):
        """The Scheduler's run of `groups` (see Scheduler.run; device axons), once a free-run has
        ended; its blocks in the loaded network's numbering."""
        self._stop_if_running()
        self._need_image()
        placement = self._placement
        if placement is None:
            scheduler = Scheduler(self.link, self.output_ids, self.url, on_running=self._set_interrupted)
            yield from scheduler.run(groups, total)
            return
        scheduler = Scheduler(self.link, placement.output_ids, self.url, on_running=self._set_interrupted)
        try:
            for block in scheduler.run(groups, total):
                yield placement.result(block)
        except SpikesLostError as lost:
            if lost.result is not None:
                lost.result = placement.result(lost.result)
            raise

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
        placement = self._placement
        out = self.output_ids if placement is None else placement.output_ids
        ticks = formats.wrap32(tick - start)
        rel = formats.wrap32(times - start)
        ok = np.isin(neurons, out) & (rel < ticks)
        result = device_result(start, ticks, out, rel[ok], neurons[ok])
        return result if placement is None else placement.result(result)

    # --- read-back -----------------------------------------------------------------------------

    def _live_weights(self, core: int = 0) -> np.ndarray:
        n = self._images[core].tables["synapse"].size
        words = self.read_region("synapse", 0, n, core=core)
        return self._region("synapse").layout.unpack(words)["weight"]

    @_operation
    def weights(self, projection: str, masked: bool = False):
        """Weight mantissas of a projection as a [pre, post] matrix: float with NaN where no
        synapse exists, or (masked=True) an integer masked array."""
        image = self._need_image()
        if self._placement is not None:
            image.projection(projection)                            # a bad name fails before I/O
            return self._multi_weights(projection, masked, lambda k, name: weight_matrix(
                self._images[k], self._core_tables[k], name, self._live_weights(k)))
        projection_layout(self.image, self._tables, projection)     # a bad name fails before I/O
        return self._matrix(projection, self._live_weights(), masked)

    @_operation
    def set_weights(self, projection: str, matrix) -> None:
        """Write a projection's weights from a [pre, post] matrix (NaN or masked where there is
        no synapse; plastic projections must stay within their STDP bounds). Every part is
        checked before any is written."""
        if self._placement is None:
            self._write_weights(0, *self._new_weights(projection, matrix))
            return
        for k, addr, w in scatter_weights(self.image, projection, matrix, self._core_tables):
            self._write_weights(k, addr, w)

    def _write_weights(self, core: int, addr: np.ndarray, w: np.ndarray) -> None:
        """Weights `w` into synapse addresses `addr` of core `core`, pipelined."""
        if addr.size == 0:
            return
        self._select(core)
        region = self._region("synapse")
        order = np.argsort(addr)
        addr, w = addr[order], w[order]
        target = region.layout.unpack(self._images[core].tables["synapse"][addr])["target"]
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
        self._check_probe(name)
        region_name, field = PROBES[name]

        def values(core):
            words = self.read_region(region_name, core=core)
            got = self._region(region_name).layout.unpack(words)[field]
            return got.reshape(self.config.max_delay, self.config.n_neurons) if name == "acc" else got
        if self._placement is not None:
            return self._probe_slice(name, gather_state(self.image, name, values), population)
        return self._probe_slice(name, values(0), population)

    @_operation
    def counters(self, clear: bool = False) -> dict[str, int]:
        """The counters (docs/spec.md §7); on a device of several cores the network's (spec §12.4):
        each core's read, ticks of core 0 and the rest summed, the host input spikes (of a
        MultiImage: counted by the host, as a core counts replicas and remote events too).
        `clear` clears them (every core's)."""
        per_core = []
        for k in range(self.cores):
            self._select(k)
            per_core.append(self._core_counters(clear and k == self.cores - 1))
        events = self._input_events if self._placement is not None else per_core[0]["input_events"]
        if clear:
            self._input_events = 0
        return network_counters(per_core, events)

    def _core_counters(self, clear: bool) -> dict[str, int]:
        """COUNTERS of the selected core (clearing every core's with `clear`)."""
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
        self._need_image()
        if not keep_weights:
            for k, image in enumerate(self._images):
                self.write_region("synapse", image.tables["synapse"], core=k)
        self.link.request(P.Op.RESET)
        self._input_events = 0

    @_operation
    def seed(self, value: int) -> None:
        """Set the LFSR of every core the loaded network holds (on one core: the device's)."""
        value = self._check_seed(value)
        for k in range(max(1, len(self._images))):
            self._select(k)
            self.link.request(P.Op.SEED, P.SEED.pack(value))
