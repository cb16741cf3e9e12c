"""Command line: run a network on a device and save the output raster; find and check boards.

    python -m host run NETWORK --device URL --ticks T [--input in.npz | --rate HZ | --probability P]
                       --out raster.npz --plot raster.png
    python -m host info --device URL
    python -m host list [--no-probe] [--json]              the boards plugged in (host.ports)
    python -m host doctor [URL] [--json] [--baud B] ...     a layered self-test (host.doctor)

NETWORK is an image file (.axi), a NIR graph (.nir, mapped by firmware.nir for the device's core
at step --dt) or a Python file that defines `network` (a firmware.Network or Image) and
optionally `config` (a CoreConfig) and `inputs` (any form run() accepts).
URL: "model", "emulator://", a serial port (/dev/ttyUSB1), socket://127.0.0.1:PORT, "auto" (the
only board plugged in) or a board's name ("icebreaker").

`doctor` prints one line per layer as it ends and a one-line verdict; exit status 0 when every
layer passes, 1 when one fails. With --json the report goes to stdout as JSON (the layer lines
to stderr).

--out must end in .npz and --plot in an extension matplotlib writes (.png, .pdf, .svg ...):
each file is written exactly where named, and both directories are checked (they exist and
are writable) before anything runs. Every failure is one line on stderr, "error: ...", exit
status 1; Ctrl-C before the run prints "interrupted" and exits with 130 (during it: below).

Input spikes (host/inputs.py): --input FILE, an .npz holding `times` and `axons` or a `raster`;
or Poisson input, --rate HZ (with --tick-us, default 1000: the board's real-time tick) or
--probability P per tick, on --axons (default: every axon of the network's input groups) or
--input-group NAME, drawn from --input-seed (default: a fresh seed, printed and saved). Either
replaces the `inputs` a network file defines. The input is checked before the run starts.

On a terminal, a progress line on stderr shows the ticks done, ticks/s and the ETA (--quiet:
none; piped: none). Ctrl-C during the run stops the device and saves the ticks completed so far
(`interrupted` True in the .npz, `ticks` the ticks completed; the plot too), prints
"interrupted after N ticks; partial results in FILE" and exits with 130.

The .npz holds the output spikes as events, `times` and `neurons` (one entry per spike), with
`output_ids`, `start_tick`, `ticks`, `counter_names` and `counters` (after Ctrl-C: the counters
as the stopped device gives them, which may count ticks past the last one completed, or none if
it gives none), `interrupted`, `input` (what drove the run, in words; Poisson input adds
`input_axons`, `input_probability` and `input_seed`); and `spikes`, the bool raster [ticks,
outputs], when it has at most NPZ_RASTER_CELLS cells.
"""

from __future__ import annotations

import argparse
import os
import runpy
import secrets
import sys
import traceback
from pathlib import Path

import numpy as np

from firmware import formats
from firmware.errors import AxoniteError, one_line, show_path
from firmware.image import Image
from firmware.network import Network
from firmware.run import InputError, RunResult, check_ticks, input_groups, normalize_inputs

from .device import Device
from .errors import LinkError
from .inputs import (InputFile, PoissonInput, check_probability, check_seed, describe_axons,
                     image_inputs, parse_axons, probability_of_rate)
from .progress import Progress

NPZ_RASTER_CELLS = 1 << 24    # runs of at most this many ticks x outputs also save `spikes`
DEFAULT_TICK_US = 1000        # --rate's tick: 1 ms, the board's real-time tick


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
    ax.set_xlim(result.start_tick - 0.5, result.start_tick + max(result.ticks, 1) - 0.5)   # 0 ticks: no warning
    if result.output_ids.size:
        ax.set_ylim(result.output_ids.min() - 0.5, result.output_ids.max() + 0.5)
    ax.set_xlabel("tick")
    ax.set_ylabel("neuron")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _input_source(args):
    """The input the command line asks for, checked as far as it can be without the device:
    an InputFile, ("poisson", probability, seed), or None (the network file's `inputs`)."""
    poisson = args.rate is not None or args.probability is not None
    if not poisson:
        for option, value in (("--axons", args.axons), ("--input-group", args.input_group),
                              ("--input-seed", args.input_seed), ("--tick-us", args.tick_us)):
            if value is not None:
                raise InputError(f"{option} shapes Poisson input; give --rate HZ or --probability P with it")
    if args.input is not None:
        return InputFile.read(args.input)
    if not poisson:
        return None
    if args.probability is not None:
        if args.tick_us is not None:
            raise InputError("--tick-us converts --rate HZ to a probability per tick; --probability needs none")
        probability = check_probability(args.probability)
    else:
        probability = probability_of_rate(args.rate, DEFAULT_TICK_US if args.tick_us is None else args.tick_us)
    return ("poisson", probability, secrets.randbits(32) if args.input_seed is None else check_seed(args.input_seed))


