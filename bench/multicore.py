"""K cores on one device (rtl/multicore), measured on the Verilated RTL: where a tick's cycles
go (feeding the cores, the cores' own tick, the barrier's wait for the router) and the
router's packets per cycle, against the spiking activity.

    python bench/multicore.py [--write]

The workload is bench/networks.py's crossing network: one population per core, `spikers` of
each firing every tick, every spike one packet to every other core.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.core import run_bench  # noqa: E402
from bench.report import provenance, publish  # noqa: E402
from firmware import CoreConfig  # noqa: E402
from sim.cosim.verilator import build_multicore  # noqa: E402

# Cores of 128 neurons; room for the remote axons of three other cores.
CONFIG = CoreConfig(n_neurons=128, n_inputs=512, n_synapses=16384, n_segments=2048, n_reverse=1024)
FANOUT = 4
TICKS = 20


def measure(cores: int, workloads: list[dict]) -> list[dict]:
    build = build_multicore(CONFIG, cores, name=f"bench-multicore{cores}")
    return run_bench(build, "cocotb_multicore_bench",
                     {"config": CONFIG.to_dict(), "cores": cores, "workloads": workloads})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    rows = []
    for cores in (2, 4):
        loads = [{"spikers": s, "fanout": FANOUT, "ticks": TICKS} for s in (0, 16, 64, 128)]
        for r in measure(cores, loads):
            t = r["ticks"]
            rows.append((cores, r["spikers"], r["packets"] / t, r["cycles"] / t, r["feed"] / t, r["cores"] / t,
                         r["barrier"] / t, r["packets"] / r["routing"] if r["routing"] else 0.0))
    lines = [provenance("python bench/multicore.py --write", f"K cores of `{CONFIG}`"), "",
             "The crossing network (bench/networks.py): one population per core, `spikers` of each "
             "firing every tick, every spike one packet to each other core. Per tick: all cycles "
             "(from the step to the device idle, as the Link sees them), feeding the cores (the "
             "tick's host and remote axons into each core's queue), the cores' own tick (until "
             "the last core is done), and the barrier (the router still delivering after that). "
             "Packets per routing cycle: packets over the cycles in which some RouteUnit was busy.", "",
             "| cores | spikers per core | packets per tick | cycles per tick | feeding | cores | "
             "barrier wait | packets per routing cycle |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {k} | {s} | {p:.0f} | {c:.0f} | {f:.0f} | {o:.0f} | {b:.0f} | {q:.2f} |"
              for k, s, p, c, f, o, b, q in rows]
    publish("Many cores on one device (RTL)", "\n".join(lines), args.write)


if __name__ == "__main__":
    main()
