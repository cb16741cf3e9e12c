"""What a run takes and what it gives, on every backend (golden model, emulator, board, cluster).

    times, axons = normalize_inputs(inputs, ticks, n_inputs)   # every input form -> events, checked
    for axons in input_groups(times, axons, ticks): ...        # one array of axons per tick
    result = RunResult(start_tick=..., ticks=..., output_ids=..., times=..., neurons=...)
    result.times, result.neurons       # output spikes as events; result.spikes: the dense raster

The input forms and their checks are those of the README ("The API in one page"): every refusal
is an InputError naming the value and what is allowed, raised before any tick runs. A RunResult
holds its spikes as events, so memory grows with the spikes, not the ticks. sim (the golden
model) and host (the devices) both take these from here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar, Iterator

import numpy as np

from . import formats as f
from .errors import InputError, RasterTooLargeError

_SCOPE = {"axon": "the core has input axons", "tick": "the run has ticks"}
_NOT_INTEGER = ("not an integer (a float that is exactly one, such as 3.0, is taken; fractions, NaN, "
                "infinities, booleans and strings are not)")
_FORMS = ("None, a raster [ticks, axons] (a 2-D numpy array of booleans or 0/1), a (times, axons) "
          "pair, a dict {tick: axons} or one collection of axons per tick (a list or other iterable)")
_KINDS = {"U": "str", "S": "bytes", "O": "object", "c": "complex", "M": "datetime",
          "m": "timedelta", "V": "void"}


def _show(value) -> str:
    """A value as an error message names it: strings quoted, numbers plain, long ones cut."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value) if isinstance(value, (str, bytes)) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_ticks(ticks) -> int:
    """`ticks` of a run as an int: an integer in 0 .. MAX_RUN_TICKS (formats.MAX_RUN_TICKS,
    2**32 - 1: a host tells the ticks of a run apart by the 32-bit tick counter); else InputError."""
    if (isinstance(ticks, (bool, np.bool_)) or not isinstance(ticks, (int, np.integer))
            or not 0 <= ticks <= f.MAX_RUN_TICKS):
        raise InputError(f"ticks = {_show(ticks)} must be an integer in 0 .. {f.MAX_RUN_TICKS}: a run "
                         f"has at most {f.MAX_RUN_TICKS} ticks (the tick counter is {f.TICK_BITS} bits)")
    return int(ticks)


def as_integers(values, what: str, limit: int, where: str = "") -> np.ndarray:
    """`values` (one number or a flat collection) as a new int64 array of numbers of `what`
    ("axon" or "tick") in 0 .. limit-1. Refuses, naming the first offender and what is allowed:
    a value that is not exactly an integer (an exactly integral float is one), one out of
    range, a nested or ragged collection. `where` (" at tick 3") places the values in the message."""
    def refuse(v, problem):
        allowed = f"{_SCOPE[what]} 0 .. {limit - 1}" if limit else f"{_SCOPE[what]} none"
        return InputError(f"input {what} {_show(v)}{where} is {problem}; {allowed}")

    def ill_shaped():
        return InputError(f"input {what}s {_show(values)}{where}: give one {what} number or a "
                          f"flat collection of them (a list, array, set or range of integers)")
    if isinstance(values, (str, bytes)) or values is None:
        raise refuse(values, _NOT_INTEGER)
    if isinstance(values, dict):
        raise ill_shaped()
    if not isinstance(values, np.ndarray):
        if isinstance(values, (set, frozenset)) or (not isinstance(values, (list, tuple))
                                                   and hasattr(values, "__iter__")):
            values = list(values)
        if isinstance(values, (list, tuple)):
            # numpy would read True among integers as 1: a boolean is not an axon or tick number
            flag = next((v for v in values if isinstance(v, (bool, np.bool_))), None)
            if flag is not None:
                raise refuse(flag, _NOT_INTEGER)
        try:
            values = np.asarray(values)
        except (ValueError, TypeError):
            raise ill_shaped() from None
    if values.ndim > 1:
        raise ill_shaped()
    arr = values.reshape(-1)
    kind = arr.dtype.kind
    if kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.floor(arr))
        if np.any(bad):
            raise refuse(arr[bad][0], _NOT_INTEGER)
        out_of_int64 = (arr < -2.0**63) | (arr >= 2.0**63)
        if np.any(out_of_int64):
            raise refuse(arr[out_of_int64][0], "out of range")
    elif kind == "u":
        if arr.size and arr.max() > np.iinfo(np.int64).max:
            raise refuse(arr.max(), "out of range")
    elif kind == "O":
        for v in arr:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, float, np.floating)):
                raise refuse(v, _NOT_INTEGER)
            if isinstance(v, (float, np.floating)) and not (np.isfinite(v) and v == np.floor(v)):
                raise refuse(v, _NOT_INTEGER)
            if not -2**63 <= v < 2**63:
                raise refuse(v, "out of range")
    elif kind != "i":
        raise refuse(arr[0] if arr.size else values, _NOT_INTEGER)
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= limit):
        raise refuse(arr[(arr < 0) | (arr >= limit)][0], "out of range")
    return arr


