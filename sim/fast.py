"""A compiled (numba) path of the golden model: the same image, the same tick, bit-exactly.

    from sim.fast import FastModel
    model = FastModel(image)          # same interface as GoldenModel
    result = model.run(2000, inputs)

GoldenModel (numpy) stays the reference; tests/test_fast_equals_reference.py holds the two
equal spike for spike, in state and in counters. FastModel subclasses GoldenModel and keeps
its state in the same attributes (u, v, ref, x, y, acc, weights, lfsr_state, counters, tick),
so state(), projection_weights(), seed() and reset() are inherited, and the two paths can be
mixed on one model.

The kernel runs whole runs in one call and follows docs/spec.md §2 per tick:
1. neurons (ascending, collecting F_t), 2. trace decay, 3+4a. routing, one source of E_t after
the other, each synapse delivering its weight and then taking its LTD update (a synapse is
routed at most once per tick, so its delivery still sees the weight of before phase 4),
4b. LTP over F_t ascending and each neuron's reverse entries, 5. trace impulses. LFSR draws are
taken one per update in exactly that order: all LTD, then all LTP.

Representation (not semantics): accumulators sum in 64 bits and are wrapped to 16 bits where
they are read (phase 1) and when the kernel returns; wrapping is modular, so this equals the
reference's wrap after every tick. Each source's fan-out is walked in runs of one projection
and delay; targets are uint16 when the core has at most 65,536 neurons; runs of at least
COMPACT_MIN_TICKS ticks use an int8 copy of the weights (weights are at most 8 bits wide),
written back when the run ends.

`step()` with input axons that are out of range, repeated or out of order (which run() never
passes: it checks its inputs) hands them to GoldenModel.step, which refuses them with InputError.

numba is optional (pip install axonite[fast]); compiled code is cached (cache=True) in
sim/__pycache__, or numba's user-wide cache when that directory is not writable.
"""

from __future__ import annotations

import numpy as np

from firmware import formats as f

from .model import COUNTERS, GoldenModel, RunResult, normalize_inputs

try:
    import numba
except ImportError as error:   # pragma: no cover - exercised by a subprocess test
    numba = None
    _NUMBA_ERROR = error
else:
    _NUMBA_ERROR = None

MISSING_NUMBA = ("sim.fast.FastModel needs the package 'numba' (numba==0.68.1), which is not "
                 "importable{detail}; install it with: pip install axonite[fast]  (or use "
                 "sim.GoldenModel, the numpy reference)")

# Positions in the kernel's counter array of the counters it counts (the others, which the
# model keeps at 0, are in COUNTERS too and stay 0).
_I_TICKS, _I_INPUTS, _I_SPIKES, _I_OUTPUTS, _I_SYN, _I_PLASTIC = (
    COUNTERS.index(name) for name in ("ticks", "input_events", "spikes", "output_spikes",
                                      "synaptic_events", "plastic_updates"))


