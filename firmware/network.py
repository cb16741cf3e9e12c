"""Describe a spiking network the way PyNN, Brian2 and Lava users expect.

    net = Network("demo")
    pixels = net.inputs("pixels", 64)
    exc = net.population("exc", 100, du=du_from_tau(5), dv=dv_from_tau(20), vth=200, refractory=2)
    net.connect(pixels, exc, FixedProbability(0.2, seed=1), weight=40, stdp=STDPRule())
    net.record(exc)

Every parameter is in hardware units (docs/spec.md); the helpers at the bottom convert from
physical time constants and float weights and report the quantization error. Each bad value
raises NetworkError naming the population or projection and the allowed range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import formats
from .errors import NetworkError


def _as_array(owner: str, name: str, values) -> np.ndarray:
    """`values` as a numpy array; NetworkError for a ragged nesting numpy cannot hold."""
    try:
        return np.asarray(values)
    except (ValueError, TypeError):
        raise NetworkError(f"{owner}: {name} is a ragged nesting of sequences; give a number or an "
                           f"array of one shape") from None


def _check_range(owner: str, name: str, values, lo: int, hi: int) -> np.ndarray:
    arr = _as_array(owner, name, values)
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


def _check_name(owner: str, name) -> str:
    if not isinstance(name, str) or not name:
        raise NetworkError(f"{owner}: the name must be a non-empty string")
    return name


def _check_size(owner: str, size) -> int:
    if not isinstance(size, (int, np.integer)) or isinstance(size, (bool, np.bool_)) or size < 1:
        raise NetworkError(f"{owner}: size = {size!r} must be a positive integer")
    return int(size)


def _check_real(owner: str, name: str, value, ok, rule: str) -> float:
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


class Inputs:
    """Host input axons: sources the host drives with spikes, tick by tick."""

    def __init__(self, name: str, size: int):
        self.name = _check_name(f"inputs {name!r}", name)
        self.size = _check_size(f"inputs {name!r}", size)

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
        self.name = _check_name(f"population {name!r}", name)
        self.size = _check_size(f"population {name!r}", size)
        unknown = set(params) - set(NEURON_PARAMETERS)
        if unknown:
            raise NetworkError(f"population {name!r}: unknown parameters {sorted(unknown)}; "
                               f"known: {sorted(NEURON_PARAMETERS)}")
        self.params = {}
        for key, (lo, hi, default) in NEURON_PARAMETERS.items():
            value = _check_range(f"population {name!r}", key, params.get(key, default), lo, hi)
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


class AllToAll:
    def __init__(self, allow_self_connections: bool = True):
        self.allow_self_connections = allow_self_connections

    def connections(self, n_pre, n_post, same_population):
        pre, post = np.divmod(np.arange(n_pre * n_post, dtype=np.int64), n_post)
        if same_population and not self.allow_self_connections:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre, post


class OneToOne:
    def connections(self, n_pre, n_post, same_population):
        if n_pre != n_post:
            raise ValueError(f"OneToOne needs equal sizes, got {n_pre} pre and {n_post} post")
        idx = np.arange(n_pre, dtype=np.int64)
        return idx, idx.copy()


class FixedProbability:
    """Each (pre, post) pair is connected with probability p, drawn from numpy's PCG64 with
    `seed`: the same seed gives the same connections on every machine."""

    def __init__(self, p: float, seed: int = 0, allow_self_connections: bool = True):
        p = _check_real("FixedProbability", "p", p, lambda x: 0 <= x <= 1, "is outside [0, 1]")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_)) or seed < 0:
            raise NetworkError(f"FixedProbability: seed = {seed!r} must be a non-negative integer")
        self.p, self.seed, self.allow_self_connections = p, int(seed), allow_self_connections

    def connections(self, n_pre, n_post, same_population):
        mask = np.random.default_rng(self.seed).random((n_pre, n_post)) < self.p
        if same_population and not self.allow_self_connections:
            np.fill_diagonal(mask, False)
        pre, post = np.nonzero(mask)
        return pre.astype(np.int64), post.astype(np.int64)


class FromList:
    """Explicit connections: rows of (pre, post, weight) or (pre, post, weight, delay)."""

    def __init__(self, connections):
        try:
            arr = np.asarray(connections)
        except (ValueError, TypeError):
            raise NetworkError("FromList: every row needs the same length: all (pre, post, weight) "
                               "or all (pre, post, weight, delay)") from None
        if arr.ndim != 2 or arr.shape[1] not in (3, 4):
            raise NetworkError(f"FromList takes rows of (pre, post, weight) or (pre, post, weight, delay); "
                               f"got {arr.ndim}-dimensional data of shape {arr.shape}")
        # Floats must be whole and inside int64 (a cast would wrap them); nothing else but integers.
        flat = arr.reshape(-1)
        if arr.dtype.kind == "f":
            bad = np.nonzero(~np.isfinite(flat) | (flat != np.round(flat)) | (np.abs(flat) >= 2.0**62))[0]
        elif arr.dtype.kind == "u":
            bad = np.nonzero(flat >= 2**62)[0]
        elif arr.dtype.kind == "O":
            bad = [k for k, v in enumerate(flat.tolist()) if isinstance(v, (bool, np.bool_))
                   or not isinstance(v, (int, np.integer)) or abs(v) >= 2**62][:1]
        else:
            bad = [] if arr.dtype.kind in "ib" else [0]
        if len(bad):
            row, column = divmod(int(bad[0]), arr.shape[1])
            value = repr(flat[bad[0]].item() if isinstance(flat[bad[0]], np.generic) else flat[bad[0]])
            raise NetworkError(f"FromList: row {row} has {value[:40]} as its "
                               f"{('pre', 'post', 'weight', 'delay')[column]}; pre, post, weight and delay "
                               f"must be integers (within +-2**62)")
        self.rows = arr.astype(np.int64)

    def connections(self, n_pre, n_post, same_population):
        return self.rows[:, 0].copy(), self.rows[:, 1].copy()


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
            if _check_range(owner, f"stdp.{name}", getattr(self, name), lo, hi).ndim:
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
        amps = {name: _check_real(owner, name, value, math.isfinite, "must be a finite number")
                for name, value in (("a_plus", a_plus), ("a_minus", a_minus))}
        pre_decay = _decay_from_tau(owner, "tau_plus", tau_plus, dt, 0)
        post_decay = _decay_from_tau(owner, "tau_minus", tau_minus, dt, 0)
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
        arr = _as_array(f"projection {self.name!r}", label, value)
        if arr.ndim == 0:
            return np.full(self.pre_idx.size, arr)
        if arr.shape == (self.pre.size, self.post.size):
            return arr[self.pre_idx, self.post_idx]
        raise NetworkError(f"projection {self.name!r}: {label} has shape {arr.shape}; give a scalar "
                           f"or a ({self.pre.size}, {self.post.size}) matrix indexed [pre, post]")

    def weights(self, weight_bits: int) -> np.ndarray:
        """Weight mantissas, one per connection (in the order of pre_idx/post_idx)."""
        w = self._per_connection("weight", self._weight, 2)
        return _check_range(f"projection {self.name!r}", "weight", w, *formats.signed_range(weight_bits))

    def delays(self, max_delay: int) -> np.ndarray:
        d = self._per_connection("delay", self._delay, 3)
        return _check_range(f"projection {self.name!r}", "delay", d, 1, max_delay)

    def __repr__(self):
        return f"Projection({self.name!r}, {self.pre_idx.size} synapses)"


class Network:
    """A network of host inputs, CUBA-LIF populations and projections."""

    def __init__(self, name: str = "network"):
        self.name = _check_name(f"network {name!r}", name)
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
            _check_name(f"network {self.name!r}: projection {name!r}", name)
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
        if neurons is not None and _as_array(owner, "recorded neurons", neurons).dtype.kind == "b":
            # numpy would take True as index 1: a mask read as indices records the wrong neurons
            raise NetworkError(f"{owner}: the recorded neurons are booleans; give their indices "
                               f"(np.nonzero(mask)[0] for a mask)")
        idx = slice(None) if neurons is None else _check_range(
            owner, "recorded neuron index", neurons, 0, population.size - 1)
        population.recorded[idx] = True


# --- Float helpers ---------------------------------------------------------------------------

# STDPRule.from_float refuses an amplitude that its 8-bit integer would miss by more than this.
FROM_FLOAT_PRECISION = 0.10


def _decay_from_tau(owner: str, name: str, tau, dt, offset: int) -> int:
    """The 12-bit decay nearest to exp(-dt/tau) for a factor (4096 - decay - offset) / 4096."""
    tau = _check_real(owner, name, tau, lambda x: x > 0, "must be positive: a number in (0, inf]")
    dt = _check_real(owner, "dt", dt, lambda x: 0 < x < math.inf, "must be positive and finite: a number in (0, inf)")
    d = round(formats.DECAY_UNITY * -math.expm1(-dt / tau)) - offset
    return int(min(formats.DECAY_UNITY - 1, max(0, d)))


def dv_from_tau(tau: float, dt: float = 1.0) -> int:
    """dv (or a trace decay) for a voltage time constant: v decays by (4096 - dv)/4096 per tick,
    nearest to exp(-dt/tau). tau = inf gives 0 (no leak). NetworkError unless tau is in
    (0, inf] and dt in (0, inf)."""
    return _decay_from_tau("dv_from_tau", "tau", tau, dt, formats.DV_OFFSET)


def du_from_tau(tau: float, dt: float = 1.0) -> int:
    """du for a synaptic-current time constant: u decays by (4096 - du - 1)/4096 per tick
    (Loihi's +1), nearest to exp(-dt/tau); tau -> 0 gives 4095 (current lasts one tick).
    NetworkError unless tau is in (0, inf] and dt in (0, inf)."""
    return _decay_from_tau("du_from_tau", "tau", tau, dt, formats.DU_OFFSET)


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
