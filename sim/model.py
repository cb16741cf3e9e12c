"""The golden model: runs an image tick by tick exactly as docs/spec.md §2 orders a tick.

    model = GoldenModel(image)
    result = model.run(100, inputs={3: [0, 5], 4: [1]})   # tick -> input axons
    result.times, result.neurons   # output spikes as events (absolute tick, neuron number)
    result.spikes            # the same as a dense bool raster [ticks, n_outputs] (columns = image.output_ids)
    model.state()            # u, v, ref, traces, weights, lfsr
    model.counters           # input_events, spikes, synaptic_events, plastic_updates, ...

Vectorized with numpy: per tick, a fixed number of array operations over the neurons, the
active sources' fan-out and the spiking neurons' plastic fan-in; no Python loop per neuron
or per synaptic event.
"""

from __future__ import annotations

import numpy as np

from firmware import formats as f
from firmware.image import Image
# What a run takes and gives lives in firmware.run (the host returns the same types); these
# names stay importable from here and from sim.
from firmware.run import (InputError, RasterTooLargeError, RunResult, SpikeMonitor, as_integers,  # noqa: F401
                          check_ticks, input_groups, normalize_inputs, tick_axons)
from firmware.tables import decode, projection_synapses, ranges_to_indices

from . import lfsr
from .neuron import lif_step, stochastic_round, trace_decay, trace_impulse, wrap_signed

COUNTERS = f.COUNTERS   # the model never overruns a tick or drops an event: those stay 0


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

    def _step_axons(self, input_axons) -> np.ndarray:
        """step()'s input axons as int64, checked: exactly integers, in range, ascending."""
        n_inputs = self.config.n_inputs
        axons = (np.zeros(0, np.int64) if input_axons is None
                 else as_integers(input_axons, "axon", n_inputs, f" at tick {self.tick}"))
        if np.any(np.diff(axons) <= 0):
            k = int(np.nonzero(np.diff(axons) <= 0)[0][0])
            raise InputError(f"input axons at tick {self.tick} must ascend, each at most once: "
                             f"{axons[k]} is followed by {axons[k + 1]}")
        return axons

    def step(self, input_axons=()) -> np.ndarray:
        """Advance one tick with the given input axons (ascending, each at most once); return
        the spiking neurons' numbers. Anything else raises InputError and changes nothing."""
        c, t = self.config, self.tables
        input_axons = self._step_axons(input_axons)
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
        """Run `ticks` ticks (0 .. formats.MAX_RUN_TICKS). `inputs` (see normalize_inputs) are
        relative to the first tick of this run; bad ones raise InputError before any tick runs.
        Returns the output spikes as events (with record_all, every neuron's too); nothing is
        kept per tick, so memory grows with the spikes, not the ticks."""
        ticks = check_ticks(ticks)
        times, axons = normalize_inputs(inputs, ticks, self.config.n_inputs)
        output = self.tables.output
        start = self.tick
        fired_at, fired = [], []                # ticks with spikes and their neurons
        for k, group in enumerate(input_groups(times, axons, ticks)):
            spiked = self.step(group)
            if not record_all:
                spiked = spiked[output[spiked]]
            if spiked.size:
                fired_at.append(k)
                fired.append(spiked)
        return self._result(start, ticks, np.array(fired_at, np.int64), fired, record_all)

    def _result(self, start: int, ticks: int, fired_at: np.ndarray, fired: list,
                record_all: bool) -> RunResult:
        """The RunResult of ticks whose spikes are `fired[k]` at relative tick `fired_at[k]`."""
        sizes = [a.size for a in fired]
        all_neurons = np.concatenate(fired).astype(np.int64) if fired else np.zeros(0, np.int64)
        all_times = np.repeat(fired_at, sizes) + start
        out = self.tables.output[all_neurons]
        outputs = np.nonzero(self.tables.output)[0]
        return RunResult(start_tick=start, ticks=ticks, output_ids=outputs, times=all_times[out],
                         neurons=all_neurons[out], all_times=all_times if record_all else None,
                         all_neurons=all_neurons if record_all else None,
                         n_neurons=self.config.n_neurons if record_all else 0)

    def state(self) -> dict[str, np.ndarray | int]:
        return {"tick": self.tick, "u": self.u.copy(), "v": self.v.copy(), "ref": self.ref.copy(),
                "x": self.x.copy(), "y": self.y.copy(), "weights": self.weights.copy(),
                "lfsr": self.lfsr_state, "acc": self.acc.copy()}

    def projection_weights(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pre, post, weight) of every synapse of a projection, with pre and post as indices
        into the projection's source group and target population."""
        found = projection_synapses(self.image, self.tables, name)
        order = np.lexsort((found.post, found.pre))
        return found.pre[order], found.post[order], self.weights[found.addr[order]].copy()
