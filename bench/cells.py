"""Where the logic of an iCE40 build goes: the synthesized netlist grouped by design hierarchy.

    python bench/cells.py build/icebreaker/top.json [--depth 3] [--top 30]

The netlist is yosys's (written by `python -m boards.build icebreaker`). Each SB_LUT4 and each
flip-flop (SB_DFF*) is counted under the hierarchy of the net it drives (the shortest name
yosys kept for it, cut to `--depth` parts: "device.core.router"); a flip-flop whose D input
is not driven by a LUT, or by a LUT whose output goes elsewhere too, is also counted as "FF
alone": nextpnr pairs a flip-flop only with a LUT that drives nothing else, so such a one takes
a logic cell by itself. SB_CARRY cells are not counted: most ride in the logic cell of their
sum LUT; the carries alone (a comparison's chain has no sum) and the cells that legalise
chains are in nextpnr's packing log (top.tim). The attribution is approximate: abc merges logic of neighbouring blocks and names
what it makes after one of them, so a small change can move tens of LUTs between groups. The
placed count (nextpnr's, in the build's summary) is the one that must fit.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path


def _net_names(module: dict) -> dict[int, str]:
    """bit -> the shortest public name of its net (names starting with '$' only as a last resort)."""
    best: dict[int, str] = {}
    for name, net in module["netnames"].items():
        for bit in net["bits"]:
            if not isinstance(bit, int):
                continue
            old = best.get(bit)
            if old is None or (old.startswith("$"), len(old)) > (name.startswith("$"), len(name)):
                best[bit] = name
    return best


def cell_groups(netlist: dict, depth: int = 3, top: str = "top") -> dict[str, Counter]:
    """{group: Counter(lut=, ff=, ff_alone=)} of the module `top` of a yosys JSON netlist."""
    module = netlist["modules"][top]
    names = _net_names(module)
    driver, sinks = {}, Counter()
    for cell in module["cells"].values():
        for port, bits in cell["connections"].items():
            output = cell["port_directions"].get(port) == "output"
            for bit in bits:
                if isinstance(bit, int):
                    if output:
                        driver[bit] = cell["type"]
                    else:
                        sinks[bit] += 1

    def group(bit) -> str:
        return ".".join(names.get(bit, "?").split(".")[:depth])

    groups: dict[str, Counter] = {}
    for cell in module["cells"].values():
        kind = cell["type"]
        if kind == "SB_LUT4":
            groups.setdefault(group(cell["connections"]["O"][0]), Counter())["lut"] += 1
        elif kind.startswith("SB_DFF"):
            counts = groups.setdefault(group(cell["connections"]["Q"][0]), Counter())
            counts["ff"] += 1
            d = cell["connections"]["D"][0]
            if not isinstance(d, int) or driver.get(d) != "SB_LUT4" or sinks[d] > 1:
                counts["ff_alone"] += 1
    return groups


def report(groups: dict[str, Counter], top: int = 30) -> str:
    order = sorted(groups, key=lambda g: (-(groups[g]["lut"] + groups[g]["ff_alone"]), g))   # ties by name
    lines = ["| group | LUT4 | flip-flops | FF alone |", "|---|---:|---:|---:|"]
    for name in order[:top]:
        c = groups[name]
        lines.append(f"| {name} | {c['lut']:,} | {c['ff']:,} | {c['ff_alone']:,} |")
    total = sum(groups.values(), Counter())
    rest = len(order) - min(top, len(order))
    if rest:
        lines.append(f"| ({rest} more groups) | | | |")
    lines.append(f"| **total** | {total['lut']:,} | {total['ff']:,} | {total['ff_alone']:,} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("netlist", type=Path, help="yosys JSON netlist (build/<board>/top.json)")
    parser.add_argument("--depth", type=int, default=3, help="hierarchy levels per group (default 3)")
    parser.add_argument("--top", type=int, default=30, help="groups to show (default 30)")
    args = parser.parse_args(argv)
    try:
        netlist = json.loads(args.netlist.read_text())
    except (OSError, ValueError) as error:
        print(f"cells: cannot read the netlist {args.netlist}: {error}", file=sys.stderr)
        return 2
    if "top" not in netlist.get("modules", {}):
        print(f"cells: {args.netlist} has no module 'top' (is it a boards.build netlist?)", file=sys.stderr)
        return 2
    print(report(cell_groups(netlist, args.depth), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
