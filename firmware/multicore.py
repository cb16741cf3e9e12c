"""A network placed on several cores (docs/spec.md §12): one Image per core, the maps between
the network's numbering and the cores', and each core's inter-core routing table.

    multi = compile_network(net, config, cores=4)        # firmware.partition does the placing
    multi.images[2]                                       # core 2's tables (an ordinary Image)
    multi.neuron_ids("exc")                               # global neuron numbers (one-core numbering)
    multi.neuron_core, multi.neuron_local                 # where each global neuron lives
    multi.save("net.axm"); MultiImage.load("net.axm")

Numbering. Global input axons and neurons are numbered as compile_network numbers them on one
core (input groups, then populations, in creation order), so that a result names the same
neuron whatever the partition. Core k numbers its own: host input axons (replicas of the
global input groups that have targets there), then its remote axons (one per neuron of
another core that has synapses onto core k), then its neurons.

Maps and tables:
- neuron_core[n], neuron_local[n]: the core of global neuron n and its neuron number there;
- the input map (CSR over global input axons): input_ptr[a] .. input_ptr[a + 1] index
  input_core / input_axon, the cores that hold a replica of axon a and its axon number there
  (ascending cores): the host, or the device's input distributor, multicasts an input spike;
- the routing table of core k (CSR over its neurons): route_ptr[k][j] .. route_ptr[k][j + 1]
  index route_core[k] / route_axon[k], one entry per destination core of neuron j (ascending,
  never k itself: one packet per destination core, not per synapse) with the remote axon that
  the destination's own tables route.

File format (little-endian), the frame of an image file (firmware/image.py) with its own magic:
magic b"AXONMLT\\0", version u16 (MULTI_VERSION), reserved u16, header length u32, payload
length u64, CRC-32 (zlib) of header + payload u32; the header (UTF-8 JSON: `config`,
`symbols`, `images` = the byte length of each core's image file, `arrays` = the length of each
map array); the payload: the cores' image files one after the other, then the arrays as int64
in the order of ARRAYS. Every length is bounded before anything is allocated and every map
entry is checked against the cores' configurations; each embedded image is read as
Image.from_bytes reads a file. Anything else raises ImageError saying which.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .config import CoreConfig
from .errors import ConfigError, ImageError, SymbolError
from .formats import COUNTERS, route_layout
from .image import (_FIXED, FileKind, Image, _check_limits, _check_symbols, frame_file, header_config, json_header,
                    read_file, save_file, unframe_file)
from .protocol.cores import device_axon, split_neuron
from .tables import ranges_to_indices

MULTI_MAGIC = b"AXONMLT\0"
MULTI_VERSION = 1
MULTI_FILE = FileKind(MULTI_MAGIC, MULTI_VERSION, "multi-core image")
MAX_CORES = 1024          # a file may describe at most this many cores (a bound for parsing)
ARRAYS = ("neuron_core", "neuron_local", "input_ptr", "input_core", "input_axon",
          "route_ptr", "route_core", "route_axon")
_HEADER_KEYS = ("arrays", "config", "images", "symbols")


def _i64(values) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.int64)


@dataclass
class MultiImage:
    """K core images with the maps between the network's numbering and theirs.

    config:  the configuration of every core (one device builds K equal cores)
    images:  one Image per core, each of `config`
    symbols: the network's names in one-core numbering: {"network", "inputs", "populations",
             "projections", "placement"}; inputs and populations as in an Image; each
             projection also lists its "parts", [core, name of its projection there]
    neuron_core, neuron_local: per global neuron (one entry per population member)
    input_ptr (global input axons + 1), input_core, input_axon: the input map
    route_ptr [K, n_neurons + 1], route_core, route_axon (flat, route_ptr[k] indexes them from
             route_base[k]): the routing tables
    Anything inconsistent raises ImageError.
    """

    config: CoreConfig
    images: list
    symbols: dict
    neuron_core: np.ndarray
    neuron_local: np.ndarray
    input_ptr: np.ndarray
    input_core: np.ndarray
    input_axon: np.ndarray
    route_ptr: np.ndarray
    route_core: np.ndarray
    route_axon: np.ndarray
    _sources: dict = field(default_factory=dict, repr=False, compare=False)

    # Name lookups read only `symbols`, as an Image's do: the same methods, in global numbering.
    group = Image.group
    projection = Image.projection
    _members = Image._members
    input_ids = Image.input_ids
    neuron_ids = Image.neuron_ids

    def __post_init__(self):
        if not isinstance(self.config, CoreConfig):
            raise ImageError(f"multi-core image: config is a {type(self.config).__name__}, not a CoreConfig")
        if not isinstance(self.images, list) or not 1 <= len(self.images) <= MAX_CORES:
            raise ImageError(f"multi-core image: images must be a list of 1 .. {MAX_CORES} Images")
        for k, image in enumerate(self.images):
            if not isinstance(image, Image) or image.config != self.config:
                raise ImageError(f"multi-core image: core {k} is not an Image of the configuration {self.config}")
        for name in ARRAYS:
            setattr(self, name, _i64(getattr(self, name)))
        _check_maps(self)

    @property
    def cores(self) -> int:
        return len(self.images)

    @property
    def n_inputs(self) -> int:
        """Global input axons."""
        return self.input_ptr.size - 1

    @property
    def n_neurons(self) -> int:
        """Global neurons (the populations' members)."""
        return self.neuron_core.size

    @property
    def output_ids(self) -> np.ndarray:
        """Global neurons whose spikes go to the host, ascending."""
        out = np.zeros(self.n_neurons, bool)
        for k, image in enumerate(self.images):
            on = self.neuron_core == k
            out[on] = image.table("neuron")["output"][self.neuron_local[on]].astype(bool)
        return np.nonzero(out)[0]

    def routes(self, core: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Core `core`'s routing table: (ptr [n_neurons + 1], destination cores, remote axons)."""
        ptr = self.route_ptr[core]
        base, end = int(ptr[0]), int(ptr[-1])
        return ptr - base, self.route_core[base:end], self.route_axon[base:end]

    def global_neurons(self, core: int) -> np.ndarray:
        """Per neuron of core `core`: its global neuron number, -1 where none."""
        out = np.full(self.config.n_neurons, -1, np.int64)
        on = np.nonzero(self.neuron_core == core)[0]
        out[self.neuron_local[on]] = on
        return out

    def global_sources(self, core: int) -> np.ndarray:
        """Per source of core `core` (its input axons, then its neurons): the global source it
        stands for (global input axon a, or n_inputs + global neuron n), -1 where none."""
        if core not in self._sources:
            c = self.config
            out = np.full(c.n_sources, -1, np.int64)
            at = np.nonzero(self.input_core == core)[0]
            out[self.input_axon[at]] = np.searchsorted(self.input_ptr, at, side="right") - 1
            for k in range(self.cores):
                ptr, dest, axon = self.routes(k)
                hit = np.nonzero(dest == core)[0]
                owner = np.searchsorted(ptr, hit, side="right") - 1
                out[axon[hit]] = self.n_inputs + self.global_neurons(k)[owner]
            neurons = self.global_neurons(core)
            out[c.n_inputs:] = np.where(neurons >= 0, self.n_inputs + neurons, -1)
            self._sources[core] = out
        return self._sources[core]

    def replicas(self, axons) -> tuple[np.ndarray, np.ndarray]:
        """The replicas of global input axons (checked by the caller): (cores, their axon
        numbers there), in the order of `axons`, each axon's replicas by ascending core."""
        axons = _i64(axons)
        lo, hi = self.input_ptr[axons], self.input_ptr[axons + 1]
        at = ranges_to_indices(lo, hi - lo)
        return self.input_core[at], self.input_axon[at]

    # --- a device of K cores (spec §12.7, firmware.protocol.cores) ---------------------------

    def device_axons(self, axons) -> np.ndarray:
        """A tick's global input axons as a K-core device's INPUT entries: every replica's device
        axon, ascending."""
        cores, local = self.replicas(axons)
        return np.sort(device_axon(self.config, cores, local))

    def route_words(self, core: int, cores: int | None = None) -> np.ndarray:
        """Core `core`'s routing table as the words of the region `route` of a device of `cores`
        cores (at least this image's; word n * cores + d: neuron n's remote axon on core d)."""
        cores = self.cores if cores is None else cores
        ptr, dest, axon = self.routes(core)
        owner = np.repeat(np.arange(self.config.n_neurons, dtype=np.int64), np.diff(ptr))
        valid = np.zeros(self.config.n_neurons * cores, np.int64)
        remote = np.zeros_like(valid)
        valid[owner * cores + dest] = 1
        remote[owner * cores + dest] = axon
        return route_layout(self.config).pack(valid=valid, axon=remote)

    def global_of_device(self, neurons) -> np.ndarray:
        """The global neuron numbers of a K-core device's neurons (SPIKES numbering); -1 for a
        neuron that stands for none."""
        core, local = split_neuron(self.config, neurons)
        table = np.full((self.cores + 1) * self.config.n_neurons, -1, np.int64)
        for k in range(self.cores):
            table[k * self.config.n_neurons:(k + 1) * self.config.n_neurons] = self.global_neurons(k)
        core = np.where(core < self.cores, core, self.cores)
        return table[core * self.config.n_neurons + local]

    # --- file I/O ----------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        _check_limits(self.config.to_dict(), "multi-core image")
        blobs = [image.to_bytes() for image in self.images]
        arrays = [getattr(self, name).astype("<i8") for name in ARRAYS]
        header = json.dumps({"config": self.config.to_dict(), "symbols": self.symbols,
                             "images": [len(b) for b in blobs],
                             "arrays": {name: int(a.size) for name, a in zip(ARRAYS, arrays)}},
                            sort_keys=True).encode()
        payload = b"".join(blobs) + b"".join(a.tobytes() for a in arrays)
        return frame_file(MULTI_FILE, header, payload)

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "multi-core image") -> "MultiImage":
        body, hlen, plen = unframe_file(data, source, MULTI_FILE)
        config, symbols, lengths, counts = _header(body[:hlen], plen, source)
        at, images = hlen, []
        for k, n in enumerate(lengths):
            images.append(Image.from_bytes(bytes(body[at:at + n]), f"{source}: core {k}"))
            at += n
        arrays = {}
        for name in ARRAYS:
            arrays[name] = np.frombuffer(body, dtype="<i8", count=counts[name], offset=at).astype(np.int64)
            at += 8 * counts[name]
        arrays["route_ptr"] = arrays["route_ptr"].reshape(len(images), config.n_neurons + 1)
        try:
            return cls(config, images, symbols, **arrays)
        except ImageError as error:
            raise ImageError(f"{source}: {str(error).removeprefix('multi-core image: ')}") from None

    def save(self, path) -> None:
        save_file(path, self.to_bytes())

    @classmethod
    def load(cls, path) -> "MultiImage":
        """Read a multi-core image file; the fixed header is checked against the file's size
        before the rest is read. ImageError for anything wrong, a missing file included."""
        return cls.from_bytes(read_file(path, MULTI_FILE), source=str(path))


def route_packets(route, neurons) -> tuple[np.ndarray, np.ndarray]:
    """The packets a core sends for its `neurons` that fired: (destination cores, remote
    axons there), one per routing entry, through its routing table `route` (MultiImage.routes:
    ptr per neuron, destinations, remote axons)."""
    ptr, dest, remote = route
    neurons = np.asarray(neurons, dtype=np.int64)
    at = ranges_to_indices(ptr[neurons], ptr[neurons + 1] - ptr[neurons])
    return dest[at], remote[at]


_NO_AXONS = np.zeros(0, np.int64)
_NO_AXONS.flags.writeable = False


def deliver(packets, cores: int) -> list[np.ndarray]:
    """Packets (pairs of destination core and remote axon arrays, from route_packets) sorted
    into each core's remote axons: a list of `cores` int64 arrays."""
    if not packets:
        return [_NO_AXONS] * cores
    dest = np.concatenate([np.zeros(0, np.int64)] + [d for d, _ in packets])
    axon = np.concatenate([np.zeros(0, np.int64)] + [a for _, a in packets])
    return [axon[dest == k] for k in range(cores)]


# The network's counters on K cores (spec §12.4): each core counts ticks (all equal), and its own
# spikes, output spikes, deliveries, plastic updates, overruns and drops (summed); its input
# events include replicas and remote events, so the host input spikes are counted once, apart.
def network_counters(per_core, input_events: int) -> dict:
    """The network's counters from each core's (a list of dicts of formats.COUNTERS) and the
    host input spikes `input_events`: ticks of core 0, the rest summed."""
    out = {name: sum(int(c[name]) for c in per_core) for name in COUNTERS}
    out.update(ticks=int(per_core[0]["ticks"]), input_events=int(input_events))
    return out


def _header(raw, plen: int, source: str):
    """Parse and bound the JSON header: (config, symbols, image lengths, array lengths)."""
    header = json_header(raw, source, _HEADER_KEYS)
    config = header_config(header["config"], source)
    lengths, counts, symbols = header["images"], header["arrays"], header["symbols"]
    if (not isinstance(lengths, list) or not 1 <= len(lengths) <= MAX_CORES
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= _FIXED.size for n in lengths)):
        raise ImageError(f"{source}: unreadable header: images must list 1 .. {MAX_CORES} byte lengths "
                         f"of at least {_FIXED.size}")
    if not isinstance(counts, dict) or sorted(counts) != sorted(ARRAYS) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts.values()):
        raise ImageError(f"{source}: unreadable header: arrays must give a non-negative length for "
                         f"exactly {list(ARRAYS)}")
    if not isinstance(symbols, dict):
        raise ImageError(f"{source}: unreadable header: symbols must be an object")
    k = len(lengths)
    bounds = {"neuron_core": k * config.n_neurons, "neuron_local": k * config.n_neurons,
              "input_ptr": k * config.n_inputs + 1, "input_core": k * config.n_inputs,
              "input_axon": k * config.n_inputs, "route_ptr": k * (config.n_neurons + 1),
              "route_core": k * config.n_neurons * (k - 1), "route_axon": k * config.n_neurons * (k - 1)}
    for name, limit in bounds.items():
        if counts[name] > limit:
            raise ImageError(f"{source}: array {name} has {counts[name]} entries; {k} cores of "
                             f"{config} hold at most {limit}")
    if counts["route_ptr"] != k * (config.n_neurons + 1):
        raise ImageError(f"{source}: route_ptr has {counts['route_ptr']} entries, {k} cores need "
                         f"{k * (config.n_neurons + 1)}")
    if sum(lengths) + 8 * sum(counts.values()) != plen:
        raise ImageError(f"{source}: header lists {sum(lengths)} image bytes and {sum(counts.values())} "
                         f"array entries, the payload holds {plen} bytes")
    return config, symbols, lengths, counts


