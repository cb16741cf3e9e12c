"""CUBA-LIF arithmetic of docs/spec.md §3, on numpy int64 arrays.

Bit-exact with Lava 0.10's PyLifModelBitAcc for refractory = 0, and with the 16-bit wrap of
the summed synaptic input (a_in) that Lava's int16 input port implies.
"""

from __future__ import annotations

import numpy as np

from firmware import formats as f


def wrap_signed(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap of x into [-2**(bits-1), 2**(bits-1))."""
    half = 1 << (bits - 1)
    return ((x + half) & ((1 << bits) - 1)) - half


def decay(x: np.ndarray, factor) -> np.ndarray:
    """sign(x) * ((|x| * factor) >> 12): truncation toward zero, as Loihi does."""
    return np.sign(x) * ((np.abs(x) * factor) >> f.DECAY_BITS)


def wrap_u(u: np.ndarray) -> np.ndarray:
    """Lava's current wrap: into (-2**23, 2**23]; +2**23 stays, -2**23 becomes +2**23."""
    span = 2 * f.UV_LIMIT
    u = np.where(u > f.UV_LIMIT, u - span, u)
    return np.where(u <= -f.UV_LIMIT, u + span, u)


def lif_step(u, v, ref, a_in, du, dv, vth, bias, refractory):
    """One tick of every neuron. a_in is the raw accumulated synaptic input (any width).

    Returns (u, v, ref, spiked). While ref > 0 the neuron is refractory: u integrates as
    usual, v is held at 0, no spike, ref counts down by one.
    """
    a_in = wrap_signed(a_in, f.A_IN_BITS)
    u = wrap_u(decay(u, f.DECAY_UNITY - (du + f.DU_OFFSET)) + (a_in << f.ACT_SHIFT))
    v_new = np.clip(decay(v, f.DECAY_UNITY - (dv + f.DV_OFFSET)) + u + bias, -f.V_MAX, f.V_MAX)
    refractory_now = ref > 0
    spiked = ~refractory_now & (v_new > (vth << f.VTH_SHIFT))
    v_new = np.where(refractory_now | spiked, 0, v_new)
    ref = np.where(refractory_now, ref - 1, np.where(spiked, refractory, 0))
    return u, v_new, ref, spiked


def trace_decay(x: np.ndarray, decay_const: int) -> np.ndarray:
    """Traces are non-negative: x * (4096 - decay) >> 12 (truncation)."""
    return (x * (f.DECAY_UNITY - decay_const)) >> f.DECAY_BITS


def trace_impulse(x: np.ndarray, impulse: int, mode: int) -> np.ndarray:
    if mode == f.TRACE_MODE_NEAREST:
        return np.full_like(x, impulse)
    return np.minimum(x + impulse, f.TRACE_MAX)


def stochastic_round(product: np.ndarray, shift: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """floor((product + (draw mod 2**shift)) / 2**shift): unbiased rounding of product/2**shift."""
    return (product + (draws & ((1 << shift) - 1))) >> shift
