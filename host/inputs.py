"""Input spikes for `python -m host run`: from a file, or Poisson at a rate.

    spikes = InputFile.read("in.npz")            # format checked: keys, shapes, kinds
    times, axons = spikes.events(ticks, n_inputs)  # values checked (firmware.run.normalize_inputs)

    source = PoissonInput(axons, probability=0.05, seed=7)
    for group in source.groups(ticks): ...       # one array of axons a tick, made as it goes

An input file is an .npz archive (numpy.savez) holding either `times` and `axons`, two 1-D
integer arrays of equal length (input axon axons[k] spikes at tick times[k] of the run), or
`raster`, a 2-D array [ticks, axons] of booleans or of 0 and 1 (axons 0 .. columns-1; ticks
after its last row have no input). Anything else is refused with InputError naming the file and
the key, shape or value, before the run starts.

Poisson input: in every tick each chosen axon spikes with probability p, independently (as
Brian2's PoissonGroup does with p = rate x dt): `probability_of_rate(rate_hz, tick_us)` gives p
for a rate. The same seed gives the same spikes, and a run of fewer ticks gets the first ticks
of a longer one; memory does not grow with the ticks.
"""

from __future__ import annotations

import math
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from firmware.image import Image
from firmware.run import InputError, normalize_inputs

FILE_FORMS = ("an .npz archive holding `times` and `axons` (1-D integer arrays of equal length: "
              "axon axons[k] spikes at tick times[k]) or `raster` (a 2-D array [ticks, axons] of "
              "booleans or 0/1)")
POISSON_CHUNK = 1024      # ticks of random numbers drawn at a time


