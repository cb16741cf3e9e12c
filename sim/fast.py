"""A compiled (numba) path of the golden model: the same image, the same tick, bit-exactly.

    from sim.fast import FastModel
    model = FastModel(image)          # same interface as GoldenModel
    result = model.run(2000, inputs)

GoldenModel (numpy) stays the reference; tests/sim/test_fast_equals_reference.py holds the two
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
written back when the run ends. Input comes as the ticks that have some (not a row per tick);
output spikes are appended to event buffers that start at EVENTS_START spikes and double when
a tick might not fit (the kernel returns, the buffers grow, the kernel goes on): memory grows
with the spikes, not the ticks.

run() and step() check their inputs as GoldenModel's do (firmware.run's checks:
InputError before any tick runs).

numba is optional (pip install axonite[fast]); compiled code is cached (cache=True) in
sim/__pycache__, or numba's user-wide cache when that directory is not writable.
"""

from __future__ import annotations

import numpy as np

from firmware import formats as f
from firmware.run import RunResult, check_ticks, normalize_inputs

from .model import COUNTERS, GoldenModel

try:
    import numba
except ImportError as error:   # pragma: no cover - exercised by a subprocess test
    numba = None
    _NUMBA_ERROR = error
else:
    _NUMBA_ERROR = None

EVENTS_START = 4096        # a run's event buffers start at this many spikes (or 2 x neurons) and double
_ZERO = np.zeros(1, np.int64)

MISSING_NUMBA = ("sim.fast.FastModel needs the package 'numba' (numba==0.68.1), which is not "
                 "importable{detail}; install it with: pip install axonite[fast]  (or use "
                 "sim.GoldenModel, the numpy reference)")

# Positions in the kernel's counter array of the counters it counts (the others, which the
# model keeps at 0, are in COUNTERS too and stay 0).
_I_TICKS, _I_INPUTS, _I_SPIKES, _I_OUTPUTS, _I_SYN, _I_PLASTIC = (
    COUNTERS.index(name) for name in ("ticks", "input_events", "spikes", "output_spikes",
                                      "synaptic_events", "plastic_updates"))


