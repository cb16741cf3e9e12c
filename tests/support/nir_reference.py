"""A float simulator of NIR graphs for the tests: docs/nir.md's convention written directly,
node by node, independent of firmware/nir.py (which lowers the graph to integers instead).

Per step k, nodes are evaluated in the order of their dependencies; a node's input is the sum
of its predecessors' outputs of step k. A Delay node of one step or more depends on nothing of
step k (its output is known from earlier steps), so it breaks a loop; a loop without one is
broken at the edge that closes it (depth-first from the Inputs), which carries step k - 1's
output. Spikes are 0/1 values held for one step. Neurons, by forward Euler at dt:
    LIF, LI:      v += dt/tau (v_leak - v + r x)
    IF:           v += dt r x
    CubaLIF, CubaLI:  I += dt/tau_syn (w_in x - I);  v += dt/tau_mem (v_leak - v + r I)
then a spiking neuron with v > v_threshold spikes and v = v_reset. Every state starts at 0.
Batches run together: inputs [steps, batch, *shape].
"""

from __future__ import annotations

import numpy as np

import nir


def _flat(graph, prefix=""):
    """Nodes and edges with subgraphs inlined (their Input/Output become pass-throughs)."""
    nodes, edges, ins, outs = {}, [], {}, {}
    for k, n in graph.nodes.items():
        if isinstance(n, nir.NIRGraph):
            sub_nodes, sub_edges = _flat(n, f"{prefix}{k}.")
            nodes.update(sub_nodes)
            edges += sub_edges
            ins[prefix + k] = [f"{prefix}{k}.{j}" for j, m in n.nodes.items() if isinstance(m, nir.Input)][0]
            outs[prefix + k] = [f"{prefix}{k}.{j}" for j, m in n.nodes.items() if isinstance(m, nir.Output)][0]
        else:
            nodes[prefix + k] = n
    for a, b in graph.edges:
        a, b = outs.get(prefix + a, prefix + a), ins.get(prefix + b, prefix + b)
        if (a, b) not in edges:
            edges.append((a, b))
    return nodes, edges


def _delaying(n, dt):
    return isinstance(n, nir.Delay) and np.min(np.round(_p(n, "delay") / dt)) >= 1


def _loop_edges(nodes, edges):
    """Edges into a node that is still being visited, by depth-first search from the Inputs."""
    succ = {k: sorted(b for a, b in edges if a == k) for k in nodes}
    seen, loop = {}, set()

    def visit(k):
        seen[k] = "open"
        for j in succ[k]:
            if seen.get(j) == "open":
                loop.add((k, j))
            elif j not in seen:
                visit(j)
        seen[k] = "done"
    for k in sorted(k for k, n in nodes.items() if isinstance(n, nir.Input)) + sorted(nodes):
        if k not in seen:
            visit(k)
    return loop


