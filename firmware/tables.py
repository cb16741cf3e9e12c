"""Decode an image's tables into flat per-synapse arrays, checking every pointer.

This is the one reading of the fan-out structure (axon -> segments -> synapse words, and the
reverse index) that the golden model and the weight read-back share. It follows the tables as
the hardware does, so a compiler bug in a table shows up as a wrong network, not a hidden one.

It checks what the pointers reach, from the tables that have a word per source and per neuron
(axon, neuron, reverse_ptr): a word nothing reaches may hold anything, as in the core's
memories after an earlier, larger image (docs/spec.md §9); a reached pointer or index that
leaves its table is an ImageError naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .errors import ImageError


def ranges_to_indices(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate the integer ranges [start, start + count) in order, without a Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - offsets, counts) + np.arange(total, dtype=np.int64)


@dataclass
class DecodedTables:
    # neuron parameters, one per neuron
    du: np.ndarray
    dv: np.ndarray
    vth: np.ndarray
    bias: np.ndarray             # bias_mant shifted by bias_exp
    refractory: np.ndarray
    output: np.ndarray           # bool
    # synapses, one per used synapse address
    syn_source: np.ndarray
    syn_target: np.ndarray       # absolute neuron number
    syn_weight: np.ndarray       # signed mantissa
    syn_projection: np.ndarray
    syn_delay: np.ndarray        # 1 .. max_delay
    # fan-out in routing order: source s owns fanout[fan_ptr[s]:fan_ptr[s+1]] (synapse addresses)
    fan_ptr: np.ndarray
    fanout: np.ndarray
    # plastic fan-in: neuron n owns rev_syn[rev_ptr[n]:rev_ptr[n+1]] and the matching rev_src
    rev_ptr: np.ndarray
    rev_syn: np.ndarray
    rev_src: np.ndarray
    # per projection
    proj: dict
    stdp: dict
    lfsr_seed: int


def _bias(mant, exp):
    return np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0))


def _csr(owner_count, ptr, count, limit, what, unit, reached=None):
    """Pointer and count per owner, checked within `limit` for the owners `reached` (all: None)."""
    ptr, count = np.asarray(ptr, np.int64)[:owner_count], np.asarray(count, np.int64)[:owner_count]
    if ptr.size < owner_count:
        ptr = np.concatenate([ptr, np.zeros(owner_count - ptr.size, np.int64)])
        count = np.concatenate([count, np.zeros(owner_count - count.size, np.int64)])
    end = ptr + count
    bad = (count > 0) & (end > limit)
    if reached is not None:
        bad &= reached
    bad = np.nonzero(bad)[0]
    if bad.size:
        k = bad[0]
        raise ImageError(f"image: {what} {k} points at {unit} {ptr[k]}..{end[k] - 1}, "
                         f"but the table holds {limit}")
    return ptr, count


def decode(image) -> DecodedTables:
    c = image.config
    t = {name: image.table(name) for name in image.tables}
    n_prof = t["profile"]["du"].size

    neuron = t["neuron"]
    prof_idx = np.zeros(c.n_neurons, np.int64)
    prof_idx[:neuron["profile"].size] = neuron["profile"]
    if n_prof == 0 or prof_idx.max() >= n_prof:
        raise ImageError(f"image: a neuron uses profile {prof_idx.max()}, the profile table has {n_prof} entries")

    def per_neuron(table, field_name):
        out = np.zeros(c.n_neurons, np.int64)
        out[:table[field_name].size] = table[field_name]
        return out

    prof = t["profile"]
    bias = _bias(per_neuron(neuron, "bias_mant"), prof["bias_exp"][prof_idx])

    seg = t["segment"]
    n_seg = seg["syn_ptr"].size
    syn = t["synapse"]
    n_syn = syn["weight"].size
    seg_ptr, seg_count = _csr(c.n_sources, t["axon"]["seg_ptr"], t["axon"]["seg_count"], n_seg,
                              "source", "segments")
    if n_syn and not n_seg:
        raise ImageError(f"image: {n_syn} synapse words but no segment to reach them")
    # Walk source -> segments -> synapses in routing order; only the segments reached count.
    seg_order = ranges_to_indices(seg_ptr, seg_count)
    reached = np.zeros(n_seg, bool)
    reached[seg_order] = True
    syn_ptr, syn_count = _csr(n_seg, seg["syn_ptr"], seg["syn_count"], n_syn, "segment", "synapses", reached)
    n_proj = t["projection"]["weight_exp"].size
    bad = np.nonzero(reached & (seg["projection"] >= n_proj))[0]
    if bad.size:
        raise ImageError(f"image: segment {bad[0]} names projection {seg['projection'][bad[0]]}, "
                         f"the projection table has {n_proj}")
    bad = np.nonzero(reached & (seg["delay_m1"] >= c.max_delay))[0]
    if bad.size:
        raise ImageError(f"image: segment {bad[0]} has delay {seg['delay_m1'][bad[0]] + 1} > max_delay {c.max_delay}")

    seg_owner = np.repeat(np.arange(c.n_sources, dtype=np.int64), seg_count)
    fanout = ranges_to_indices(syn_ptr[seg_order], syn_count[seg_order])
    fan_seg = np.repeat(seg_order, syn_count[seg_order])
    fan_src = np.repeat(seg_owner, syn_count[seg_order])
    if np.unique(fanout).size != fanout.size:
        raise ImageError("image: two segments share a synapse word")
    per_source = np.bincount(fan_src, minlength=c.n_sources)
    fan_ptr = np.concatenate([[0], np.cumsum(per_source)]).astype(np.int64)

    syn_source = np.full(n_syn, -1, np.int64)
    syn_segment = np.full(n_syn, -1, np.int64)
    syn_source[fanout] = fan_src
    syn_segment[fanout] = fan_seg
    window = seg["window"][np.maximum(syn_segment, 0)]
    syn_target = (window << c.target_bits) + syn["target"]
    used = syn_segment >= 0
    if np.any(syn_target[used] >= c.n_neurons):
        raise ImageError(f"image: a synapse targets neuron {syn_target[used].max()}, the core has {c.n_neurons}")

    rp = t["reverse_ptr"]
    rev = t["reverse"]
    rev_ptr, rev_count = _csr(c.n_neurons, rp["rev_ptr"], rp["rev_count"], rev["synapse"].size,
                              "neuron", "reverse entries")
    rev_order = ranges_to_indices(rev_ptr, rev_count)
    rev_syn, rev_src = rev["synapse"][rev_order], rev["source"][rev_order]
    proj = t["projection"]
    seg_proj = np.where(used, seg["projection"][np.maximum(syn_segment, 0)], 0)
    if rev_syn.size:
        bad = (rev_syn >= n_syn) | ~used[np.minimum(rev_syn, n_syn - 1)] if n_syn else np.ones_like(rev_syn, bool)
        if np.any(bad):
            raise ImageError(f"image: reverse entry names synapse {rev_syn[bad][0]}, which no segment uses")
        owner = np.repeat(np.arange(c.n_neurons), rev_count)
        rev_proj = rev["projection"][rev_order]
        if (np.any(syn_target[rev_syn] != owner) or np.any(syn_source[rev_syn] != rev_src)
                or np.any(seg_proj[rev_syn] != rev_proj)):
            raise ImageError("image: the reverse index disagrees with the forward tables")
        if not np.all(proj["plastic"][seg_proj[rev_syn]] == 1):
            raise ImageError("image: the reverse index lists a synapse of a non-plastic projection")
    n_plastic_fwd = int(np.sum(used & (proj["plastic"][seg_proj] == 1))) if n_proj else 0
    if n_plastic_fwd != rev_syn.size:
        raise ImageError(f"image: {n_plastic_fwd} plastic synapses but {rev_syn.size} reverse entries")

    seed = int(t["lfsr_seed"]["seed"][0]) if t["lfsr_seed"]["seed"].size else 0
    if seed == 0:
        raise ImageError("image: the LFSR seed is 0, which would stall the LFSR; use a nonzero seed")
    stdp = {k: int(v[0]) if v.size else 0 for k, v in t["stdp"].items()}
    return DecodedTables(
        du=prof["du"][prof_idx], dv=prof["dv"][prof_idx], vth=prof["vth"][prof_idx], bias=bias,
        refractory=prof["refractory"][prof_idx], output=per_neuron(neuron, "output").astype(bool),
        syn_source=syn_source, syn_target=np.where(used, syn_target, -1), syn_weight=syn["weight"],
        syn_projection=np.where(used, seg_proj, -1),
        syn_delay=np.where(used, seg["delay_m1"][np.maximum(syn_segment, 0)] + 1, 0),
        fan_ptr=fan_ptr, fanout=fanout,
        rev_ptr=np.concatenate([[0], np.cumsum(rev_count)]).astype(np.int64),
        rev_syn=rev_syn, rev_src=rev_src, proj=proj, stdp=stdp, lfsr_seed=seed,
    )


class ProjectionSynapses(NamedTuple):
    """The synapses of one projection: their addresses (ascending) and, for each, the index of
    its source in the projection's source group (pre) and of its target in the target
    population (post); `shape` is (source group size, target population size)."""

    index: int                   # the projection's number (its row of the projection table)
    shape: tuple[int, int]
    addr: np.ndarray
    pre: np.ndarray
    post: np.ndarray


def projection_synapses(image, tables: DecodedTables, name: str) -> ProjectionSynapses:
    """Where projection `name` of `image` (whose decoded tables are `tables`) keeps its
    synapses; SymbolError (a KeyError) if the image has no such projection."""
    sym = image.projection(name)
    kind, pre = image.group(sym["pre"])
    post = image.group(sym["post"])[1]
    base = pre["first"] + (0 if kind == "inputs" else image.config.n_inputs)
    addr = np.nonzero(tables.syn_projection == sym["index"])[0]
    return ProjectionSynapses(sym["index"], (pre["size"], post["size"]), addr,
                              tables.syn_source[addr] - base, tables.syn_target[addr] - post["first"])
