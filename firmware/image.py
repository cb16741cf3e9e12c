"""The image: everything a core loads, as packed table words, plus the names of what is where.

File format (docs/spec.md §10), little-endian:

    offset  size  field
    0       8     magic b"AXONIMG\\0"
    8       2     format version (IMAGE_VERSION)
    10      2     reserved, 0
    12      4     header length H (bytes)
    16      8     payload length P (bytes)
    24      4     CRC-32 (zlib) of header + payload
    28      H     header: UTF-8 JSON {"config", "symbols", "tables": {region: word count}}
    28+H    P     payload: each table's words as uint64, in memory-map order

A file that is truncated, corrupt, of another version or inconsistent with its own
configuration is refused with an ImageError that says which. Every header field is bounded
before anything is allocated: the lengths by the file's size, the configuration by
IMAGE_LIMITS, the word counts by the region depths; the symbols are checked so that every
lookup by name (input_ids, neuron_ids, group, projection) either answers or raises SymbolError.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field, fields

import numpy as np

from . import formats, protocol
from .config import CoreConfig
from .errors import ConfigError, ImageError, SymbolError, show_path

MAGIC = b"AXONIMG\0"
IMAGE_VERSION = 1
_FIXED = struct.Struct("<8sHHIQI")

# The largest configuration an image may describe: what the link protocol addresses, so that
# every image file can go to a device (the other fields have CoreConfig's own limits: 256
# profiles and projections, max_delay 64, weight_bits 2..8).
IMAGE_LIMITS = {
    "n_inputs": protocol.MAX_AXON + 1,       # an INPUT entry names its axon in 15 bits
    "n_neurons": protocol.MAX_NEURON + 1,    # a spike record names a neuron in 16 bits
    "n_synapses": protocol.MAX_DEPTH,        # depths and addresses are u32 on the wire
    "n_segments": protocol.MAX_DEPTH,
    "n_reverse": protocol.MAX_DEPTH,
}


@dataclass(frozen=True)
class FileKind:
    """A file in the image frame (fixed header, JSON header, payload, CRC): its magic, format
    version and name in messages. An image's; firmware.multicore's multi-core image is another."""

    magic: bytes
    version: int
    name: str


IMAGE_FILE = FileKind(MAGIC, IMAGE_VERSION, "image")
_HEADER_KEYS = ("config", "symbols", "tables")
_GROUP_KEYS = {"name": str, "first": int, "size": int}
_PROJECTION_KEYS = {"name": str, "index": int, "pre": str, "post": str, "plastic": bool, "synapses": int}


@dataclass
class Image:
    """Packed tables for one core configuration.

    tables: region name (formats.TABLE_REGIONS) -> uint64 words (at most the region's depth;
             missing words are 0)
    symbols: names and placement: {"network", "inputs", "populations", "projections", "usage"},
             each optional; each group {"name", "first", "size"} inside the configuration,
             names unique over inputs and populations, groups of a kind disjoint; each projection
             {"name", "index", "pre", "post", "plastic", "synapses"}, naming existing groups
             (post a population) and a row of the projection table. Other keys are kept, unread.
    Anything else raises ImageError.
    """

    config: CoreConfig
    tables: dict[str, np.ndarray]
    symbols: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.config, CoreConfig):
            raise ImageError(f"image: config is a {type(self.config).__name__}, not a CoreConfig")
        if not isinstance(self.tables, dict):
            raise ImageError(f"image: tables is a {type(self.tables).__name__}, not a dict")
        regions = formats.memory_map(self.config)
        for name, words in list(self.tables.items()):
            if name not in formats.TABLE_REGIONS:
                raise ImageError(f"image: unknown table {name!r}; an image holds {list(formats.TABLE_REGIONS)}")
            try:
                words = np.asarray(words)
                if words.dtype.kind not in "ui" or (words.size and int(words.min()) < 0):
                    raise ValueError
                words = words.astype(np.uint64)
            except (TypeError, ValueError, OverflowError):
                raise ImageError(f"image: table {name} must hold non-negative integer words") from None
            region = regions[name]
            if words.ndim != 1 or words.size > region.depth:
                raise ImageError(f"image: table {name} has {words.size} words; the core holds {region.depth}")
            if words.size and int(words.max()) >> region.layout.width:
                raise ImageError(f"image: table {name} has a word wider than {region.layout.width} bits")
            self.tables[name] = words
        missing = set(formats.TABLE_REGIONS) - set(self.tables)
        if missing:
            raise ImageError(f"image: tables {sorted(missing)} are missing")
        _check_symbols(self.symbols, self.config, self.tables["projection"].size)

    def table(self, name: str) -> dict[str, np.ndarray]:
        """The fields of one table, unpacked (one array per field)."""
        return formats.memory_map(self.config)[name].layout.unpack(self.tables[name])

    # --- lookup by name ----------------------------------------------------------------------

    def group(self, name: str) -> tuple[str, dict]:
        """("inputs" or "populations", the group's symbol) of the input group or population
        `name`; SymbolError if there is none."""
        for kind in ("inputs", "populations"):
            for g in self.symbols.get(kind, []):
                if g["name"] == name:
                    return kind, g
        known = [g["name"] for kind in ("inputs", "populations") for g in self.symbols.get(kind, [])]
        raise SymbolError(f"image has no input group or population named {name!r}; it has {known}")

    def projection(self, name: str) -> dict:
        """The symbol of projection `name` (index, pre, post, plastic, synapses)."""
        for p in self.symbols.get("projections", []):
            if p["name"] == name:
                return p
        known = [p["name"] for p in self.symbols.get("projections", [])]
        raise SymbolError(f"image has no projection named {name!r}; it has {known}")

    def _members(self, kind: str, name: str, indices) -> np.ndarray:
        found = self.group(name)
        if found[0] != kind:
            what = "an input group" if kind == "inputs" else "a population"
            raise SymbolError(f"{name!r} is not {what} of this image but one of its {found[0]}")
        g = found[1]
        if indices is None:
            return g["first"] + np.arange(g["size"])
        idx = np.asarray(indices)
        if idx.size and idx.dtype.kind not in "iu":
            raise SymbolError(f"{kind} {name!r}: indices must be integers, got {idx.dtype}")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= g["size"]):
            bad = idx[(idx < 0) | (idx >= g["size"])].flat[0]
            raise SymbolError(f"{kind} {name!r}: index {bad} is outside [0, {g['size'] - 1}]")
        return g["first"] + idx

    def input_ids(self, name: str, indices=None) -> np.ndarray:
        """Core input axon numbers of an input group's members (all, or the given indices)."""
        return self._members("inputs", name, indices)

    def neuron_ids(self, name: str, indices=None) -> np.ndarray:
        """Core neuron numbers of a population's members (all, or the given indices)."""
        return self._members("populations", name, indices)

    @property
    def output_ids(self) -> np.ndarray:
        """Neurons whose spikes go to the host, ascending."""
        return np.nonzero(self.table("neuron")["output"])[0]

    # --- file I/O ----------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        _check_limits(self.config.to_dict(), "image")
        order = [name for name in formats.memory_map(self.config) if name in self.tables]
        header = json.dumps({
            "config": self.config.to_dict(),
            "symbols": self.symbols,
            "tables": {name: int(self.tables[name].size) for name in order},
        }, sort_keys=True).encode()
        payload = b"".join(self.tables[name].astype("<u8").tobytes() for name in order)
        return frame_file(IMAGE_FILE, header, payload)

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "image") -> "Image":
        body, hlen, plen = unframe_file(data, source, IMAGE_FILE)
        config, counts, symbols = _header(body[:hlen], plen, source)
        tables, at = {}, hlen
        for name in formats.TABLE_REGIONS:
            n = counts[name]
            tables[name] = np.frombuffer(body, dtype="<u8", count=n, offset=at).astype(np.uint64)
            at += 8 * n
        from .tables import decode   # checks every pointer of the tables
        try:
            image = cls(config, tables, symbols)
            decoded = decode(image)
            _check_against_tables(image, decoded.syn_projection)
        except ImageError as error:   # say which file
            raise ImageError(f"{source}: {str(error).removeprefix('image: ')}") from None
        return image

    def save(self, path) -> None:
        save_file(path, self.to_bytes())

    @classmethod
    def load(cls, path) -> "Image":
        """Read an image file. The fixed header is checked against the file's size before the
        rest is read; a missing, unreadable or non-regular file raises ImageError too, as does
        a `path` that is no path (a str, bytes or os.PathLike)."""
        return cls.from_bytes(read_file(path, IMAGE_FILE), source=show_path(path))


