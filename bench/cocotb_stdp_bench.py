"""cocotb side of bench/stdp.py: the same network with and without STDP, at a given activity.

256 input axons -> 256 neurons, fan-out 32 (FromList, fixed seed). Neurons are integrate-and-
fire driven by their bias alone (input weights 0), so each fires every `period` ticks; their
voltages start at random phases (written through the access port). Inputs spike at random
with the same rate. With STDP the input projection is plastic with a_plus = a_minus = 0, so
every update is computed and written but the weights (and the activity) stay as they are.
A workload's `mode` isolates one kind of update: "ltd" (inputs at that rate, neurons silent:
every update is an LTD of a delivered synapse), "ltp" (neurons at that rate, no input: every
update is an LTP from the reverse index), "both" (the default).
"""

import json
import os

import cocotb
import numpy as np

from firmware import CoreConfig, FromList, Network, STDPRule, compile_network
from firmware import formats as fmt
from sim.cosim.cocotb_adapter import start_core

FANOUT = 32


def network(config, period, plastic, silent=False):
    rng = np.random.default_rng(0)
    net = Network("stdp-bench")
    inputs = net.inputs("in", config.n_inputs)
    bias = 0 if silent else -(-6400 // (period - 1))     # v = k * bias crosses 6400 at k = period - 1
    pop = net.population("n", config.n_neurons, du=4095, dv=0, vth=100, bias_mant=bias)
    rows = [(i, int(t), 0) for i in range(config.n_inputs)
            for t in rng.choice(config.n_neurons, size=FANOUT, replace=False)]
    rule = STDPRule(a_plus=0, a_minus=0, lr_shift=4, w_min=-128, w_max=127) if plastic else None
    net.connect(inputs, pop, FromList(rows), stdp=rule, name="input")
    return compile_network(net, config), bias


@cocotb.test()
async def bench(dut):
    spec = json.loads(os.environ["AXONITE_BENCH"])
    config = CoreConfig(**spec["config"])
    driver = await start_core(dut, config)
    results = []
    for load in spec["workloads"]:
        mode = load.get("mode", "both")
        image, bias = network(config, load["period"], load["plastic"], silent=(mode == "ltd"))
        await driver.load(image)
        rng = np.random.default_rng(1)
        phases = rng.integers(0, load["period"] - 1, config.n_neurons) * bias
        await driver.write("state_v", fmt.memory_map(config)["state_v"].layout.pack(v=phases))
        raster = rng.random((load["ticks"], config.n_inputs)) < 1.0 / load["period"]
        if mode == "ltp":
            raster[:] = False
        _, cycles = await driver.run(load["ticks"], raster)
        counters = (await driver.state())["counters"]
        results.append({**load, "cycles": int(np.sum(cycles)), **counters})
    with open(os.environ["AXONITE_BENCH_OUT"], "w") as f:
        json.dump(results, f)