def _kernel(ticks, tick0, in_bounds, in_axons,
            u, v, ref, x, y, acc, weights, lfsr_state,
            fu, fv, vth64, bias, refractory, output, spiking,
            fan_ptr, src_run, run_ptr, run_proj, run_delay, identity, fan_syn, fan_target,
            p_exp, p_plastic, p_a_plus, p_a_minus, p_shift, p_wmin, p_wmax,
            rev_ptr, rev_syn, rev_src, rev_proj,
            x_keep, y_keep, pre_impulse, post_impulse, nearest,
            n_inputs, counters, fired, column, spikes, record_all, everything):
    """Run `ticks` ticks in place; returns (lfsr_state, number of neurons fired in the last
    tick, listed in fired[:n])."""
    n = u.size
    n_sources = x.size
    max_delay = acc.shape[0]
    uv_limit = f.UV_LIMIT
    span = 2 * f.UV_LIMIT
    v_max = f.V_MAX
    a_half = 1 << (f.A_IN_BITS - 1)
    a_mask = (1 << f.A_IN_BITS) - 1
    dbits = f.DECAY_BITS
    act = f.ACT_SHIFT
    tmax = f.TRACE_MAX
    taps = f.LFSR_TAPS
    n_fired = 0
    for k in range(ticks):
        tick = tick0 + k
        slot = tick % max_delay

        # Phase 1: neurons (branch-free, then the spiking ones collected in ascending order).
        a_row = acc[slot]
        for i in range(n):
            a = ((a_row[i] + a_half) & a_mask) - a_half
            a_row[i] = 0
            ui = u[i]
            du_ = (abs(ui) * fu[i]) >> dbits
            ui = (du_ if ui >= 0 else -du_) + (a << act)
            ui = ui - span if ui > uv_limit else ui
            ui = ui + span if ui <= -uv_limit else ui
            u[i] = ui
            vi = v[i]
            dv_ = (abs(vi) * fv[i]) >> dbits
            vi = (dv_ if vi >= 0 else -dv_) + ui + bias[i]
            vi = min(max(vi, -v_max), v_max)
            r = ref[i]
            spike = (r == 0) & (vi > vth64[i])
            v[i] = 0 if (r > 0) | spike else vi
            ref[i] = r - 1 if r > 0 else (refractory[i] if spike else 0)
            spiking[i] = spike
        n_fired = 0
        for i in range(n):
            if spiking[i]:
                fired[n_fired] = i
                n_fired += 1

        # Phase 2: trace decay.
        for s in range(n_sources):
            x[s] = (x[s] * x_keep) >> dbits
        for i in range(n):
            y[i] = (y[i] * y_keep) >> dbits

        # Phases 3 and 4a: routing, each plastic synapse's LTD right after its delivery.
        first_in, last_in = in_bounds[k], in_bounds[k + 1]
        n_in = last_in - first_in
        n_syn = 0
        n_upd = 0
        for e in range(n_in + n_fired):
            src = in_axons[first_in + e] if e < n_in else n_inputs + fired[e - n_in]
            for g in range(src_run[src], src_run[src + 1]):     # runs: same projection, delay
                q0, q1 = run_ptr[g], run_ptr[g + 1]
                proj = run_proj[g]
                arrival = slot + run_delay[g]                   # delays are 1 .. max_delay
                row = acc[arrival - max_delay if arrival >= max_delay else arrival]
                exp = p_exp[proj]
                if not p_plastic[proj]:
                    if identity:
                        for q in range(q0, q1):
                            row[fan_target[q]] += np.int64(weights[q]) << exp
                    else:
                        for q in range(q0, q1):
                            row[fan_target[q]] += np.int64(weights[fan_syn[q]]) << exp
                else:
                    shift = p_shift[proj]
                    mask = (1 << shift) - 1
                    a_minus, w_min, w_max = p_a_minus[proj], p_wmin[proj], p_wmax[proj]
                    for q in range(q0, q1):
                        syn = q if identity else fan_syn[q]
                        tgt = fan_target[q]
                        w = np.int64(weights[syn])
                        row[tgt] += w << exp
                        lfsr_state = ((lfsr_state >> 1) ^ taps) if lfsr_state & 1 else (lfsr_state >> 1)
                        w += (a_minus * y[tgt] + (lfsr_state & mask)) >> shift
                        weights[syn] = min(max(w, w_min), w_max)
                    n_upd += q1 - q0
            n_syn += fan_ptr[src + 1] - fan_ptr[src]

        # Phase 4b: LTP on the plastic fan-in of every neuron that fired.
        for q in range(n_fired):
            j = fired[q]
            for r in range(rev_ptr[j], rev_ptr[j + 1]):
                syn = rev_syn[r]
                proj = rev_proj[r]
                lfsr_state = ((lfsr_state >> 1) ^ taps) if lfsr_state & 1 else (lfsr_state >> 1)
                shift = p_shift[proj]
                w = np.int64(weights[syn]) + ((p_a_plus[proj] * x[rev_src[r]]
                                     + (lfsr_state & ((1 << shift) - 1))) >> shift)
                weights[syn] = min(max(w, p_wmin[proj]), p_wmax[proj])
            n_upd += rev_ptr[j + 1] - rev_ptr[j]

        # Phase 5: trace impulses; outputs and counters.
        for e in range(n_in):
            s = in_axons[first_in + e]
            x[s] = pre_impulse if nearest else min(x[s] + pre_impulse, tmax)
        n_out = 0
        for q in range(n_fired):
            j = fired[q]
            s = n_inputs + j
            x[s] = pre_impulse if nearest else min(x[s] + pre_impulse, tmax)
            y[j] = post_impulse if nearest else min(y[j] + post_impulse, tmax)
            if output[j]:
                n_out += 1
                spikes[k, column[j]] = True
            if record_all:
                everything[k, j] = True
        counters[_I_TICKS] += 1
        counters[_I_INPUTS] += n_in
        counters[_I_SPIKES] += n_fired
        counters[_I_OUTPUTS] += n_out
        counters[_I_SYN] += n_syn
        counters[_I_PLASTIC] += n_upd
    # Accumulators summed in 64 bits; wrapping is modular, so wrapping them once here (and at
    # every read in phase 1) leaves the values of the reference's wrap at every tick.
    for d in range(max_delay):
        for i in range(n):
            acc[d, i] = ((acc[d, i] + a_half) & a_mask) - a_half
    return lfsr_state, n_fired