@dataclass(frozen=True)
class InputFile:
    """An input file whose format has been checked; events() checks its values for a run."""

    path: str
    arrays: dict                  # "times" and "axons", or "raster"

    @classmethod
    def read(cls, path) -> "InputFile":
        p = Path(path)
        if p.suffix != ".npz":
            raise InputError(f"--input {path}: an input file is {FILE_FORMS}; give a name ending in .npz")
        if not p.exists():
            raise InputError(f"--input {path}: no such file")
        if not p.is_file():
            raise InputError(f"--input {path}: is not a file")
        try:
            with open(p, "rb") as f:
                magic = f.read(6)
            if magic == b"\x93NUMPY":
                raise InputError(f"--input {path} is a single .npy array, not {FILE_FORMS}")
            if magic[:2] != b"PK":      # every zip archive (what numpy.savez writes) starts so
                raise InputError(f"--input {path} is not an .npz archive (numpy.savez writes them); "
                                 f"an input file is {FILE_FORMS}")
            with np.load(p, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except InputError:
            raise
        except OSError as error:
            raise InputError(f"--input {path}: cannot read: {error.strerror or error}") from None
        except (ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, struct.error) as error:
            # a damaged archive fails in zipfile or zlib; an object array would need pickle
            raise InputError(f"--input {path}: not a readable .npz archive of numeric arrays "
                             f"({error}); an input file is {FILE_FORMS}") from None
        return cls(str(path), cls._check_keys(str(path), arrays))

    @staticmethod
    def _check_keys(path: str, arrays: dict) -> dict:
        keys = set(arrays)
        if keys == {"times", "axons"}:
            for key in ("times", "axons"):
                if arrays[key].ndim != 1:
                    raise InputError(f"--input {path}: `{key}` has shape {arrays[key].shape}; `times` "
                                     f"and `axons` are 1-D arrays of equal length")
            if arrays["times"].size != arrays["axons"].size:
                raise InputError(f"--input {path}: `times` has {arrays['times'].size} entries and "
                                 f"`axons` {arrays['axons'].size}; they are one entry per spike")
            return arrays
        if keys == {"raster"}:
            if arrays["raster"].ndim != 2:
                raise InputError(f"--input {path}: `raster` has shape {arrays['raster'].shape}; a "
                                 f"raster is 2-D, [ticks, axons]")
            return arrays
        if not keys:
            raise InputError(f"--input {path} holds no arrays; an input file is {FILE_FORMS}")
        if "raster" in keys and keys & {"times", "axons"}:
            raise InputError(f"--input {path} holds both `raster` and "
                             f"{' and '.join(f'`{k}`' for k in sorted(keys & {'times', 'axons'}))}; "
                             f"keep one form")
        other = sorted(keys - {"times", "axons", "raster"})
        if other:
            raise InputError(f"--input {path} holds {', '.join(f'`{k}`' for k in other)}, which an input "
                             f"file does not have; an input file is {FILE_FORMS}")
        missing = ({"times", "axons"} - keys).pop()
        raise InputError(f"--input {path} holds `{(keys & {'times', 'axons'}).pop()}` but no `{missing}`; "
                         f"an input file is {FILE_FORMS}")

    @property
    def form(self) -> str:
        return "raster" if "raster" in self.arrays else "times/axons"

    def events(self, ticks: int, n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
        """The spikes as (times, axons), sorted, checked against a run of `ticks` ticks on a
        core of `n_inputs` input axons (InputError naming the file otherwise)."""
        given = self.arrays.get("raster")
        if given is None:
            given = (self.arrays["times"], self.arrays["axons"])
        try:
            return normalize_inputs(given, ticks, n_inputs)
        except InputError as error:
            raise InputError(f"--input {self.path}: {error}") from None


def probability_of_rate(rate_hz: float, tick_us: float) -> float:
    """The per-tick spike probability of a Poisson rate: rate x tick. InputError if the rate
    or the tick is not a finite number >= 0 (> 0), or the product exceeds 1 (an axon carries
    at most one spike a tick)."""
    if not (isinstance(tick_us, (int, float)) and math.isfinite(tick_us) and tick_us > 0):
        raise InputError(f"--tick-us {tick_us} must be a positive number of microseconds")
    if not (isinstance(rate_hz, (int, float)) and math.isfinite(rate_hz) and rate_hz >= 0):
        raise InputError(f"--rate {rate_hz} must be a number of Hz >= 0")
    p = rate_hz * tick_us / 1e6
    if p > 1:
        raise InputError(f"--rate {rate_hz:g} Hz at {tick_us:g} us ticks is {p:g} spikes per tick; an "
                         f"axon carries at most one spike a tick: at most {1e6 / tick_us:g} Hz at "
                         f"{tick_us:g} us ticks (or longer ticks: --tick-us)")
    return p


def check_probability(p: float) -> float:
    if not (isinstance(p, (int, float)) and math.isfinite(p) and 0 <= p <= 1):
        raise InputError(f"--probability {p} must be a number in [0, 1] (the chance an axon spikes in a tick)")
    return float(p)


def check_seed(seed) -> int:
    """A Poisson seed: an integer in [0, 2**63 - 1] (it is saved in the .npz as an int64)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise InputError(f"--input-seed {seed} must be an integer in [0, 2**63 - 1]")
    return int(seed)


def parse_axons(text: str, n_inputs: int) -> np.ndarray:
    """`--axons` as sorted axon numbers: comma-separated numbers and START:STOP ranges (STOP
    excluded, as in Python), e.g. "0:64" or "0:8,12,20:24". InputError names the bad part."""
    chosen = []
    for part in text.split(","):
        part = part.strip()
        try:
            bounds = [int(x) for x in part.split(":")]
        except ValueError:
            bounds = []
        if len(bounds) not in (1, 2):
            raise InputError(f"--axons {text}: {part!r} is not an axon number or a START:STOP range")
        if len(bounds) == 2 and bounds[1] <= bounds[0]:
            raise InputError(f"--axons {text}: the range {part} is empty (START:STOP takes START .. STOP-1)")
        chosen.extend(range(bounds[0], bounds[-1] + (len(bounds) == 1)))
    axons = np.array(chosen, np.int64)
    bad = axons[(axons < 0) | (axons >= n_inputs)]
    if bad.size:
        raise InputError(f"--axons {text}: axon {bad[0]} is out of range; the core has input axons "
                         f"0 .. {n_inputs - 1}")
    unique, counts = np.unique(axons, return_counts=True)
    if np.any(counts > 1):
        raise InputError(f"--axons {text}: axon {unique[np.argmax(counts > 1)]} is named twice")
    return unique


def image_inputs(image: Image) -> np.ndarray:
    """Every axon of the image's input groups, ascending; InputError if it has none."""
    groups = image.symbols.get("inputs", [])
    if not groups:
        raise InputError("the network has no input groups to drive; name the axons with --axons")
    return np.unique(np.concatenate([image.input_ids(g["name"]) for g in groups]))


def describe_axons(axons: np.ndarray) -> str:
    """"16 axons (0..15)" or "3 axons (0, 4, 9)"."""
    if axons.size and axons[-1] - axons[0] == axons.size - 1:
        span = f"{axons[0]}" if axons.size == 1 else f"{axons[0]}..{axons[-1]}"
    else:
        span = ", ".join(map(str, axons[:6])) + (", ..." if axons.size > 6 else "")
    return f"{axons.size} axon{'s' * (axons.size != 1)} ({span})"


class PoissonInput:
    """Each of `axons` spikes in each tick with `probability`, independently; `seed` fixes the
    draws. `spikes` counts the spikes groups() has made so far."""

    def __init__(self, axons: np.ndarray, probability: float, seed: int):
        self.axons = np.asarray(axons, np.int64)
        self.probability = check_probability(probability)
        self.seed = check_seed(seed)
        self.spikes = 0

    def groups(self, ticks: int) -> Iterator[np.ndarray]:
        """The input axons of ticks 0 .. ticks-1, one array a tick, drawn POISSON_CHUNK ticks
        at a time (so the draws of tick k do not depend on `ticks`)."""
        rng = np.random.default_rng(self.seed)
        for at in range(0, ticks, POISSON_CHUNK):
            fire = rng.random((min(POISSON_CHUNK, ticks - at), self.axons.size)) < self.probability
            for row in fire:
                group = self.axons[row]
                self.spikes += group.size
                yield group
