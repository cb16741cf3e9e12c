"""cocotb side of bench/core.py: timed workloads on the Verilated core (one build per config).

Reads AXONITE_BENCH (JSON: workloads), writes AXONITE_BENCH_OUT (JSON: measurements).
"""

import json
import os
import time

import cocotb
import numpy as np

from firmware import CoreConfig, FromList, Network, compile_network
from sim.cocotb_adapter import start_core


def fanout_network(config, fanout, spiking):
    """Every input axon projects to `fanout` neurons; neurons are silent (vth at maximum) or,
    with `spiking`, each neuron also fires every tick from its bias and projects to `fanout`."""
    rng = np.random.default_rng(0)
    net = Network("bench")
    inputs = net.inputs("in", config.n_inputs)
    pop = net.population("n", config.n_neurons, vth=0 if spiking else 131071,
                         bias_mant=100 if spiking else 0)
    rows = [(i, int(t), 1) for i in range(config.n_inputs)
            for t in rng.choice(config.n_neurons, size=fanout, replace=False)]
    net.connect(inputs, pop, FromList(rows), name="input")
    if spiking:
        net.record(pop)
    return compile_network(net, config)


@cocotb.test()
async def bench(dut):
    spec = json.loads(os.environ["AXONITE_BENCH"])
    config = CoreConfig(**spec["config"])
    driver = await start_core(dut, config)
    results = []
    for load in spec["workloads"]:
        image = fanout_network(config, load["fanout"], load.get("spiking", False))
        await driver.load(image)
        ticks, events = load["ticks"], load["events"]
        rng = np.random.default_rng(1)
        raster = np.zeros((ticks, config.n_inputs), bool)
        for k in range(ticks):
            raster[k, rng.choice(config.n_inputs, size=events, replace=False)] = True
        start = time.perf_counter()
        _, cycles = await driver.run(ticks, raster)
        wall = time.perf_counter() - start
        counters = (await driver.state())["counters"]
        results.append({**load, "cycles_per_tick": float(np.mean(cycles[1:] if ticks > 1 else cycles)),
                        "synaptic_events": counters["synaptic_events"], "spikes": counters["spikes"],
                        "total_cycles": int(np.sum(cycles)), "wall_s": wall})
    with open(os.environ["AXONITE_BENCH_OUT"], "w") as f:
        json.dump(results, f)
