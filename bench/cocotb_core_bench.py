"""cocotb side of bench/core.py, bench/throughput.py and bench/bandwidth.py: workloads on the
Verilated core (one build per configuration).

Reads AXONITE_BENCH (JSON: config, workloads), writes AXONITE_BENCH_OUT (JSON: measurements).
A workload is stepped tick by tick (cycles per tick) unless it has "period": then the core
free-runs a tick every `period` cycles while the inputs are queued ahead of it, and its output
is compared with the golden model's (bench/bandwidth.py).
"""

import json
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, First, RisingEdge, Timer

from firmware import CoreConfig
from bench.networks import activity_network, fanout_network, input_raster, relay_network
from sim import GoldenModel
from sim.cosim.cocotb_adapter import CLOCK_PERIOD_NS, start_core


async def stepped(driver, config, load):
    if load.get("network") == "relay":
        image = relay_network(config, load["fanout"])
    elif "spikers" in load:
        image = activity_network(config, load["fanout"], load["spikers"])
    else:
        image = fanout_network(config, load["fanout"], load.get("spiking", False))
    await driver.load(image)
    ticks = load["ticks"]
    raster = input_raster(config, ticks, load["events"], seed=load.get("seed", 1))
    start = time.perf_counter()
    _, cycles = await driver.run(ticks, raster)
    wall = time.perf_counter() - start
    counters = (await driver.state())["counters"]
    return {**load, "cycles_per_tick": float(np.mean(cycles[1:] if ticks > 1 else cycles)),
            "max_cycles_per_tick": int(np.max(cycles[1:] if ticks > 1 else cycles)),
            "synaptic_events": counters["synaptic_events"], "spikes": counters["spikes"],
            "input_events": counters["input_events"],
            "total_cycles": int(np.sum(cycles)), "wall_s": wall}


async def free_running(dut, driver, config, load):
    """Free-run at `period` cycles per tick with `events` input events per tick, the inputs
    queued while the core runs (each tick's group is in the FIFO before the tick starts, as a
    host keeps it); the output spikes of the first `ticks` ticks against the golden model."""
    image = relay_network(config, load["fanout"])
    await driver.load(image)
    ticks, period = load["ticks"], load["period"]
    raster = input_raster(config, ticks, load["events"], seed=3)
    io = driver.io
    spikes = []
    running = True

    async def push(axon, tick_end):
        # in_ready sampled at the falling edge holds at the next rising edge: the entry goes in
        # there (the CoreDriver's push looks after the edge, which is right only for a FIFO
        # that never fills, as when stepping)
        while not io.get("in_ready"):
            await io.clock()
        io.set("in_axon", axon)
        io.set("in_tick_end", tick_end)
        io.set("in_valid", 1)
        await io.clock()
        io.set("in_valid", 0)

    async def feed():
        for k in range(1, ticks):
            for axon in np.nonzero(raster[k])[0]:
                await push(int(axon), 0)
            await push(0, 1)

    async def read():
        while running:
            if not io.get("out_valid"):
                await First(RisingEdge(dut.out_valid), Timer(period * CLOCK_PERIOD_NS, "ns"))
                await FallingEdge(dut.clk)
                continue
            spikes.append((io.get("out_tick"), io.get("out_neuron")))
            io.set("out_ready", 1)
            await io.clock()
            io.set("out_ready", 0)

    await driver.queue_inputs(1, raster[:1])
    io.set("period", period)
    io.set("freerun", 1)
    feeder = cocotb.start_soon(feed())
    reader = cocotb.start_soon(read())
    while io.get("tick") < ticks:
        await Timer(period * CLOCK_PERIOD_NS, "ns")
    io.set("freerun", 0)
    await io.clock()
    await driver.idle()
    await feeder
    await Timer(10 * CLOCK_PERIOD_NS, "ns")
    running = False
    await reader
    spikes += await driver.drain_output()
    counters = (await driver.state())["counters"]
    got = np.array(sorted(s for s in spikes if s[0] < ticks), np.int64).reshape(-1, 2)
    want = GoldenModel(image).run(ticks, raster)
    want_rows = np.array(sorted(zip(want.times.tolist(), want.neurons.tolist())), np.int64).reshape(-1, 2)
    return {**load, "equal": bool(np.array_equal(got, want_rows)), "spikes": int(len(want_rows)),
            "overruns": counters["overruns"], "dropped": counters["dropped"],
            "ticks_run": counters["ticks"], "input_events": counters["input_events"]}


@cocotb.test()
async def bench(dut):
    spec = json.loads(os.environ["AXONITE_BENCH"])
    config = CoreConfig(**spec["config"])
    driver = await start_core(dut, config)
    results = []
    for load in spec["workloads"]:
        if "period" in load:
            results.append(await free_running(dut, driver, config, load))
        else:
            results.append(await stepped(driver, config, load))
    with open(os.environ["AXONITE_BENCH_OUT"], "w") as f:
        json.dump(results, f)
