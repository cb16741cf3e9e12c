"""The command line, `python -m firmware.nir info model.nir --dt 1e-4`, and network_from, which it
shares with `python -m host run model.nir`."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..compiler import compile_network
from ..config import CoreConfig
from ..errors import AxoniteError, NIRError, one_line
from ..network import Network
from .constants import META, SCALINGS
from .graph import read
from .importer import from_nir
from .report import NIRReport

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
