"""A network on several cores, seen from the host (docs/spec.md §12): the maps between a
firmware.MultiImage's global numbering and its cores', shared by host.Cluster (a core per
device), a device of K cores (host/link_device.py) and the golden model of several cores
(Device.open("model") with a MultiImage).

    placement = DevicePlacement(multi, cores)       # a MultiImage on a device of `cores` cores
    placement.inputs(times, axons)                  # global input spikes -> INPUT's device axons
    placement.result(block)                         # a run's device neurons -> global neurons
    gather_weights(multi, "a->b", part)             # a projection's [pre, post] matrix from its parts
    gather_state(multi, "v", per_core)              # a state array in global numbering
    scatter_weights(multi, "a->b", matrix, tables)  # a matrix checked, then split into its parts
"""

from __future__ import annotations

import numpy as np

from firmware import formats
from firmware import protocol as P
from firmware.multicore import MultiImage
from firmware.run import RunResult

from .weights import check_weight_values, projection_layout


class DevicePlacement:
    """A MultiImage on the first multi.cores cores of a device of `cores` cores: core k of the
    image is the device's core k; INPUT entries and SPIKES name device axons and neurons
    (firmware.protocol.cores)."""

    def __init__(self, multi: MultiImage, cores: int):
        self.multi, self.cores = multi, cores
        outputs = multi.output_ids
        self.output_ids = P.device_neuron(multi.config, multi.neuron_core[outputs], multi.neuron_local[outputs])

    def group(self, axons: np.ndarray) -> np.ndarray:
        """One tick's global input axons as the device axons of their replicas, ascending."""
        return self.multi.device_axons(axons)

    def inputs(self, times: np.ndarray, axons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Input spikes (ticks, global axons) as INPUT entries: (ticks, device axons) of every
        replica, ordered by tick, then axon."""
        count = self.multi.input_ptr[axons + 1] - self.multi.input_ptr[axons]
        core, axon = self.multi.replicas(axons)
        times, device = np.repeat(times, count), P.device_axon(self.multi.config, core, axon)
        order = np.lexsort((device, times))
        return times[order], device[order]

    def result(self, block: RunResult) -> RunResult:
        """A RunResult of device neurons in the network's global numbering."""
        neurons = self.multi.global_of_device(block.neurons)
        order = np.lexsort((neurons, block.times))
        return RunResult(start_tick=block.start_tick, ticks=block.ticks, output_ids=self.multi.output_ids.copy(),
                         times=block.times[order], neurons=neurons[order])


def _parts(multi: MultiImage, projection: str):
    """Each part of a projection: (core, its name there, the global rows and columns of its
    [pre, post] matrix within the projection's)."""
    sym = multi.projection(projection)          # SymbolError (a KeyError) names the projection
    kind, pre = multi.group(sym["pre"])
    post = multi.group(sym["post"])[1]
    base = pre["first"] + (0 if kind == "inputs" else multi.n_inputs)
    out = []
    for k, name in sym["parts"]:
        image = multi.images[k]
        local = image.projection(name)
        pkind, pgroup = image.group(local["pre"])
        sources = pgroup["first"] + np.arange(pgroup["size"]) + (0 if pkind == "inputs" else multi.config.n_inputs)
        rows = multi.global_sources(k)[sources] - base
        cols = multi.global_neurons(k)[image.neuron_ids(local["post"])] - post["first"]
        out.append((k, name, rows, cols))
    return (pre["size"], post["size"]), out


def gather_weights(multi: MultiImage, projection: str, part) -> np.ndarray:
    """The weight mantissas of `projection` as a [pre, post] matrix, NaN where no synapse (as
    Device.weights), from its parts: `part(core, name)` gives the matrix of its part `name` on
    core `core` (that core's Device.weights)."""
    shape, parts = _parts(multi, projection)
    out = np.full(shape, np.nan)
    for k, name, rows, cols in parts:
        matrix = part(k, name)
        block = np.ix_(rows, cols)
        out[block] = np.where(np.isnan(matrix), out[block], matrix)
    return out


def scatter_weights(multi: MultiImage, projection: str, matrix, tables) -> list:
    """A [pre, post] weight matrix of `projection` checked as on one core (host.weights; the
    errors name the projection and the entry in its numbering) and split into its parts, whose
    cores' decoded tables are `tables[core]`: [(core, synapse addresses, weight mantissas)]."""
    shape, parts = _parts(multi, projection)
    layouts = []
    for k, name, rows, cols in parts:
        addr, pre, post, _, bounds = projection_layout(multi.images[k], tables[k], name)
        layouts.append((k, addr, rows[pre], cols[post], bounds))
    # (a plastic projection is never cut: one part, its STDP bounds; the others: the weights')
    bounds = layouts[0][4] if layouts else formats.signed_range(multi.config.weight_bits)
    pre, post = (np.concatenate([np.zeros(0, np.int64)] + [p[j] for p in layouts]) for j in (2, 3))
    w = check_weight_values(projection, matrix, shape, pre, post, bounds, multi.config.weight_bits)
    ends = np.cumsum([p[1].size for p in layouts])[:-1]
    return [(k, addr, part) for (k, addr, _, _, _), part in zip(layouts, np.split(w, ends))]


def gather_state(multi: MultiImage, name: str, per_core) -> np.ndarray:
    """State `name` (formats.STATE_FIELDS) in the network's numbering from `per_core(core)`, each
    core's whole array (as Device.probe gives it): u, v, ref, y per global neuron; x per global
    source (input axons, by their first replica, then neurons); acc [max_delay, neurons]."""
    c = multi.config
    values = {k: per_core(k) for k in range(multi.cores)}
    core, local = multi.neuron_core, multi.neuron_local
    if name == "acc":
        out = np.zeros((c.max_delay, multi.n_neurons), np.int64)
        for k, v in values.items():
            out[:, core == k] = v[:, local[core == k]]
        return out
    offset = c.n_inputs if name == "x" else 0
    out = np.array([values[k][offset + n] for k, n in zip(core.tolist(), local.tolist())], np.int64)
    if name != "x":
        return out
    first = multi.input_ptr[:-1]
    inputs = np.array([values[k][a] for k, a in zip(multi.input_core[first].tolist(),
                                                      multi.input_axon[first].tolist())], np.int64)
    return np.concatenate([inputs, out])


__all__ = ["DevicePlacement", "gather_state", "gather_weights", "scatter_weights"]