def _twice(axon, tick) -> InputError:
    return InputError(f"input axon {axon} spikes twice at tick {tick}; an axon carries at most one "
                      f"spike per tick")


def tick_axons(axons, tick: int, n_inputs: int) -> np.ndarray:
    """One tick's input axons (one number, a flat collection, or None for none) as a new sorted
    int64 array, checked as normalize_inputs checks them. stream() takes its ticks through this."""
    if axons is None:
        return np.zeros(0, np.int64)
    group = as_integers(axons, "axon", n_inputs, f" at tick {tick}")
    group.sort()
    if group.size > 1:
        same = group[1:] == group[:-1]
        if same.any():
            raise _twice(group[np.argmax(same)], tick)
    return group


def _raster(raster: np.ndarray, ticks: int, n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
    if raster.ndim != 2:
        raise InputError(f"input raster is {raster.ndim}-dimensional; a raster is [ticks, axons] (2-D)")
    if raster.shape[0] > ticks or raster.shape[1] > n_inputs:
        raise InputError(f"input raster has shape {raster.shape}; expected at most "
                         f"({ticks}, {n_inputs}) for {ticks} ticks and {n_inputs} input axons")
    kind = raster.dtype.kind
    if kind not in "biuf":
        raise InputError(f"input raster holds {_KINDS.get(kind, kind)} values ({raster.dtype}); a "
                         f"raster's entries are booleans or the numbers 0 and 1")
    if kind != "b":
        bad = (raster != 0) & (raster != 1)       # NaN compares unequal to both
        if np.any(bad):
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"input raster holds {_show(raster[at])} at [{at[0]}, {at[1]}]; a "
                             f"raster's entries are booleans or the numbers 0 and 1 (1 = a spike)")
    times, axons = np.nonzero(raster)
    return times.astype(np.int64), axons.astype(np.int64)


def input_groups(times: np.ndarray, axons: np.ndarray, ticks: int | None = None) -> Iterator[np.ndarray]:
    """The input axons of ticks 0, 1, ... from events sorted by time (normalize_inputs), one
    array a tick: `ticks` of them, or (None) up to the last tick with input. Lazy: memory
    grows with the events, not the ticks."""
    in_ticks, first = np.unique(times, return_index=True)
    bounds = np.append(first, times.size).tolist()
    none = np.zeros(0, np.int64)
    k = 0                                  # the next tick to yield
    for g, tick in enumerate(in_ticks.tolist()):
        yield from itertools.repeat(none, tick - k)
        yield axons[bounds[g]:bounds[g + 1]]
        k = tick + 1
    if ticks is not None:
        yield from itertools.repeat(none, ticks - k)


