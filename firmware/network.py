"""Describe a spiking network the way PyNN, Brian2 and Lava users expect.

    net = Network("demo")
    pixels = net.inputs("pixels", 64)
    exc = net.population("exc", 100, du=du_from_tau(5), dv=dv_from_tau(20), vth=200, refractory=2)
    net.connect(pixels, exc, FixedProbability(0.2, seed=1), weight=40, stdp=STDPRule())
    net.record(exc)

Every parameter is in hardware units (docs/spec.md); firmware/units.py's helpers convert from
physical time constants and float weights and report the quantization error; the connectors
are in firmware/connectors.py, the value checks in firmware/checks.py. Each bad value
raises NetworkError naming the population or projection and the allowed range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import formats
from .checks import as_array, check_name, check_range, check_real, check_size
from .connectors import AllToAll, FixedProbability, FromList, OneToOne
from .errors import NetworkError
from .units import (FROM_FLOAT_PRECISION, QuantizedWeights, decay_from_tau, du_from_tau, dv_from_tau,
                    quantize_weights)

__all__ = ["AllToAll", "FixedProbability", "FromList", "Inputs", "NEURON_PARAMETERS", "Network", "OneToOne",
           "Population", "Projection", "QuantizedWeights", "STDPRule", "du_from_tau", "dv_from_tau",
           "quantize_weights"]


class Inputs:
    """Host input axons: sources the host drives with spikes, tick by tick."""

    def __init__(self, name: str, size: int):
        self.name = check_name(f"inputs {name!r}", name)
        self.size = check_size(f"inputs {name!r}", size)

    def __repr__(self):
        return f"Inputs({self.name!r}, {self.size})"


NEURON_PARAMETERS = {
    # name: (lowest, highest, default)
    "du": (0, formats.DECAY_UNITY - 1, 0),
    "dv": (0, formats.DECAY_UNITY - 1, 0),
    "vth": (0, (1 << formats.VTH_BITS) - 1, 100),
    "bias_mant": (*formats.signed_range(formats.BIAS_MANT_BITS), 0),
    "bias_exp": (formats.BIAS_EXP_MIN, formats.BIAS_EXP_MAX, 0),
    "refractory": (0, (1 << formats.REFRACTORY_BITS) - 1, 0),
}


class Population:
    """CUBA-LIF neurons with Loihi's parameter names; each parameter is a scalar or one value
    per neuron."""

    def __init__(self, name: str, size: int, **params):
        self.name = check_name(f"population {name!r}", name)
        self.size = check_size(f"population {name!r}", size)
        unknown = set(params) - set(NEURON_PARAMETERS)
        if unknown:
            raise NetworkError(f"population {name!r}: unknown parameters {sorted(unknown)}; "
                               f"known: {sorted(NEURON_PARAMETERS)}")
        self.params = {}
        for key, (lo, hi, default) in NEURON_PARAMETERS.items():
            value = check_range(f"population {name!r}", key, params.get(key, default), lo, hi)
            if value.ndim != 0 and value.shape != (self.size,):
                raise NetworkError(f"population {name!r}: {key} has shape {value.shape}; "
                                   f"give a scalar or {self.size} values")
            self.params[key] = value
        try:
            for key, value in self.params.items():
                if value.ndim == 0:
                    self.params[key] = np.full(self.size, value, dtype=np.int64)
            self.recorded = np.zeros(self.size, dtype=bool)
        except (MemoryError, ValueError):     # ValueError: beyond numpy's largest array (2**63)
            raise NetworkError(f"population {name!r}: size = {self.size}: its per-neuron parameters "
                               f"do not fit in this machine's memory") from None

    def __repr__(self):
        return f"Population({self.name!r}, {self.size})"


# --- Connectors: each returns (pre, post) index arrays, sorted by pre then post -------------


# --- Plasticity -----------------------------------------------------------------------------


@dataclass(frozen=True)
class STDPRule:
    """Trace-based pair STDP in hardware units (docs/spec.md §6).

    On a pre spike (LTD): w += round(a_minus * y_post / 2**lr_shift)
    On a post spike (LTP): w += round(a_plus * x_pre / 2**lr_shift)
    with stochastic rounding, then w is clipped to [w_min, w_max] (weight mantissa units).
    Traces: x (per source) and y (per neuron) decay by (4096 - decay) / 4096 per tick and get
    `impulse` on a spike (added, saturating at 255, in "all-to-all" mode; set in "nearest").
    The trace fields are core-wide: every plastic projection of a network must share them.
    """

    a_plus: int = 64
    a_minus: int = -64
    lr_shift: int = 8
    w_min: int = 0
    w_max: int = 127
    pre_decay: int = 197      # tau = 20 ticks: 4096 * (1 - exp(-1/20))
    post_decay: int = 197
    pre_impulse: int = 128
    post_impulse: int = 128
    mode: str = "all-to-all"

    def trace_parameters(self) -> tuple:
        return (self.pre_decay, self.pre_impulse, self.post_decay, self.post_impulse, self.mode)

    def check(self, owner: str, weight_bits: int) -> None:
        a_lo, a_hi = formats.signed_range(formats.STDP_A_BITS)
        w_lo, w_hi = formats.signed_range(weight_bits)
        limits = {"a_plus": (a_lo, a_hi), "a_minus": (a_lo, a_hi), "lr_shift": (0, formats.LR_SHIFT_MAX),
                  "w_min": (w_lo, w_hi), "w_max": (w_lo, w_hi),
                  "pre_decay": (0, formats.DECAY_UNITY - 1), "post_decay": (0, formats.DECAY_UNITY - 1),
                  "pre_impulse": (0, formats.TRACE_MAX), "post_impulse": (0, formats.TRACE_MAX)}
        for name, (lo, hi) in limits.items():
            if check_range(owner, f"stdp.{name}", getattr(self, name), lo, hi).ndim:
                raise NetworkError(f"{owner}: stdp.{name} = {getattr(self, name)!r} must be one integer "
                                   f"in [{lo}, {hi}], not an array (the rule is the projection's)")
        if self.w_min > self.w_max:
            raise NetworkError(f"{owner}: stdp.w_min = {self.w_min} is above w_max = {self.w_max}")
        if not isinstance(self.mode, str) or self.mode not in formats.TRACE_MODES:
            raise NetworkError(f"{owner}: stdp.mode = {self.mode!r}; use one of {sorted(formats.TRACE_MODES)}")

    @classmethod
    def from_float(cls, tau_plus: float = 20.0, tau_minus: float = 20.0, a_plus: float = 1.0,
                   a_minus: float = -1.05, w_min: int = 0, w_max: int = 127, dt: float = 1.0,
                   impulse: int = 128, mode: str = "all-to-all") -> "STDPRule":
        """The classic window dw(dt) = a_plus exp(-dt/tau_plus) (pre before post) and
        a_minus exp(dt/tau_minus) (post before pre), dw in weight-mantissa units per pair.

        An amplitude a becomes A = round(a * 2**lr_shift / impulse), 8 bits signed; lr_shift
        is the largest (at most 15) for which both |A| fit 127, so each amplitude is a multiple
        of impulse / 2**lr_shift. A pair that cannot be represented is refused with
        NetworkError naming the amplitude and the range it must lie in: one beyond
        127 * impulse (lr_shift 0 cannot hold it), or a nonzero one that would be more than
        FROM_FLOAT_PRECISION (10%) off its value (the smaller of a lopsided pair, or both when
        tiny). Zero stays exactly zero. NaN, inf, a non-positive tau or dt, an impulse outside
        1..255 and an unknown mode are refused too."""
        owner = "STDPRule.from_float"
        trace_max = formats.TRACE_MAX
        if (not isinstance(impulse, (int, np.integer)) or isinstance(impulse, (bool, np.bool_))
                or not 1 <= impulse <= trace_max):
            raise NetworkError(f"{owner}: impulse = {impulse!r} must be an integer in [1, {trace_max}]")
        if not isinstance(mode, str) or mode not in formats.TRACE_MODES:
            raise NetworkError(f"{owner}: mode = {mode!r}; use one of {sorted(formats.TRACE_MODES)}")
        amps = {name: check_real(owner, name, value, math.isfinite, "must be a finite number")
                for name, value in (("a_plus", a_plus), ("a_minus", a_minus))}
        pre_decay = decay_from_tau(owner, "tau_plus", tau_plus, dt, 0)
        post_decay = decay_from_tau(owner, "tau_minus", tau_minus, dt, 0)
        a_hi = formats.signed_range(formats.STDP_A_BITS)[1]
        top_name = max(amps, key=lambda name: abs(amps[name]))
        top = abs(amps[top_name])
        if top > a_hi * impulse:
            raise NetworkError(f"{owner}: {top_name} = {amps[top_name]:g} is outside "
                               f"[{-a_hi * impulse}, {a_hi * impulse}], the amplitudes an 8-bit A with "
                               f"impulse {impulse} can express (A * impulse / 2**lr_shift, lr_shift >= 0)")
        shift = formats.LR_SHIFT_MAX
        while shift > 0 and top * 2**shift / impulse > a_hi:
            shift -= 1
        step = impulse / 2**shift
        ints = {}
        for name, a in amps.items():
            ints[name] = round(a / step)
            off = abs(ints[name] * step - a) / abs(a) if a else 0.0
            if off > FROM_FLOAT_PRECISION:
                other = next(n for n in amps if n != name)
                lowest = step / 2 / FROM_FLOAT_PRECISION
                raise NetworkError(
                    f"{owner}: {name} = {a:g} would be {ints[name] * step:.3g} ({off:.0%} off): with "
                    f"{other} = {amps[other]:g} and impulse {impulse} the learning rate is lr_shift "
                    f"{shift}{' (its maximum)' if shift == formats.LR_SHIFT_MAX else ''}, so amplitudes are "
                    f"multiples of {step:g}; |{name}| from {lowest:g} to {a_hi * step:g} (or 0) is "
                    f"represented within {FROM_FLOAT_PRECISION:.0%}")
        return cls(a_plus=ints["a_plus"], a_minus=ints["a_minus"], lr_shift=shift,
                   w_min=w_min, w_max=w_max, pre_decay=pre_decay, post_decay=post_decay,
                   pre_impulse=int(impulse), post_impulse=int(impulse), mode=mode)


class Projection:
    def __init__(self, network: "Network", index: int, pre, post, connector, weight, weight_exp,
                 delay, stdp, name):
        self.network, self.index = network, index
        self.pre, self.post, self.connector = pre, post, connector
        self.name = name or f"{getattr(pre, 'name', pre)}->{getattr(post, 'name', post)}#{index}"
        self.weight_exp, self.stdp = weight_exp, stdp
        self._weight, self._delay = weight, delay
        owner = f"projection {self.name!r}"
        if not isinstance(post, Population):
            raise NetworkError(f"{owner}: the target must be a Population, got {post!r}")
        if not isinstance(pre, (Population, Inputs)):
            raise NetworkError(f"{owner}: the source must be a Population or Inputs, got {pre!r}")
        if stdp is not None and not isinstance(stdp, STDPRule):
            raise NetworkError(f"{owner}: stdp must be an STDPRule or None")
        if isinstance(connector, type) or not callable(getattr(connector, "connections", None)):
            raise NetworkError(f"{owner}: the connector is {connector!r}; give an instance of AllToAll, "
                               f"OneToOne, FixedProbability, FromList (or of a class with their "
                               f"connections(n_pre, n_post, same_population) method)")
        try:
            pre_idx, post_idx = connector.connections(pre.size, post.size, pre is post)
        except ValueError as error:
            raise NetworkError(f"{owner}: {error}") from None
        except MemoryError:
            raise NetworkError(f"{owner}: the {type(connector).__name__} connections of {pre.size} x "
                               f"{post.size} neurons do not fit in this machine's memory") from None
        for label, idx, size in (("pre", pre_idx, pre.size), ("post", post_idx, post.size)):
            if idx.size and (idx.min() < 0 or idx.max() >= size):
                bad = idx[(idx < 0) | (idx >= size)][0]
                raise NetworkError(f"{owner}: {label} index {bad} is outside [0, {size - 1}]")
        pair = pre_idx * post.size + post_idx
        if np.unique(pair).size != pair.size:
            dup = pair[np.nonzero(np.bincount(pair) > 1)[0][0] == pair][0]
            raise NetworkError(f"{owner}: connection ({dup // post.size}, {dup % post.size}) "
                               f"appears twice; a projection connects a pair at most once")
        self.pre_idx, self.post_idx = pre_idx, post_idx

    def _per_connection(self, label, value, rows_column):
        if isinstance(self.connector, FromList) and value is None:
            if rows_column < self.connector.rows.shape[1]:
                return self.connector.rows[:, rows_column]
            value = 1
        arr = as_array(f"projection {self.name!r}", label, value)
        if arr.ndim == 0:
            return np.full(self.pre_idx.size, arr)
        if arr.shape == (self.pre.size, self.post.size):
            return arr[self.pre_idx, self.post_idx]
        raise NetworkError(f"projection {self.name!r}: {label} has shape {arr.shape}; give a scalar "
                           f"or a ({self.pre.size}, {self.post.size}) matrix indexed [pre, post]")

    def weights(self, weight_bits: int) -> np.ndarray:
        """Weight mantissas, one per connection (in the order of pre_idx/post_idx)."""
        w = self._per_connection("weight", self._weight, 2)
        return check_range(f"projection {self.name!r}", "weight", w, *formats.signed_range(weight_bits))

    def delays(self, max_delay: int) -> np.ndarray:
        d = self._per_connection("delay", self._delay, 3)
        return check_range(f"projection {self.name!r}", "delay", d, 1, max_delay)

    def __repr__(self):
        return f"Projection({self.name!r}, {self.pre_idx.size} synapses)"


class Network:
    """A network of host inputs, CUBA-LIF populations and projections."""

    def __init__(self, name: str = "network"):
        self.name = check_name(f"network {name!r}", name)
        self.input_groups: list[Inputs] = []
        self.populations: list[Population] = []
        self.projections: list[Projection] = []

    def _unique(self, name):
        taken = {g.name for g in self.input_groups + self.populations}
        if isinstance(name, str) and name in taken:     # other names: the group refuses them
            raise NetworkError(f"network {self.name!r}: the name {name!r} is used twice")

    def inputs(self, name: str, size: int) -> Inputs:
        self._unique(name)
        group = Inputs(name, size)
        self.input_groups.append(group)
        return group

    def population(self, name: str, size: int, **params) -> Population:
        self._unique(name)
        pop = Population(name, size, **params)
        self.populations.append(pop)
        return pop

    def connect(self, pre, post, connector, weight=None, weight_exp: int = 0, delay=None,
                stdp: STDPRule | None = None, name: str | None = None) -> Projection:
        """Connect `pre` (Inputs or Population) to `post` (Population).

        weight: signed mantissa, scalar or (pre.size, post.size) matrix (FromList: per row)
        weight_exp: the projection's exponent; the delivered input is weight << weight_exp
        delay: 1 .. max_delay ticks, scalar or matrix (FromList: optional 4th column)
        """
        for group in (pre, post):
            if not any(group is g for g in self.input_groups + self.populations):
                raise NetworkError(f"network {self.name!r}: {group!r} does not belong to this network")
        if name is not None:
            check_name(f"network {self.name!r}: projection {name!r}", name)
        if name is not None and any(p.name == name for p in self.projections):
            raise NetworkError(f"network {self.name!r}: projection name {name!r} is used twice")
        if weight is None and not isinstance(connector, FromList):
            raise NetworkError(f"projection {name or pre.name + '->' + post.name!r}: give a weight")
        proj = Projection(self, len(self.projections), pre, post, connector, weight, weight_exp,
                          1 if delay is None and not isinstance(connector, FromList) else delay,
                          stdp, name)
        self.projections.append(proj)
        return proj

    def record(self, population: Population, neurons=None) -> None:
        """Mark neurons (all, or the given indices) as outputs: their spikes go to the host.
        A boolean mask is refused (numpy would read True as index 1): give np.nonzero(mask)[0]."""
        if not any(population is p for p in self.populations):
            raise NetworkError(f"network {self.name!r}: {population!r} is not one of its populations")
        owner = f"population {population.name!r}"
        if neurons is not None and as_array(owner, "recorded neurons", neurons).dtype.kind == "b":
            # numpy would take True as index 1: a mask read as indices records the wrong neurons
            raise NetworkError(f"{owner}: the recorded neurons are booleans; give their indices "
                               f"(np.nonzero(mask)[0] for a mask)")
        idx = slice(None) if neurons is None else check_range(
            owner, "recorded neuron index", neurons, 0, population.size - 1)
        population.recorded[idx] = True