def _kernel(ticks, done, next_in, tick0, in_ticks, in_ptr, in_axons,
            u, v, ref, x, y, acc, weights, lfsr_state,
            fu, fv, vth64, bias, refractory, output, n_outputs, spiking,
            fan_ptr, src_run, run_ptr, run_proj, run_delay, identity, fan_syn, fan_target,
            p_exp, p_plastic, p_a_plus, p_a_minus, p_shift, p_wmin, p_wmax,
            rev_ptr, rev_syn, rev_src, rev_proj,
            x_keep, y_keep, pre_impulse, post_impulse, nearest,
            n_inputs, counters, fired, out_times, out_neurons, n_events,
            record_all, all_times, all_neurons, n_all):
    """Run the ticks done .. ticks-1 of a run that started at tick `tick0`, in place, until they
    are done or an event buffer may not hold one more tick's spikes. Input: the ticks with input
    in_ticks[next_in:] (ascending, relative to tick0), tick in_ticks[h] with in_axons[in_ptr[h]:
    in_ptr[h + 1]]. Output spikes are appended to out_times/out_neurons from n_events (relative
    tick, neuron), every spike with record_all to all_times/all_neurons from n_all. Returns
    (lfsr_state, number of neurons fired in the last tick run (listed in fired[:n]), ticks done,
    next_in, n_events, n_all)."""
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
    for k in range(done, ticks):
        if n_events + n_outputs > out_times.size or (record_all and n_all + n > all_times.size):
            break                                               # the caller grows the buffers
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
        first_in = last_in = 0
        if next_in < in_ticks.size and in_ticks[next_in] == k:
            first_in, last_in = in_ptr[next_in], in_ptr[next_in + 1]
            next_in += 1
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
                out_times[n_events] = k
                out_neurons[n_events] = j
                n_events += 1
            if record_all:
                all_times[n_all] = k
                all_neurons[n_all] = j
                n_all += 1
        counters[_I_TICKS] += 1
        counters[_I_INPUTS] += n_in
        counters[_I_SPIKES] += n_fired
        counters[_I_OUTPUTS] += n_out
        counters[_I_SYN] += n_syn
        counters[_I_PLASTIC] += n_upd
        done = k + 1
    # Accumulators summed in 64 bits; wrapping is modular, so wrapping them once here (and at
    # every read in phase 1) leaves the values of the reference's wrap at every tick.
    for d in range(max_delay):
        for i in range(n):
            acc[d, i] = ((acc[d, i] + a_half) & a_mask) - a_half
    return lfsr_state, n_fired, done, next_in, n_events, n_all


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
            output=np.ascontiguousarray(t.output, dtype=np.bool_), n_outputs=int(np.count_nonzero(t.output)),
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
        # step()'s event buffers: one tick's output spikes at most
        self._step_events = (np.zeros(self._outputs.size, np.int64), np.zeros(self._outputs.size, np.int64))

    def _run_kernel(self, ticks, in_ticks, in_ptr, axons, record_all, events=None):
        """Run `ticks` ticks from self.tick. Returns (number fired in the last tick, output
        events (relative ticks, neurons), every neuron's events or None). `events`: buffers
        for the output events that hold one tick's; without, they start small and double as
        the kernel fills them, so memory follows the spikes."""
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
        n = self.config.n_neurons
        size = max(EVENTS_START, 2 * n)
        out = list(events) if events is not None else [np.zeros(size, np.int64), np.zeros(size, np.int64)]
        every = [np.zeros(size if record_all else 0, np.int64), np.zeros(size if record_all else 0, np.int64)]
        done = next_in = n_events = n_all = 0
        lfsr_state = int(self.lfsr_state)
        while True:
            lfsr_state, n_fired, done, next_in, n_events, n_all = self._kernel(
                int(ticks), done, next_in, int(self.tick), in_ticks, in_ptr, axons,
                self.u, self.v, self.ref, self.x, self.y, self.acc, weights, lfsr_state,
                counters=counters, fired=self._fired, out_times=out[0], out_neurons=out[1],
                n_events=n_events, record_all=bool(record_all), all_times=every[0],
                all_neurons=every[1], n_all=n_all, **self._static)
            if done == ticks:
                break
            # A buffer is full (it may not hold one more tick): double it, keeping what it holds.
            for buffers, used, per_tick in ((out, n_events, self._outputs.size), (every, n_all, n)):
                if (buffers is out or record_all) and buffers[0].size - used < per_tick:
                    for i, b in enumerate(buffers):
                        buffers[i] = np.concatenate([b[:used], np.zeros(max(b.size, n), np.int64)])
        if compact and self._plastic:
            np.copyto(self.weights, weights)
        self.lfsr_state = int(lfsr_state)
        for name, value in zip(COUNTERS, counters.tolist()):
            self.counters[name] += value
        self.tick += int(ticks)
        return (n_fired, (out[0][:n_events], out[1][:n_events]),
                (every[0][:n_all], every[1][:n_all]) if record_all else None)

    def step(self, input_axons=()) -> np.ndarray:
        axons = self._step_axons(input_axons)          # the reference's checks, InputError
        n_fired, _, _ = self._run_kernel(1, _ZERO, np.array([0, axons.size], np.int64), axons,
                                         False, self._step_events)
        return self._fired[:n_fired].copy()

    def run(self, ticks: int, inputs=None, record_all: bool = False) -> RunResult:
        ticks = check_ticks(ticks)
        times, axons = normalize_inputs(inputs, ticks, self.config.n_inputs)
        in_ticks, first = np.unique(times, return_index=True)
        start = self.tick
        _, (out_t, out_n), every = self._run_kernel(ticks, _i64(in_ticks), _i64(np.append(first, times.size)),
                                                    _i64(axons), record_all)
        return RunResult(start_tick=start, ticks=ticks, output_ids=self._outputs.copy(),
                         times=out_t + start, neurons=out_n.copy(),
                         all_times=every[0] + start if record_all else None,
                         all_neurons=every[1].copy() if record_all else None,
                         n_neurons=self.config.n_neurons if record_all else 0)


__all__ = ["FastModel", "MISSING_NUMBA"]