def _run_inputs(source, network_inputs, args, dev):
    """(one array of input axons per tick, made lazily; a function that describes the input
    with its spike count once the run is over; the `input` of the .npz; its other input
    fields), every value checked against the loaded image before the run starts."""
    image, n_inputs = dev.image, dev.config.n_inputs
    if isinstance(source, tuple):
        _, probability, seed = source
        if args.axons is not None:
            axons = parse_axons(args.axons, n_inputs)
        elif args.input_group is not None:
            axons = image.input_ids(args.input_group)
        else:
            axons = image_inputs(image)
        poisson = PoissonInput(axons, probability, seed)
        rate = "" if args.rate is None else f" ({args.rate:g} Hz at {DEFAULT_TICK_US if args.tick_us is None else args.tick_us:g} us ticks)"
        what = f"Poisson, p = {probability:g} per tick{rate}, on {describe_axons(axons)}, --input-seed {seed}"
        extra = {"input_axons": axons, "input_probability": probability, "input_seed": seed}
        return poisson.groups(args.ticks), lambda: f"{what}: {poisson.spikes} spikes", what, extra
    if isinstance(source, InputFile):
        times, axons = source.events(args.ticks, n_inputs)
        what = f"{source.path} ({source.form})"
    elif network_inputs is not None:
        times, axons = normalize_inputs(network_inputs, args.ticks, n_inputs)
        what = f"the `inputs` of {args.network}"
    else:
        times = axons = np.zeros(0, np.int64)
        what = "none"
    dev.check_inputs(times)          # a device's input queue holds so many spikes a tick
    described = what if what == "none" else f"{what}: {times.size} spikes"
    return input_groups(times, axons, args.ticks), lambda: described, what, {}


def _stream(dev, groups, ticks: int, quiet: bool) -> tuple[RunResult, bool]:
    """Run the groups through dev.stream() with a progress line: (the output of the ticks that
    completed, whether Ctrl-C stopped it). After Ctrl-C the device is left to recover on its
    next operation (LinkDevice resynchronises: STOP, then forget the run's replies)."""
    start, output_ids = dev.tick, dev.output_ids
    times, neurons, done = [], [], 0
    blocks = dev.stream(groups)
    try:
        with Progress(total=ticks, quiet=quiet) as progress:
            for block in blocks:
                if done == 0:
                    start = block.start_tick
                if block.times.size:          # memory grows with the spikes, not the blocks
                    times.append(block.times)
                    neurons.append(block.neurons)
                done += block.ticks
                progress.update(done)
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
    finally:
        blocks.close()
    empty = np.zeros(0, np.int64)
    return RunResult(start_tick=start, ticks=done, output_ids=output_ids,
                     times=np.concatenate([empty, *times]), neurons=np.concatenate([empty, *neurons])), interrupted


