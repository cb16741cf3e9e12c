"""The golden model: runs an image tick by tick exactly as docs/spec.md §2 orders a tick.

    model = GoldenModel(image)
    result = model.run(100, inputs={3: [0, 5], 4: [1]})   # tick -> input axons
    result.spikes            # bool [ticks, n_outputs], columns = image.output_ids
    model.state()            # u, v, ref, traces, weights, lfsr
    model.counters           # input_events, spikes, synaptic_events, plastic_updates, ...

Vectorized with numpy: per tick, a fixed number of array operations over the neurons, the
active sources' fan-out and the spiking neurons' plastic fan-in; no Python loop per neuron
or per synaptic event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware import formats as f
from firmware.errors import AxoniteError
from firmware.image import Image
from firmware.tables import decode, ranges_to_indices

from . import lfsr
from .neuron import lif_step, stochastic_round, trace_decay, trace_impulse, wrap_signed

COUNTERS = f.COUNTERS   # the model never overruns a tick or drops an event: those stay 0


class InputError(AxoniteError, ValueError):
    """Host input spikes that name a missing axon, a tick outside the run, or a repeat."""


def normalize_inputs(inputs, ticks: int, n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
    """Input spikes for a run of `ticks` ticks as (times, axons), sorted by time then axon.

    Accepted forms: None; a raster [T <= ticks, A <= n_inputs] of axons 0..A-1 (nonzero = spike); a pair of
    arrays (times, axons); a dict {tick: axons}; a sequence with one collection of axons per tick.
    """
    if inputs is None:
        times = axons = np.zeros(0, np.int64)
    elif isinstance(inputs, np.ndarray) and inputs.ndim == 2:
        if inputs.shape[0] > ticks or inputs.shape[1] > n_inputs:
            raise InputError(f"input raster has shape {inputs.shape}; expected at most "
                             f"({ticks}, {n_inputs}) for {ticks} ticks and {n_inputs} input axons")
        times, axons = np.nonzero(inputs)
    elif isinstance(inputs, tuple) and len(inputs) == 2:
        times, axons = (np.asarray(a, dtype=np.int64).reshape(-1) for a in inputs)
        if times.size != axons.size:
            raise InputError(f"input (times, axons) have different lengths {times.size} and {axons.size}")
    elif isinstance(inputs, dict):
        pairs = [(t, a) for t, group in inputs.items() for a in np.atleast_1d(group)]
        times = np.array([p[0] for p in pairs], dtype=np.int64)
        axons = np.array([p[1] for p in pairs], dtype=np.int64)
    else:
        groups = list(inputs)
        if len(groups) > ticks:
            raise InputError(f"inputs given for {len(groups)} ticks, the run has {ticks}")
        sizes = [np.atleast_1d(g).size for g in groups]
        times = np.repeat(np.arange(len(groups)), sizes).astype(np.int64)
        axons = (np.concatenate([np.atleast_1d(g) for g in groups]) if groups
                 else np.zeros(0)).astype(np.int64)
    times, axons = np.asarray(times, np.int64), np.asarray(axons, np.int64)
    if times.size:
        if times.min() < 0 or times.max() >= ticks:
            raise InputError(f"input spike at tick {times[(times < 0) | (times >= ticks)][0]}; "
                             f"the run has ticks 0 .. {ticks - 1}")
        if axons.min() < 0 or axons.max() >= n_inputs:
            raise InputError(f"input spike on axon {axons[(axons < 0) | (axons >= n_inputs)][0]}; "
                             f"the core has input axons 0 .. {n_inputs - 1}")
    order = np.lexsort((axons, times))
    times, axons = times[order], axons[order]
    repeat = np.nonzero((times[1:] == times[:-1]) & (axons[1:] == axons[:-1]))[0]
    if repeat.size:
        k = repeat[0]
        raise InputError(f"input axon {axons[k]} spikes twice at tick {times[k]}; "
                         f"an axon carries at most one spike per tick")
    return times, axons


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


@dataclass
class RunResult:
    """Output spikes of `ticks` ticks from `start_tick`: spikes[k, j] is True when output neuron
    output_ids[j] fired at tick start_tick + k. Every backend (model, emulator, board) returns it."""

    start_tick: int
    output_ids: np.ndarray       # neuron numbers of the output columns
    spikes: np.ndarray           # bool [ticks, len(output_ids)]
    all_spikes: np.ndarray | None = None  # bool [ticks, n_neurons] when run(record_all=True)

    @property
    def ticks(self) -> int:
        return self.spikes.shape[0]

    @property
    def monitor(self) -> SpikeMonitor:
        return SpikeMonitor(self.times, self.neurons)

    @staticmethod
    def concatenate(parts: list["RunResult"], output_ids, start_tick: int) -> "RunResult":
        """Consecutive results as one (start_tick is used when there are none)."""
        if not parts:
            return RunResult(start_tick, output_ids, np.zeros((0, len(output_ids)), bool))
        return RunResult(parts[0].start_tick, output_ids, np.concatenate([p.spikes for p in parts]))

    @property
    def times(self) -> np.ndarray:
        """Tick of each output spike (absolute), in time order."""
        return np.nonzero(self.spikes)[0] + self.start_tick

    @property
    def neurons(self) -> np.ndarray:
        """Neuron number of each output spike, matching `times`."""
        return self.output_ids[np.nonzero(self.spikes)[1]]


class GoldenModel:
    """Bit-exact reference of one core running an image."""

    def __init__(self, image: Image):
        self.image = image
        self.config = image.config
        self.tables = t = decode(image)
        proj = t.proj
        used = t.syn_projection >= 0
        pidx = np.maximum(t.syn_projection, 0)

        def per_synapse(field_name):
            return np.where(used, proj[field_name][pidx], 0) if proj[field_name].size else np.zeros_like(pidx)

        self._syn_exp = per_synapse("weight_exp")
        self._syn_plastic = per_synapse("plastic").astype(bool)
        self._syn_a_plus = per_synapse("a_plus")
        self._syn_a_minus = per_synapse("a_minus")
        self._syn_shift = per_synapse("lr_shift")
        self._syn_wmin = per_synapse("w_min")
        self._syn_wmax = per_synapse("w_max")
        self._fan_count = np.diff(t.fan_ptr)
        self._rev_count = np.diff(t.rev_ptr)
        self._mode = t.stdp["mode"]
        self.reset()

    def reset(self) -> None:
        """State to the reset values of spec §8: everything zero, weights as loaded, tick 0."""
        c = self.config
        self.tick = 0
        self.u = np.zeros(c.n_neurons, np.int64)
        self.v = np.zeros(c.n_neurons, np.int64)
        self.ref = np.zeros(c.n_neurons, np.int64)
        self.x = np.zeros(c.n_sources, np.int64)       # pre-trace per source
        self.y = np.zeros(c.n_neurons, np.int64)       # post-trace per neuron
        self.acc = np.zeros((c.max_delay, c.n_neurons), np.int64)
        self.weights = self.tables.syn_weight.copy()
        self.lfsr_state = self.tables.lfsr_seed
        self.counters = dict.fromkeys(COUNTERS, 0)

    def seed(self, value: int) -> None:
        if not 0 < value < (1 << f.LFSR_BITS):
            raise ValueError(f"LFSR seed {value} must be in [1, 2**32 - 1]")
        self.lfsr_state = int(value)

    # --- one tick ------------------------------------------------------------------------------

    def step(self, input_axons=()) -> np.ndarray:
        """Advance one tick with the given input axons (ascending, each at most once); return
        the spiking neurons' numbers. Anything else raises InputError and changes nothing."""
        c, t = self.config, self.tables
        input_axons = np.asarray(input_axons, dtype=np.int64).reshape(-1)
        if input_axons.size:
            if input_axons.min() < 0 or input_axons.max() >= c.n_inputs:
                bad = input_axons[(input_axons < 0) | (input_axons >= c.n_inputs)][0]
                raise InputError(f"input axon {bad} at tick {self.tick}; the core has input axons "
                                 f"0 .. {c.n_inputs - 1}")
            if np.any(np.diff(input_axons) <= 0):
                k = int(np.nonzero(np.diff(input_axons) <= 0)[0][0])
                raise InputError(f"input axons at tick {self.tick} must ascend, each at most once: "
                                 f"{input_axons[k]} is followed by {input_axons[k + 1]}")
        slot = self.tick % c.max_delay

        # Phase 1: neurons integrate the input that arrives in this tick.
        a_in = self.acc[slot].copy()
        self.acc[slot] = 0
        self.u, self.v, self.ref, spiked = lif_step(
            self.u, self.v, self.ref, a_in, t.du, t.dv, t.vth, t.bias, t.refractory)
        fired = np.nonzero(spiked)[0]

        # Phase 2: traces decay (they hold the value before this tick's impulses).
        self.x = trace_decay(self.x, t.stdp["pre_decay"])
        self.y = trace_decay(self.y, t.stdp["post_decay"])

        # Phase 3: route this tick's events, delivering each weight before its LTD update.
        sources = np.concatenate([input_axons, c.n_inputs + fired])
        syn = t.fanout[ranges_to_indices(t.fan_ptr[sources], self._fan_count[sources])]
        target = t.syn_target[syn]
        arrival = (self.tick + t.syn_delay[syn]) % c.max_delay
        # bincount sums in float64: exact while a tick delivers fewer than 2**37 weights.
        delivered = np.bincount(arrival * c.n_neurons + target,
                                weights=self.weights[syn] << self._syn_exp[syn],
                                minlength=c.max_delay * c.n_neurons)
        # Accumulators are 16-bit wrapping registers (spec §4): wrap as hardware does.
        self.acc = wrap_signed(self.acc + np.rint(delivered).astype(np.int64).reshape(self.acc.shape),
                               f.A_IN_BITS)

        # Phase 4: plasticity, LTD (pre events, routing order) then LTP (post spikes).
        ltd = syn[self._syn_plastic[syn]]
        rev = ranges_to_indices(t.rev_ptr[fired], self._rev_count[fired])
        ltp, ltp_src = t.rev_syn[rev], t.rev_src[rev]
        if ltd.size + ltp.size:
            draws, self.lfsr_state = lfsr.sequence(self.lfsr_state, ltd.size + ltp.size)
            self._update(ltd, self._syn_a_minus[ltd] * self.y[t.syn_target[ltd]], draws[:ltd.size])
            self._update(ltp, self._syn_a_plus[ltp] * self.x[ltp_src], draws[ltd.size:])

        # Phase 5: trace impulses of this tick's events.
        self.x[sources] = trace_impulse(self.x[sources], t.stdp["pre_impulse"], self._mode)
        self.y[fired] = trace_impulse(self.y[fired], t.stdp["post_impulse"], self._mode)

        k = self.counters
        k["ticks"] += 1
        k["input_events"] += input_axons.size
        k["spikes"] += fired.size
        k["output_spikes"] += int(np.count_nonzero(t.output[fired]))
        k["synaptic_events"] += syn.size
        k["plastic_updates"] += ltd.size + ltp.size
        self.tick += 1
        return fired

    def _update(self, syn, product, draws):
        dw = stochastic_round(product, self._syn_shift[syn], draws)
        self.weights[syn] = np.clip(self.weights[syn] + dw, self._syn_wmin[syn], self._syn_wmax[syn])

    # --- runs and read-back ------------------------------------------------------------------------

    def run(self, ticks: int, inputs=None, record_all: bool = False) -> RunResult:
        """Run `ticks` ticks. `inputs` (see normalize_inputs) are relative to the first tick
        of this run."""
        if not isinstance(ticks, (int, np.integer)) or ticks < 0:
            raise ValueError(f"ticks = {ticks!r} must be a non-negative integer")
        times, axons = normalize_inputs(inputs, ticks, self.config.n_inputs)
        bounds = np.searchsorted(times, np.arange(ticks + 1))
        outputs = np.nonzero(self.tables.output)[0]
        column = np.full(self.config.n_neurons, -1, np.int64)
        column[outputs] = np.arange(outputs.size)
        spikes = np.zeros((ticks, outputs.size), bool)
        everything = np.zeros((ticks, self.config.n_neurons), bool) if record_all else None
        start = self.tick
        for k in range(ticks):
            fired = self.step(axons[bounds[k]:bounds[k + 1]])
            cols = column[fired]
            spikes[k, cols[cols >= 0]] = True
            if record_all:
                everything[k, fired] = True
        return RunResult(start, outputs, spikes, everything)

    def state(self) -> dict[str, np.ndarray | int]:
        return {"tick": self.tick, "u": self.u.copy(), "v": self.v.copy(), "ref": self.ref.copy(),
                "x": self.x.copy(), "y": self.y.copy(), "weights": self.weights.copy(),
                "lfsr": self.lfsr_state, "acc": self.acc.copy()}

    def projection_weights(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pre, post, weight) of every synapse of a projection, with pre and post as indices
        into the projection's source group and target population."""
        sym = self.image.projection(name)      # SymbolError (a KeyError) if there is none
        t = self.tables
        addr = np.nonzero(t.syn_projection == sym["index"])[0]
        kind, pre = self.image.group(sym["pre"])
        base = pre["first"] + (0 if kind == "inputs" else self.config.n_inputs)
        post = self.image.group(sym["post"])[1]
        order = np.lexsort((t.syn_target[addr], t.syn_source[addr]))
        addr = addr[order]
        return t.syn_source[addr] - base, t.syn_target[addr] - post["first"], self.weights[addr].copy()
