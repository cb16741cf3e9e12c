"""The golden model of a network on several cores (docs/spec.md §12): one GoldenModel (or
FastModel) per core of a firmware.MultiImage, in lock-step, exchanging spikes through the
routing tables.

    model = MultiCoreModel(compile_network(net, config, cores=4))   # fast=True: FastModel cores
    result = model.run(100, {0: [1, 2]})        # global input axons; spikes of global neurons
    model.projection_weights("plastic")         # (pre, post, weight) as on one core

Tick t, in every core: the core runs tick t (§2) with its input axons of tick t, which are
the replicas of the host's input axons of tick t and the remote axons of the spikes that other
cores' neurons fired in tick t - 1 (their routing tables name the destination core and remote
axon), in ascending order. Then the barrier: the spikes of tick t that cross cores are handed
to their destinations for tick t + 1. Spikes fired in the last tick of a run are kept and
delivered in the first tick of the next run, as a device's cores keep them.

Counters: `counters` are the network's, as one core counts them: ticks, host input spikes
(counted once, however many cores hold a replica), spikes, output spikes, deliveries and
plastic updates summed over the cores (a cut synapse delivers in the tick after its spike, so
the deliveries of spikes still in flight at the end of a run count in the next run);
`core_counters()` are each core's own (its input_events include remote events).
"""

from __future__ import annotations

import numpy as np

from firmware.errors import AxoniteError
from firmware.multicore import MultiImage, deliver, network_counters, route_packets
from firmware.run import InputError, RunResult, as_integers, check_ticks, input_groups, normalize_inputs

from .model import COUNTERS, GoldenModel


_NONE = np.zeros(0, np.int64)
_NONE.flags.writeable = False
_SHORT = 64               # groups up to this long are taken in Python (numpy's calls cost more)


def take_group(host, remote, n_inputs: int) -> tuple[np.ndarray, int]:
    """A core's input axons of a tick as its InputStage takes them (spec §5.1, §12.7): the
    host's axons in the order given, then its remote axons ascending, each once; an axon out of
    range (not below `n_inputs`) or not above the previous one taken is dropped. (the axons
    taken, ascending; how many were dropped)"""
    if not len(remote) and not len(host):
        return _NONE, 0
    if len(host) + len(remote) <= _SHORT:
        seq = list(host) + (sorted(set(np.asarray(remote).tolist())) if len(remote) else [])
        kept, last = [], -1
        for axon in seq:
            if last < axon < n_inputs:
                kept.append(axon)
                last = axon
        return np.array(kept, np.int64), len(seq) - len(kept)
    seq = np.concatenate([np.asarray(host, np.int64).reshape(-1), np.unique(np.asarray(remote, np.int64))])
    ok = (seq >= 0) & (seq < n_inputs)
    highest = np.maximum.accumulate(np.where(ok, seq, -1))
    keep = ok & (seq > np.concatenate([[-1], highest[:-1]]))
    return seq[keep], int(seq.size - np.count_nonzero(keep))


def lockstep(cores, routes, inputs, pending) -> tuple[list, list, list]:
    """One tick of core models in lock-step (spec §12.2, §12.3): core c runs with its input
    axons `inputs[c]` and the remote axons `pending[c]` that the tick before sent it, as its
    InputStage takes them (take_group); then the barrier: the spikes of every core go through
    its routing table `routes[c]` (MultiImage.routes) to their destinations' input of the next
    tick. Returns (the neurons each core fired, in its own numbering; the next tick's
    `pending`; the axons each core dropped)."""
    fired, packets, dropped = [], [], []
    for c, core in enumerate(cores):
        axons, lost = take_group(inputs[c], pending[c], core.config.n_inputs)
        spiked = core.step(axons)
        fired.append(spiked)
        dropped.append(lost)
        if spiked.size:
            packets.append(route_packets(routes[c], spiked))
    return fired, deliver(packets, len(cores)), dropped