_compiled = None


def _get_kernel():
    global _compiled
    if _compiled is None:
        _compiled = numba.njit(cache=True, nogil=True)(_kernel)
    return _compiled


def _runs(fan_ptr, proj, delay) -> dict:
    """Split each source's fan-out (in routing order) into runs of consecutive synapses of the
    same projection and delay (the compiler's segments, merged across windows)."""
    n_fan = proj.size
    src_start = np.zeros(n_fan, bool)
    src_start[fan_ptr[:-1][np.diff(fan_ptr) > 0]] = True
    start = src_start.copy()
    start[1:] |= (proj[1:] != proj[:-1]) | (delay[1:] != delay[:-1])
    first = np.nonzero(start)[0]
    runs_before = np.concatenate([[0], np.cumsum(start)])     # runs starting before position q
    return dict(src_run=_i64(runs_before[fan_ptr]),
                run_ptr=_i64(np.concatenate([first, [n_fan]])),
                run_proj=np.ascontiguousarray(proj[first], dtype=np.int32),
                run_delay=np.ascontiguousarray(delay[first], dtype=np.int32))


def _i32(a) -> np.ndarray:
    a = np.asarray(a)
    if a.size and (a.min() < -(1 << 31) or a.max() >= 1 << 31):
        raise ValueError(f"a neuron parameter ({a.min()} .. {a.max()}) does not fit 32 bits")
    return np.ascontiguousarray(a, dtype=np.int32)


def _i64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


