"""The linear maps between neurons (every path from a source to a consumer, as matrices per
delay) and the timing (loops, latencies, delays)."""

from __future__ import annotations

import numpy as np

from ..errors import NIRError
from .constants import DENSE_LIMIT, NEURONS, STEP_TOLERANCE, WEIGHTED
from .graph import _array, _conv_geometry, _kind, _pool_geometry


def _conv_matrix(node, name, in_shape, spatial):
    weight, groups, c_in, space, kernel, stride, before, dilation, out = _conv_geometry(
        node, name, in_shape, spatial)
    c_out = weight.shape[0]
    n_in, n_out = c_in * int(np.prod(space)), c_out * int(np.prod(out))
    if n_in * n_out > DENSE_LIMIT:
        raise NIRError(f"node {name!r} ({_kind(node)}): {n_in} inputs x {n_out} outputs is beyond what "
                       f"from_nir lowers ({DENSE_LIMIT} entries)")
    matrix = np.zeros((n_in, n_out))
    per_group_in, per_group_out = c_in // groups, c_out // groups
    if c_in % groups or c_out % groups:
        raise NIRError(f"node {name!r}: {c_in} input and {c_out} output channels do not divide into {groups} groups")
    opos = np.stack(np.meshgrid(*[np.arange(o) for o in out], indexing="ij"), -1).reshape(-1, spatial)
    for kpos in np.ndindex(*kernel):
        ipos = opos * np.array(stride) - np.array(before) + np.array(kpos) * np.array(dilation)
        ok = np.all((ipos >= 0) & (ipos < np.array(space)), axis=1)
        i_flat = np.ravel_multi_index(tuple(ipos[ok].T), space)
        o_flat = np.nonzero(ok)[0]
        for co in range(c_out):
            g = co // per_group_out
            for cj in range(per_group_in):
                ci = g * per_group_in + cj
                matrix[ci * int(np.prod(space)) + i_flat, co * int(np.prod(out)) + o_flat] += weight[(co, cj) + kpos]
    bias = np.repeat(np.broadcast_to(_array(node, name, "bias").reshape(-1), (c_out,)), int(np.prod(out)))
    return matrix, bias


def _pool_matrix(node, name, in_shape):
    kernel, stride, padding, out = _pool_geometry(node, name, in_shape)
    channels, space = in_shape[0], tuple(in_shape[1:])
    matrix = np.zeros((int(np.prod(in_shape)), channels * int(np.prod(out))))
    value = 1.0 if _kind(node) == "SumPool2d" else 1.0 / (kernel[0] * kernel[1])
    opos = np.stack(np.meshgrid(*[np.arange(o) for o in out], indexing="ij"), -1).reshape(-1, 2)
    for kpos in np.ndindex(*kernel):
        ipos = opos * np.array(stride) - np.array(padding) + np.array(kpos)
        ok = np.all((ipos >= 0) & (ipos < np.array(space)), axis=1)
        i_flat = np.ravel_multi_index(tuple(ipos[ok].T), space)
        o_flat = np.nonzero(ok)[0]
        for c in range(channels):
            matrix[c * int(np.prod(space)) + i_flat, c * int(np.prod(out)) + o_flat] += value
    return matrix, np.zeros(matrix.shape[1])


def _delay_steps(node, name, size, dt) -> np.ndarray:
    delay = _array(node, name, "delay").reshape(-1)
    if not np.all(np.isfinite(delay)):
        raise NIRError(f"node {name!r} (Delay): delay must be finite")
    if delay.size not in (1, size):
        raise NIRError(f"node {name!r} (Delay): delay has {delay.size} values for a signal of {size}")
    steps = np.broadcast_to(delay, (size,)) / dt
    whole = np.round(steps)
    if np.any(steps < 0) or np.any(np.abs(steps - whole) > STEP_TOLERANCE * np.maximum(1, whole)):
        bad = delay[np.argmax(np.abs(steps - whole))] if delay.size > 1 else delay[0]
        raise NIRError(f"node {name!r} (Delay): delay {bad:g} s is not a whole number of steps of "
                       f"dt = {dt:g} s (0, dt, 2 dt, ...)")
    return whole.astype(np.int64)


def _apply(node, name, terms, bias, in_shape, out_shape, dt):
    """The terms and bias after one linear node. terms: {(source, delay, via): matrix
    [source size, signal size]}; bias: the constant part of the signal."""
    kind = _kind(node)
    size = int(np.prod(in_shape))
    if kind in ("Affine", "Linear"):
        weight = _array(node, name, "weight")
        if weight.shape[1] != size:
            raise NIRError(f"node {name!r} ({kind}): weight has shape {weight.shape}, its input has {size} values")
        extra = np.zeros(weight.shape[0]) if kind == "Linear" else np.broadcast_to(
            _array(node, name, "bias").reshape(-1), (weight.shape[0],))
        if not np.all(np.isfinite(weight)) or not np.all(np.isfinite(extra)):
            raise NIRError(f"node {name!r} ({kind}): weight and bias must be finite")
        matrix = weight.T
    elif kind in ("Conv1d", "Conv2d"):
        matrix, extra = _conv_matrix(node, name, in_shape, 1 if kind == "Conv1d" else 2)
    elif kind in ("SumPool2d", "AvgPool2d"):
        matrix, extra = _pool_matrix(node, name, in_shape)
    elif kind == "Scale":
        scale = _array(node, name, "scale").reshape(-1)
        if not np.all(np.isfinite(scale)):
            raise NIRError(f"node {name!r} (Scale): scale must be finite")
        if scale.size not in (1, size):
            raise NIRError(f"node {name!r} (Scale): scale has {scale.size} values for a signal of {size}")
        scale = np.broadcast_to(scale, (size,))
        return {k: m * scale for k, m in terms.items()}, bias * scale
    elif kind == "Delay":
        steps = _delay_steps(node, name, size, dt)
        out = {}
        for (src, d, via), m in terms.items():
            for s in np.unique(steps):
                part = np.where(steps == s, m, 0.0)
                key = (src, d + int(s), via)
                out[key] = out[key] + part if key in out else part
        return out, bias
    else:                      # Flatten, Identity and the pass-throughs of subgraphs
        if int(np.prod(out_shape)) != size:
            raise NIRError(f"node {name!r} ({kind}): output shape {out_shape} has another size than its input {size}")
        return terms, bias
    tag = (name,) if kind in WEIGHTED else ()
    return {(s, d, via + tag): m @ matrix for (s, d, via), m in terms.items()}, bias @ matrix + extra


