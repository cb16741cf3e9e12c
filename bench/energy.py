"""Energy per spike, per synaptic operation and per weight update: an ESTIMATE from stated
assumptions, never a measurement.

    python bench/energy.py [--core-current-ma MA] [--vcc V] [--write]

energy of an event = core current x core voltage x (cycles the event costs / clock). The
cycles are the RTL's, measured in co-simulation by the throughput and plasticity sections
(docs/bench/throughput.json, docs/bench/stdp.json). The current is not measured here: by
default the table shows a published iCE40UP5K core current at 24 MHz (a floor: a nearly empty
design) and a labelled assumption for the full design; --core-current-ma gives a current
measured on a real board (core rail, while the core runs) and the same table for it alone.
--write updates docs/benchmarks.md (section "Energy per event (estimate)").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.report import BenchError, load_results, provenance, publish  # noqa: E402

TITLE = "Energy per event (estimate)"
VCC_CORE = 1.2                       # V, the iCE40UP5K's nominal core supply (VCC)
TICK_S = 1e-3
# (label, mA, source): the currents the default table is computed for
PUBLISHED = ("published floor", 1.162,
             "tinyvision-ai-inc/ice40_power (GitHub, README, \"Results\"): core rail 1,162 uA at "
             "1.219 V measured with a Joulescope on Lattice's iCE40 UltraPlus breakout board, 24 MHz "
             "from the internal HFOSC, a 24-bit counter (28 logic cells). It is a floor: the default "
             "build (\"Board builds\") fills the part's logic cells, EBR, SPRAM and DSP and adds a "
             "PLL, which draw more. No dynamic-current figure of Lattice's own (iCE40 UltraPlus data "
             "sheet, power estimator) could be found to cite")
ASSUMED = ("assumed full design", 10.0,
           "an ASSUMPTION, not a published figure: a round 10 mA for a design that fills the part "
           "at 24 MHz. Measure the core rail of a board running the core and pass --core-current-ma")


def joules(cycles: float, current_ma: float, clock_hz: float, vcc: float = VCC_CORE) -> float:
    """Energy of `cycles` clock cycles at a core current of `current_ma` and `vcc` volts."""
    if current_ma <= 0 or clock_hz <= 0 or vcc <= 0:
        raise BenchError(f"energy needs a positive current, clock and voltage (got {current_ma} mA, "
                         f"{clock_hz} Hz, {vcc} V)")
    return current_ma * 1e-3 * vcc * cycles / clock_hz


def event_cycles(throughput: dict, stdp: dict) -> list[tuple[str, float]]:
    """(event, cycles) from the measurements: the neuron update and the synaptic operation as
    shares of the empty tick and of an input event's fan-out, the events themselves, and a
    whole 1 ms tick (the clock runs whatever the activity)."""
    per = throughput["per_event"]
    kinds = {k["mode"]: k["cycles_per_update"] for k in stdp["kinds"]}
    fanout = per["fanout"]
    return [("neuron update (empty tick / neurons)", per["empty_tick"] / throughput["n_neurons"]),
            ("synaptic operation (input event / fan-out)", per["input_event"] / fanout),
            (f"input event, fan-out {fanout}", per["input_event"]),
            (f"spike, fan-out {fanout}", per["spike"]),
            ("LTD update", kinds["LTD"]),
            ("LTP update", kinds["LTP"]),
            ("1 ms tick, any activity", throughput["clock_hz"] * TICK_S)]


def _unit(j: float) -> str:
    for unit, scale in (("uJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if j >= scale:
            return f"{j / scale:.3g} {unit}"
    return f"{j / 1e-15:.3g} fJ"


def table(rows: list[tuple[str, float]], currents: list[tuple[str, float]], clock_hz: float,
          vcc: float = VCC_CORE) -> str:
    head = "| event | cycles | time at {:g} MHz |".format(clock_hz / 1e6) + "".join(
        f" {label}: {ma:g} mA |" for label, ma in currents)
    lines = [head, "|---|---:|---:|" + "---:|" * len(currents)]
    for event, cycles in rows:
        t = cycles / clock_hz
        time_text = f"{t * 1e3:g} ms" if t >= 1e-4 else f"{t * 1e9:,.0f} ns"
        lines.append(f"| {event} | {cycles:,.2f} | {time_text} |"
                     + "".join(f" {_unit(joules(cycles, ma, clock_hz, vcc))} |" for _, ma in currents))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--core-current-ma", type=float,
                        help="core-rail current measured on a board running the core (mA)")
    parser.add_argument("--vcc", type=float, default=VCC_CORE, help=f"core voltage (default {VCC_CORE} V)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.core_current_ma is not None and not args.core_current_ma > 0:
        raise BenchError(f"--core-current-ma {args.core_current_ma}: a current is a positive number of mA")
    if not args.vcc > 0:
        raise BenchError(f"--vcc {args.vcc}: a voltage is a positive number of volts")
    thr, stdp = load_results("throughput"), load_results("stdp")
    clock = thr["data"]["clock_hz"]
    rows = event_cycles(thr["data"], stdp["data"])
    if args.core_current_ma is not None:
        currents = [("given", args.core_current_ma)]
        sources = [f"given: {args.core_current_ma:g} mA, a current measured on a board (--core-current-ma)"]
    else:
        currents = [PUBLISHED[:2], ASSUMED[:2]]
        sources = [f"{PUBLISHED[0]}, {PUBLISHED[1]:g} mA: {PUBLISHED[2]}",
                   f"{ASSUMED[0]}, {ASSUMED[1]:g} mA: {ASSUMED[2]}"]
    command = ("python bench/energy.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    busiest = max(r["max_cycles_per_tick"] for r in thr["data"]["raw"]) / (clock * TICK_S)
    lines = [provenance(command, "the cycles of \"Throughput at the board's clock\" "
                                 f"({thr['date']}, commit {thr['commit']}) and \"Plasticity efficiency (RTL)\" "
                                 f"({stdp['date']}, commit {stdp['commit']})"), "",
             "**These are estimates, not measurements**: no board was at hand. energy = core current "
             f"x {args.vcc:g} V (VCC, core) x cycles / {clock / 1e6:g} MHz. Assumptions:", "",
             *[f"- {s}." for s in sources],
             "- The whole core current is charged to the event for the cycles it keeps the core busy: "
             "static power, the clock tree, the link and the idle logic included, so a per-event "
             "figure is what the event costs when the core runs events back to back (its peak).",
             f"- The FPGA clock runs all the time: at 1 ms ticks a tick costs the same whatever the "
             "activity (the last row); events only fill the cycles of the tick (\"Throughput at the "
             f"board's clock\": at most {busiest:.0%} of them in its busiest workload).", "",
             table(rows, currents, clock, args.vcc)]
    publish(TITLE, "\n".join(lines), args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
