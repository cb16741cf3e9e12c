"""The iCE40UP5K memory budget of a core configuration: bits per neuron, per source and per
synapse, and every memory of the elaborated device (core, link, UART and COBS buffers) with the
block RAM it needs.

    python bench/budget.py [--write]       (--write: the "Memory budget" section of docs/benchmarks.md)

The memories are read from the elaborated DeviceTop (the iCEBreaker's memory mapping), not
listed by hand, so the table follows the RTL. The EBR count of a memory is the smallest of the
four SB_RAM40_4K shapes (256 x 16, 512 x 8, 1024 x 4, 2048 x 2), which is what yosys picks for a
memory on its own; memories under MIN_EBR_DEPTH words become flip-flops. It is an upper bound:
synthesis drops the bits nothing reads (the output FIFO's tick field, today) and may pack
differently; the build's summary (python -m boards.build icebreaker) has the count after
synthesis.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amaranth.hdl import Fragment, Shape                   # noqa: E402
from amaranth.hdl._ir import Instance                      # noqa: E402
from amaranth.hdl._mem import MemoryInstance               # noqa: E402

from firmware import formats as fmt                        # noqa: E402
from boards.registry import ICE40UP5K_RESOURCES           # noqa: E402
from firmware.config import CoreConfig                     # noqa: E402

EBR_SHAPES = ((256, 16), (512, 8), (1024, 4), (2048, 2))
MIN_EBR_DEPTH = 16                        # yosys keeps shallower memories in flip-flops
SPRAM_CELL = "SB_SPRAM256KA"
UP5K_EBR = ICE40UP5K_RESOURCES["RAM"].available
UP5K_SPRAM = ICE40UP5K_RESOURCES["SPRAM"].available


def ebr_blocks(width: int, depth: int) -> int:
    return min(-(-width // w) * -(-depth // d) for d, w in EBR_SHAPES)


DP16KD_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


def dp16kd_blocks(width: int, depth: int) -> int:
    """ECP5 block RAMs (DP16KD, 18 kbit) of a memory: the smallest of its shapes."""
    return min(-(-width // w) * -(-depth // d) for d, w in DP16KD_SHAPES)


def device_memories(config: CoreConfig, board_name: str = "icebreaker"):
    """(path, width, depth, place, blocks) of every memory of the board's DeviceTop, in
    elaboration order; place is 'EBR', 'SPRAM' (one row per SB_SPRAM256KA) or 'FF'."""
    from boards.registry import BOARDS
    from rtl.link.top import DeviceTop
    board = BOARDS[board_name]
    blocks = dp16kd_blocks if board.family == "ecp5" else ebr_blocks
    top = DeviceTop(config, input_depth=board.input_depth, max_payload=board.max_payload,
                    memories=board.memories(), cores=board.default_cores)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the elaborated design is inspected, not built
        fragment = Fragment.get(top, None)
    rows = []

    def walk(frag, path):
        for sub, name, _ in frag.subfragments:
            here = path + (str(name),)
            if isinstance(sub, MemoryInstance):
                width, depth = Shape.cast(sub._data.shape).width, sub._data.depth
                if depth < MIN_EBR_DEPTH:
                    rows.append((".".join(here), width, depth, "FF", 0))
                else:
                    rows.append((".".join(here), width, depth, "EBR", blocks(width, depth)))
            elif isinstance(sub, Instance):
                if sub.type == SPRAM_CELL:
                    rows.append((".".join(here), 16, 16384, "SPRAM", 1))
            else:
                walk(sub, here)
    walk(fragment, ())
    return rows


def budget_table(config: CoreConfig) -> tuple[str, int, int]:
    lines = ["| memory | width | depth | kbit | in | blocks |", "|---|---:|---:|---:|---|---:|"]
    totals = {"EBR": 0, "SPRAM": 0, "FF": 0}
    for path, width, depth, place, blocks in device_memories(config):
        totals[place] += blocks
        lines.append(f"| {path} | {width} | {depth} | {width * depth / 1024:.1f} | {place} | {blocks} |")
    lines.append(f"| **total** | | | | | **{totals['EBR']} EBR of {UP5K_EBR}, "
                 f"{totals['SPRAM']} SPRAM of {UP5K_SPRAM}** |")
    return "\n".join(lines), totals["EBR"], totals["SPRAM"]


def bits_per(config: CoreConfig) -> dict[str, int]:
    """State and table bits of the contract's layouts that scale with each object (what sets
    the largest configuration), whatever memory the RTL packs them into."""
    lay = fmt.layouts(config)
    sb = fmt.bits_for(config.n_sources)
    neuron = (lay["state_u"].width + lay["state_v"].width + lay["state_ref"].width + lay["trace_post"].width
              + lay["neuron"].width + lay["reverse_ptr"].width + config.max_delay * lay["accumulator"].width
              + fmt.TRACE_BITS + fmt.bits_for(config.n_neurons))    # + pre-trace, + link's spike list
    source = lay["axon"].width + sb                                  # + event list entry
    return {"neuron": neuron + source, "input": source + fmt.TRACE_BITS, "synapse": lay["synapse"].width,
            "plastic synapse": lay["reverse"].width, "segment": lay["segment"].width}


def report(configs: dict[str, CoreConfig]) -> str:
    out = []
    for title, config in configs.items():
        table, ebr, spram = budget_table(config)
        per = bits_per(config)
        fits = ebr <= UP5K_EBR and spram <= UP5K_SPRAM
        out += [f"### {title}", "", f"`{config}`", "",
                "Bits per object: " + ", ".join(f"{k} {v}" for k, v in per.items()) + ".", "",
                table, "", f"Memories {'fit' if fits else 'do NOT fit'} the iCE40UP5K "
                f"({ebr} of {UP5K_EBR} EBR, {spram} of {UP5K_SPRAM} SPRAM).", ""]
    return "\n".join(out)


def ulx3s_table() -> str:
    """The ULX3S's block RAM: one core's memories (each core has the same) and the device's."""
    from boards.registry import BOARDS
    board = BOARDS["ulx3s"]
    k = board.default_cores
    lines = ["| memory | width | depth | DP16KD |", "|---|---:|---:|---:|"]
    per_core, device = 0, 0
    for path, width, depth, place, blocks in device_memories(board.default_config, "ulx3s"):
        parts = path.split(".")
        core_part = next((p for p in parts if p.rsplit("_", 1)[0] in ("core", "route", "inbox")
                          and p.rsplit("_", 1)[-1].isdigit()), None)
        if core_part is None:
            device += blocks
        elif core_part.endswith("_0"):
            per_core += blocks
        else:
            continue
        lines.append(f"| {path} | {width} | {depth} | {blocks} |")
    total = per_core * k + device
    lines.append(f"| **total** | | | **{per_core} per core x {k} + {device} = {total} of "
                 f"{board.resources['RAM'].available}** |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    from boards.registry import ICEBREAKER_CONFIG
    configs = {
        "The default iCEBreaker configuration": ICEBREAKER_CONFIG,
        "The goal: 1,024 neurons, 48K synapses": CoreConfig(
            n_neurons=1024, n_inputs=256, n_synapses=49152, n_segments=2048, n_reverse=2048),
    }
    from bench.report import machine
    body = ("Command: `python bench/budget.py --write` (the elaborated iCEBreaker DeviceTop's "
            f"memories; no synthesis; {machine()}). The UP5K has 30 EBR (4 kbit each, 120 kbit) and 4 SPRAM "
            "(256 kbit each, 1 Mbit). The synapse memory goes to SPRAM, the reverse index too when "
            "the SPRAMs left hold it; the rest is EBR. Bits per object count the contract's "
            "layouts (docs/spec.md §8); the RTL packs several into one memory.\n\n"
            + report(configs))
    from boards.registry import BOARDS
    ulx3s = BOARDS["ulx3s"]
    body_ulx3s = ("Command: `python bench/budget.py --write` (the elaborated ULX3S DeviceTop's memories, "
                  f"{ulx3s.default_cores} cores of `{ulx3s.default_config}`; no synthesis; the DP16KD count of a "
                  "memory is the smallest of its six shapes: an upper bound, since yosys puts the 32-word "
                  "memories, tables and counters, in LUT RAM; the build's summary has the count). The "
                  "cores' rows are core 0's (the others are the same); the rest is the Link's.\n\n"
                  + ulx3s_table())
    print(body)
    print(body_ulx3s)
    if args.write:
        from bench.report import update_section
        update_section("Memory budget (iCE40UP5K)", body)
        update_section("Memory budget (ULX3S, four cores)", body_ulx3s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
