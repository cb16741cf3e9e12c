"""Neuron parameters on the core: decays, biases, and each population's threshold and voltage
scale."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import formats
from ..errors import NIRError
from .constants import A_HI, A_LO, BIAS_HI, BIAS_LO, SPIKING, U_MAX, VTH_CAP
from .graph import _array, _kind


@dataclass
class _Neurons:
    """A neuron node's parameters per neuron, in the forward-Euler form the core takes."""

    name: str
    kind: str
    size: int
    a_mem: np.ndarray          # dt / tau_mem (0: no leak)
    a_syn: np.ndarray | None   # dt / tau_syn (CubaLIF, CubaLI)
    gain: np.ndarray           # voltage per step per unit of input, before the scale
    drive: np.ndarray          # voltage per step from v_leak (and, later, the input's bias)
    r_in: np.ndarray           # input -> drive factor for a constant input (bias)
    theta: np.ndarray          # threshold (spiking) or the voltage bound (readouts)
    spiking: bool


def _neurons(node, name, size, dt, tau_times_dt=False) -> _Neurons:
    kind = _kind(node)

    def param(attr, default=None):
        if getattr(node, attr, None) is None and default is not None:
            return np.full(size, float(default))
        arr = _array(node, name, attr)
        if arr.size == 1:
            return np.full(size, float(arr.reshape(-1)[0]))
        if arr.size != size:
            raise NIRError(f"node {name!r} ({kind}): {attr} has shape {arr.shape}; the node has {size} "
                           f"neurons (give one value or {size})")
        return arr.reshape(-1).copy()

    def rate(attr):
        tau = param(attr) / (dt if tau_times_dt else 1.0)
        if np.any(tau <= 0):
            raise NIRError(f"node {name!r} ({kind}): {attr} = {tau[tau <= 0][0]:g} must be positive")
        a = dt / tau
        if np.any(a > 1 + 1e-12):
            bad = tau[np.argmax(a)]
            raise NIRError(
                f"node {name!r} ({kind}): {attr} = {bad:g} s is shorter than dt = {dt:g} s (dt/tau = "
                f"{dt / bad:.3g} > 1): forward Euler overshoots, and the core's decay 4096*dt/tau is at most "
                f"4096. Norse's to_nir up to 1.1.0 writes tau multiplied by dt (tau = dt/tau_mem_inv, norse/norse#411): "
                f"for such a graph pass tau_times_dt=True (python -m firmware.nir: --tau-times-dt) with its dt; "
                f"otherwise use a smaller dt")
        return np.minimum(a, 1.0)

    r = param("r", 1.0)
    if not np.all(np.isfinite(r)):
        raise NIRError(f"node {name!r} ({kind}): r must be finite")
    if kind in SPIKING:
        v_reset = param("v_reset", 0.0)
        if np.any(v_reset != 0):
            raise NIRError(f"node {name!r} ({kind}): v_reset = {v_reset[v_reset != 0][0]:g}; the core resets "
                           f"the voltage to 0 (v_reset = 0 only; shifting the voltage would change the initial "
                           f"state)")
        theta = param("v_threshold")
        if not np.all(np.isfinite(theta)) or np.any(theta < 0):
            raise NIRError(f"node {name!r} ({kind}): v_threshold = {theta[~(theta >= 0) | ~np.isfinite(theta)][0]:g}; "
                           f"the core's threshold is a non-negative 17-bit value (vth >= 0)")
    else:
        theta = np.zeros(size)
    v_leak = np.zeros(size) if kind == "IF" else param("v_leak")
    if not np.all(np.isfinite(v_leak)):
        raise NIRError(f"node {name!r} ({kind}): v_leak must be finite")
    a_syn = None
    if kind == "IF":
        a_mem, gain, r_in = np.zeros(size), r * dt, r * dt
    elif kind in ("LIF", "LI"):
        a_mem = rate("tau")
        gain = r_in = r * a_mem
    else:
        a_mem, a_syn = rate("tau_mem"), rate("tau_syn")
        w_in = param("w_in", 1.0)
        if not np.all(np.isfinite(w_in)):
            raise NIRError(f"node {name!r} ({kind}): w_in must be finite")
        # w_in scales the input elementwise (NIR: tau_syn dI/dt = -I + w_in S), never the threshold
        gain, r_in = r * w_in * a_mem * a_syn, r * w_in * a_mem
    return _Neurons(name, kind, size, a_mem, a_syn, gain, a_mem * v_leak, r_in, theta, kind in SPIKING)