class MultiCoreModel:
    """K core models of a MultiImage in lock-step; the same run()/RunResult API as GoldenModel,
    in the network's global numbering."""

    def __init__(self, multi: MultiImage, fast: bool = False):
        if not isinstance(multi, MultiImage):
            raise AxoniteError(f"MultiCoreModel runs a firmware.MultiImage, not a {type(multi).__name__} "
                               f"(run an Image with GoldenModel)")
        self.image = multi
        if fast:
            from .fast import FastModel
            self.cores = [FastModel(image) for image in multi.images]
        else:
            self.cores = [GoldenModel(image) for image in multi.images]
        k = multi.cores
        # per core: its neurons' global numbers, and the CSR of its input replicas by global axon
        self._global = [multi.global_neurons(c) for c in range(k)]
        self._routes = [multi.routes(c) for c in range(k)]
        self._outputs = multi.output_ids
        self._is_output = np.zeros(multi.n_neurons, bool)
        self._is_output[self._outputs] = True
        self.reset()

    @property
    def config(self):
        return self.image.config

    def reset(self) -> None:
        """Every core to its reset state (spec §8); no spike in flight; tick 0."""
        for core in self.cores:
            core.reset()
        self.tick = 0
        self._pending = [np.zeros(0, np.int64) for _ in self.cores]
        self.counters = dict.fromkeys(COUNTERS, 0)

    def seed(self, value: int) -> None:
        """Seed every core's LFSR (as compile_network seeds them all with one value)."""
        for core in self.cores:
            core.seed(value)

    def step(self, input_axons=()) -> np.ndarray:
        """Advance one tick with the given global input axons (ascending, each at most once);
        return the global numbers of the neurons that fired, ascending. InputError as
        GoldenModel.step, before anything changes."""
        axons = self._check(() if input_axons is None else input_axons)
        replica_core, replica_axon = self.image.replicas(axons)
        inputs = [replica_axon[replica_core == c] for c in range(len(self.cores))]
        spiked, self._pending, dropped = lockstep(self.cores, self._routes, inputs, self._pending)
        for core, n in zip(self.cores, dropped):       # (none from a MultiImage's maps)
            core.counters["dropped"] += n
        out = np.sort(np.concatenate([self._global[c][s] for c, s in enumerate(spiked)]))
        self._input_events += axons.size
        self.tick += 1
        return out

    def _check(self, axons) -> np.ndarray:
        arr = as_integers(axons, "axon", self.image.n_inputs, f" at tick {self.tick}")
        if np.any(np.diff(arr) <= 0):
            raise InputError(f"input axons at tick {self.tick} must ascend, each at most once")
        return arr

    def core_counters(self) -> list[dict]:
        """Each core's own counters (spec §7), as its device would report them."""
        return [dict(core.counters) for core in self.cores]

    def run(self, ticks: int, inputs=None, record_all: bool = False) -> RunResult:
        """Run `ticks` ticks with global input axons (the forms of GoldenModel.run); the result
        names global neurons (output_ids: the network's recorded neurons, ascending)."""
        ticks = check_ticks(ticks)
        times, axons = normalize_inputs(inputs, ticks, self.image.n_inputs)
        start = self.tick
        fired_at, fired = [], []
        for k, group in enumerate(input_groups(times, axons, ticks)):
            spiked = self.step(group)
            if not record_all:
                spiked = spiked[self._is_output[spiked]]
            if spiked.size:
                fired_at.append(k)
                fired.append(spiked)
        sizes = [a.size for a in fired]
        neurons = np.concatenate(fired) if fired else np.zeros(0, np.int64)
        times = np.repeat(np.array(fired_at, np.int64), sizes) + start
        out = self._is_output[neurons]
        return RunResult(start_tick=start, ticks=ticks, output_ids=self._outputs.copy(),
                         times=times[out], neurons=neurons[out],
                         all_times=times if record_all else None,
                         all_neurons=neurons if record_all else None,
                         n_neurons=self.image.n_neurons if record_all else 0)

    @property
    def counters(self) -> dict:
        return network_counters(self.core_counters(), self._input_events)

    @counters.setter
    def counters(self, values: dict) -> None:
        """Setting them (to zeros) clears the network's and every core's counters."""
        self._input_events = int(values.get("input_events", 0))
        for core in self.cores:
            core.counters = dict.fromkeys(COUNTERS, 0)

    def projection_weights(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pre, post, weight) of every synapse of projection `name`, pre and post as indices
        into its source group and target population, ordered by (pre, post): what
        GoldenModel.projection_weights gives for the network on one core."""
        m = self.image
        sym = m.projection(name)
        kind, pre = m.group(sym["pre"])
        base = pre["first"] + (0 if kind == "inputs" else m.n_inputs)
        post_first = m.group(sym["post"])[1]["first"]
        parts = []
        for c, local_name in sym["parts"]:
            core = self.cores[c]
            index = core.image.projection(local_name)["index"]
            t = core.tables
            addr = np.nonzero(t.syn_projection == index)[0]
            sources = m.global_sources(c)[t.syn_source[addr]]
            targets = self._global[c][t.syn_target[addr]]
            parts.append((sources - base, targets - post_first, core.weights[addr]))
        pre_i, post_i, w = (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, np.int64)
                            for i in range(3))
        order = np.lexsort((post_i, pre_i))
        return pre_i[order], post_i[order], w[order].copy()

    def state(self) -> dict:
        """Global u, v, ref, y per global neuron; each core's own state under "cores"."""
        m = self.image
        out = {"tick": self.tick, "cores": [core.state() for core in self.cores]}
        for name in ("u", "v", "ref", "y"):
            values = np.zeros(m.n_neurons, np.int64)
            for c, core in enumerate(self.cores):
                on = m.neuron_core == c
                values[on] = getattr(core, name)[m.neuron_local[on]]
            out[name] = values
        return out


__all__ = ["MultiCoreModel"]
