"""Command line: run a network on a device and save the output raster.

    python -m host run NETWORK --device URL --ticks T --out raster.npz --plot raster.png
    python -m host info --device URL

NETWORK is an image file (.axi), a NIR graph (.nir, mapped by firmware.nir for the device's core
at step --dt) or a Python file that defines `network` (a firmware.Network or Image) and
optionally `config` (a CoreConfig) and `inputs` (any form run() accepts).
URL: "model", "emulator://", a serial port (/dev/ttyUSB1) or socket://127.0.0.1:PORT.

--out must end in .npz and --plot in an extension matplotlib writes (.png, .pdf, .svg ...):
each file is written exactly where named, and both directories are checked (they exist and
are writable) before anything runs. Every failure is one line on stderr, "error: ...", exit
status 1; Ctrl-C prints "interrupted" and exits with 130.

The .npz holds the output spikes as events, `times` and `neurons` (one entry per spike), with
`output_ids`, `start_tick`, `ticks`, `counter_names` and `counters`; and `spikes`, the bool
raster [ticks, outputs], when it has at most NPZ_RASTER_CELLS cells.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import traceback
from pathlib import Path

import numpy as np

from firmware import formats
from firmware.errors import AxoniteError, one_line, show_path
from firmware.image import Image
from firmware.network import Network

from .device import Device

NPZ_RASTER_CELLS = 1 << 24    # runs of at most this many ticks x outputs also save `spikes`


def _load_network(path: str):
    p, shown = Path(path), show_path(path)
    if not p.exists():
        raise FileNotFoundError(f"{shown}: no such file")
    if p.is_dir():
        raise AxoniteError(f"{shown}: is a directory, not an image (.axi) or Python file")
    if p.suffix == ".py":
        ns = _run_network_file(p)
        if "network" not in ns:
            raise AxoniteError(f"{shown} defines no `network` (a firmware.Network or Image)")
        network = ns["network"]
        if not isinstance(network, (Network, Image)):
            raise AxoniteError(f"{shown}: `network` is a {type(network).__name__}, not a firmware.Network or Image")
        return network, ns.get("config"), ns.get("inputs")
    if p.suffix == ".nir":                 # mapped in cmd_run, for the opened device's core
        from firmware.nir import read
        return read(p), None, None
    return Image.load(p), None, None


def _run_network_file(p: Path) -> dict:
    """Execute a network file; its failure becomes one AxoniteError naming the file and line."""
    try:
        return runpy.run_path(str(p), run_name="__axonite_network__")
    except OSError as error:
        raise AxoniteError(f"{show_path(p)}: cannot read: {error.strerror or error}") from None
    except SyntaxError as error:
        raise AxoniteError(f"{show_path(p)}, line {error.lineno}: SyntaxError: {error.msg}") from None
    except KeyboardInterrupt:
        raise
    except BaseException as error:     # the user's code (sys.exit() too): where it failed, in one line
        lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
                 if Path(frame.filename) == p]
        where = f", line {lines[-1]}" if lines else ""
        raise AxoniteError(f"{show_path(p)}{where}: {type(error).__name__}: {error}") from None


def _plot_formats() -> list[str]:
    from matplotlib.backend_bases import FigureCanvasBase
    return sorted(FigureCanvasBase.get_supported_filetypes())


def _check_output(option: str, path: str, extensions: list[str]) -> None:
    """Refuse, before anything runs, an output file that would not be written as named."""
    p, shown = Path(path), show_path(path)
    if "\0" in path:                     # os.access would raise ValueError
        raise AxoniteError(f"{option} {shown}: a path cannot hold a NUL byte")
    if p.suffix.lstrip(".") not in extensions:
        what = ("the raster is written as .npz; give a name ending in .npz" if extensions == ["npz"]
                else f"give a name ending in one of {', '.join('.' + e for e in extensions)}")
        raise AxoniteError(f"{option} {shown}: {what}")
    parent = p.parent
    if not parent.exists():
        raise AxoniteError(f"{option} {shown}: the directory {show_path(parent)} does not exist")
    if not parent.is_dir():
        raise AxoniteError(f"{option} {shown}: {show_path(parent)} is not a directory")
    if p.is_dir():
        raise AxoniteError(f"{option} {shown} is a directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise AxoniteError(f"{option} {shown}: cannot write into {show_path(parent)}")


def plot_raster(result, path: str, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    ax.scatter(result.times, result.neurons, marker="|", s=30, linewidths=0.8, color="black")
    ax.set_xlim(result.start_tick - 0.5, result.start_tick + result.ticks - 0.5)
    if result.output_ids.size:
        ax.set_ylim(result.output_ids.min() - 0.5, result.output_ids.max() + 0.5)
    ax.set_xlabel("tick")
    ax.set_ylabel("neuron")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def cmd_run(args) -> int:
    _check_output("--out", args.out, ["npz"])    # np.savez would append .npz to another name
    if args.plot:
        _check_output("--plot", args.plot, _plot_formats())
    network, config, inputs = _load_network(args.network)
    options = {"timeout": args.timeout}
    if args.device in ("model", "model://") or args.device.startswith("emulator://"):
        options["config"] = config
    with Device.open(args.device, **options) as dev:
        if not isinstance(network, (Network, Image)):          # a NIR graph
            from firmware.nir import network_from
            network, _ = network_from(network, args.dt, dev.config)
        if config is not None and isinstance(network, Network):
            from firmware.compiler import compile_network
            network = compile_network(network, config)
        dev.load(network)
        if args.seed is not None:
            dev.seed(args.seed)
        result = dev.run(args.ticks, inputs)
        counters = dev.counters()
    # Events always; the dense raster only while small (a long run's would be ticks x outputs bytes).
    raster = {"spikes": result.spikes} if result.ticks * result.output_ids.size <= NPZ_RASTER_CELLS else {}
    np.savez(args.out, **raster, output_ids=result.output_ids, times=result.times,
             neurons=result.neurons, start_tick=result.start_tick, ticks=args.ticks,
             counter_names=np.array(formats.COUNTERS), counters=np.array([counters[k] for k in formats.COUNTERS]))
    print(f"{args.device}: {result.times.size} output spikes from {np.unique(result.neurons).size} of "
          f"{result.output_ids.size} output neurons in {args.ticks} ticks; wrote {args.out}")
    print("counters: " + ", ".join(f"{k} {v}" for k, v in counters.items()))
    if args.plot:
        plot_raster(result, args.plot, f"{Path(args.network).name} on {args.device}")
        print(f"wrote {args.plot}")
    return 0


def cmd_info(args) -> int:
    with Device.open(args.device, timeout=args.timeout) as dev:
        if hasattr(dev, "info"):
            for key, value in dev.info.items():
                if key not in ("ref_seq", "ref_opcode", "reserved"):
                    if key == "capabilities":
                        value = " ".join(flag.name for flag in type(value) if flag in value) or "none"
                    elif hasattr(value, "name"):
                        value = value.name
                    print(f"{key}: {value}")
        else:
            print("the in-process golden model (no link)")
        print(f"config: {dev.config}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m host", description="axonite host tools")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a network and save the output raster")
    run.add_argument("network", help="image file (.axi), NIR graph (.nir) or Python file defining `network`")
    run.add_argument("--dt", type=float, default=None, help="step in seconds of a .nir graph (NIR carries none)")
    run.add_argument("--device", default="model", help="model, emulator://, a serial port or socket://HOST:PORT")
    run.add_argument("--ticks", type=int, required=True, help="ticks to run")
    run.add_argument("--out", default="raster.npz", help="output file, name ending in .npz: times, neurons "
                     "(one entry per output spike), output_ids, start_tick, ticks, counter_names, counters; "
                     f"and spikes, the bool raster [ticks, outputs], when it has at most {NPZ_RASTER_CELLS:,} cells")
    run.add_argument("--plot", default=None, help="raster plot file (.png, .pdf, .svg ...)")
    run.add_argument("--seed", type=int, default=None, help="LFSR seed for stochastic rounding")
    run.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the device")
    info = sub.add_parser("info", help="print what the device reports (HELLO)")
    info.add_argument("--device", required=True)
    info.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    try:
        return {"run": cmd_run, "info": cmd_info}[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory (fewer --ticks or a smaller network need less)", file=sys.stderr)
        return 1
    except (AxoniteError, OSError, KeyError, ValueError) as error:
        print(f"error: {one_line(error)}", file=sys.stderr)   # a network file's message may span lines
        return 1


if __name__ == "__main__":
    sys.exit(main())