# --- the file frame, shared with firmware.multicore ----------------------------------------


def frame_file(kind: FileKind, header: bytes, payload: bytes) -> bytes:
    """A file's bytes: the fixed header (with the CRC of header + payload), header, payload."""
    crc = zlib.crc32(header + payload)
    return _FIXED.pack(kind.magic, kind.version, 0, len(header), len(payload), crc) + header + payload


def unframe_file(data: bytes, source: str, kind: FileKind) -> tuple[memoryview, int, int]:
    """(header + payload, header length, payload length) of a file's bytes, the fixed header
    and the CRC checked (ImageError naming `source`)."""
    hlen, plen, crc = _fixed_header(data[:_FIXED.size], len(data), source, kind)
    body = memoryview(data)[_FIXED.size:]
    actual = zlib.crc32(body)
    if actual != crc:
        raise ImageError(f"{source}: checksum mismatch (stored {crc:#010x}, computed {actual:#010x}): "
                         f"the file is corrupt")
    return body, hlen, plen


def save_file(path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all (a temporary file, then a rename)."""
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_file(path, kind: FileKind) -> bytes:
    """A file's bytes, its fixed header checked against its size before the rest is read; a
    missing, unreadable or non-regular file is an ImageError too, as is a `path` that is no path
    (a str, bytes or os.PathLike)."""
    # open() would take an int as a file descriptor, and close it afterwards
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise ImageError(f"{kind.name} path {path!r}: a path is a str, bytes or os.PathLike, not a "
                         f"{type(path).__name__}")
    source = show_path(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(_FIXED.size)
            _fixed_header(head, size, source, kind)
            return head + f.read(size - len(head))
    except ImageError:
        raise
    except IsADirectoryError:
        article = "an" if kind.name[0] in "aeiou" else "a"
        raise ImageError(f"{source}: is a directory, not {article} {kind.name} file") from None
    except FileNotFoundError:
        raise ImageError(f"{source}: no such file") from None
    except OSError as error:
        raise ImageError(f"{source}: cannot read: {error.strerror or error}") from None
    except ValueError as error:      # a NUL byte in the path
        raise ImageError(f"{source}: not a usable path: {error}") from None
    except MemoryError:
        raise ImageError(f"{source}: {size} bytes do not fit in memory") from None


def _fixed_header(head: bytes, size: int, source: str, kind: FileKind) -> tuple[int, int, int]:
    """Check the fixed header of a file of `size` bytes; (header length, payload length, CRC)."""
    if size < _FIXED.size or len(head) < _FIXED.size:
        raise ImageError(f"{source}: truncated: {size} bytes, the fixed header alone is {_FIXED.size}")
    magic, version, reserved, hlen, plen, crc = _FIXED.unpack_from(head)
    if magic != kind.magic:
        raise ImageError(f"{source}: not an axonite {kind.name} (magic {magic!r}, expected {kind.magic!r})")
    if version != kind.version:
        raise ImageError(f"{source}: {kind.name} format version {version}; this axonite reads version "
                         f"{kind.version}")
    if reserved != 0:
        raise ImageError(f"{source}: reserved header field is {reserved:#06x}, must be 0 (the file is corrupt)")
    expected = _FIXED.size + hlen + plen
    if size != expected:
        what = "truncated" if size < expected else "has trailing bytes"
        raise ImageError(f"{source}: {what}: {size} bytes, the header announces {expected}")
    return hlen, plen, crc


def _check_limits(config: dict, source: str) -> None:
    for name, limit in IMAGE_LIMITS.items():
        value = config.get(name)
        if isinstance(value, int) and value > limit:
            raise ImageError(f"{source}: config {name} = {value} exceeds {limit}, the most an image "
                             f"may describe (what protocol version {protocol.PROTOCOL_VERSION} addresses)")


def json_header(raw, source: str, keys) -> dict:
    """A file's JSON header: an object with exactly the keys `keys` (else ImageError)."""
    try:
        header = json.loads(bytes(raw).decode())
    except (ValueError, RecursionError) as error:   # RecursionError: nesting deeper than Python's stack
        raise ImageError(f"{source}: unreadable header: {str(error)[:200]}") from None
    if not isinstance(header, dict) or sorted(header) != sorted(keys):
        got = sorted(header) if isinstance(header, dict) else type(header).__name__
        raise ImageError(f"{source}: unreadable header: it must be an object with exactly the keys "
                         f"{list(keys)}, got {got}")
    return header


def header_config(config, source: str) -> CoreConfig:
    """A file header's `config` (a JSON object) as a CoreConfig, its fields checked and bounded
    (IMAGE_LIMITS) before anything is sized by them; ImageError naming the field otherwise."""
    names = [f.name for f in fields(CoreConfig)]
    if not isinstance(config, dict) or sorted(config) != sorted(names):
        got = sorted(config) if isinstance(config, dict) else type(config).__name__
        raise ImageError(f"{source}: unreadable header: config must have exactly the fields {names}, got {got}")
    for name, value in config.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise ImageError(f"{source}: unreadable header: config {name} = {value!r} is not an integer")
    _check_limits(config, source)
    try:
        return CoreConfig.from_dict(config)
    except ConfigError as error:
        raise ImageError(f"{source}: unreadable header: {error}") from None


def _header(raw, plen: int, source: str) -> tuple[CoreConfig, dict, dict]:
    """Parse and bound the JSON header: (configuration, word count per table, symbols)."""
    header = json_header(raw, source, _HEADER_KEYS)
    config = header_config(header["config"], source)
    counts, symbols = header["tables"], header["symbols"]
    if not isinstance(counts, dict) or not isinstance(symbols, dict):
        raise ImageError(f"{source}: unreadable header: 'tables' and 'symbols' must be objects")
    regions = formats.memory_map(config)
    for name, n in counts.items():
        if name not in formats.TABLE_REGIONS:
            raise ImageError(f"{source}: unreadable header: unknown table {name!r}; an image holds "
                             f"{list(formats.TABLE_REGIONS)}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ImageError(f"{source}: unreadable header: word count of table {name!r} is {n!r}, "
                             f"not a non-negative integer")
        if n > regions[name].depth:
            raise ImageError(f"{source}: table {name} has {n} words; the core holds {regions[name].depth}")
    missing = [name for name in formats.TABLE_REGIONS if name not in counts]
    if missing:
        raise ImageError(f"{source}: tables {missing} are missing")
    if sum(counts.values()) * 8 != plen:
        raise ImageError(f"{source}: header lists {sum(counts.values())} words, payload holds {plen // 8}")
    return config, counts, symbols


def _check_entry(entry, keys: dict, where: str) -> None:
    if not isinstance(entry, dict):
        raise ImageError(f"{where} is a {type(entry).__name__}, not an object")
    for key, kind in keys.items():
        if key not in entry:
            raise ImageError(f"{where} has no {key!r}")
        value = entry[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ImageError(f"{where}: {key} = {value!r} is not a {kind.__name__}")


def _check_symbols(symbols, config: CoreConfig, n_projections: int) -> None:
    """Symbols that every lookup can trust (see Image)."""
    if not isinstance(symbols, dict):
        raise ImageError(f"image: symbols is a {type(symbols).__name__}, not an object")
    if not isinstance(symbols.get("network", ""), str):
        raise ImageError(f"image: symbols.network = {symbols['network']!r} is not a string")
    usage = symbols.get("usage", {})
    if not isinstance(usage, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in usage.values()):
        raise ImageError(f"image: symbols.usage = {usage!r} must map names to non-negative integers")
    kinds = {}
    for kind, limit, what in (("inputs", config.n_inputs, "input axons"),
                              ("populations", config.n_neurons, "neurons")):
        groups = symbols.get(kind, [])
        if not isinstance(groups, list):
            raise ImageError(f"image: symbols.{kind} is a {type(groups).__name__}, not a list")
        taken = []
        for k, g in enumerate(groups):
            where = f"image: symbols.{kind}[{k}]"
            _check_entry(g, _GROUP_KEYS, where)
            first, size, name = g["first"], g["size"], g["name"]
            if first < 0 or size < 1 or first + size > limit:
                raise ImageError(f"{where} ({name!r}): first {first}, size {size} leaves the core's "
                                 f"{limit} {what} (0 .. {limit - 1})")
            if name in kinds:
                raise ImageError(f"{where}: the name {name!r} is used twice")
            kinds[name] = kind
            taken.append((first, first + size, name))
        taken.sort()
        for (_, end, a), (start, _, b) in zip(taken, taken[1:]):
            if start < end:
                raise ImageError(f"image: symbols.{kind}: {a!r} and {b!r} overlap")
    projections = symbols.get("projections", [])
    if not isinstance(projections, list):
        raise ImageError(f"image: symbols.projections is a {type(projections).__name__}, not a list")
    names, indices = set(), set()
    for k, p in enumerate(projections):
        where = f"image: symbols.projections[{k}]"
        _check_entry(p, _PROJECTION_KEYS, where)
        where += f" ({p['name']!r})"
        if p["name"] in names or p["index"] in indices:
            raise ImageError(f"{where}: its name or index {p['index']} is used twice")
        names.add(p["name"])
        indices.add(p["index"])
        if not 0 <= p["index"] < n_projections:
            raise ImageError(f"{where}: index {p['index']} is outside the projection table "
                             f"(0 .. {n_projections - 1})")
        if p["pre"] not in kinds:
            raise ImageError(f"{where}: pre {p['pre']!r} is no input group or population")
        if kinds.get(p["post"]) != "populations":
            raise ImageError(f"{where}: post {p['post']!r} is no population")


def _check_against_tables(image: Image, syn_projection: np.ndarray) -> None:
    """Each projection's symbol agrees with the decoded tables: plasticity and synapse count."""
    projections = image.symbols.get("projections", [])
    if not projections:
        return
    plastic = image.table("projection")["plastic"]
    counts = np.bincount(syn_projection[syn_projection >= 0], minlength=plastic.size)
    for p in projections:
        where = f"image: symbols.projections ({p['name']!r})"
        if p["plastic"] != bool(plastic[p["index"]]):
            raise ImageError(f"{where}: plastic is {p['plastic']}, the projection table says "
                             f"{bool(plastic[p['index']])}")
        if p["synapses"] != counts[p["index"]]:
            raise ImageError(f"{where}: {p['synapses']} synapses, the tables hold {counts[p['index']]}")