def _conv(n, x, batch):
    """Conv1d or Conv2d node on x [batch, C*...] (groups, integer or 'same'/'valid' padding, no
    dilation): a Conv1d is a Conv2d of height 1."""
    w = np.asarray(n.weight, np.float64)
    one = w.ndim == 3
    if one:
        w = w[:, :, None, :]
    space = (1, int(n.input_shape)) if one else tuple(int(v) for v in n.input_shape)
    c_in = w.shape[1] * int(n.groups)
    stride = (1, int(np.asarray(n.stride).reshape(-1)[0])) if one else tuple(int(v) for v in np.broadcast_to(n.stride, 2))
    padding = n.padding.decode() if isinstance(n.padding, bytes) else n.padding
    if isinstance(padding, str):
        pad = (0, 0) if padding == "valid" else ((w.shape[2] - 1) // 2, (w.shape[3] - 1) // 2)
    else:
        pad = (0, int(np.asarray(padding).reshape(-1)[0])) if one else tuple(int(v) for v in np.broadcast_to(padding, 2))
    x = x.reshape(batch, c_in, *space)
    per_in, per_out = c_in // int(n.groups), w.shape[0] // int(n.groups)
    parts = [_conv2d(x[:, g * per_in:(g + 1) * per_in], w[g * per_out:(g + 1) * per_out], stride, pad,
                     _p(n, "bias")[g * per_out:(g + 1) * per_out]) for g in range(int(n.groups))]
    return np.concatenate(parts, axis=1).reshape(batch, -1)


def _conv2d(x, w, stride, pad, bias):
    """x [batch, C, H, W], w [O, C, kh, kw]: cross-correlation as in torch.nn.Conv2d (groups 1)."""
    b, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((b, c, h + 2 * pad[0], wd + 2 * pad[1]))
    xp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + wd] = x
    oh, ow = (h + 2 * pad[0] - kh) // stride[0] + 1, (wd + 2 * pad[1] - kw) // stride[1] + 1
    out = np.zeros((b, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
            out[:, :, i, j] = np.einsum("bckl,ockl->bo", patch, w)
    return out + bias.reshape(1, -1, 1, 1)


def _sumpool2d(x, k, s, p):
    b, c, h, w = x.shape
    xp = np.zeros((b, c, h + 2 * p[0], w + 2 * p[1]))
    xp[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x
    oh, ow = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    return np.array([[[[xp[bi, ci, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]].sum()
                        for j in range(ow)] for i in range(oh)] for ci in range(c)] for bi in range(b)])


def _p(node, attr, default=None):
    value = getattr(node, attr, None)
    return np.asarray(default if value is None else value, dtype=np.float64).reshape(-1)


def simulate(graph, dt, inputs, tau_times_dt=False, force=None):
    """Run `graph` on `inputs` ({Input node: [steps, batch, *shape]}). Returns
    ({node: output [steps, batch, size]}, {neuron node: voltage [steps, batch, size]}).
    force: {spiking node: spikes [steps, batch, size]} replaces those nodes' spikes (and
    resets) with the given ones, so that a voltage can be compared without feedback."""
    nodes, edges = _flat(graph)
    force = force or {}
    delaying = {k for k, n in nodes.items() if _delaying(n, dt)}
    loop = _loop_edges(nodes, [(a, b) for a, b in edges if b not in delaying])
    preds = {k: [a for a, b in edges if b == k] for k in nodes}
    order, done = [], set()
    while len(order) < len(nodes):
        for k in nodes:
            if k not in done and (k in delaying or all(a in done or (a, k) in loop for a in preds[k])):
                order.append(k)
                done.add(k)
    steps, batch = next(iter(inputs.values())).shape[:2]
    out, volt, state, prev, ring = {}, {}, {}, {}, {}   # ring: a Delay node's past inputs
    for k in nodes:
        out[k], volt[k] = [], []
    for t in range(steps):
        now = {}
        for k in order:
            n = nodes[k]
            if isinstance(n, nir.Input):
                now[k] = np.asarray(inputs[k][t], np.float64).reshape(batch, -1)
                continue
            if k in delaying:          # from earlier steps' inputs; this step's is stored below
                now[k] = _delayed(n, ring.setdefault(k, []), t, dt, batch)
                continue
            parts = [now[a] if (a, k) not in loop else prev.get(a) for a in preds[k]]
            parts = [x for x in parts if x is not None]
            x = sum(parts) if parts else 0.0
            if isinstance(n, (nir.Output, nir.Flatten)) or type(n).__name__ == "Identity":
                y = x
            elif isinstance(n, nir.Affine):
                y = x @ np.asarray(n.weight, np.float64).T + _p(n, "bias")
            elif isinstance(n, nir.Linear):
                y = x @ np.asarray(n.weight, np.float64).T
            elif isinstance(n, nir.Scale):
                y = x * _p(n, "scale")
            elif isinstance(n, nir.Delay):
                ring.setdefault(k, []).append(x)
                y = _delayed(n, ring[k], t, dt, batch)
            elif isinstance(n, (nir.Conv1d, nir.Conv2d)):
                y = _conv(n, x, batch)
            elif isinstance(n, (nir.SumPool2d, nir.AvgPool2d)):
                shape = tuple(int(v) for v in n.input_type["input"])      # (C, H, W), from nir's type inference
                kernel = tuple(int(v) for v in n.kernel_size)
                y = _sumpool2d(x.reshape(batch, *shape), kernel, tuple(int(v) for v in n.stride),
                               tuple(int(v) for v in n.padding)).reshape(batch, -1)
                if isinstance(n, nir.AvgPool2d):
                    y = y / (kernel[0] * kernel[1])
            else:
                y = _neuron(n, k, x, state, dt, tau_times_dt, force.get(k, [None] * steps)[t], volt, batch)
            now[k] = y
        for k in delaying:
            ring[k].append(sum(now[a] for a in preds[k]))
        for k, v in now.items():
            out[k].append(v)
        prev = now
    return ({k: np.array(v) for k, v in out.items() if v},
            {k: np.array(v) for k, v in volt.items() if v})


def _delayed(n, past, t, dt, batch):
    """A Delay node's output at step t from its inputs `past` (one per step so far)."""
    d = np.round(_p(n, "delay") / dt).astype(int)
    size = past[0].shape[1] if past else d.size
    d = d * np.ones(size, int)
    y = np.zeros((batch, size))
    for j in range(size):
        if 0 <= t - d[j] < len(past):
            y[:, j] = past[t - d[j]][:, j]
    return y


def _neuron(n, k, x, state, dt, tau_times_dt, forced, volt, batch):
    kind = type(n).__name__
    size = x.shape[1] if np.ndim(x) else max(np.asarray(getattr(n, a)).size for a in ("r", "v_leak", "v_threshold")
                                               if getattr(n, a, None) is not None)
    v = state.get(k + ".v", np.zeros((batch, size)))
    fix = (1 / dt) if tau_times_dt else 1.0
    r = _p(n, "r", 1.0)
    if kind in ("LIF", "LI"):
        a = dt / (_p(n, "tau") * fix)
        v = v + a * (_p(n, "v_leak") - v + r * x)
    elif kind == "IF":
        v = v + dt * r * x
    else:
        i = state.get(k + ".i", np.zeros((batch, size)))
        i = i + dt / (_p(n, "tau_syn") * fix) * (_p(n, "w_in", 1.0) * x - i)
        state[k + ".i"] = i
        v = v + dt / (_p(n, "tau_mem") * fix) * (_p(n, "v_leak") - v + r * i)
    if kind in ("LI", "CubaLI"):
        state[k + ".v"] = v
        volt[k].append(v.copy())
        return v
    spikes = v > _p(n, "v_threshold") if forced is None else np.asarray(forced, bool).reshape(batch, -1)
    v = np.where(spikes, _p(n, "v_reset", 0.0), v)
    state[k + ".v"] = v
    volt[k].append(v.copy())
    return spikes.astype(np.float64)


# --- graphs the NIR tests share --------------------------------------------------------------------


def self_driven_graph():
    """Two LIF populations that fire without input: v_leak above the threshold drives the first,
    whose spikes drive the second."""
    n = 4
    return nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([2])), "fc": nir.Linear(weight=np.zeros((n, 2))),
               "a": nir.LIF(tau=np.full(n, 5e-3), r=np.ones(n), v_leak=np.linspace(1.2, 2.0, n),
                            v_threshold=np.ones(n)),
               "ab": nir.Linear(weight=np.eye(n) * 1.5),
               "b": nir.LIF(tau=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, 0.4)),
               "spikes": nir.Output(output_type=np.array([n]))},
        edges=[("in", "fc"), ("fc", "a"), ("a", "ab"), ("ab", "b"), ("b", "spikes")])
