"""python -m bench: regenerate docs/benchmarks.md and its plots.

    python -m bench                          # every section except the board builds
    python -m bench --only core stdp         # some sections, by name (--list shows them)
    python -m bench --list                   # the sections: what each measures and costs
    python -m bench --builds                 # also the board-build sections (minutes per build)
    python -m bench --fmax 24.16             # Fmax (MHz) for the throughput section
    python -m bench --only energy --core-current-ma 8.5    # energy from a current measured on a board

Each section is one script of bench/ run with --write (its command is written beside its
numbers, with the configuration, date and commit), which replaces that section of
docs/benchmarks.md and leaves the others as they are. Sections measured by hand ("kept") are
never touched. The header of docs/benchmarks.md is rewritten from the list below, and the
sections are put in its order. Plots and the raw measurements go to docs/bench/.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from dataclasses import dataclass

from bench import report
from bench.report import ASSETS, BENCHMARKS, BenchError


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    module: str | None          # bench.<module>.main(argv) writes it; None: kept as committed
    what: str
    cost: str
    builds: bool = False        # a board build (place and route): only with --builds or --only


SECTIONS = (
    Section("golden", "Golden model throughput", "golden_model",
            "the numpy and numba golden models against Brian2 (numpy target and cpp_standalone) on "
            "a 10,000-neuron network", "~8 min on 2 shared cores; the first run makes build/brian2-venv (~2 min)"),
    Section("scale", "Golden model at scale", "scale",
            "FastModel's kernel at 10^6 neurons and 10^8 synapses (ticks/s, memory), and the whole "
            "FastModel's memory per synapse", "~5 min; about 2 GB of memory"),
    Section("cluster", "Many boards (host cluster)", "cluster",
            "a host.Cluster of 1-4 devices (model, emulator://, socket:// emulators): ticks/s, "
            "cross-device spikes/s, line bytes per tick, the serial link's and the host's limits", "~3 min"),
    Section("multicore", "Many cores on one device (RTL)", "multicore",
            "K cores of one device (2 and 4): a tick's cycles split into feeding, the cores' own tick "
            "and the barrier's wait for the router; packets per routing cycle", "~5 min (two Verilator builds)"),
    Section("core", "Core cycles (RTL)", "core",
            "cycles per tick of the RTL against neurons and input events", "~2 min; ~10 min the first time (3 Verilator builds)"),
    Section("throughput", "Throughput at the board's clock", "throughput",
            "SOP/s and neuron updates/s at 24 MHz against activity, real-time margin at 1 ms, plot",
            "~1 min; the default core's Verilator build the first time (~4 min)"),
    Section("stdp", "Plasticity efficiency (RTL)", "stdp",
            "cycles and memory accesses per LTD and LTP update, STDP's share of the tick, plot", "~2 min"),
    Section("link", "Host link", "link",
            "the simulated board's link: payload efficiency, input rate, round trip", "~2 min; ~7 min with the board's Verilator build the first time"),
    Section("bandwidth", "Temporal resolution bandwidth", "bandwidth",
            "highest input event rate with output equal to the model: core-limited (free-running RTL) "
            "and link-limited (3 and 12 Mbaud)", "~2 min; uses throughput's and link's measurements"),
    Section("energy", "Energy per event (estimate)", "energy",
            "energy per spike, SOP and weight update from the measured cycles and a stated core current",
            "seconds; uses throughput's and stdp's measurements"),
    Section("verilator", "Verilator builds", None,
            "Verilator build times of the simulated board and core (measured by hand)", "kept"),
    Section("budget", "Memory budget (iCE40UP5K)", "budget",
            "the iCEBreaker device's memories and EBR/SPRAM count, and the ULX3S's four cores' block "
            "RAM in its own section, 'Memory budget (ULX3S, four cores)' (elaboration only)", "~40 s"),
    Section("boards", "Board builds", None,
            "logic cells, block RAM and Fmax of the board builds and their history (python -m "
            "boards.build; measured by hand)", "kept"),
    Section("frontier", "Frontier (iCE40UP5K)", "frontier",
            "the largest configuration that fits and meets timing per clock (board builds)",
            "10-30 min: a place and route per rung", builds=True),
)
BY_NAME = {s.name: s for s in SECTIONS}
TIMING = ASSETS / "regeneration.json"


def header() -> str:
    rows = "\n".join(f"| `{s.name}` | {s.title} | "
                     + (f"`bench/{s.module}.py`" + (" (with `--builds`)" if s.builds else "") if s.module
                        else "kept as committed") + f" | {s.what} |" for s in SECTIONS)
    last = ""
    if TIMING.exists():
        t = json.loads(TIMING.read_text())
        last = (f"\nThe last full regeneration (`{t['command']}`, {t['date']}, commit {t['commit']}, "
                f"{t['cores']} cores shared with other work) took {t['minutes']:.0f} min.\n")
    return f"""# Benchmarks