def _fail(message: str):
    raise ImageError(f"multi-core image: {message}")


def _check_csr(ptr, n_entries: int, what: str) -> None:
    if ptr.size == 0 or ptr[0] != 0 or np.any(np.diff(ptr) < 0) or ptr[-1] != n_entries:
        _fail(f"{what} must rise from 0 to the {n_entries} entries it indexes")


def _check_maps(m: MultiImage) -> None:
    """Maps that every lookup and every run can trust (see the module docstring)."""
    c, k = m.config, m.cores
    n = m.neuron_core.size
    if m.neuron_local.size != n:
        _fail(f"neuron_core has {n} entries, neuron_local {m.neuron_local.size}")
    if n and (m.neuron_core.min() < 0 or m.neuron_core.max() >= k
              or m.neuron_local.min() < 0 or m.neuron_local.max() >= c.n_neurons):
        _fail(f"a neuron lies outside the {k} cores of {c.n_neurons} neurons")
    if np.unique(m.neuron_core * c.n_neurons + m.neuron_local).size != n:
        _fail("two global neurons share a core's neuron")
    _check_csr(m.input_ptr, m.input_core.size, "input_ptr")
    if m.input_axon.size != m.input_core.size:
        _fail("input_core and input_axon differ in length")
    if m.input_core.size and (m.input_core.min() < 0 or m.input_core.max() >= k
                              or m.input_axon.min() < 0 or m.input_axon.max() >= c.n_inputs):
        _fail(f"an input replica lies outside the {k} cores of {c.n_inputs} input axons")
    if m.route_ptr.shape != (k, c.n_neurons + 1):
        _fail(f"route_ptr has shape {m.route_ptr.shape}, expected ({k}, {c.n_neurons + 1})")
    flat = np.concatenate([m.route_ptr[:, :-1].reshape(-1), m.route_ptr[-1:, -1]])
    if (m.route_ptr[0, 0] != 0 or np.any(np.diff(flat) < 0) or np.any(m.route_ptr[1:, 0] != m.route_ptr[:-1, -1])
            or m.route_ptr[-1, -1] != m.route_core.size or m.route_axon.size != m.route_core.size):
        _fail("route_ptr must rise from 0 to the routing entries, core after core")
    if m.route_core.size and (m.route_core.min() < 0 or m.route_core.max() >= k
                              or m.route_axon.min() < 0 or m.route_axon.max() >= c.n_inputs):
        _fail(f"a route leads outside the {k} cores of {c.n_inputs} input axons")
    owner = np.repeat(np.arange(k), np.diff(m.route_ptr, axis=1).sum(axis=1))
    if np.any(m.route_core == owner):
        _fail("a routing entry sends a core's spikes to itself")
    # every core's axons are taken at most once: by a host input replica or by one remote neuron
    used = np.concatenate([m.input_core * c.n_inputs + m.input_axon, m.route_core * c.n_inputs + m.route_axon])
    if np.unique(used).size != used.size:
        _fail("an input axon of a core is reached by two inputs or remote neurons")
    checked = c if (m.input_ptr.size - 1, n) == (c.n_inputs, c.n_neurons) else None
    try:
        scope = checked or CoreConfig(n_inputs=max(1, m.input_ptr.size - 1), n_neurons=max(1, n))
    except ConfigError as error:
        _fail(f"the global numbering is impossible: {error}")
    parts_ok = all(isinstance(p, dict) and isinstance(p.get("parts"), list) and all(
        isinstance(q, list) and len(q) == 2 and isinstance(q[0], int) and not isinstance(q[0], bool)
        and 0 <= q[0] < k and isinstance(q[1], str) for q in p["parts"])
        for p in m.symbols.get("projections", []) if isinstance(m.symbols, dict))
    if not parts_ok:
        _fail("each projection's 'parts' must list [core, projection name there] pairs")
    _check_symbols(m.symbols, scope, max(1, len(m.symbols.get("projections", []))))
    sizes = sum(g["size"] for g in m.symbols.get("populations", []))
    if sizes != n or sum(g["size"] for g in m.symbols.get("inputs", [])) != m.input_ptr.size - 1:
        _fail("the symbols' groups do not cover the global neurons and input axons")
    for p in m.symbols.get("projections", []):
        for core, name in p["parts"]:
            try:
                m.images[core].projection(name)
            except SymbolError:
                _fail(f"projection {p['name']!r} names part {name!r} on core {core}, which core {core} has not")