def cmd_run(args) -> int:
    check_ticks(args.ticks)
    _check_output("--out", args.out, ["npz"])    # np.savez would append .npz to another name
    if args.plot:
        _check_output("--plot", args.plot, _plot_formats())
    source = _input_source(args)
    network, config, inputs = _load_network(args.network)
    options = {"timeout": args.timeout}
    if args.device in ("model", "model://") or args.device.startswith("emulator://"):
        # an in-process device takes the core an image was compiled for
        options["config"] = network.config if config is None and isinstance(network, Image) else config
    with Device.open(args.device, **options) as dev:
        if not isinstance(network, (Network, Image)):          # a NIR graph
            from firmware.nir import network_from
            network, _ = network_from(network, args.dt, dev.config)
        if config is not None and isinstance(network, Network):
            from firmware.compiler import compile_network
            network = compile_network(network, config)
        dev.load(network)
        groups, described, what, input_fields = _run_inputs(source, inputs, args, dev)
        if args.seed is not None:
            dev.seed(args.seed)
        result, interrupted = _stream(dev, groups, args.ticks, args.quiet)
        try:
            counters = dev.counters()
        except LinkError:
            if not interrupted:
                raise
            counters = None                   # the interrupted device did not answer: save the rest
    # Events always; the dense raster only while small (a long run's would be ticks x outputs bytes).
    raster = {"spikes": result.spikes} if result.ticks * result.output_ids.size <= NPZ_RASTER_CELLS else {}
    kept = {} if counters is None else {"counter_names": np.array(formats.COUNTERS),
                                        "counters": np.array([counters[k] for k in formats.COUNTERS])}
    np.savez(args.out, **raster, output_ids=result.output_ids, times=result.times,
             neurons=result.neurons, start_tick=result.start_tick, ticks=result.ticks, **kept,
             interrupted=interrupted, input=what, **input_fields)
    if args.plot:
        plot_raster(result, args.plot, f"{Path(args.network).name} on {args.device}"
                    + (f" (interrupted after {result.ticks} ticks)" if interrupted else ""))
    if interrupted:
        written = args.out + (f" and {args.plot}" if args.plot else "")
        print(f"interrupted after {result.ticks} ticks; partial results in {written}", file=sys.stderr)
        return 130
    print(f"input: {described()}")
    print(f"{args.device}: {result.times.size} output spikes from {np.unique(result.neurons).size} of "
          f"{result.output_ids.size} output neurons in {args.ticks} ticks; wrote {args.out}")
    print("counters: " + ", ".join(f"{k} {v}" for k, v in counters.items()))
    if args.plot:
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
    run.add_argument("network", help="image file (.axi), NIR graph (.nir) or Python file defining `network`")
    run.add_argument("--dt", type=float, default=None, help="step in seconds of a .nir graph (NIR carries none)")
    run.add_argument("--device", default="model",
                     help="model, emulator://, a serial port, socket://HOST:PORT, auto (the only board "
                          "plugged in) or a board's name")
    run.add_argument("--ticks", type=int, required=True, help="ticks to run")
    run.add_argument("--out", default="raster.npz", help="output file, name ending in .npz: times, neurons "
                     "(one entry per output spike), output_ids, start_tick, ticks, counter_names, counters, "
                     "interrupted, input (and Poisson input's input_axons, input_probability, input_seed); "
                     f"and spikes, the bool raster [ticks, outputs], when it has at most {NPZ_RASTER_CELLS:,} cells")
    run.add_argument("--plot", default=None, help="raster plot file (.png, .pdf, .svg ...)")
    run.add_argument("--seed", type=int, default=None, help="LFSR seed for stochastic rounding")
    run.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the device")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--input", default=None, metavar="FILE.npz",
                        help="input spikes: an .npz holding `times` and `axons` (1-D integer arrays, one "
                             "entry per spike) or `raster` (bool [ticks, axons]); replaces a network "
                             "file's `inputs`")
    source.add_argument("--rate", type=float, default=None, metavar="HZ",
                        help="Poisson input: each chosen axon spikes with probability HZ x tick per tick")
    source.add_argument("--probability", type=float, default=None, metavar="P",
                        help="Poisson input: each chosen axon spikes with probability P per tick")
    run.add_argument("--tick-us", type=float, default=None,
                     help=f"the tick in microseconds that converts --rate (default {DEFAULT_TICK_US}: 1 ms)")
    chosen = run.add_mutually_exclusive_group()
    chosen.add_argument("--axons", default=None, metavar="LIST",
                        help="axons of the Poisson input: numbers and START:STOP ranges, e.g. 0:64 or "
                             "0:8,12 (default: every axon of the network's input groups)")
    chosen.add_argument("--input-group", default=None, metavar="NAME",
                        help="the input group whose axons get the Poisson input")
    run.add_argument("--input-seed", type=int, default=None,
                     help="seed of the Poisson input (default: a fresh one, printed and saved)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress line")
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
        print(f"error: {one_line(error)}", file=sys.stderr)   # a network file's message may span lines
        return 1


if __name__ == "__main__":
    sys.exit(main())
