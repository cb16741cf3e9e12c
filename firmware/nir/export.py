"""to_nir: a Network as a NIR graph, that from_nir reads back exactly."""

from __future__ import annotations

import math

import nir
import numpy as np

from .. import formats
from ..errors import AxoniteError, NIRError
from ..network import Network, STDPRule
from .constants import FORMAT_VERSION, META, NO_LEAK_STEPS
from .maps import _back_edges, _latencies, _timing


def to_nir(network: Network, dt: float) -> "nir.NIRGraph":
    """The network as a NIR graph at step dt: populations as IF, LIF or CubaLIF, projections as
    Linear (with a Delay node where the timing needs one), recorded populations into Outputs.

    Voltages are written in units of 1/64 of the core's (v_threshold = vth), weights as the
    delivered values (mantissa << weight_exp), r and w_in the way snnTorch writes them (r =
    tau_mem/dt, w_in = tau_syn/dt), so that forward Euler at dt reproduces the core's update up
    to its rounding. What NIR has no field for (refractory period, STDP, which neurons of a
    population are recorded, weight exponents, the synapse list) is kept in `axonite_` metadata,
    so that from_nir gives back the same network (docs/nir.md). Refuses a non-positive dt and
    a projection whose weights or delays are out of range, with NIRError.
    """
    if not isinstance(network, Network):
        raise NIRError(f"to_nir takes a firmware.Network, got {type(network).__name__}")
    if not isinstance(dt, (int, float, np.floating, np.integer)) or not math.isfinite(dt) or dt <= 0:
        raise NIRError(f"dt = {dt!r} must be a positive number of seconds")
    dt = float(dt)
    nodes, edges, keys = {}, [], {}

    def key_for(label):
        k = label.replace("/", "|")
        while k in nodes or k in keys.values():
            k += "'"
        return k

    for i, g in enumerate(network.input_groups):
        keys[id(g)] = key_for(g.name)
        nodes[keys[id(g)]] = nir.Input(input_type=np.array([g.size]),
                                       metadata={META + "name": g.name, META + "index": i})
    for i, pop in enumerate(network.populations):
        keys[id(pop)] = key_for(pop.name)
        nodes[keys[id(pop)]] = _population_node(pop, i, dt)
    # timing: write every edge's delay so that from_nir's latencies give the same core delays;
    # the plain form (no Delay node where a delay equals the hop's latency) when it does
    rows = []
    for j, proj in enumerate(network.projections):
        try:
            rows.append((j, proj, proj.delays(1 << 30)))
        except AxoniteError as error:
            raise NIRError(f"projection {proj.name!r}: {error}") from None
    inputs = {keys[id(g)] for g in network.input_groups}
    written = _written_delays(rows, keys, inputs)
    for j, proj, delays in rows:
        a, b = keys[id(proj.pre)], keys[id(proj.post)]
        try:
            weights = proj.weights(formats.WEIGHT_BITS_MAX)
        except AxoniteError as error:
            raise NIRError(f"projection {proj.name!r}: {error}") from None
        values = weights.astype(np.float64) * 2.0**proj.weight_exp
        for d in np.unique(delays) if delays.size else [0]:      # a projection without synapses: kept
            idx = np.nonzero(delays == d)[0]
            steps = written.get((a, b, int(d)), 0)
            label = proj.name if np.unique(delays).size == 1 else f"{proj.name}@{int(d)}"
            lk = key_for(label)
            matrix = np.zeros((proj.post.size, proj.pre.size))
            matrix[proj.post_idx[idx], proj.pre_idx[idx]] = values[idx]
            meta = {META + "projection": proj.name, META + "index": j, META + "weight_exp": int(proj.weight_exp),
                    META + "pre": proj.pre_idx[idx].astype(np.int64), META + "post": proj.post_idx[idx].astype(np.int64)}
            if proj.stdp is not None:
                for f in STDPRule.__dataclass_fields__:
                    meta[META + "stdp_" + f] = getattr(proj.stdp, f)
            nodes[lk] = nir.Linear(weight=matrix, metadata=meta)
            edges.append((a, lk))
            if steps:
                dk = key_for(f"{label}.delay")
                nodes[dk] = nir.Delay(delay=np.full(proj.post.size, steps * dt))
                edges += [(lk, dk), (dk, b)]
            else:
                edges.append((lk, b))
    for pop in network.populations:
        if pop.recorded.any():
            ok = key_for(f"{pop.name}.spikes")
            nodes[ok] = nir.Output(output_type=np.array([pop.size]), metadata={META + "name": ok})
            edges.append((keys[id(pop)], ok))
    _placeholders(network, nodes, edges, keys, key_for)
    meta = {META + "version": FORMAT_VERSION, META + "dt": dt, META + "network": network.name}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)    # nir checks and completes the types


