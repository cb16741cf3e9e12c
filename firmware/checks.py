"""The value checks of the network API (firmware.network, its connectors and units): each
returns the value in the form the API keeps, or raises NetworkError naming the owner (a
population, a projection, a helper), the parameter and the rule it breaks."""

from __future__ import annotations

import math

import numpy as np

from .errors import NetworkError


def as_array(owner: str, name: str, values) -> np.ndarray:
    """`values` as a numpy array; NetworkError for a ragged nesting numpy cannot hold."""
    try:
        return np.asarray(values)
    except (ValueError, TypeError):
        raise NetworkError(f"{owner}: {name} is a ragged nesting of sequences; give a number or an "
                           f"array of one shape") from None


def check_range(owner: str, name: str, values, lo: int, hi: int) -> np.ndarray:
    arr = as_array(owner, name, values)
    flat = arr.reshape(-1)

    def outside(bad):
        return NetworkError(f"{owner}: {name} = {bad:g} is outside [{lo}, {hi}]" if isinstance(bad, float)
                            else f"{owner}: {name} = {bad} is outside [{lo}, {hi}]")
    kind = arr.dtype.kind
    if kind == "O" and all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                           for v in flat.tolist()):
        # integers beyond int64 (2**70) make an object array: numbers out of range, not "not integers"
        bad = next((v for v in flat.tolist() if not lo <= v <= hi), None)
        if bad is not None:
            raise outside(bad)
        kind = "i"
    elif kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        big = np.abs(flat) >= 2.0**62          # a cast to int64 would wrap them
        if np.any(big):
            raise outside(float(flat[big][0]))
        kind = "i"
    elif kind == "u" and flat.size and int(flat.max()) > hi:    # before a cast wraps it
        raise outside(int(flat.max()))
    if kind not in "iub":
        raise NetworkError(f"{owner}: {name} must be integers in hardware units, got {arr.dtype} "
                           f"(use the helpers in firmware.network to convert from floats)")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < lo or arr.max() > hi):
        bad = arr[(arr < lo) | (arr > hi)].flat[0]
        raise outside(bad)
    return arr


def check_name(owner: str, name) -> str:
    if not isinstance(name, str) or not name:
        raise NetworkError(f"{owner}: the name must be a non-empty string")
    return name


def check_size(owner: str, size) -> int:
    if not isinstance(size, (int, np.integer)) or isinstance(size, (bool, np.bool_)) or size < 1:
        raise NetworkError(f"{owner}: size = {size!r} must be a positive integer")
    return int(size)


def check_real(owner: str, name: str, value, ok, rule: str) -> float:
    """A real number (not a bool, not NaN) for which ok(x) holds, as a float; otherwise
    NetworkError "{owner}: {name} = {value!r} {rule}"."""
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    try:
        x = float(value) if real else math.nan
    except OverflowError:            # an int beyond the floats (2**2000) is as large as one gets
        x = math.inf if value > 0 else -math.inf
    if math.isnan(x) or not ok(x):
        raise NetworkError(f"{owner}: {name} = {value!r} {rule}")
    return x
