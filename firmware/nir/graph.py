"""Reading a NIR graph: the file (read), subgraphs inlined, the edges and every node's shape."""

from __future__ import annotations

import os
from pathlib import Path

import nir
import numpy as np

from ..errors import NIRError, show_path
from .constants import LINEAR, NEURONS


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


def read(path) -> "nir.NIRGraph":
    """nir.read without its type check (graphs from snnTorch often carry shape-() parameters
    that fail it; from_nir checks sizes itself), with a clear error for what is not a NIR file."""
    if not isinstance(path, (str, os.PathLike)):
        raise NIRError(f"NIR path {path!r}: a path is a str or os.PathLike, not a {type(path).__name__}")
    p, shown = Path(path), show_path(path)
    try:
        is_file = p.is_file()
    except (OSError, ValueError) as error:     # a NUL byte, a name too long
        raise NIRError(f"{shown}: not a usable path ({error})") from None
    if not is_file:
        raise NIRError(f"{shown}: no such file")
    try:
        return nir.read(p, type_check=False)
    except Exception as error:   # h5py and HDF5 raise many kinds (RuntimeError ...) on a corrupt file
        raise NIRError(f"{shown}: not a readable NIR file ({type(error).__name__}: {error})") from None
