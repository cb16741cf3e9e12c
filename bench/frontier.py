"""The iCEBreaker frontier: the largest core configuration that fits the iCE40UP5K and meets
timing, per clock, measured by building each one (python -m boards.build icebreaker).

    python bench/frontier.py [--clocks 24 30 36] [--seed 1] [--write]
                                  (--write: the "Frontier (iCE40UP5K)" section of docs/benchmarks.md)

The ladder below goes from large to small; for each clock the first rung that fits and meets
timing is the frontier, and the rungs above it say why they failed (a resource over, or the
Fmax). Every configuration keeps STDP on (a reverse index). A rung that does not fit stops
at packing, in seconds; one that fits takes a whole place and route (minutes).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from boards.build import CONFIG_OPTIONS     # noqa: E402
from firmware.config import CoreConfig      # noqa: E402

# (neurons, inputs, synapses, segments, reverse): large to small. The synapse memory and the
# reverse index share the four SPRAMs, so 32K synapses with a 16K reverse index is their most.
LADDER = (
    (512, 256, 32768, 768, 16384),
    (256, 256, 32768, 512, 16384),
    (256, 128, 32768, 384, 16384),
    (128, 128, 16384, 256, 8192),
    (64, 64, 8192, 128, 4096),
)
OPTIONS = ("neurons", "inputs", "synapses", "segments", "reverse")     # boards.build's, as LADDER


def build(rung: tuple, clock_mhz: float, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="frontier-") as out:
        args = [sys.executable, "-m", "boards.build", "icebreaker", "--clock", f"{clock_mhz:g}",
                "--seed", str(seed), "--out", out]
        for option, value in zip(OPTIONS, rung):
            args += [f"--{option}", str(value)]
        done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
        summary_file = Path(out) / "summary.json"
        if not summary_file.exists():        # refused before building: the message says why
            summary = {"ok": False, "failures": [done.stderr.strip() or done.stdout.strip()[-200:]],
                       "resources": {}, "fmax_mhz": None}
        else:
            summary = json.loads(summary_file.read_text())
        # the build directory is temporary: its path means nothing in the docs
        summary["failures"] = [f.replace(out, "<build dir>") for f in summary.get("failures", [])]
        return summary


def describe(rung: tuple) -> str:
    neurons, inputs, synapses, segments, reverse = rung
    return f"{neurons} neurons, {inputs} inputs, {synapses:,} synapses, {segments} segments, {reverse:,} reverse"


def sweep(clocks, seed: int, say=print) -> tuple[list[str], dict]:
    rows = ["| clock (MHz) | configuration | logic cells | EBR | SPRAM | DSP | Fmax (MHz) | result |",
            "|---:|---|---:|---:|---:|---:|---:|---|"]
    frontier = {}
    for clock in clocks:
        for rung in LADDER:
            CoreConfig(**{CONFIG_OPTIONS[option]: value for option, value in zip(OPTIONS, rung)})
            # (a bad rung is refused there, before building)
            say(f"{clock:g} MHz: {describe(rung)} ...")
            summary = build(rung, clock, seed)
            used = {k: summary["resources"].get(k, {}).get("used", "-") for k in ("LUT", "RAM", "SPRAM", "DSP")}
            fmax = summary.get("fmax_mhz")
            result = "fits, meets timing" if summary["ok"] else "; ".join(summary["failures"])
            rows.append(f"| {clock:g} | {describe(rung)} | {used['LUT']} | {used['RAM']} | "
                        f"{used['SPRAM']} | {used['DSP']} | {'-' if fmax is None else f'{fmax:.1f}'} | "
                        f"{result} |")
            say(f"    {result}")
            if summary["ok"]:
                frontier[clock] = rung
                break
    return rows, frontier


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clocks", type=float, nargs="+", default=[24.0, 30.0, 36.0], metavar="MHZ")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    rows, frontier = sweep(args.clocks, args.seed)
    from bench.report import machine, update_section
    lines = [f"Command: `python bench/frontier.py --clocks {' '.join(f'{c:g}' for c in args.clocks)}"
             f"{'' if args.seed == 1 else f' --seed {args.seed}'} --write` ({machine()}). Each row "
             "is one `python -m boards.build icebreaker` (nextpnr seed "
             f"{args.seed}); per clock the ladder stops at the first configuration that fits and "
             "meets timing.", ""]
    for clock in args.clocks:
        lines.append(f"- **{clock:g} MHz**: " + (describe(frontier[clock]) if clock in frontier
                                                 else "nothing on the ladder fits and meets timing"))
    body = "\n".join(lines + [""] + rows)
    print(body)
    if args.write:
        update_section("Frontier (iCE40UP5K)", body)
    return 0 if frontier else 1


if __name__ == "__main__":
    raise SystemExit(main())
