"""NIR in and out: graphs from snnTorch, Norse, Lava-dl, Sinabs or Rockpool on the core, and ours
handed back (docs/nir.md states the convention, the equations and the measured errors).

    network, report = from_nir(nir.read("model.nir"), dt=1e-4)   # a Network, and what mapped how
    image = compile_network(network)
    nir.write("ours.nir", to_nir(network, dt=1e-4))

    python -m firmware.nir info model.nir --dt 1e-4     # what maps, how, and with what error

NIR is continuous in time and carries no dt. The convention: forward Euler at the user's dt; a
spike is a unit value held for one step; the synaptic current is updated before the voltage,
which uses the new current (as Loihi, Lava and snnTorch's Synaptic do); a loop without a
Delay node takes one step. The core delivers every spike one tick or more later, so a population L hops from
the inputs runs L ticks behind the float graph: `report.latency` says by how much, and
`report.output_spikes` aligns a run with the graph's time steps.

Depends only on `nir`, numpy and the firmware package.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nir
import numpy as np

from . import formats
from .compiler import compile_network
from .config import CoreConfig
from .errors import AxoniteError, CapacityError, NIRError, one_line, show_path
from .network import FromList, Network, STDPRule, quantize_weights

NEURONS = ("LIF", "CubaLIF", "IF", "LI", "CubaLI")
SPIKING = ("LIF", "CubaLIF", "IF")
WEIGHTED = ("Affine", "Linear", "Conv1d", "Conv2d")
LINEAR = WEIGHTED + ("Scale", "Flatten", "Delay", "SumPool2d", "AvgPool2d", "Identity")
SCALINGS = ("weights", "range", "native")

# The threshold's scale: v crosses at vth << 6 <= 2**21, a quarter of v's range, so that the
# current and a negative voltage have room to exceed a threshold or two before they wrap or clip.
VTH_CAP = 1 << 15
# to_nir writes a population without leak (dv = 0) with tau = 2**40 dt: one part in 1e12 of
# leak per step in float, dv = round(4096 dt / tau) = 0 again on import.
NO_LEAK_STEPS = 2.0**40
# Delays are given in seconds; a delay that is not a whole number of steps (beyond float noise)
# is refused rather than rounded.
STEP_TOLERANCE = 1e-6
# A node lowered to a dense matrix larger than this (conv over a large input) is refused.
DENSE_LIMIT = 50_000_000
META = "axonite_"             # prefix of the metadata keys to_nir writes
FORMAT_VERSION = 1

_A_LO, _A_HI = formats.signed_range(formats.A_IN_BITS)
_BIAS_LO, _BIAS_HI = formats.signed_range(formats.BIAS_MANT_BITS)
_U_MAX = formats.UV_LIMIT - 1
_VTH_MAX = (1 << formats.VTH_BITS) - 1


# --- Report ------------------------------------------------------------------------------------


@dataclass
class NodeMapping:
    """How one NIR node maps: `target` names the core object, `how` the parameters, and
    `errors` the largest relative error of each quantized parameter (0 = exact)."""

    node: str
    kind: str
    target: str
    how: str = ""
    errors: dict = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)


@dataclass
class PopulationMapping:
    """A neuron node as a population. `scale[i]` converts neuron i's voltage: v_float =
    v_core / scale[i]; `latency` is the ticks by which the population runs behind the graph."""

    node: str
    population: str
    kind: str
    size: int
    latency: int
    scale: np.ndarray
    vth: int
    spiking: bool


@dataclass
class OutputMapping:
    """An Output node: the population it reads, spikes (or, for an LI readout, voltages)."""

    node: str
    population: str
    latency: int
    reads: str                # "spikes" or "voltage"


@dataclass
class NIRReport:
    """What from_nir did: per node, the core object, the parameters and the quantization error."""

    dt: float
    scaling: str
    nodes: dict = field(default_factory=dict)          # node -> NodeMapping
    populations: dict = field(default_factory=dict)    # population name -> PopulationMapping
    inputs: dict = field(default_factory=dict)         # Input node -> (input group, shape)
    outputs: dict = field(default_factory=dict)        # Output node -> OutputMapping
    notes: list = field(default_factory=list)

    @property
    def max_error(self) -> float:
        return max((m.max_error for m in self.nodes.values()), default=0.0)

    @property
    def latency(self) -> dict:
        """Ticks by which each population runs behind the graph's time steps."""
        return {name: p.latency for name, p in self.populations.items()}

    def input_raster(self, inputs, image) -> np.ndarray:
        """The core's input raster [steps, n_inputs] from the graph's inputs: an array
        [steps, *shape] (graphs with one Input) or a dict {Input node: array}. Step k is tick k."""
        if not isinstance(inputs, dict):
            if len(self.inputs) != 1:
                raise NIRError(f"the graph has {len(self.inputs)} Input nodes {sorted(self.inputs)}; "
                               f"give a dict {{Input node: array}}")
            inputs = {next(iter(self.inputs)): inputs}
        unknown = set(inputs) - set(self.inputs)
        if unknown:
            raise NIRError(f"no Input nodes named {sorted(unknown)}; the graph has {sorted(self.inputs)}")
        arrays = {node: np.asarray(value) for node, value in inputs.items()}
        if any(a.ndim < 1 for a in arrays.values()):
            raise NIRError("inputs are arrays [steps, *shape]")
        steps = {a.shape[0] for a in arrays.values()}
        if len(steps) != 1:
            raise NIRError(f"inputs cover different numbers of steps: {sorted(steps)}")
        raster = np.zeros((steps.pop(), image.config.n_inputs), bool)
        for node, arr in arrays.items():
            group, shape = self.inputs[node]
            size, given = int(np.prod(shape)), int(np.prod(arr.shape[1:]))
            if given != size:
                raise NIRError(f"Input {node!r}: each step has {given} values, the node has shape "
                               f"{tuple(shape)} ({size})")
            raster[:, image.input_ids(group)] = arr.reshape(arr.shape[0], size) != 0
        return raster

    def output_spikes(self, result, image, output: str | None = None) -> np.ndarray:
        """An Output node's spikes [steps, size] from a run that started at tick 0: row k is
        the graph's step k, i.e. tick k + latency (a run of T ticks gives T - latency rows)."""
        spiking = {k: o for k, o in self.outputs.items() if o.reads == "spikes"}
        if output is None:
            if len(spiking) != 1:
                raise NIRError(f"the graph has {len(spiking)} spiking outputs {sorted(spiking)}; name one")
            output = next(iter(spiking))
        if output not in spiking:
            raise NIRError(f"no spiking Output named {output!r}; the graph has {sorted(spiking)}")
        o = spiking[output]
        ids = image.neuron_ids(o.population)
        column = {int(n): k for k, n in enumerate(result.output_ids)}
        missing = [int(n) for n in ids if int(n) not in column]
        if missing:
            raise NIRError(f"Output {output!r}: neurons {missing[:5]} of {o.population!r} are not recorded")
        spikes = result.spikes[:, [column[int(n)] for n in ids]]
        skip = o.latency - result.start_tick
        return spikes[max(skip, 0):]

    def __str__(self) -> str:
        lines = [f"NIR graph at dt = {self.dt:g} s, scaling {self.scaling!r}: "
                 f"{len(self.populations)} populations, largest relative error {self.max_error:.3g}"]
        for name, (group, shape) in self.inputs.items():
            lines.append(f"  Input {name!r} -> inputs {group!r} ({int(np.prod(shape))} axons, shape {tuple(shape)})")
        for m in self.nodes.values():
            if m.kind in ("Input", "Output"):
                continue
            err = ", ".join(f"{k} {v:.3g}" for k, v in m.errors.items()) or "exact"
            lines.append(f"  {m.kind} {m.node!r} -> {m.target}: {m.how} [error: {err}]")
        for name, o in self.outputs.items():
            lines.append(f"  Output {name!r} <- {o.reads} of {o.population!r}, {o.latency} ticks behind")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# --- Graph: flatten subgraphs, edges, shapes ------------------------------------------------------


