"""Command line: run a network on a device and save the output raster; find and check boards.

    python -m host run NETWORK --device URL --ticks T --out raster.npz --plot raster.png
    python -m host info --device URL
    python -m host list [--no-probe] [--json]              the boards plugged in (host.ports)
    python -m host doctor [URL] [--json] [--baud B] ...     a layered self-test (host.doctor)

NETWORK is an image file (.axi) or a Python file that defines `network` (a firmware.Network or
Image) and optionally `config` (a CoreConfig) and `inputs` (any form run() accepts).
URL: "model", "emulator://", a serial port (/dev/ttyUSB1), socket://127.0.0.1:PORT, "auto" (the
only board plugged in) or a board's name ("icebreaker").

`doctor` prints one line per layer as it ends and a one-line verdict; exit status 0 when every
layer passes, 1 when one fails. With --json the report goes to stdout as JSON (the layer lines
to stderr).

--out must end in .npz and --plot in an extension matplotlib writes (.png, .pdf, .svg ...):
each file is written exactly where named, and both directories are checked (they exist and
are writable) before anything runs. Every failure is one line on stderr, "error: ...", exit
status 1; Ctrl-C prints "interrupted" and exits with 130.
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
from firmware.errors import AxoniteError
from firmware.image import Image
from firmware.network import Network

from .device import Device


def _load_network(path: str):
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if p.is_dir():
        raise AxoniteError(f"{path}: is a directory, not an image (.axi) or Python file")
    if p.suffix == ".py":
        ns = _run_network_file(p)
        if "network" not in ns:
            raise AxoniteError(f"{path} defines no `network` (a firmware.Network or Image)")
        network = ns["network"]
        if not isinstance(network, (Network, Image)):
            raise AxoniteError(f"{path}: `network` is a {type(network).__name__}, not a firmware.Network or Image")
        return network, ns.get("config"), ns.get("inputs")
    return Image.load(p), None, None


def _run_network_file(p: Path) -> dict:
    """Execute a network file; its failure becomes one AxoniteError naming the file and line."""
    try:
        return runpy.run_path(str(p), run_name="__axonite_network__")
    except OSError as error:
        raise AxoniteError(f"{p}: cannot read: {error.strerror or error}") from None
    except SyntaxError as error:
        raise AxoniteError(f"{p}, line {error.lineno}: SyntaxError: {error.msg}") from None
    except Exception as error:     # the user's code: say where it failed, in one line
        lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
                 if Path(frame.filename) == p]
        where = f", line {lines[-1]}" if lines else ""
        raise AxoniteError(f"{p}{where}: {type(error).__name__}: {error}") from None


def _plot_formats() -> list[str]:
    from matplotlib.backend_bases import FigureCanvasBase
    return sorted(FigureCanvasBase.get_supported_filetypes())


def _check_output(option: str, path: str, extensions: list[str]) -> None:
    """Refuse, before anything runs, an output file that would not be written as named."""
    p = Path(path)
    if p.suffix.lstrip(".") not in extensions:
        what = ("the raster is written as .npz; give a name ending in .npz" if extensions == ["npz"]
                else f"give a name ending in one of {', '.join('.' + e for e in extensions)}")
        raise AxoniteError(f"{option} {path}: {what}")
    parent = p.parent
    if not parent.exists():
        raise AxoniteError(f"{option} {path}: the directory {parent} does not exist")
    if not parent.is_dir():
        raise AxoniteError(f"{option} {path}: {parent} is not a directory")
    if p.is_dir():
        raise AxoniteError(f"{option} {path} is a directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise AxoniteError(f"{option} {path}: cannot write into {parent}")


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
        if config is not None and isinstance(network, Network):
            from firmware.compiler import compile_network
            network = compile_network(network, config)
        dev.load(network)
        if args.seed is not None:
            dev.seed(args.seed)
        result = dev.run(args.ticks, inputs)
        counters = dev.counters()
    np.savez(args.out, spikes=result.spikes, output_ids=result.output_ids, times=result.times,
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


def cmd_list(args) -> int:
    from .ports import survey

    if not args.timeout > 0:
        raise AxoniteError(f"--timeout {args.timeout}: give a positive number of seconds")
    found = survey()
    boards = found.boards
    if args.probe:
        from .ports import probe_port
        for board in boards:
            board.answer = probe_port(board.port, board.baudrate, args.timeout)
    if args.json:
        import json
        print(json.dumps({"boards": [b.to_dict() for b in boards], "other_ports": found.others}, indent=2))
        return 0 if boards else 1
    for board in boards:
        print(board.describe())
    if not boards:
        from .ports import looked_for
        print(f"no board found (looked for {looked_for()})")
    if found.others:
        print("other serial ports: " + "; ".join(found.others))
    return 0 if boards else 1


def cmd_doctor(args) -> int:
    from .doctor import Doctor

    image = Image.load(args.image) if args.image else None
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if args.json else \
        (lambda text: print(text, flush=True))
    say(f"axonite doctor {args.url}")
    report = Doctor(args.url, baudrate=args.baud, timeout=args.timeout, frames=args.frames,
                    ticks=args.ticks, freerun_s=args.freerun, image=image, say=say).run()
    say(report.verdict)
    if args.json:
        print(report.to_json())
    return 0 if report.passed else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m host", description="axonite host tools")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a network and save the output raster")
    run.add_argument("network", help="image file (.axi) or Python file defining `network`")
    run.add_argument("--device", default="model",
                     help="model, emulator://, a serial port, socket://HOST:PORT, auto (the only board "
                          "plugged in) or a board's name")
    run.add_argument("--ticks", type=int, required=True, help="ticks to run")
    run.add_argument("--out", default="raster.npz",
                     help="output file, name ending in .npz (spikes, output_ids, times, neurons, counters)")
    run.add_argument("--plot", default=None, help="raster plot file (.png, .pdf, .svg ...)")
    run.add_argument("--seed", type=int, default=None, help="LFSR seed for stochastic rounding")
    run.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the device")
    info = sub.add_parser("info", help="print what the device reports (HELLO)")
    info.add_argument("--device", required=True)
    info.add_argument("--timeout", type=float, default=5.0)
    found = sub.add_parser("list", help="list the boards plugged in and whether an axonite bitstream answers")
    found.add_argument("--no-probe", dest="probe", action="store_false",
                       help="do not send HELLO to the boards (only list them)")
    found.add_argument("--timeout", type=float, default=0.5, help="seconds to wait for each board's HELLO")
    found.add_argument("--json", action="store_true", help="the list as JSON")
    check = sub.add_parser("doctor", help="a layered self-test of a board: port, HELLO, link, core, free-run")
    check.add_argument("url", nargs="?", default="auto",
                       help="auto (the only board plugged in; default), a board's name, a serial port, "
                            "socket://HOST:PORT or emulator://")
    check.add_argument("--baud", type=int, default=None, help="baud rate (default: the board's)")
    check.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each answer")
    check.add_argument("--frames", type=int, default=2000, help="commands of the link test")
    check.add_argument("--ticks", type=int, default=300, help="ticks of the core test")
    check.add_argument("--freerun", type=float, default=3.0, help="seconds of the free-run test")
    check.add_argument("--image", default=None,
                       help="an image (.axi) to be run on this board: its configuration must be the board's")
    check.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    args = parser.parse_args(argv)
    try:
        return {"run": cmd_run, "info": cmd_info, "list": cmd_list, "doctor": cmd_doctor}[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory (fewer --ticks or a smaller network need less)", file=sys.stderr)
        return 1
    except (AxoniteError, OSError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