def _scale_vth(neur, fractions, pos_sum, neg_sum, drive_rel, config, scaling, no_wrap):
    """The population's vth (spiking) or voltage scale (readouts) in core units: the largest the
    ranges allow ("range"), or the one that puts the largest weight at a full mantissa ("weights").
    fractions: per synapse, the weight in thresholds; pos_sum/neg_sum: per neuron, the sum of the
    positive/negative ones; drive_rel: per neuron, the constant drive per step in thresholds."""
    lo, hi = formats.signed_range(config.weight_bits)
    top = formats.max_weight_exp(config.weight_bits)
    w_max = hi << top
    limits = {f"the cap vth <= {VTH_CAP} (the threshold at a quarter of the voltage's range)": VTH_CAP}
    big = np.max(np.abs(fractions), initial=0.0)
    if big > 0:
        limits[f"weights: the largest is {big:.3g} thresholds, a mantissa x 2**exp is at most {w_max}"] = w_max / big
    d = np.max(np.abs(drive_rel), initial=0.0)
    if d > 0:
        most = BIAS_HI << formats.BIAS_EXP_MAX
        limits[f"bias: {d:.3g} thresholds per step, bias_mant << bias_exp is at most {most}"] = most / (64 * d)
    if no_wrap:
        p, n = np.max(pos_sum, initial=0.0), np.max(-neg_sum, initial=0.0)
        if p > 0:
            limits[f"16-bit input: all excitatory inputs in one tick sum to {p:.3g} thresholds"] = A_HI / p
        if n > 0:
            limits[f"16-bit input: all inhibitory inputs in one tick sum to {n:.3g} thresholds"] = -A_LO / n
        if neur.a_syn is not None:
            # the current of a tick's input, held: 64 * a * 4096 / (du + 1) must fit u's 24 bits
            du1 = np.maximum(1, np.round(formats.DECAY_UNITY * neur.a_syn))
            u = 64 * np.max(np.maximum(pos_sum, -neg_sum) * formats.DECAY_UNITY / du1, initial=0.0)
            if u > 0:
                limits[f"24-bit current: a held input of {u / 64:.3g} thresholds"] = U_MAX / u
    bound = min(limits.values())
    binding = min(limits, key=limits.get)
    if bound < 1:
        raise NIRError(f"node {neur.name!r} ({neur.kind}): no threshold scale fits ({binding}; it allows "
                       f"vth <= {bound:.3g}, the smallest is 1); the weights are too large for the threshold")
    note = None
    if no_wrap and neur.spiking and np.all(neur.a_mem > 0):
        # the voltage's floor: held inhibition drives v to (drive + input) / (dt/tau_mem) thresholds;
        # it may lower vth only as far as the largest weight keeps a full mantissa at exponent 0
        held = neg_sum / neur.a_syn if neur.a_syn is not None else neg_sum
        low = -np.min(np.minimum(0.0, (drive_rel + held) / neur.a_mem), initial=0.0)
        if low > 0:
            soft = formats.V_MAX / (64 * low)
            floor = min(bound, hi / big) if big > 0 else 1.0
            if soft < bound:
                bound = max(soft, floor)
                binding = f"24-bit voltage: held inhibition reaches -{low:.3g} thresholds"
                if soft < floor:
                    note = (f"{neur.kind} {neur.name!r}: the voltage clips at -{formats.V_MAX / (64 * math.floor(bound)):.3g} "
                            f"thresholds; held inhibition could take it to -{low:.3g} (kept: the weights' precision)")
    vth = math.floor(bound)
    if scaling == "weights" and big > 0:
        for exp in range(top, -1, -1):
            candidate = math.floor(hi * 2**exp / big)
            if 1 <= candidate <= bound:
                if candidate < vth:
                    binding = f"the largest weight at a full mantissa << {exp} ({binding}: vth <= {bound:.0f})"
                vth = candidate
                break
    return vth, binding, note


def _bias(values, owner):
    """Per-neuron bias in core units -> (bias_mant, one bias_exp >= 0, relative error)."""
    top = np.max(np.abs(values), initial=0.0)
    for exp in range(formats.BIAS_EXP_MAX + 1):
        mant = np.round(values / 2**exp)
        if mant.min(initial=0) >= BIAS_LO and mant.max(initial=0) <= BIAS_HI:
            return mant.astype(np.int64), exp, _relative(mant * 2**exp, values)
    raise NIRError(f"{owner}: bias {top:.6g} (core units) exceeds {BIAS_HI << formats.BIAS_EXP_MAX}")


def _decay(rate, offset):
    """A decay parameter for the rate dt/tau: round(4096 rate) - offset in 0..4095, and the
    rate's relative error ((decay + offset)/4096 against dt/tau; absolute where dt/tau = 0)."""
    value = np.clip(np.round(formats.DECAY_UNITY * rate) - offset, 0, formats.DECAY_UNITY - 1).astype(np.int64)
    real = (value + offset) / formats.DECAY_UNITY
    err = np.abs(real - rate) / np.where(rate > 0, rate, 1.0)
    return value, float(np.max(err, initial=0.0))



def _relative(got, want) -> float:
    """Largest |got - want| relative to the largest |want| (0 for none, or all zero)."""
    top = np.max(np.abs(want), initial=0.0)
    return float(np.max(np.abs(np.asarray(got) - want)) / top) if top else 0.0