Every number here was produced by the command shown with it, at the commit and date shown with
it. `python -m bench` regenerates the file and its plots (docs/bench/*.png; the raw
measurements the derived sections reuse are beside them, docs/bench/*.json):

```sh
python -m bench                          # every section except the board builds
python -m bench --only core stdp         # some sections, by name
python -m bench --list                   # the sections, what each measures and costs
python -m bench --builds                 # also the board-build sections (a place and route each)
python -m bench --fmax 24.16             # the Fmax (MHz) of the throughput section
python -m bench --only energy --core-current-ma 8.5   # the energy table for a measured current
```

Each section is one script of bench/ run with `--write`; sections marked "kept" hold numbers
measured by hand with the commands they show, and `python -m bench` leaves them as they are.
The RTL numbers come from co-simulation (Verilator), not from a board; the energy figures are
estimates from stated assumptions. On a shared machine the golden-model times vary between
runs: compare the ratios of one run.
{last}
| name | section | made by | what |
|---|---|---|---|
{rows}
"""


def section_argv(section: Section, args) -> list[str]:
    argv = ["--write"]
    if section.name == "throughput" and args.fmax is not None:
        argv += ["--fmax", str(args.fmax)]
    if section.name == "energy" and args.core_current_ma is not None:
        argv += ["--core-current-ma", str(args.core_current_ma)]
    return argv


def select(args) -> list[Section]:
    if args.only:
        unknown = [n for n in args.only if n not in BY_NAME]
        if unknown:
            raise BenchError(f"no section named {', '.join(unknown)}; the sections are "
                             f"{', '.join(BY_NAME)}")
        kept = [n for n in args.only if BY_NAME[n].module is None]
        if kept:
            raise BenchError(f"{', '.join(kept)}: kept as committed (measured by hand), nothing to run")
        return [s for s in SECTIONS if s.name in args.only]
    return [s for s in SECTIONS if s.module and (args.builds or not s.builds)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these sections")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--builds", action="store_true", help="also run the board-build sections")
    parser.add_argument("--fmax", type=float, metavar="MHZ", help="Fmax for the throughput section")
    parser.add_argument("--core-current-ma", type=float, metavar="MA",
                        help="a core current measured on a board, for the energy section")
    args = parser.parse_args(argv)
    if args.list:
        for s in SECTIONS:
            kind = "kept" if s.module is None else ("--builds" if s.builds else "runs")
            print(f"{s.name:<11} {kind:<8} {s.title}: {s.what} ({s.cost})")
        return 0
    try:
        chosen = select(args)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    start, timings, failed = time.monotonic(), [], []
    for section in chosen:
        print(f"\n== {section.name}: {section.title}", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        try:
            module = importlib.import_module(f"bench.{section.module}")
            status = module.main(section_argv(section, args))
            if status:
                print(f"bench: {section.name}: exited with status {status}", file=sys.stderr)
                failed.append(section.name)
        except Exception as error:          # one section's failure must not cost the others theirs
            print(f"bench: {section.name}: {type(error).__name__}: {error}", file=sys.stderr)
            failed.append(section.name)
        timings.append((section.name, time.monotonic() - t0))
    minutes = (time.monotonic() - start) / 60
    if not args.only and not failed:
        import os
        import platform
        report.ASSETS.mkdir(parents=True, exist_ok=True)
        TIMING.write_text(json.dumps({
            "command": "python -m bench" + (" --builds" if args.builds else ""),
            "date": time.strftime("%Y-%m-%d"), "commit": report.commit(), "cores": os.cpu_count(),
            "python": platform.python_version(), "minutes": minutes,
            "sections": {name: round(s, 1) for name, s in timings}}, indent=1) + "\n")
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else report.HEADER
    text = report.arrange(report.set_header(text, header()), [s.title for s in SECTIONS])
    BENCHMARKS.write_text(text)
    print("\n" + "\n".join(f"{name:<11} {s / 60:5.1f} min" for name, s in timings)
          + f"\n{'all':<11} {minutes:5.1f} min", file=sys.stderr)
    if failed:
        print(f"bench: failed: {', '.join(failed)} (their sections are as they were)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
