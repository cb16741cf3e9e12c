"""The stochastic-rounding LFSR of docs/spec.md §6.5: 32-bit Galois, shifting right.

    step(s) = (s >> 1) ^ LFSR_TAPS   if s & 1
              s >> 1                 otherwise

Every weight update draws one value: the LFSR steps once and the new state is the draw.
`sequence` produces many draws at once: the step is linear over GF(2), so the state k steps
ahead is a 32x32 bit-matrix power applied to the state, which numpy applies to whole arrays.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from firmware.formats import LFSR_BITS, LFSR_TAPS

_MASK = (1 << LFSR_BITS) - 1


def step(state: int) -> int:
    return ((state >> 1) ^ LFSR_TAPS) if state & 1 else (state >> 1)


def _apply(columns: tuple, values: np.ndarray) -> np.ndarray:
    """Apply a linear map, given by the images of the 32 unit vectors, to an array of states."""
    out = np.zeros_like(values)
    for bit, column in enumerate(columns):
        out ^= np.where((values >> np.uint64(bit)) & np.uint64(1), np.uint64(column), np.uint64(0))
    return out


@lru_cache(maxsize=None)
def _power_of_two_steps(k: int) -> tuple:
    """Columns of the map 'step 2**k times'."""
    if k == 0:
        return tuple(step(1 << bit) for bit in range(LFSR_BITS))
    half = _power_of_two_steps(k - 1)
    return tuple(int(v) for v in _apply(half, np.array(half, dtype=np.uint64)))


def sequence(state: int, n: int) -> tuple[np.ndarray, int]:
    """The next n draws after `state` (as int64) and the state after the last draw."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64), state
    draws = np.array([step(state)], dtype=np.uint64)
    k = 0
    while draws.size < n:
        draws = np.concatenate([draws, _apply(_power_of_two_steps(k), draws)])
        k += 1
    draws = draws[:n]
    return draws.astype(np.int64), int(draws[-1])