class FastModel(GoldenModel):
    """GoldenModel with run() and step() compiled by numba; bit-exact with the numpy path."""

    COMPACT_MIN_TICKS = 32     # runs at least this long use int8 weights inside the kernel

    def __init__(self, image):
        if numba is None:
            raise ImportError(MISSING_NUMBA.format(detail=f" ({_NUMBA_ERROR})"), name="numba")
        super().__init__(image)
        t, c = self.tables, self.config
        if max(c.n_synapses, c.n_sources) >= 2**31:
            raise ValueError(f"FastModel indexes synapses and sources with 32 bits; this core has "
                             f"{c.n_synapses} synapses and {c.n_sources} sources (limit 2**31 - 1)")
        self._kernel = _get_kernel()
        proj = t.proj
        n_proj = proj["weight_exp"].size

        def per_projection(name, dtype=np.int64):
            return np.ascontiguousarray(proj[name] if n_proj else np.zeros(1), dtype=dtype)

        fan_syn = t.fanout.astype(np.int32)
        syn_proj = np.maximum(t.syn_projection, 0)
        self._static = dict(
            # per-neuron parameters as int32 (they are at most 24 bits wide): less to stream
            fu=_i32(f.DECAY_UNITY - (t.du + f.DU_OFFSET)), fv=_i32(f.DECAY_UNITY - (t.dv + f.DV_OFFSET)),
            vth64=_i32(t.vth << f.VTH_SHIFT), bias=_i32(t.bias), refractory=_i32(t.refractory),
            output=np.ascontiguousarray(t.output, dtype=np.bool_),
            spiking=np.zeros(c.n_neurons, np.bool_),
            fan_ptr=_i64(t.fan_ptr), identity=bool(np.array_equal(t.fanout, np.arange(t.fanout.size))),
            fan_syn=fan_syn, fan_target=t.syn_target[t.fanout].astype(np.uint16 if c.n_neurons <= 1 << 16 else np.int32),
            **_runs(t.fan_ptr, t.syn_projection[t.fanout], t.syn_delay[t.fanout]),
            p_exp=per_projection("weight_exp"), p_plastic=per_projection("plastic", np.bool_),
            p_a_plus=per_projection("a_plus"), p_a_minus=per_projection("a_minus"),
            p_shift=per_projection("lr_shift"), p_wmin=per_projection("w_min"),
            p_wmax=per_projection("w_max"),
            rev_ptr=_i64(t.rev_ptr), rev_syn=t.rev_syn.astype(np.int32),
            rev_src=t.rev_src.astype(np.int32), rev_proj=syn_proj[t.rev_syn].astype(np.int32),
            x_keep=int(f.DECAY_UNITY - t.stdp["pre_decay"]),
            y_keep=int(f.DECAY_UNITY - t.stdp["post_decay"]),
            pre_impulse=int(t.stdp["pre_impulse"]), post_impulse=int(t.stdp["post_impulse"]),
            nearest=bool(self._mode == f.TRACE_MODE_NEAREST), n_inputs=int(c.n_inputs),
        )
        self._fired = np.zeros(c.n_neurons, np.int64)
        self._plastic = bool(self._syn_plastic.any())
        self._outputs = np.nonzero(t.output)[0]
        self._column = np.full(c.n_neurons, -1, np.int64)
        self._column[self._outputs] = np.arange(self._outputs.size)

    def _run_kernel(self, ticks, bounds, axons, column, spikes, record_all, everything):
        # The numpy path may have replaced the state arrays; hand the kernel int64 C arrays.
        for name in ("u", "v", "ref", "x", "y", "acc", "weights"):
            setattr(self, name, _i64(getattr(self, name)))
        weights = self.weights
        # Runs of many ticks work on an int8 copy of the weights (they are weight_bits <= 8
        # wide; the copy keeps the random LTP accesses in cache) and write it back after.
        compact = (ticks >= self.COMPACT_MIN_TICKS and weights.size
                   and weights.min() >= -128 and weights.max() <= 127)
        if compact:
            weights = weights.astype(np.int8)
        counters = np.zeros(len(COUNTERS), np.int64)
        lfsr_state, n_fired = self._kernel(
            int(ticks), int(self.tick), bounds, axons,
            self.u, self.v, self.ref, self.x, self.y, self.acc, weights, int(self.lfsr_state),
            counters=counters, fired=self._fired, column=column, spikes=spikes,
            record_all=bool(record_all), everything=everything, **self._static)
        if compact and self._plastic:
            np.copyto(self.weights, weights)
        self.lfsr_state = int(lfsr_state)
        for name, value in zip(COUNTERS, counters.tolist()):
            self.counters[name] += value
        self.tick += int(ticks)
        return n_fired

    def step(self, input_axons=()) -> np.ndarray:
        try:
            axons = np.asarray(input_axons, dtype=np.int64)
        except (TypeError, ValueError):
            return super().step(input_axons)
        if axons.ndim != 1 or (axons.size and (
                axons.min() < 0 or axons.max() >= self.config.n_inputs
                or np.any(np.diff(axons) <= 0))):
            return super().step(input_axons)   # the reference refuses it with InputError
        n = self.config.n_neurons
        n_fired = self._run_kernel(1, np.array([0, axons.size], np.int64), _i64(axons),
                                   self._column, np.zeros((1, self._outputs.size), bool), False,
                                   np.zeros((0, n), bool))
        return self._fired[:n_fired].copy()

    def run(self, ticks: int, inputs=None, record_all: bool = False) -> RunResult:
        if not isinstance(ticks, (int, np.integer)) or ticks < 0:
            raise ValueError(f"ticks = {ticks!r} must be a non-negative integer")
        times, axons = normalize_inputs(inputs, ticks, self.config.n_inputs)
        bounds = np.searchsorted(times, np.arange(ticks + 1)).astype(np.int64)
        spikes = np.zeros((ticks, self._outputs.size), bool)
        everything = np.zeros((ticks if record_all else 0, self.config.n_neurons), bool)
        start = self.tick
        self._run_kernel(ticks, bounds, _i64(axons), self._column, spikes, record_all, everything)
        return RunResult(start, self._outputs.copy(), spikes, everything if record_all else None)


__all__ = ["FastModel", "MISSING_NUMBA"]
