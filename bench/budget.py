"""The iCE40UP5K memory budget of a core configuration: bits per neuron, per source and per
synapse, every memory of the device (core, link, UART buffers) and the block RAM it needs.

    python bench/budget.py [--write]       (--write: the "Memory budget" section of docs/benchmarks.md)

EBR counts are the smallest of the four SB_RAM40_4K shapes (256 x 16, 512 x 8, 1024 x 4,
2048 x 2) for each memory, which is what yosys picks for a memory on its own; the build's
summary (python -m boards.build icebreaker) has the count after synthesis.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware import formats as fmt                        # noqa: E402
from firmware import protocol as P                         # noqa: E402
from firmware.config import CoreConfig                     # noqa: E402
from rtl.access import REGISTER_REGIONS                    # noqa: E402
from rtl.memory import SPRAM_DEPTH, SPRAM_WIDTH, ICE40Memories   # noqa: E402
from rtl.top import RX_FIFO_DEPTH                          # noqa: E402

EBR_SHAPES = ((256, 16), (512, 8), (1024, 4), (2048, 2))
UP5K_EBR, UP5K_SPRAM = 30, 4
ENCODER_BUFFER = 2 * 256                  # rtl/cobs.py: two 256-byte blocks


def ebr_blocks(width: int, depth: int) -> int:
    return min(-(-width // w) * -(-depth // d) for d, w in EBR_SHAPES)


def memories(config: CoreConfig, input_depth: int = 512):
    """(name, per, width, depth, place) of every memory of DeviceTop; place is 'SPRAM' or 'EBR'.
    `per` says what the depth counts (neuron, source, synapse, ... or a fixed buffer)."""
    c = config
    regions = fmt.memory_map(c)
    spram = ICE40Memories()
    per = {"profile": "profile", "neuron": "neuron", "axon": "source", "segment": "segment",
           "synapse": "synapse", "projection": "projection", "reverse_ptr": "neuron",
           "reverse": "plastic synapse", "state_u": "neuron", "state_v": "neuron", "state_ref": "neuron",
           "trace_post": "neuron", "accumulator": "neuron x delay"}
    rows = []
    for name, region in regions.items():
        if name in REGISTER_REGIONS or name == "trace_pre":
            continue
        made = spram.make(name, region.layout.width, region.depth)
        place = "SPRAM" if hasattr(made, "n_lanes") else "EBR"
        rows.append((name, per[name], region.layout.width, region.depth, place))
    nb, sb = fmt.bits_for(c.n_neurons), fmt.bits_for(c.n_sources)
    rows += [
        ("trace_pre (inputs)", "input", fmt.TRACE_BITS, c.n_inputs, "EBR"),
        ("trace_pre (neurons)", "neuron", fmt.TRACE_BITS, c.n_neurons, "EBR"),
        ("event list", "source", sb + 0, c.n_sources, "EBR"),
        ("input FIFO", "buffer", 16, input_depth - 1, "EBR"),
        ("output FIFO", "buffer", nb + 32, min(512, c.n_neurons) - 1, "EBR"),
        ("counters (64-bit, rtl/counters.py)", "counter", 16, len(fmt.COUNTERS) * fmt.COUNTER_BITS // 16, "EBR"),
        ("link frame buffer", "buffer", 8, P.MAX_FRAME + 1, "EBR"),
        ("link SPIKES buffer", "buffer", 8, P.MAX_PAYLOAD - P.SPIKES.size, "EBR"),
        ("link spike list", "neuron", nb, c.n_neurons, "EBR"),
        ("UART RX FIFO", "buffer", 8, RX_FIFO_DEPTH - 1, "EBR"),
        ("COBS encoder buffer", "buffer", 8, ENCODER_BUFFER, "EBR"),
    ]
    return rows


def spram_blocks(width: int, depth: int) -> int:
    return -(-width // SPRAM_WIDTH) * -(-depth // SPRAM_DEPTH)


def budget_table(config: CoreConfig) -> tuple[str, int, int]:
    lines = ["| memory | per | width | depth | kbit | in | blocks |", "|---|---|---:|---:|---:|---|---:|"]
    ebr = spram = 0
    for name, per, width, depth, place in memories(config):
        blocks = spram_blocks(width, depth) if place == "SPRAM" else ebr_blocks(width, depth)
        ebr += blocks if place == "EBR" else 0
        spram += blocks if place == "SPRAM" else 0
        lines.append(f"| {name} | {per} | {width} | {depth} | {width * depth / 1024:.1f} | {place} | {blocks} |")
    lines.append(f"| **total** | | | | | | **{ebr} EBR of {UP5K_EBR}, {spram} SPRAM of {UP5K_SPRAM}** |")
    return "\n".join(lines), ebr, spram


def bits_per(config: CoreConfig) -> dict[str, int]:
    """State and table bits that scale with each object (what sets the largest configuration)."""
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
    body = ("Command: `python bench/budget.py --write` (arithmetic, no tools). The UP5K has 30 EBR "
            "(4 kbit each, 120 kbit) and 4 SPRAM (256 kbit each, 1 Mbit). The synapse memory goes to "
            "SPRAM, the reverse index too when the SPRAMs left hold it; the rest is EBR.\n\n"
            + report(configs))
    print(body)
    if args.write:
        from report import update_section
        update_section("Memory budget (iCE40UP5K)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