def _placeholders(network, nodes, edges, keys, key_for):
    """nir.read's type inference needs an edge from an Input and a node without successors:
    where the network gives neither, a marked Input -> zero Linear, or an Output, that from_nir
    drops again."""
    if not network.populations:
        return
    first = keys[id(network.populations[0])]
    mark = {META + "placeholder": 1}
    if not any(a in {keys[id(g)] for g in network.input_groups} for a, _ in edges):
        pk, lk = key_for("axonite.placeholder_in"), key_for("axonite.placeholder_w")
        nodes[pk] = nir.Input(input_type=np.array([1]), metadata=dict(mark))
        nodes[lk] = nir.Linear(weight=np.zeros((network.populations[0].size, 1)), metadata=dict(mark))
        edges += [(pk, lk), (lk, first)]
    if not set(nodes) - {a for a, _ in edges}:
        ok = key_for("axonite.placeholder_out")
        nodes[ok] = nir.Output(output_type=np.array([network.populations[0].size]), metadata=dict(mark))
        edges.append((first, ok))


def _written_delays(rows, keys, inputs) -> dict:
    """The NIR delay (steps) to write for each (pre, post, core delay), such that from_nir's
    timing gives the core delays back. Plain form first: a population's latency is its depth
    over forward edges of delay 1, which then need no Delay node, nor does a loop of delay 1;
    when from_nir would not recover the delays from it, every edge carries its delay (latency 0)."""
    edges = sorted({(keys[id(p.pre)], keys[id(p.post)], int(d)) for _, p, delays in rows for d in np.unique(delays)})
    back = _back_edges(sorted(inputs), {(a, b) for a, b, _ in edges})
    lat = _latencies(inputs, [(a, b, 0) for a, b, d in edges if d == 1 and (a, b) not in back])
    for loops_implicit in (True, False):
        written = {}
        for a, b, d in edges:
            steps = d - (lat.get(b, 0) - lat.get(a, 0))
            written[(a, b, d)] = 0 if loops_implicit and (a, b) in back and steps == 1 else steps
        if min(written.values(), default=0) >= 0:
            try:
                _, got = _timing(inputs, [(a, b, written[(a, b, d)]) for a, b, d in edges])
            except NIRError:
                continue
            if got == [d for _, _, d in edges]:
                return written
    return {(a, b, d): d for a, b, d in edges}


def _population_node(pop, index: int, dt: float):
    p = pop.params
    du, dv, vth = p["du"], p["dv"], p["vth"].astype(np.float64)
    exp = p["bias_exp"]
    bias = np.where(exp >= 0, p["bias_mant"] << np.maximum(exp, 0), p["bias_mant"] >> np.maximum(-exp, 0))
    unity = formats.DECAY_UNITY
    tau_mem = np.where(dv > 0, unity * dt / np.maximum(dv, 1), NO_LEAK_STEPS * dt)
    v_leak = bias / float(1 << formats.VTH_SHIFT) * (tau_mem / dt)
    meta = {META + "name": pop.name, META + "index": index, META + "refractory": p["refractory"].copy(),
            META + "recorded": pop.recorded.astype(np.int8), META + "bias_exp": exp.copy(),
            META + "bias_mant": p["bias_mant"].copy()}
    if np.all(du == unity - 1) and np.all(dv == 0) and not np.any(bias):
        return nir.IF(r=np.full(pop.size, 1 / dt), v_threshold=vth, v_reset=np.zeros(pop.size), metadata=meta)
    if np.all(du == unity - 1):
        return nir.LIF(tau=tau_mem, r=tau_mem / dt, v_leak=v_leak, v_threshold=vth,
                       v_reset=np.zeros(pop.size), metadata=meta)
    tau_syn = unity * dt / (du + formats.DU_OFFSET)
    return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=v_leak, v_threshold=vth,
                       v_reset=np.zeros(pop.size), w_in=tau_syn / dt, metadata=meta)