def normalize_inputs(inputs, ticks: int, n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
    """Input spikes for a run of `ticks` ticks as (times, axons), int64, sorted by time then
    axon; memory grows with the spikes, not the ticks.

    Accepted forms: None; a raster [T <= ticks, A <= n_inputs] of axons 0..A-1, a 2-D numpy
    array of booleans or of the numbers 0 and 1 (1 = a spike); a pair (times, axons) of equal
    length; a dict {tick: axons}; an iterable with one item per tick (at most `ticks` items).
    A tick's axons are one number, a flat collection (list, tuple, array, set, range) or None.
    Axon and tick numbers are integers, or floats that are exactly integers (3.0), as in the
    Network API; booleans, strings, NaN, infinities and fractions are refused, as are numbers
    out of range, nested or ragged collections, a tuple that is not a pair and an axon twice
    in a tick. Every refusal is an InputError naming the value and what is allowed.
    """
    if inputs is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if isinstance(inputs, np.ndarray) and inputs.ndim != 1:
        return _raster(inputs, ticks, n_inputs)
    if isinstance(inputs, tuple):
        if len(inputs) != 2:
            raise InputError(f"inputs are a tuple of {len(inputs)} items; a tuple is the (times, axons) "
                             f"pair (give one collection of axons per tick as a list)")
        times = as_integers(inputs[0], "tick", ticks, " in the (times, axons) pair")
        axons = as_integers(inputs[1], "axon", n_inputs, " in the (times, axons) pair")
        if times.size != axons.size:
            raise InputError(f"input (times, axons) have different lengths {times.size} and {axons.size}")
        order = np.lexsort((axons, times))
        times, axons = times[order], axons[order]
        repeat = np.flatnonzero((times[1:] == times[:-1]) & (axons[1:] == axons[:-1]))
        if repeat.size:
            raise _twice(axons[repeat[0]], times[repeat[0]])
        return times, axons
    if isinstance(inputs, dict):
        groups = {}
        for key, value in inputs.items():
            if isinstance(key, (tuple, frozenset)):
                raise InputError(f"input tick {_show(key)} is {_NOT_INTEGER}; the run has ticks "
                                 f"0 .. {ticks - 1}")
            groups[int(as_integers(key, "tick", ticks)[0])] = value
    elif isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
        raise InputError(f"inputs {_show(inputs)}: run inputs are {_FORMS}, not a {type(inputs).__name__}")
    else:
        groups = {}
        for tick, value in enumerate(inputs):
            if tick >= ticks:
                given = f"{len(inputs)}" if hasattr(inputs, "__len__") else f"more than {ticks}"
                raise InputError(f"inputs given for {given} ticks, the run has {ticks}")
            groups[tick] = value
    order = sorted(groups)
    parts = [tick_axons(groups[tick], tick, n_inputs) for tick in order]
    times = np.repeat(np.array(order, np.int64), [p.size for p in parts])
    return times, np.concatenate(parts) if parts else np.zeros(0, np.int64)


@dataclass
class SpikeMonitor:
    """Output spikes as events, in time order: `times[k]` (absolute tick) and `indices[k]`
    (core neuron number). Brian2's names: `t` and `i`."""

    times: np.ndarray
    indices: np.ndarray

    @property
    def t(self):
        return self.times

    @property
    def i(self):
        return self.indices


def _dense(times, columns, start_tick: int, ticks: int, n_columns: int, what: str) -> np.ndarray:
    cells = ticks * n_columns
    if cells > RunResult.MAX_RASTER_CELLS:
        raise RasterTooLargeError(
            f"{what} of {ticks:,} ticks x {n_columns:,} columns would be {cells:,} cells (bytes), more "
            f"than RunResult.MAX_RASTER_CELLS = {RunResult.MAX_RASTER_CELLS:,}; use the events "
            f"(times, neurons), which grow with the spikes, not the ticks")
    raster = np.zeros((ticks, n_columns), bool)
    raster[np.asarray(times, np.int64) - start_tick, columns] = True
    return raster


@dataclass(kw_only=True)
class RunResult:
    """The output spikes of `ticks` ticks from `start_tick`, as events: output neuron neurons[k]
    fired at tick times[k] (absolute), in time order and, within a tick, ascending neuron order.
    Memory grows with the spikes, not with the ticks. Every backend (model, emulator, board)
    returns it.

    `spikes` is the dense raster bool [ticks, len(output_ids)] (spikes[k, j]: output_ids[j]
    fired at tick start_tick + k), computed anew at each access: it allocates ticks x outputs
    bytes, and above MAX_RASTER_CELLS raises RasterTooLargeError. With run(record_all=True)
    (GoldenModel, FastModel), all_times / all_neurons hold every neuron's spikes the same way,
    and `all_spikes` is their raster [ticks, n_neurons] (None without record_all)."""

    MAX_RASTER_CELLS: ClassVar[int] = 1 << 30

    start_tick: int
    ticks: int
    output_ids: np.ndarray       # neuron numbers of the output columns, ascending
    times: np.ndarray            # int64, absolute tick of each output spike
    neurons: np.ndarray          # int64, neuron number of each output spike
    all_times: np.ndarray | None = None     # run(record_all=True): every neuron's spikes
    all_neurons: np.ndarray | None = None
    n_neurons: int = 0                       # columns of all_spikes

    @property
    def spikes(self) -> np.ndarray:
        columns = np.searchsorted(self.output_ids, self.neurons)
        return _dense(self.times, columns, self.start_tick, self.ticks, self.output_ids.size,
                      "the output raster")

    @property
    def all_spikes(self) -> np.ndarray | None:
        if self.all_times is None:
            return None
        return _dense(self.all_times, self.all_neurons, self.start_tick, self.ticks, self.n_neurons,
                      "the raster of all neurons")

    @property
    def monitor(self) -> SpikeMonitor:
        return SpikeMonitor(self.times, self.neurons)

    @staticmethod
    def from_raster(start_tick: int, output_ids, spikes) -> "RunResult":
        """The result whose `spikes` is the bool raster given ([ticks, len(output_ids)])."""
        spikes = np.asarray(spikes, bool)
        rows, columns = np.nonzero(spikes)
        output_ids = np.asarray(output_ids, np.int64)
        return RunResult(start_tick=start_tick, ticks=spikes.shape[0], output_ids=output_ids,
                         times=rows.astype(np.int64) + start_tick, neurons=output_ids[columns])

    @staticmethod
    def concatenate(parts: list["RunResult"], output_ids, start_tick: int) -> "RunResult":
        """Consecutive results as one (start_tick is used when there are none)."""
        empty = np.zeros(0, np.int64)
        return RunResult(start_tick=parts[0].start_tick if parts else start_tick,
                         ticks=sum(p.ticks for p in parts), output_ids=output_ids,
                         times=np.concatenate([empty] + [p.times for p in parts]),
                         neurons=np.concatenate([empty] + [p.neurons for p in parts]))