class _Pass:
    """The Input or Output node of an inlined subgraph: passes its signal on unchanged."""

    def __init__(self, shape):
        self.shape = shape
        self.metadata = {}


def _kind(node) -> str:
    return "Identity" if isinstance(node, _Pass) else type(node).__name__


def _name(x) -> str:
    return x.decode("utf8") if isinstance(x, bytes) else str(x)


def _flatten(graph, prefix: str = "") -> tuple[dict, list]:
    """Nodes and edges with every subgraph inlined: its nodes become "sub.node", its Input and
    Output pass-throughs, and edges to or from the subgraph go to its Input, from its Output."""
    nodes, edges, entry, exit_, subgraphs = {}, [], {}, {}, set()
    for raw, node in graph.nodes.items():
        key = prefix + _name(raw)
        if isinstance(node, nir.NIRGraph):
            subgraphs.add(key)
            inner, inner_edges = _flatten(node, key + ".")
            ins = [k for k, n in node.nodes.items() if isinstance(n, nir.Input)]
            outs = [k for k, n in node.nodes.items() if isinstance(n, nir.Output)]
            for label, found in (("Input", ins), ("Output", outs)):
                if len(found) > 1:
                    raise NIRError(f"subgraph {key!r} has {len(found)} {label} nodes {found}; an edge to or "
                                   f"from a subgraph needs exactly one")
            for k in ins + outs:
                shape = node.nodes[k].input_type["input"] if k in ins else node.nodes[k].output_type["output"]
                inner[f"{key}.{_name(k)}"] = _Pass(shape)
            nodes.update(inner)
            edges += inner_edges
            if ins:
                entry[key] = f"{key}.{_name(ins[0])}"
            if outs:
                exit_[key] = f"{key}.{_name(outs[0])}"
        else:
            nodes[key] = node
    for a, b in graph.edges:
        a, b = prefix + _name(a), prefix + _name(b)
        if a in subgraphs:
            if a not in exit_:
                raise NIRError(f"edge ({a!r}, {b!r}) leaves subgraph {a!r}, which has no Output node")
            a = exit_[a]
        if b in subgraphs:
            if b not in entry:
                raise NIRError(f"edge ({a!r}, {b!r}) enters subgraph {b!r}, which has no Input node")
            b = entry[b]
        edges.append((a, b))
    return nodes, edges


