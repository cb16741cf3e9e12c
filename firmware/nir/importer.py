"""from_nir: a NIR graph as a Network under the convention of docs/nir.md, with its report."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import formats
from ..compiler import compile_network
from ..config import CoreConfig
from ..errors import AxoniteError, CapacityError, NIRError
from ..network import FromList, Network, STDPRule, quantize_weights
from .constants import LINEAR, META, NEURONS, SCALINGS, VTH_MAX
from .graph import _graph, _kind, _shapes, read
from .maps import _maps, _timing
from .params import _bias, _decay, _neurons, _relative, _scale_vth
from .report import NIRReport, NodeMapping, OutputMapping, PopulationMapping


def _meta(node, key, default=None):
    value = (getattr(node, "metadata", None) or {}).get(META + key, default)
    if isinstance(value, bytes):
        value = value.decode("utf8")
    return value


def from_nir(graph, dt: float, config: CoreConfig | None = None, scaling: str | dict | None = None,
             no_wrap: bool = True, tau_times_dt: bool = False,
             name: str | None = None) -> tuple[Network, NIRReport]:
    """A Network equal to `graph` under the convention of docs/nir.md, and a report of what
    mapped how, with the largest relative error of every quantized parameter.

    graph:   a nir.NIRGraph (nir.read(path)) or a path to a .nir file
    dt:      the step in seconds (NIR carries none; a graph from snnTorch wants its 1e-4)
    config:  the core (default CoreConfig()): weight_bits, max_delay and the capacities
    scaling: "weights" (each population's threshold scale as large as the ranges allow with its
             largest weight at a full mantissa), "range" (as large as the ranges allow), "native"
             (voltage unit 1/64 of the core's, as to_nir writes); default native for graphs
             to_nir wrote, else weights. Per layer: a dict {neuron node: "weights" or "range"}
             (the others take "weights")
    no_wrap: choose scales so that the 16-bit input and the 24-bit current cannot wrap, even with
             every input spiking in the same tick (and the voltage does not clip, where that
             keeps the weights' precision)
    tau_times_dt: the graph's time constants are the true ones times dt (Norse's to_nir up to
             1.1.0 writes tau = dt / tau_mem_inv): divide them by dt
    Refuses what the core cannot express with NIRError (or CapacityError), naming the node, the
    parameter and the limit.
    """
    if not isinstance(dt, (int, float, np.floating, np.integer)) or not math.isfinite(dt) or dt <= 0:
        raise NIRError(f"dt = {dt!r} must be a positive number of seconds")
    if isinstance(graph, (str, Path)):
        graph = read(graph)
    return _Importer(graph, float(dt), config or CoreConfig(), scaling, no_wrap, tau_times_dt, name).run()


class _Importer:
    """from_nir's stages, in order: the graph, its inputs and neurons, the projections each
    neuron's input makes, the timing, each population's scale, then the Network."""

    def __init__(self, graph, dt, config, scaling, no_wrap, tau_times_dt, name):
        self.dt, self.config, self.no_wrap, self.tau_times_dt = dt, config, no_wrap, tau_times_dt
        self.nodes, self.preds, succs = _graph(graph)
        self.ours = _meta(graph, "version") is not None
        default = "native" if self.ours else "weights"
        self.per_layer = dict(scaling) if isinstance(scaling, dict) else {}
        self.scaling = (scaling if not isinstance(scaling, dict) else None) or default
        for key, value in [("scaling", self.scaling)] + [(f"scaling[{k!r}]", v) for k, v in self.per_layer.items()]:
            if value not in SCALINGS or (value == "native") != (self.scaling == "native"):
                raise NIRError(f"{key} = {value!r}; use one of {SCALINGS} (per layer: weights or range; native "
                               f"is for the whole graph)")
        unknown = set(self.per_layer) - {k for k, n in self.nodes.items() if _kind(n) in NEURONS}
        if unknown:
            raise NIRError(f"scaling names {sorted(unknown)}, which are not neuron nodes of the graph")
        self.report = NIRReport(dt, scaling if isinstance(scaling, dict) else self.scaling)
        # to_nir's placeholders, and the Inputs and Outputs nir.read adds for the roots and leaves of
        # a graph to_nir wrote (no metadata)
        self.dropped = sorted(k for k, n in self.nodes.items() if self.ours and (
            _meta(n, "placeholder") or _kind(n) in ("Input", "Output") and _meta(n, "name") is None))
        for k in self.dropped:
            for s in succs[k]:
                if s in self.preds:
                    self.preds[s].remove(k)
        for k in self.dropped:
            del self.nodes[k], self.preds[k]
        self.net = Network(name or _meta(graph, "network") or "nir")
        self.groups, self.pops = {}, {}

    def order(self, kinds) -> list:
        keys = [k for k, n in self.nodes.items() if _kind(n) in kinds]
        return sorted(keys, key=lambda k: (_meta(self.nodes[k], "index", 0), k)) if self.ours else keys

    def run(self) -> tuple[Network, NIRReport]:
        shapes = _shapes(self.nodes, self.preds)
        self.check_sizes(shapes)
        self.neur = {k: _neurons(self.nodes[k], k, int(np.prod(shapes[k])), self.dt, self.tau_times_dt)
                     for k in self.order(NEURONS)}
        if not self.neur:
            raise NIRError("the graph has no neuron node (LIF, CubaLIF, IF, LI or CubaLI)")
        maps = _maps(self.nodes, self.preds, shapes, self.dt)
        for k in self.order(("Input",)):
            self.groups[k] = self.net.inputs(_meta(self.nodes[k], "name") or k, int(np.prod(shapes[k])))
            self.report.inputs[k] = (self.groups[k].name, shapes[k])
        terms = self.terms(maps)
        carrying = [t for t in terms if t["pre"].size]        # a projection without synapses times nothing
        self.latency, delays = _timing(set(self.groups), [(t["src"], t["dst"], t["delay"]) for t in carrying])
        for t in terms:
            t["core_delay"] = 1
        for t, d in zip(carrying, delays):
            t["core_delay"] = d
        for k in list(self.groups) + list(self.neur):
            self.latency.setdefault(k, 0)
        by_dst = {}
        for t in terms:
            by_dst.setdefault(t["dst"], []).append(t)
        self.scales = {q: self.scale(n, by_dst.get(q, [])) for q, n in self.neur.items()}
        self.populations()
        self.outputs(maps)
        self.projections(terms)
        self.describe_rest()
        compile_network(self.net, self.config)     # everything the compiler checks, checked now
        return self.net, self.report

    def check_sizes(self, shapes):
        """Name the node that does not fit, before anything is built."""
        c, used = self.config, 0
        for k in self.order(("Input",)):
            size = int(np.prod(shapes[k]))
            used += size
            if size < 1 or used > c.n_inputs:
                raise CapacityError(f"Input {k!r} ({size} values): the graph needs {used} input axons up to it, "
                                    f"the core has {c.n_inputs} (CoreConfig.n_inputs)")
        used = 0
        for k in self.order(NEURONS):
            size = int(np.prod(shapes[k]))
            used += size
            if used > c.n_neurons:
                raise CapacityError(f"node {k!r} ({_kind(self.nodes[k])}, {size} neurons): the graph needs {used} "
                                    f"neurons up to it, the core holds {c.n_neurons} (CoreConfig.n_neurons)")

    def terms(self, maps) -> list:
        """Each neuron's input as terms: (source, NIR delay, weighted path) with the synapses and
        their weights in voltage per step; the constant part goes into the neuron's drive."""
        readouts = {k for k, n in self.neur.items() if not n.spiking}
        out = []
        for q, n in self.neur.items():
            terms, bias = maps[q]
            n.drive = n.drive + n.r_in * bias
            if np.any(bias) and n.a_syn is not None:
                self.report.notes.append(
                    f"{n.kind} {q!r}: the input's bias enters the synaptic current; the core adds its steady state "
                    f"to the voltage from tick 0 (the current's rise over tau_syn is not modelled)")
            for (src, delay, via), m in terms.items():
                if src in readouts:
                    raise NIRError(f"{_kind(self.nodes[src])} {src!r} feeds {q!r}: its output is a voltage, which the "
                                   f"core cannot send; an LI or CubaLI can only be a readout (into an Output)")
                pre, post = np.nonzero(m)
                meta = self.nodes[via[0]] if len(via) == 1 else None
                if meta is not None and _meta(meta, "pre") is not None:     # to_nir's synapses, zeros too
                    pre = np.asarray(_meta(meta, "pre"), np.int64).reshape(-1)
                    post = np.asarray(_meta(meta, "post"), np.int64).reshape(-1)
                if pre.size or _meta(meta, "projection") is not None:     # to_nir's, even without synapses
                    out.append(dict(src=src, dst=q, delay=delay, via=via, meta=meta, pre=pre, post=post,
                                    weight=m[pre, post] * n.gain[post]))
        return out

    def scale(self, n, incoming) -> dict:
        """The population's scale (v_core = scale * v_float per neuron) and threshold: the threshold
        maps to one vth for the whole population (per-neuron thresholds scale the weights)."""
        if n.spiking:
            ref = np.max(n.theta, initial=0.0) or 1.0
            theta = np.where(n.theta > 0, n.theta, ref)
        else:
            theta = np.full(n.size, _reach(n, incoming))
        pos_sum, neg_sum, fractions = np.zeros(n.size), np.zeros(n.size), []
        for t in incoming:
            f = t["weight"] / theta[t["post"]]
            fractions.append(f)
            pos_sum += np.bincount(t["post"], np.maximum(f, 0), minlength=n.size)
            neg_sum += np.bincount(t["post"], np.minimum(f, 0), minlength=n.size)
        if self.scaling == "native":
            return dict(scale=np.full(n.size, float(1 << formats.VTH_SHIFT)), vth=n.theta,
                        binding="native: the core's voltage is 64 x the graph's")
        vth, binding, note = _scale_vth(n, np.concatenate(fractions) if fractions else np.zeros(0), pos_sum, neg_sum,
                                        n.drive / theta, self.config, self.per_layer.get(n.name, self.scaling),
                                        self.no_wrap)
        if note:
            self.report.notes.append(note)
        return dict(scale=(1 << formats.VTH_SHIFT) * vth / theta, binding=binding,
                    vth=np.where(n.theta > 0, vth, 0.0) if n.spiking else np.zeros(n.size))

    def populations(self):
        profiles = set()
        for q in self.order(NEURONS):
            n, plan, node = self.neur[q], self.scales[q], self.nodes[q]
            owner = f"node {q!r} ({n.kind})"
            errors = {}
            if n.spiking:
                vth = np.round(plan["vth"]).astype(np.int64)
                if vth.max(initial=0) > VTH_MAX:
                    raise NIRError(f"{owner}: v_threshold {plan['vth'].max():g} is {vth.max()} in core units, above "
                                   f"the 17-bit vth {VTH_MAX}")
                errors["v_threshold"] = _relative(vth, plan["vth"])
            else:
                vth = np.full(n.size, VTH_MAX)         # unreachable: the scale keeps |v| <= 2**21
            if n.a_syn is not None:
                du, errors["tau_syn"] = _decay(n.a_syn, formats.DU_OFFSET)
            else:
                du = np.full(n.size, formats.DECAY_UNITY - 1)
            dv, err = _decay(n.a_mem, formats.DV_OFFSET)
            if n.kind != "IF":
                errors["tau_mem" if n.a_syn is not None else "tau"] = err
            bias_core = n.drive * plan["scale"]
            bias_mant, bias_exp, errors["bias"] = _bias(bias_core, owner)
            if self.ours and self.scaling == "native":
                bias_mant, bias_exp = _kept_bias(node, bias_core, bias_mant, bias_exp)
            refractory = np.asarray(_meta(node, "refractory", 0), np.int64)
            try:
                pop = self.net.population(_meta(node, "name") or q, n.size, du=du, dv=dv, vth=vth,
                                          bias_mant=bias_mant, bias_exp=bias_exp, refractory=refractory)
            except AxoniteError as error:
                raise NIRError(f"{owner}: {error}") from None
            self.pops[q] = pop
            profiles |= set(zip(*(np.broadcast_to(x, n.size).tolist() for x in (du, dv, vth, bias_exp, refractory))))
            recorded = _meta(node, "recorded")
            if recorded is not None and np.any(recorded):
                self.net.record(pop, np.nonzero(np.asarray(recorded).reshape(-1))[0])
            how = (f"{n.size} neurons, du {_span(du)}, dv {_span(dv)}, vth {_span(vth) if n.spiking else 'unreachable'}"
                   f", bias {_span(bias_mant)} << {bias_exp}, latency {self.latency[q]} ticks; scale set by "
                   f"{plan['binding']}")
            self.report.nodes[q] = NodeMapping(q, n.kind, f"population {pop.name!r}", how, errors)
            self.report.populations[pop.name] = PopulationMapping(
                q, pop.name, n.kind, n.size, self.latency[q], plan["scale"],
                int(vth.max(initial=0)) if n.spiking else 0, n.spiking)
        if len(profiles) > self.config.n_profiles:
            raise CapacityError(f"the graph's neurons need {len(profiles)} distinct (du, dv, vth, bias_exp, "
                                f"refractory) sets, the core holds {self.config.n_profiles} (CoreConfig.n_profiles): "
                                f"per-neuron tau or bias of node(s) {sorted(self.neur)} make one each")

    def outputs(self, maps):
        for k in self.order(("Output",)):
            terms, bias = maps[k]
            keys = list(terms)
            src = keys[0][0] if len(keys) == 1 else None
            plain = len(keys) == 1 and keys[0][1] == 0 and not keys[0][2] and not np.any(bias)
            if not plain or src not in self.neur or not np.array_equal(terms[keys[0]], np.eye(terms[keys[0]].shape[0])):
                what = "an Input" if plain and src in self.groups else "a weighted or constant signal"
                raise NIRError(f"Output {k!r} reads {what} ({[t[0] for t in keys] or 'nothing'}); the core sends the "
                               f"spikes of neurons (or an LI's voltage, read as state): feed an Output from one "
                               f"neuron node")
            pop = self.pops[src]
            reads = "spikes" if self.neur[src].spiking else "voltage"
            if reads == "spikes" and _meta(self.nodes[src], "recorded") is None:
                self.net.record(pop)
            self.report.outputs[k] = OutputMapping(k, pop.name, self.latency[src], reads)
            self.report.nodes[k] = NodeMapping(k, "Output", f"{reads} of population {pop.name!r}",
                                               "recorded" if reads == "spikes" else "read v / scale (Device.probe('v'))")

    def projections(self, terms):
        """One projection per source and weighted path (per to_nir projection for its graphs),
        split where a pair of neurons is reached with two delays."""
        grouped = {}
        for t in terms:
            meta = t["meta"]
            key = ("axonite", _meta(meta, "projection")) if meta is not None and _meta(meta, "projection") is not None \
                else (t["src"], t["dst"], t["via"])
            grouped.setdefault(key, []).append(t)
        rows, labels = [], set()
        for parts in grouped.values():
            first = parts[0]
            src, dst, meta = first["src"], first["dst"], first["meta"]
            label = (_meta(meta, "projection") if meta is not None else None) or "+".join(first["via"]) or f"{src}->{dst}"
            label = label if label not in labels else f"{label}:{src}->{dst}"
            labels.add(label)
            pre, post = (np.concatenate([p[k] for p in parts]) for k in ("pre", "post"))
            delay = np.concatenate([np.full(p["pre"].size, p["core_delay"]) for p in parts])
            bad = (delay < 1) | (delay > self.config.max_delay)
            if np.any(bad):
                raise NIRError(f"edge {src!r} -> {dst!r} (via {list(first['via']) or 'identity'}): needs a delay of "
                               f"{int(delay[bad][0])} ticks (NIR delay {int(first['delay'])} steps + latency "
                               f"{self.latency[dst]} - {self.latency[src]}); the core's delays are 1 .. "
                               f"{self.config.max_delay} (CoreConfig.max_delay)")
            # the core adds weight << 6 to u (or v) where the float graph adds weight * gain
            ideal = np.concatenate([p["weight"] for p in parts]) * self.scales[dst]["scale"][post] / (1 << formats.ACT_SHIFT)
            mant, exp, err = self.quantize(ideal, meta, f"edge {src!r} -> {dst!r}")
            pair = pre * self.pops[dst].size + post
            splits = [np.arange(pre.size)] if np.unique(pair).size == pair.size else \
                [np.nonzero(delay == d)[0] for d in np.unique(delay)]
            for idx in splits:
                rows.append(dict(label=label if len(splits) == 1 else f"{label}@{int(delay[idx[0]])}", src=src, dst=dst,
                                 rows=np.stack([pre[idx], post[idx], mant[idx], delay[idx]], axis=1), exp=exp,
                                 via=first["via"], error=err, meta=meta, index=_meta(meta, "index", 0)))
        if self.ours:
            rows.sort(key=lambda r: (r["index"], r["label"]))
        if len(rows) > self.config.n_projections:
            raise CapacityError(f"the graph needs {len(rows)} projections (one per weighted edge and delay set: "
                                f"{[r['label'] for r in rows]}), the core holds {self.config.n_projections} "
                                f"(CoreConfig.n_projections)")
        for r in rows:
            self.connect(r)

    def quantize(self, ideal, meta, owner):
        """Mantissas and one exponent (to_nir's, in native scaling, where the weights still fit
        it), and the largest error relative to the largest weight."""
        lo, hi = formats.signed_range(self.config.weight_bits)
        exp = _meta(meta, "weight_exp") if self.scaling == "native" else None
        mant = np.round(ideal / 2.0**int(exp)) if exp is not None else None
        if mant is None or (mant.size and (mant.min() < lo or mant.max() > hi)):
            try:
                q = quantize_weights(ideal, self.config.weight_bits)
            except ValueError:
                top = formats.max_weight_exp(self.config.weight_bits)
                raise NIRError(f"{owner}: weight {np.max(np.abs(ideal)):.6g} in core units exceeds {hi << top} "
                               f"({self.config.weight_bits}-bit mantissa << {top})") from None
            mant, exp = q.mantissa, q.exponent
        mant, exp = mant.astype(np.int64), int(exp)
        return mant, exp, _relative(mant * 2.0**exp, ideal)

    def connect(self, r):
        stdp, meta = None, r["meta"]
        if _meta(meta, "stdp_a_plus") is not None:
            if self.scaling == "native":
                stdp = STDPRule(**{k: str(_meta(meta, "stdp_" + k)) if k == "mode" else int(_meta(meta, "stdp_" + k))
                                   for k in STDPRule.__dataclass_fields__})
            else:
                self.report.notes.append(f"projection {r['label']!r}: its STDP rule is dropped: its bounds are in the "
                                         f"weight units of the graph's own scale (import with scaling='native')")
        try:
            proj = self.net.connect(self.groups.get(r["src"]) or self.pops[r["src"]], self.pops[r["dst"]],
                                    FromList(r["rows"]), weight_exp=r["exp"], stdp=stdp, name=_unique(r["label"], self.net))
        except AxoniteError as error:
            raise NIRError(f"edge {r['src']!r} -> {r['dst']!r}: {error}") from None
        how = (f"{len(r['rows'])} synapses, mantissa {_span(r['rows'][:, 2])} << {r['exp']}, delay "
               f"{_span(r['rows'][:, 3])} ({r['src']} -> {r['dst']})")
        for v in r["via"] or (f"{r['src']}->{r['dst']}",):
            entry = self.report.nodes.get(v)
            if entry is None:
                self.report.nodes[v] = NodeMapping(v, _kind(self.nodes[v]) if v in self.nodes else "edge",
                                                   f"projection {proj.name!r}", how, {"weight": r["error"]})
            else:
                entry.target += f", {proj.name!r}"
                entry.how += f"; {how}"
                entry.errors["weight"] = max(entry.errors.get("weight", 0.0), r["error"])

    def describe_rest(self):
        for k, node in self.nodes.items():
            if k not in self.report.nodes and _kind(node) in LINEAR:
                self.report.nodes[k] = NodeMapping(k, _kind(node), "folded into the projections after it",
                                                   "a delay of whole steps" if _kind(node) == "Delay" else "composed")
        for k, (group, shape) in self.report.inputs.items():
            self.report.nodes.setdefault(k, NodeMapping(k, "Input", f"inputs {group!r}", f"{int(np.prod(shape))} axons"))
        if self.dropped:
            self.report.notes.append(f"ignored {self.dropped}: Input/Output nodes nir.read added to a graph to_nir wrote")


def _reach(n, incoming) -> float:
    """A readout's largest voltage: Euler keeps v between 0 and the steady state of the largest
    held input (a convex mix, dt/tau <= 1); it stands where a threshold would."""
    if np.any(n.a_mem <= 0) or (n.a_syn is not None and np.any(n.a_syn <= 0)):
        raise NIRError(f"node {n.name!r} ({n.kind}): without leak (tau = inf) a readout's voltage is unbounded")
    pos = sum((np.bincount(t["post"], np.maximum(t["weight"], 0), minlength=n.size) for t in incoming), np.zeros(n.size))
    neg = sum((np.bincount(t["post"], np.minimum(t["weight"], 0), minlength=n.size) for t in incoming), np.zeros(n.size))
    if n.a_syn is not None:          # a held input's current is 1/a_syn times one step's
        pos, neg = pos / n.a_syn, neg / n.a_syn
    reach = np.maximum(np.abs(n.drive + pos), np.abs(n.drive + neg)) / n.a_mem
    return float(np.max(reach)) if np.any(reach) else 1.0


def _kept_bias(node, bias_core, mant, exp):
    """to_nir's bias mantissa and exponent where they still give the graph's bias (a negative
    exponent drops low bits, which v_leak cannot carry); else (mant, exp) as computed."""
    kept_mant, kept_exp = (np.asarray(_meta(node, k, []), np.int64).reshape(-1) for k in ("bias_mant", "bias_exp"))
    if kept_mant.size != bias_core.size or kept_exp.size != bias_core.size or np.unique(kept_exp).size != 1:
        return mant, exp
    value = np.where(kept_exp >= 0, kept_mant << np.maximum(kept_exp, 0), kept_mant >> np.maximum(-kept_exp, 0))
    return (kept_mant, int(kept_exp[0])) if np.array_equal(value, np.round(bias_core)) else (mant, exp)



def _unique(label: str, net: Network) -> str:
    names = {p.name for p in net.projections}
    out, k = label, 1
    while out in names:
        k += 1
        out = f"{label}#{k}"
    return out


def _span(values) -> str:
    arr = np.asarray(values).reshape(-1)
    if arr.size == 0:
        return "-"
    lo, hi = arr.min(), arr.max()
    return f"{lo}" if lo == hi else f"{lo}..{hi}"