def _maps(nodes, preds, shapes, dt):
    """For every neuron and Output node, the terms and bias of its input."""
    memo, active = {}, set()

    def signal(name):
        if name in memo:
            return memo[name]
        node, kind = nodes[name], _kind(nodes[name])
        size = int(np.prod(shapes[name]))
        if kind == "Input" or kind in NEURONS:
            memo[name] = ({(name, 0, ()): np.eye(size)}, np.zeros(size))
            return memo[name]
        if name in active:
            raise NIRError(f"node {name!r} ({kind}) is on a loop of linear nodes with no neuron in it; "
                           f"a loop needs a neuron (and takes one step)")
        active.add(name)
        terms, bias = gather(name)
        in_shape = shapes[preds[name][0]] if preds[name] else shapes[name]
        memo[name] = _apply(node, name, terms, bias, in_shape, shapes[name], dt)
        active.discard(name)
        return memo[name]

    def gather(name):
        terms, bias = {}, np.zeros(int(np.prod(shapes[preds[name][0]] if preds[name] else shapes[name])))
        for p in preds[name]:
            t, b = signal(p)
            if b.size != bias.size:
                raise NIRError(f"node {name!r} gets {b.size} values from {p!r} and {bias.size} from "
                               f"{preds[name][0]!r}")
            bias = bias + b
            for key, m in t.items():
                terms[key] = terms[key] + m if key in terms else m
        return terms, bias

    out = {}
    for name, node in nodes.items():
        if _kind(node) in NEURONS + ("Output",):
            out[name] = gather(name)
            size = int(np.prod(shapes[name]))
            if out[name][1].size != size:
                raise NIRError(f"node {name!r} ({_kind(node)}) has {size} neurons, its input {preds[name]} "
                               f"gives {out[name][1].size} values")
    return out


# --- Timing: loops, latencies, delays --------------------------------------------------------------


def _back_edges(sources, edges) -> set:
    """Edges (a, b) that close a loop: found by depth-first search from the sources in name order,
    successors in name order, so that the result depends on the names only (a file's node order
    is not kept by HDF5)."""
    succ = {}
    for a, b in edges:
        succ.setdefault(a, set()).add(b)
    state, back = {}, set()
    for root in sorted(sources) + sorted(set(succ) - set(sources)):
        if root in state:
            continue
        stack = [(root, iter(sorted(succ.get(root, ()))))]
        state[root] = "open"
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = "done"
                stack.pop()
            elif state.get(nxt) == "open":
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = "open"
                stack.append((nxt, iter(sorted(succ.get(nxt, ())))))
    return back


def _timing(inputs, edges) -> tuple[dict, list]:
    """(latency per node, core delay per edge) for edges (a, b, delay in steps). An edge takes its
    delay; an edge that closes a loop of zero-delay edges takes one step (a loop needs a step to
    be computable in discrete time; a Delay node of a step or more already gives it)."""
    back = _back_edges(sorted(inputs), {(a, b) for a, b, d in edges if d == 0})
    steps = [1 if d == 0 and (a, b) in back else d for a, b, d in edges]
    lat = _latencies(inputs, [(a, b, st) for (a, b, _), st in zip(edges, steps)])
    return lat, [st + lat[b] - lat[a] for (a, b, _), st in zip(edges, steps)]


def _latencies(inputs, edges) -> dict:
    """The least latency L >= 0 per node (0 for inputs) such that every edge (a, b, steps) can be
    a core delay steps + L(b) - L(a) >= 1; `steps` already includes the step a loop takes."""
    names = set(inputs) | {a for a, _, _ in edges} | {b for _, b, _ in edges}
    lat = dict.fromkeys(names, 0)
    for _ in range(len(names) + 1):
        changed = []
        for a, b, steps in edges:
            need = lat[a] + 1 - steps
            if b not in inputs and lat[b] < need:
                lat[b] = need
                changed.append(b)
        if not changed:
            return lat
    raise NIRError(f"the loop through {sorted(set(changed))} carries fewer steps of delay than it has hops: "
                   f"each hop on the core takes a tick, while a loop without delay takes one step in NIR; give "
                   f"its edges Delay nodes (whole steps of dt) adding up to at least its number of hops")
