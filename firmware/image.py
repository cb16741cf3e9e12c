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
configuration is refused with an ImageError that says which.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import formats
from .config import CoreConfig
from .errors import ConfigError, ImageError

MAGIC = b"AXONIMG\0"
IMAGE_VERSION = 1
_FIXED = struct.Struct("<8sHHIQI")


@dataclass
class Image:
    """Packed tables for one core configuration.

    tables: region name -> uint64 words (at most the region's depth; missing words are 0)
    symbols: names and placement: {"network", "inputs", "populations", "projections"}, each
             group {"name", "first", "size"}, each projection {"name", "index", "pre", "post",
             "plastic", "synapses"}
    """

    config: CoreConfig
    tables: dict[str, np.ndarray]
    symbols: dict = field(default_factory=dict)

    def __post_init__(self):
        regions = formats.memory_map(self.config)
        for name, words in list(self.tables.items()):
            if name not in regions:
                raise ImageError(f"image: unknown table {name!r}")
            words = np.asarray(words, dtype=np.uint64)
            region = regions[name]
            if words.ndim != 1 or words.size > region.depth:
                raise ImageError(f"image: table {name} has {words.size} words; the core holds {region.depth}")
            if words.size and int(words.max()) >> region.layout.width:
                raise ImageError(f"image: table {name} has a word wider than {region.layout.width} bits")
            self.tables[name] = words
        missing = set(formats.TABLE_REGIONS) - set(self.tables)
        if missing:
            raise ImageError(f"image: tables {sorted(missing)} are missing")

    def table(self, name: str) -> dict[str, np.ndarray]:
        """The fields of one table, unpacked (one array per field)."""
        return formats.memory_map(self.config)[name].layout.unpack(self.tables[name])

    # --- lookup by name ----------------------------------------------------------------------

    def _group(self, kind: str, name: str) -> dict:
        for group in self.symbols.get(kind, []):
            if group["name"] == name:
                return group
        known = [g["name"] for g in self.symbols.get(kind, [])]
        raise KeyError(f"image has no {kind[:-1]} named {name!r}; it has {known}")

    def input_ids(self, name: str, indices=None) -> np.ndarray:
        """Core input axon numbers of an input group's members (all, or the given indices)."""
        g = self._group("inputs", name)
        idx = np.arange(g["size"]) if indices is None else np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= g["size"]):
            raise IndexError(f"inputs {name!r} has {g['size']} members; index out of range")
        return g["first"] + idx

    def neuron_ids(self, name: str, indices=None) -> np.ndarray:
        """Core neuron numbers of a population's members (all, or the given indices)."""
        g = self._group("populations", name)
        idx = np.arange(g["size"]) if indices is None else np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= g["size"]):
            raise IndexError(f"population {name!r} has {g['size']} neurons; index out of range")
        return g["first"] + idx

    @property
    def output_ids(self) -> np.ndarray:
        """Neurons whose spikes go to the host, ascending."""
        return np.nonzero(self.table("neuron")["output"])[0]

    # --- file I/O ----------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        order = [name for name in formats.memory_map(self.config) if name in self.tables]
        header = json.dumps({
            "config": self.config.to_dict(),
            "symbols": self.symbols,
            "tables": {name: int(self.tables[name].size) for name in order},
        }, sort_keys=True).encode()
        payload = b"".join(self.tables[name].astype("<u8").tobytes() for name in order)
        crc = zlib.crc32(header + payload)
        return _FIXED.pack(MAGIC, IMAGE_VERSION, 0, len(header), len(payload), crc) + header + payload

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "image") -> "Image":
        if len(data) < _FIXED.size:
            raise ImageError(f"{source}: truncated: {len(data)} bytes, the fixed header alone is {_FIXED.size}")
        magic, version, reserved, hlen, plen, crc = _FIXED.unpack_from(data)
        if magic != MAGIC:
            raise ImageError(f"{source}: not an axonite image (magic {magic!r}, expected {MAGIC!r})")
        if version != IMAGE_VERSION:
            raise ImageError(f"{source}: image format version {version}; this axonite reads version {IMAGE_VERSION}")
        if reserved != 0:
            raise ImageError(f"{source}: reserved header field is {reserved:#06x}, must be 0 (the file is corrupt)")
        expected = _FIXED.size + hlen + plen
        if len(data) != expected:
            what = "truncated" if len(data) < expected else "has trailing bytes"
            raise ImageError(f"{source}: {what}: {len(data)} bytes, the header announces {expected}")
        body = data[_FIXED.size:]
        actual = zlib.crc32(body)
        if actual != crc:
            raise ImageError(f"{source}: checksum mismatch (stored {crc:#010x}, computed {actual:#010x}): the file is corrupt")
        try:
            header = json.loads(body[:hlen].decode())
            config = CoreConfig.from_dict(header["config"])
            counts = header["tables"]
            symbols = header["symbols"]
            if not isinstance(counts, dict) or not isinstance(symbols, dict):
                raise TypeError("'tables' and 'symbols' must be objects")
            for name, n in counts.items():
                if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                    raise TypeError(f"word count of table {name!r} is {n!r}, not a non-negative integer")
        except (ValueError, KeyError, TypeError, AttributeError, ConfigError) as error:
            raise ImageError(f"{source}: unreadable header: {error}") from None
        if sum(counts.values()) * 8 != plen:
            raise ImageError(f"{source}: header lists {sum(counts.values())} words, payload holds {plen // 8}")
        tables, at = {}, hlen
        for name in formats.memory_map(config):
            if name in counts:
                n = counts[name]
                tables[name] = np.frombuffer(body, dtype="<u8", count=n, offset=at).astype(np.uint64)
                at += 8 * n
        image = cls(config, tables, symbols)
        from .tables import decode   # checks every pointer of the tables
        decode(image)
        return image

    def save(self, path) -> None:
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as f:
            f.write(self.to_bytes())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> "Image":
        with open(path, "rb") as f:
            return cls.from_bytes(f.read(), source=str(path))