def _graph(graph) -> tuple[dict, dict, dict]:
    """(nodes, preds, succs) of the flattened graph; duplicate edges count once."""
    if not isinstance(graph, nir.NIRGraph):
        raise NIRError(f"expected a nir.NIRGraph (nir.read(path) gives one), got {type(graph).__name__}")
    nodes, edges = _flatten(graph)
    preds = {k: [] for k in nodes}
    succs = {k: [] for k in nodes}
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise NIRError(f"edge ({a!r}, {b!r}) names node {end!r}, which the graph does not have")
        if b not in succs[a]:
            succs[a].append(b)
            preds[b].append(a)
    for name, node in nodes.items():
        kind = _kind(node)
        if kind not in NEURONS + LINEAR + ("Input", "Output"):
            raise NIRError(f"node {name!r} is a {kind}, which the core cannot express; it maps "
                           f"Input, Output, {', '.join(NEURONS)}, {', '.join(LINEAR[:-1])}")
        if kind == "Output" and succs[name]:
            raise NIRError(f"Output {name!r} feeds {succs[name]}; an Output ends the graph")
        if kind == "Input" and preds[name]:
            raise NIRError(f"Input {name!r} is fed by {preds[name]}; an Input starts the graph")
        if kind in LINEAR + ("Output",) and not preds[name]:
            raise NIRError(f"node {name!r} ({kind}) has no input; only Input and neuron nodes may start a path")
    return nodes, preds, succs


def _array(node, name: str, attr: str) -> np.ndarray:
    value = getattr(node, attr, None)
    if value is None:
        raise NIRError(f"node {name!r} ({_kind(node)}) has no {attr}")
    try:                       # numpy arrays, lists, torch tensors: whatever the exporter left
        arr = np.asarray(value, dtype=np.float64)
    except Exception:
        raise NIRError(f"node {name!r} ({_kind(node)}): {attr} is not numeric ({type(value).__name__})") from None
    if np.any(np.isnan(arr)):
        raise NIRError(f"node {name!r} ({_kind(node)}): {attr} contains NaN")
    return arr


def _ints(value, count: int, node: str, attr: str) -> tuple:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except Exception:
        arr = np.zeros(0)
    if arr.size == 1:
        arr = np.repeat(arr, count)
    if arr.size != count or not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)) or np.any(arr < 0):
        raise NIRError(f"node {node!r}: {attr} = {value!r} must be one non-negative integer or {count}")
    return tuple(int(x) for x in arr)


