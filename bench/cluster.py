"""Many boards: a host.Cluster's ticks/s and cross-device spikes/s against the number of devices
and the link, and where the host becomes the bottleneck.

    python bench/cluster.py [--ticks 300] [--write]

The network: K populations of 200 neurons, one per device (CoreConfig()), each driven by 16 input
axons (fan-out 20) and its own bias (a few percent fire per tick), and a ring of cut
projections, population k to population k + 1 (fan-out 8, delay 2), so that every spike of a
population with a target on the next device is relayed by the host. With K = 1 the ring closes
on the one population (nothing to relay). Backends, all golden-model devices, so the numbers
are the host's and the link's, not the core's:

- `model`: the golden model in this process: the host's relay alone (no protocol);
- `emulator://`: the protocol encoded and decoded in this process, no wire;
- `socket://`: one device emulator per device in its own process (python -m sim.device_emulator),
  over TCP on 127.0.0.1: a real round trip per tick.

Line bytes per tick and device are counted on the socket transports; from them, the rate a
serial link of 1, 3 and 12 Mbaud (10 bits per byte) allows, and the cap that a round trip per
tick puts on a USB serial bridge (its latency timer, 1 ms at best, each way).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware import CoreConfig, FromList, Network, compile_network   # noqa: E402
from host.cluster import Cluster                                    # noqa: E402

SECTION = "Many boards (host cluster)"
POPULATION, INPUTS, FAN_IN, FAN_RING = 200, 16, 20, 8
BAUDS = (1_000_000, 3_000_000, 12_000_000)
USB_LATENCY_S = 1e-3          # an FTDI latency timer at its minimum, each way


def ring_network(k: int):
    rng = np.random.default_rng(k)
    net = Network(f"ring-{k}")
    inp = net.inputs("in", INPUTS)
    pops = [net.population(f"p{j}", POPULATION, du=409, dv=200, vth=300, refractory=2,
                           bias_mant=rng.integers(80, 160, POPULATION), bias_exp=1) for j in range(k)]
    for j, pop in enumerate(pops):
        rows = [(i, int(t), 40) for i in range(INPUTS) for t in rng.choice(POPULATION, FAN_IN, replace=False)]
        net.connect(inp, pop, FromList(rows), name=f"in->p{j}")
        nxt = pops[(j + 1) % k]
        rows = [(i, int(t), 30, 2) for i in range(POPULATION) for t in rng.choice(POPULATION, FAN_RING, replace=False)]
        net.connect(pop, nxt, FromList(rows), name=f"p{j}->p{(j + 1) % k}")
        net.record(pop)
    return compile_network(net, CoreConfig(), placement={p.name: j for j, p in enumerate(pops)})


class _Counting:
    """Counts the bytes a transport writes and reads."""

    def __init__(self, transport):
        self.inner, self.sent, self.received = transport, 0, 0
        self.url = transport.url

    def write(self, data):
        self.sent += len(data)
        return self.inner.write(data)

    def read_some(self, timeout):
        data = self.inner.read_some(timeout)
        self.received += len(data)
        return data

    def close(self):
        return self.inner.close()


def _servers(k: int):
    procs, urls = [], []
    for _ in range(k):
        proc = subprocess.Popen([sys.executable, "-m", "sim.device_emulator", "--port", "0"],
                                stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
        line = proc.stdout.readline()
        procs.append(proc)
        urls.append(line.strip().rsplit(" ", 1)[-1])
    return procs, urls


def measure(backend: str, k: int, ticks: int) -> dict:
    multi = ring_network(k)
    raster = np.random.default_rng(0).random((ticks, INPUTS)) < 0.1
    procs = []
    if backend == "socket":
        procs, urls = _servers(k)
    else:
        urls = [backend] * k
    try:
        with Cluster.open(urls, CoreConfig(), timeout=30) as cluster:
            counting = []
            for device in cluster.devices:
                link = getattr(device, "link", None)
                if link is not None:
                    link.transport = _Counting(link.transport)
                    counting.append(link.transport)
            cluster.load(multi)
            cluster.run(5, raster[:5])                            # warm up
            for t in counting:
                t.sent = t.received = 0
            relayed0 = cluster.relayed
            start, cpu = time.perf_counter(), time.process_time()
            result = cluster.run(ticks, raster)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            relayed = cluster.relayed - relayed0
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    line = sum(t.sent + t.received for t in counting) / max(1, len(counting)) / ticks if counting else None
    return {"backend": backend, "devices": k, "ticks": ticks, "wall_s": wall, "ticks_per_s": ticks / wall,
            "host_cpu_ms_per_tick": 1e3 * cpu / ticks,
            "relayed_per_s": relayed / wall, "relayed_per_tick": relayed / ticks,
            "spikes_per_tick": result.times.size / ticks, "line_bytes_per_tick": line}


def table(rows: list) -> str:
    out = ["| backend | devices | ticks/s | ms per tick | host CPU ms per tick | cross-device spikes/s | per tick | output spikes per tick | line bytes per tick and device |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        line = "" if r["line_bytes_per_tick"] is None else f"{r['line_bytes_per_tick']:.0f}"
        out.append(f"| {r['backend']} | {r['devices']} | {r['ticks_per_s']:,.0f} | {1e3 / r['ticks_per_s']:.2f} | "
                   f"{r['host_cpu_ms_per_tick']:.2f} | "
                   f"{r['relayed_per_s']:,.0f} | {r['relayed_per_tick']:.1f} | {r['spikes_per_tick']:.1f} | {line} |")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    rows = []
    for backend in ("model", "emulator://", "socket"):
        for k in (1, 2, 3, 4):
            rows.append(measure(backend, k, args.ticks))
            print(rows[-1], file=sys.stderr, flush=True)
    sock = [r for r in rows if r["backend"] == "socket"]
    per_byte = max(r["line_bytes_per_tick"] for r in sock)
    cpu = {r["devices"]: r["host_cpu_ms_per_tick"] for r in sock}
    slope = (cpu[max(cpu)] - cpu[1]) / max(1, max(cpu) - 1)          # host ms per tick per device
    limit = int((2.0 - cpu[1]) / slope) + 1 if slope > 0 and cpu[1] < 2.0 else 1
    link = "\n".join(f"| {b / 1e6:g} Mbaud | {b / 10 / per_byte:,.0f} | "
                     f"{min(b / 10 / per_byte, 1 / (2 * USB_LATENCY_S)):,.0f} |" for b in BAUDS)
    from bench.report import provenance
    body = (provenance(f"python bench/cluster.py --ticks {args.ticks} --write",
                       f"K populations of {POPULATION} neurons, one per device of `CoreConfig()`, "
                       f"{INPUTS} input axons (fan-out {FAN_IN}, 10% active per tick), a ring of cut "
                       f"projections (fan-out {FAN_RING}, delay 2); golden-model devices (bench/cluster.py)")
            + "\n\nA cluster runs one tick per round trip: every device gets its inputs (the host's and "
              "the spikes relayed from the tick before) and returns its spikes before the next tick "
              "starts (docs/spec.md §12). The devices run in parallel, one host thread each.\n\n"
            + table(rows)
            + "\n\nThe serial link a board would use, from the bytes counted on the sockets "
              f"(at most {per_byte:.0f} line bytes per tick and device, both directions): ticks/s the "
              "line allows, and with the round trip of a USB serial bridge at its 1 ms latency "
              "timer (2 ms per tick):\n\n| link | ticks/s (line) | ticks/s (line and USB latency) |\n"
              "|---|---:|---:|\n" + link
            + "\n\nThe `model` and `emulator://` rows run the devices' golden models in the host process "
              "too (one Python process: the threads share the interpreter), so they are the host and the "
              "devices together. The `socket` rows put each device in its own process: the host CPU column "
              "is then the host's own work per tick (encoding inputs, decoding spikes, relaying), "
              + ", ".join(f"{cpu[k]:.2f} ms with {k}" for k in sorted(cpu))
              + " devices; beyond 2 devices the emulator processes and the host share this machine's 2 cores, "
                "so those rows measure the machine's CPU, not the link (a board computes its own tick).\n\n"
                "Where the host binds: a real board adds the USB latency, about 2 ms per tick, which at any "
                "baud rate above 1 Mbaud dominates the line time: a cluster of boards on USB serial bridges "
                "runs at most about 500 ticks/s whatever the number of boards. The host's own time per "
                f"tick is {cpu[1]:.1f} ms with one device and grows by about {slope:.1f} ms per further "
                f"device (Python: a Device.run(1) per device and tick, its frames, the relay), so it passes "
                f"those 2 ms from {limit + 1} devices on: there the host, not the boards or the links, is "
                "the bottleneck (a leaner per-tick path, one INPUT and STEP frame per device without "
                "Device.run's generality, would move that point, not remove it). Lock-step with a "
                "round trip per tick is the limit of the design; running several ticks per round trip "
                "would need cut synapses of longer delays (a spike relayed D - 1 ticks later needs "
                "delay >= D).\n")
    print(body)
    (Path(__file__).resolve().parent.parent / "docs" / "bench").mkdir(exist_ok=True)
    if args.write:
        from bench.report import ASSETS, update_section
        (ASSETS / "cluster.json").write_text(json.dumps(rows, indent=1) + "\n")
        update_section(SECTION, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
