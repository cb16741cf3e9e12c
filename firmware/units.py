"""From physical units and floats to the core's integers (spec §3, §4): decays from time
constants, weights to a mantissa and an exponent with the error reported. Each refuses what it
cannot represent with NetworkError."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import formats
from .checks import check_real
from .errors import NetworkError


# STDPRule.from_float refuses an amplitude that its 8-bit integer would miss by more than this.
FROM_FLOAT_PRECISION = 0.10


def decay_from_tau(owner: str, name: str, tau, dt, offset: int) -> int:
    """The 12-bit decay nearest to exp(-dt/tau) for a factor (4096 - decay - offset) / 4096."""
    tau = check_real(owner, name, tau, lambda x: x > 0, "must be positive: a number in (0, inf]")
    dt = check_real(owner, "dt", dt, lambda x: 0 < x < math.inf, "must be positive and finite: a number in (0, inf)")
    d = round(formats.DECAY_UNITY * -math.expm1(-dt / tau)) - offset
    return int(min(formats.DECAY_UNITY - 1, max(0, d)))


def dv_from_tau(tau: float, dt: float = 1.0) -> int:
    """dv (or a trace decay) for a voltage time constant: v decays by (4096 - dv)/4096 per tick,
    nearest to exp(-dt/tau). tau = inf gives 0 (no leak). NetworkError unless tau is in
    (0, inf] and dt in (0, inf)."""
    return decay_from_tau("dv_from_tau", "tau", tau, dt, formats.DV_OFFSET)


def du_from_tau(tau: float, dt: float = 1.0) -> int:
    """du for a synaptic-current time constant: u decays by (4096 - du - 1)/4096 per tick
    (Loihi's +1), nearest to exp(-dt/tau); tau -> 0 gives 4095 (current lasts one tick).
    NetworkError unless tau is in (0, inf] and dt in (0, inf)."""
    return decay_from_tau("du_from_tau", "tau", tau, dt, formats.DU_OFFSET)


@dataclass(frozen=True)
class QuantizedWeights:
    mantissa: np.ndarray      # signed integers, weight_bits wide
    exponent: int             # the projection's weight_exp
    max_abs_error: float      # in synaptic-input units (the unit of a_in)
    rms_error: float

    @property
    def values(self) -> np.ndarray:
        return self.mantissa.astype(np.float64) * 2.0**self.exponent


def _holds_bool(values) -> bool:
    if isinstance(values, (bool, np.bool_)):
        return True
    return isinstance(values, (list, tuple)) and any(_holds_bool(v) for v in values)


def quantize_weights(weights, weight_bits: int = 8) -> QuantizedWeights:
    """Float weights (in units of synaptic input a_in) to a signed mantissa and one exponent:
    the smallest exponent whose mantissas fit, rounding to nearest, with the error reported.
    NetworkError for weight_bits outside [WEIGHT_BITS_MIN, WEIGHT_BITS_MAX], weights that are
    not finite real numbers, or weights beyond the largest weight_bits can express."""
    if (not isinstance(weight_bits, (int, np.integer)) or isinstance(weight_bits, (bool, np.bool_))
            or not formats.WEIGHT_BITS_MIN <= weight_bits <= formats.WEIGHT_BITS_MAX):
        raise NetworkError(f"quantize_weights: weight_bits = {weight_bits!r} is outside "
                           f"[{formats.WEIGHT_BITS_MIN}, {formats.WEIGHT_BITS_MAX}]")
    lo, hi = formats.signed_range(int(weight_bits))
    top = formats.max_weight_exp(weight_bits)
    try:
        raw = np.asarray(weights)
    except (TypeError, ValueError):
        raise NetworkError("quantize_weights: weights must be real numbers (an array of one shape)") from None
    flat = raw.reshape(-1).tolist() if raw.dtype.kind == "O" else []
    # booleans, strings and complex numbers would convert to floats without a word: refuse them
    # (numpy reads [True, 2.0] as floats: look into lists for booleans)
    odd = [v for v in flat if isinstance(v, (bool, np.bool_))
           or not isinstance(v, (int, float, np.integer, np.floating))]
    odd += [True] if not odd and isinstance(weights, (list, tuple)) and _holds_bool(weights) else []
    if raw.dtype.kind not in "iufO" or odd:
        first = odd[0] if odd else raw.reshape(-1)[0].item() if raw.size else None
        raise NetworkError(f"quantize_weights: weights must be real numbers (an array of one shape), got "
                           f"{raw.dtype}{f' value {first!r}' if first is not None else ''}")
    huge = [v for v in flat if isinstance(v, int) and abs(v) > 2**1023]
    if huge:                         # float() of these raises OverflowError
        raise NetworkError(f"quantize_weights: a weight of {len(str(abs(huge[0])))} digits exceeds the largest "
                           f"weight {hi << top} for {weight_bits}-bit mantissas")
    w = raw.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise NetworkError(f"quantize_weights: weights must be finite, got {w[~np.isfinite(w)].flat[0]}")
    for exp in range(top + 1):
        m = np.round(w / 2.0**exp)
        if m.size == 0 or (m.min() >= lo and m.max() <= hi):
            break
    else:
        raise NetworkError(f"quantize_weights: |w| up to {np.abs(w).max()} exceeds the largest "
                         f"weight {hi << top} for {weight_bits}-bit mantissas")
    mant = m.astype(np.int64)
    err = np.abs(mant * 2.0**exp - w)
    return QuantizedWeights(mant, exp, float(err.max(initial=0.0)),
                            float(np.sqrt(np.mean(err**2))) if err.size else 0.0)