def _own_shape(node, name: str, single: bool = False) -> tuple | None:
    """A neuron node's shape from its parameters: from an array of several values, or (with
    `single`) of one value, (1,) when all are scalars; else None."""
    named = {a: np.asarray(getattr(node, a)) for a in ("tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "w_in")
             if getattr(node, a, None) is not None}
    arrays = list(named.values())
    several = {a: arr.shape for a, arr in named.items() if arr.size > 1}
    if len({int(np.prod(sh)) for sh in several.values()}) > 1:
        raise NIRError(f"node {name!r} ({_kind(node)}): its parameters have different sizes: "
                       + ", ".join(f"{a} has shape {sh}" for a, sh in several.items()))
    for arr in arrays:
        if arr.size > 1:
            return arr.shape
    if single:
        return next((arr.shape for arr in arrays if arr.ndim), (1,))
    return None


def _conv_geometry(node, name, in_shape, spatial):
    """(channels in, spatial input shape, kernel, stride, padding before, dilation) of a conv."""
    weight = _array(node, name, "weight")
    if not np.all(np.isfinite(weight)):
        raise NIRError(f"node {name!r} ({_kind(node)}): weight must be finite")
    if weight.ndim != spatial + 2:
        raise NIRError(f"node {name!r} ({_kind(node)}): weight has shape {weight.shape}; expected "
                       f"(C_out, C_in/groups, {', '.join('K' * spatial)})")
    groups = _ints(getattr(node, "groups", 1), 1, name, "groups")[0]
    c_in = weight.shape[1] * groups
    size = int(np.prod(in_shape))
    if len(in_shape) == spatial + 1 and in_shape[0] == c_in:
        space = tuple(in_shape[1:])
    elif getattr(node, "input_shape", None) is not None:
        space = _ints(node.input_shape, spatial, name, "input_shape")
    elif len(in_shape) > spatial + 1 and all(d == 1 for d in in_shape[:-spatial - 1]) and in_shape[-spatial - 1] == c_in:
        space = tuple(in_shape[-spatial:])
    else:
        raise NIRError(f"node {name!r} ({_kind(node)}): input of shape {tuple(in_shape)} is not "
                       f"({c_in}, {', '.join('N' * spatial)}) and the node gives no input_shape")
    if c_in * int(np.prod(space)) != size:
        raise NIRError(f"node {name!r} ({_kind(node)}): input_shape {space} with {c_in} channels is "
                       f"{c_in * int(np.prod(space))} values, its input has {size}")
    kernel = weight.shape[2:]
    stride = _ints(getattr(node, "stride", 1), spatial, name, "stride")
    dilation = _ints(getattr(node, "dilation", 1), spatial, name, "dilation")
    padding = getattr(node, "padding", 0)
    if isinstance(padding, (bytes, np.bytes_)):
        padding = padding.decode()
    if isinstance(padding, str) or (isinstance(padding, np.ndarray) and padding.dtype.kind in "SUO"):
        padding = str(np.asarray(padding).reshape(-1)[0] if isinstance(padding, np.ndarray) else padding)
        if padding == "valid":
            before = (0,) * spatial
        elif padding == "same":
            before = tuple(d * (k - 1) // 2 for d, k in zip(dilation, kernel))
        else:
            raise NIRError(f"node {name!r}: padding {padding!r} is not 'same', 'valid' or integers")
        out = space if padding == "same" else tuple(
            (n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(space, kernel, stride, dilation))
    else:
        before = _ints(padding, spatial, name, "padding")
        out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                    for n, p, k, s, d in zip(space, before, kernel, stride, dilation))
    if min(out) < 1:
        raise NIRError(f"node {name!r} ({_kind(node)}): the kernel {kernel} does not fit the input {space}")
    return weight, groups, c_in, space, kernel, stride, before, dilation, out


def _pool_geometry(node, name, in_shape):
    if len(in_shape) != 3:
        raise NIRError(f"node {name!r} ({_kind(node)}): input of shape {tuple(in_shape)} is not (C, H, W)")
    kernel = _ints(node.kernel_size, 2, name, "kernel_size")
    stride = _ints(node.stride if node.stride is not None else node.kernel_size, 2, name, "stride")
    padding = _ints(node.padding, 2, name, "padding")
    out = tuple((n + 2 * p - k) // s + 1 for n, p, k, s in zip(in_shape[1:], padding, kernel, stride))
    if min(out) < 1:
        raise NIRError(f"node {name!r} ({_kind(node)}): the kernel {kernel} does not fit the input {in_shape[1:]}")
    return kernel, stride, padding, out


def _flatten_shape(node, name, in_shape):
    nd = len(in_shape)
    start, end = int(node.start_dim), int(node.end_dim)
    start, end = start % nd if nd else 0, end % nd if nd else 0
    if nd and start > end:
        raise NIRError(f"node {name!r} (Flatten): start_dim {node.start_dim} is after end_dim {node.end_dim} "
                       f"for an input of shape {tuple(in_shape)}")
    return tuple(in_shape[:start]) + (int(np.prod(in_shape[start:end + 1])),) + tuple(in_shape[end + 1:])


def _out_shape(node, name, in_shape):
    """Output shape of a linear node for an input of `in_shape`."""
    kind = _kind(node)
    if kind in ("Affine", "Linear"):
        weight = np.asarray(node.weight)
        if weight.ndim != 2:
            raise NIRError(f"node {name!r} ({kind}): weight has shape {weight.shape}; expected (out, in)")
        return (weight.shape[0],)
    if kind == "Scale" and np.asarray(node.scale).size > 1:
        return np.asarray(node.scale).shape
    if kind == "Flatten":
        return _flatten_shape(node, name, in_shape)
    if kind in ("Conv1d", "Conv2d"):
        geo = _conv_geometry(node, name, in_shape, 1 if kind == "Conv1d" else 2)
        return (geo[0].shape[0],) + geo[-1]
    if kind in ("SumPool2d", "AvgPool2d"):
        return (in_shape[0],) + _pool_geometry(node, name, in_shape)[-1]
    return tuple(in_shape)


def _shapes(nodes, preds) -> dict:
    """Every node's output shape: Inputs and neuron parameters of several values give them,
    linear nodes derive theirs, neurons whose parameters are single values take their input's
    shape (or one neuron, if no input of known size reaches them)."""
    shapes = {}
    for name, node in nodes.items():
        kind = _kind(node)
        if kind == "Input":
            shape = (getattr(node, "input_type", None) or {}).get("input")
            if shape is None:
                raise NIRError(f"Input {name!r} has no shape")
            shapes[name] = _ints(shape, np.asarray(shape).size, name, "shape")
        elif kind in NEURONS and _own_shape(node, name) is not None:
            shapes[name] = tuple(_own_shape(node, name))
        elif kind in ("Affine", "Linear"):
            shapes[name] = _out_shape(node, name, ())

    def settle():
        changed = True
        while changed:
            changed = False
            for name, node in nodes.items():
                if name not in shapes and preds[name] and derive(name, node):
                    changed = True

    def derive(name, node):
        known = [shapes[p] for p in preds[name] if p in shapes]
        kind = _kind(node)
        if kind in NEURONS or kind == "Output":
            if known:
                shapes[name] = known[0]
            return bool(known)
        if len(known) < len(preds[name]):
            return False
        sizes = {int(np.prod(s)) for s in known}
        if len(sizes) > 1:
            raise NIRError(f"node {name!r} ({kind}) sums inputs of different sizes: {dict(zip(preds[name], known))}")
        shapes[name] = _out_shape(node, name, known[0])
        return True

    settle()
    # neurons no sized input reaches (a population fed by nothing, or only by its own loop)
    for name, node in nodes.items():
        if name not in shapes and _kind(node) in NEURONS:
            shapes[name] = tuple(_own_shape(node, name, single=True))
            settle()
    for name, node in nodes.items():
        if name not in shapes:
            raise NIRError(f"node {name!r} ({_kind(node)}): its size cannot be inferred (no input of known "
                           f"size reaches it)")
    return shapes


# --- Linear maps: every path from a source to a consumer, as matrices per delay ------------------


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


# --- Neuron parameters and scales --------------------------------------------------------------------


@dataclass
class _Neurons:
    """A neuron node's parameters per neuron, in the forward-Euler form the core takes."""

    name: str
    kind: str
    size: int
    a_mem: np.ndarray          # dt / tau_mem (0: no leak)
    a_syn: np.ndarray | None   # dt / tau_syn (CubaLIF, CubaLI)
    gain: np.ndarray           # voltage per step per unit of input, before the scale
    drive: np.ndarray          # voltage per step from v_leak (and, later, the input's bias)
    r_in: np.ndarray           # input -> drive factor for a constant input (bias)
    theta: np.ndarray          # threshold (spiking) or the voltage bound (readouts)
    spiking: bool


def _neurons(node, name, size, dt, tau_times_dt=False) -> _Neurons:
    kind = _kind(node)

    def param(attr, default=None):
        if getattr(node, attr, None) is None and default is not None:
            return np.full(size, float(default))
        arr = _array(node, name, attr)
        if arr.size == 1:
            return np.full(size, float(arr.reshape(-1)[0]))
        if arr.size != size:
            raise NIRError(f"node {name!r} ({kind}): {attr} has shape {arr.shape}; the node has {size} "
                           f"neurons (give one value or {size})")
        return arr.reshape(-1).copy()

    def rate(attr):
        tau = param(attr) / (dt if tau_times_dt else 1.0)
        if np.any(tau <= 0):
            raise NIRError(f"node {name!r} ({kind}): {attr} = {tau[tau <= 0][0]:g} must be positive")
        a = dt / tau
        if np.any(a > 1 + 1e-12):
            bad = tau[np.argmax(a)]
            raise NIRError(
                f"node {name!r} ({kind}): {attr} = {bad:g} s is shorter than dt = {dt:g} s (dt/tau = "
                f"{dt / bad:.3g} > 1): forward Euler overshoots, and the core's decay 4096*dt/tau is at most "
                f"4096. Norse's to_nir up to 1.1.0 writes tau multiplied by dt (tau = dt/tau_mem_inv, norse/norse#411): "
                f"for such a graph pass tau_times_dt=True (python -m firmware.nir: --tau-times-dt) with its dt; "
                f"otherwise use a smaller dt")
        return np.minimum(a, 1.0)

    r = param("r", 1.0)
    if not np.all(np.isfinite(r)):
        raise NIRError(f"node {name!r} ({kind}): r must be finite")
    if kind in SPIKING:
        v_reset = param("v_reset", 0.0)
        if np.any(v_reset != 0):
            raise NIRError(f"node {name!r} ({kind}): v_reset = {v_reset[v_reset != 0][0]:g}; the core resets "
                           f"the voltage to 0 (v_reset = 0 only; shifting the voltage would change the initial "
                           f"state)")
        theta = param("v_threshold")
        if not np.all(np.isfinite(theta)) or np.any(theta < 0):
            raise NIRError(f"node {name!r} ({kind}): v_threshold = {theta[~(theta >= 0) | ~np.isfinite(theta)][0]:g}; "
                           f"the core's threshold is a non-negative 17-bit value (vth >= 0)")
    else:
        theta = np.zeros(size)
    v_leak = np.zeros(size) if kind == "IF" else param("v_leak")
    if not np.all(np.isfinite(v_leak)):
        raise NIRError(f"node {name!r} ({kind}): v_leak must be finite")
    a_syn = None
    if kind == "IF":
        a_mem, gain, r_in = np.zeros(size), r * dt, r * dt
    elif kind in ("LIF", "LI"):
        a_mem = rate("tau")
        gain = r_in = r * a_mem
    else:
        a_mem, a_syn = rate("tau_mem"), rate("tau_syn")
        w_in = param("w_in", 1.0)
        if not np.all(np.isfinite(w_in)):
            raise NIRError(f"node {name!r} ({kind}): w_in must be finite")
        # w_in scales the input elementwise (NIR: tau_syn dI/dt = -I + w_in S), never the threshold
        gain, r_in = r * w_in * a_mem * a_syn, r * w_in * a_mem
    return _Neurons(name, kind, size, a_mem, a_syn, gain, a_mem * v_leak, r_in, theta, kind in SPIKING)


def _scale_vth(neur, fractions, pos_sum, neg_sum, drive_rel, config, scaling, no_wrap):
    """The population's vth (spiking) or voltage scale (readouts) in core units: the largest the
    ranges allow ("range"), or the one that puts the largest weight at a full mantissa ("weights").
    fractions: per synapse, the weight in thresholds; pos_sum/neg_sum: per neuron, the sum of the
    positive/negative ones; drive_rel: per neuron, the constant drive per step in thresholds."""
    lo, hi = formats.signed_range(config.weight_bits)
    top = formats.max_weight_exp(config.weight_bits)
    w_max = hi << top
    limits = {f"the cap vth <= {VTH_CAP} (the threshold at a quarter of the voltage's range)": VTH_CAP}
    big = np.max(np.abs(fractions), initial=0.0)
    if big > 0:
        limits[f"weights: the largest is {big:.3g} thresholds, a mantissa x 2**exp is at most {w_max}"] = w_max / big
    d = np.max(np.abs(drive_rel), initial=0.0)
    if d > 0:
        most = _BIAS_HI << formats.BIAS_EXP_MAX
        limits[f"bias: {d:.3g} thresholds per step, bias_mant << bias_exp is at most {most}"] = most / (64 * d)
    if no_wrap:
        p, n = np.max(pos_sum, initial=0.0), np.max(-neg_sum, initial=0.0)
        if p > 0:
            limits[f"16-bit input: all excitatory inputs in one tick sum to {p:.3g} thresholds"] = _A_HI / p
        if n > 0:
            limits[f"16-bit input: all inhibitory inputs in one tick sum to {n:.3g} thresholds"] = -_A_LO / n
        if neur.a_syn is not None:
            # the current of a tick's input, held: 64 * a * 4096 / (du + 1) must fit u's 24 bits
            du1 = np.maximum(1, np.round(formats.DECAY_UNITY * neur.a_syn))
            u = 64 * np.max(np.maximum(pos_sum, -neg_sum) * formats.DECAY_UNITY / du1, initial=0.0)
            if u > 0:
                limits[f"24-bit current: a held input of {u / 64:.3g} thresholds"] = _U_MAX / u
    bound = min(limits.values())
    binding = min(limits, key=limits.get)
    if bound < 1:
        raise NIRError(f"node {neur.name!r} ({neur.kind}): no threshold scale fits ({binding}; it allows "
                       f"vth <= {bound:.3g}, the smallest is 1); the weights are too large for the threshold")
    note = None
    if no_wrap and neur.spiking and np.all(neur.a_mem > 0):
        # the voltage's floor: held inhibition drives v to (drive + input) / (dt/tau_mem) thresholds;
        # it may lower vth only as far as the largest weight keeps a full mantissa at exponent 0
        held = neg_sum / neur.a_syn if neur.a_syn is not None else neg_sum
        low = -np.min(np.minimum(0.0, (drive_rel + held) / neur.a_mem), initial=0.0)
        if low > 0:
            soft = formats.V_MAX / (64 * low)
            floor = min(bound, hi / big) if big > 0 else 1.0
            if soft < bound:
                bound = max(soft, floor)
                binding = f"24-bit voltage: held inhibition reaches -{low:.3g} thresholds"
                if soft < floor:
                    note = (f"{neur.kind} {neur.name!r}: the voltage clips at -{formats.V_MAX / (64 * math.floor(bound)):.3g} "
                            f"thresholds; held inhibition could take it to -{low:.3g} (kept: the weights' precision)")
    vth = math.floor(bound)
    if scaling == "weights" and big > 0:
        for exp in range(top, -1, -1):
            candidate = math.floor(hi * 2**exp / big)
            if 1 <= candidate <= bound:
                if candidate < vth:
                    binding = f"the largest weight at a full mantissa << {exp} ({binding}: vth <= {bound:.0f})"
                vth = candidate
                break
    return vth, binding, note


def _bias(values, owner):
    """Per-neuron bias in core units -> (bias_mant, one bias_exp >= 0, relative error)."""
    top = np.max(np.abs(values), initial=0.0)
    for exp in range(formats.BIAS_EXP_MAX + 1):
        mant = np.round(values / 2**exp)
        if mant.min(initial=0) >= _BIAS_LO and mant.max(initial=0) <= _BIAS_HI:
            return mant.astype(np.int64), exp, _relative(mant * 2**exp, values)
    raise NIRError(f"{owner}: bias {top:.6g} (core units) exceeds {_BIAS_HI << formats.BIAS_EXP_MAX}")


def _decay(rate, offset):
    """A decay parameter for the rate dt/tau: round(4096 rate) - offset in 0..4095, and the
    rate's relative error ((decay + offset)/4096 against dt/tau; absolute where dt/tau = 0)."""
    value = np.clip(np.round(formats.DECAY_UNITY * rate) - offset, 0, formats.DECAY_UNITY - 1).astype(np.int64)
    real = (value + offset) / formats.DECAY_UNITY
    err = np.abs(real - rate) / np.where(rate > 0, rate, 1.0)
    return value, float(np.max(err, initial=0.0))


# --- from_nir ------------------------------------------------------------------------------------------


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
                if vth.max(initial=0) > _VTH_MAX:
                    raise NIRError(f"{owner}: v_threshold {plan['vth'].max():g} is {vth.max()} in core units, above "
                                   f"the 17-bit vth {_VTH_MAX}")
                errors["v_threshold"] = _relative(vth, plan["vth"])
            else:
                vth = np.full(n.size, _VTH_MAX)         # unreachable: the scale keeps |v| <= 2**21
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


def _relative(got, want) -> float:
    """Largest |got - want| relative to the largest |want| (0 for none, or all zero)."""
    top = np.max(np.abs(want), initial=0.0)
    return float(np.max(np.abs(np.asarray(got) - want)) / top) if top else 0.0


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


# --- to_nir -----------------------------------------------------------------------------------------


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


# --- files and the command line ------------------------------------------------------------------


def read(path) -> "nir.NIRGraph":
    """nir.read without its type check (graphs from snnTorch often carry shape-() parameters
    that fail it; from_nir checks sizes itself), with a clear error for what is not a NIR file."""
    if not isinstance(path, (str, os.PathLike)):
        raise NIRError(f"NIR path {path!r}: a path is a str or os.PathLike, not a {type(path).__name__}")
    p, shown = Path(path), show_path(path)
    try:
        if not p.is_file():
            raise NIRError(f"{shown}: no such file")
    except (OSError, ValueError) as error:     # a NUL byte, a name too long
        raise NIRError(f"{shown}: not a usable path ({error})") from None
    try:
        return nir.read(p, type_check=False)
    except Exception as error:   # h5py and HDF5 raise many kinds (RuntimeError ...) on a corrupt file
        raise NIRError(f"{shown}: not a readable NIR file ({type(error).__name__}: {error})") from None


# `info` without --dt on a graph that names no step assumes snnTorch's (its export_to_nir's dt).
INFO_DT = 1e-4


def graph_dt(graph) -> float | None:
    """The step a graph names in its metadata (to_nir's `axonite_dt`, or a plain `dt` as
    examples/nir_digits.py writes), else None: NIR itself carries none."""
    meta = getattr(graph, "metadata", None) or {}
    for key in (META + "dt", "dt"):
        try:
            value = float(meta[key])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(value) and value > 0:
            return value
    return None


def network_from(graph, dt: float | None = None, config: CoreConfig | None = None,
                 **options) -> tuple[Network, NIRReport]:
    """from_nir for the command lines: `graph` a NIR graph or a .nir path; dt the one given, else
    the one the graph names (graph_dt), else a refusal (NIR carries no dt)."""
    if isinstance(graph, (str, Path)):
        path, graph = graph, read(graph)
    else:
        path = "the graph"
    if dt is None:
        dt = graph_dt(graph)
        if dt is None:
            raise NIRError(f"{path}: give the step with --dt (NIR carries none, and the graph names none)")
    return from_nir(graph, float(dt), config, **options)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware.nir", description="NIR graphs on the axonite core")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print what maps, how, and with what error")
    info.add_argument("graph", help=".nir file")
    info.add_argument("--dt", type=float, default=None,
                      help=f"step in seconds (default: the graph's own, else {INFO_DT:g}, snnTorch's)")
    info.add_argument("--scaling", choices=SCALINGS, default=None)
    info.add_argument("--allow-wrap", action="store_true", help="scales without the no-wrap guarantee")
    info.add_argument("--tau-times-dt", action="store_true", help="tau written times dt (Norse's to_nir up to 1.1.0)")
    for field_name, value in CoreConfig().to_dict().items():
        info.add_argument("--" + field_name.replace("_", "-"), type=int, default=value)
    args = parser.parse_args(argv)
    try:
        config = CoreConfig(**{k: getattr(args, k) for k in CoreConfig().to_dict()})
        graph = read(args.graph)
        dt = args.dt or graph_dt(graph)
        if dt is None:
            dt = INFO_DT
            print(f"{args.graph}: no --dt given and the graph names no step: assuming dt = {dt:g} s "
                  f"(snnTorch's); NIR carries none, give the graph's own with --dt")
        network, report = network_from(graph, dt, config, scaling=args.scaling,
                                       no_wrap=not args.allow_wrap, tau_times_dt=args.tau_times_dt)
        usage = compile_network(network, config).symbols["usage"]
    except AxoniteError as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 1
    print(report)
    print("core usage: " + ", ".join(f"{k} {v}" for k, v in usage.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
