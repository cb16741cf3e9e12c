"""cocotb regression: random networks partitioned over the K cores of a Verilated MultiCore,
against the golden model of many cores (sim.multicore.MultiCoreModel).

AXONITE_CORES (the partition's K; AXONITE_DEVICE_CORES, the build's, may be more: the other
cores run the idle image), AXONITE_SEEDS ("0-4" or "3,17"), AXONITE_PLASTIC ("1": STDP on)
choose the cases. Each seed's network (tests/support/multicore_networks.py) is compiled onto
K cores, loaded core by core through the access port, run tick by tick in two runs (spikes in
flight cross the boundary), and compared: every tick's output spikes (global numbering), then
each core's u, v, ref, traces, accumulators, weights, LFSR and counters.
"""

import os

import cocotb
import numpy as np

from firmware import compile_network
from sim.cosim.cocotb_adapter import CocotbAdapter
from sim.cosim.core_driver import MultiCoreDriver
from sim.multicore import MultiCoreModel
from tests.support.multicore_networks import CORE, random_network
from tests.support.state_compare import state_difference

def parse_seeds(text):
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def first_difference(multi, model, spikes, expected, states):
    if not np.array_equal(spikes, expected):
        for k in range(max(len(spikes), len(expected))):
            got = spikes[k].tolist() if k < len(spikes) else None
            want = expected[k].tolist() if k < len(expected) else None
            if got != want:
                return f"spike {k} (tick, neuron): RTL {got}, model {want}"
    for k, (state, core) in enumerate(zip(states, model.cores)):
        problem = state_difference(state, state["weights"], core)
        if problem:
            return f"core {k}: {problem}"
    return None


@cocotb.test()
async def multicore_regression(dut):
    cores = int(os.environ["AXONITE_CORES"])
    seeds = parse_seeds(os.environ.get("AXONITE_SEEDS", "0-2"))
    plastic = os.environ.get("AXONITE_PLASTIC") == "1"
    io = CocotbAdapter(dut)
    await io.reset()
    driver = MultiCoreDriver(io, CORE, int(os.environ.get("AXONITE_DEVICE_CORES", cores)))
    failures = []
    for seed in seeds:
        net, raster, lfsr_seed = random_network(seed, plastic=plastic)
        multi = compile_network(net, CORE, lfsr_seed=lfsr_seed, cores=cores)
        await driver.load(multi)
        model = MultiCoreModel(multi)
        half = raster.shape[0] // 2
        spikes, expected = [], []
        for part in (raster[:half], raster[half:]):
            got, _ = await driver.run(part.shape[0], part)        # ticks since the load
            want = model.run(part.shape[0], part)
            spikes.append(np.stack([got[:, 0], multi.global_of_device(got[:, 1])], axis=1))
            expected.append(np.stack([want.times, want.neurons], axis=1))
        spikes = np.concatenate(spikes)
        spikes = spikes[np.lexsort((spikes[:, 1], spikes[:, 0]))]    # a tick's by global neuron
        states = await driver.core_states()
        for k, state in enumerate(states):
            driver.select(k)
            state["weights"] = await driver.weights(multi.images[k].tables["synapse"].size)
        problem = first_difference(multi, model, spikes, np.concatenate(expected), states)
        if problem:
            failures.append(f"seed {seed} ({cores} cores, plastic={plastic}): {problem}\n    reproduce: "
                            f"AXONITE_SEEDS={seed} python -m pytest tests/rtl/multicore/test_multicore.py")
            dut._log.error(failures[-1])
    assert not failures, f"{len(failures)} of {len(seeds)} seeds differ:\n" + "\n".join(failures)
