"""cocotb: the STDP pairing protocol (tests/support/stdp_protocol.py) on the Verilated core.

Each repetition reloads the weights, clears the state and carries the LFSR on, as the model
test does; every repetition's spikes and weights must equal the golden model's. The RTL's
weight changes go to AXONITE_OUT (JSON) for the window fit in test_stdp_window_rtl.py.
"""

import json
import os

import cocotb
import numpy as np

from sim import GoldenModel
from sim.cosim.cocotb_adapter import start_core
from tests.support.stdp_protocol import W0, pairing_protocol


@cocotb.test()
async def pairing(dut):
    protocol = pairing_protocol(int(os.environ["AXONITE_PAIRS"]))
    repetitions = int(os.environ["AXONITE_REPETITIONS"])
    image = protocol.image
    driver = await start_core(dut, image.config)
    await driver.load(image)
    model, probe = GoldenModel(image), GoldenModel(image)
    samples, mismatches = [], []
    for rep in range(repetitions):
        lfsr = model.lfsr_state
        model.reset()
        model.seed(lfsr)
        expected = model.run(protocol.ticks, protocol.raster)
        if rep:
            await driver.write("synapse", image.tables["synapse"])
            await driver.clear()
            await driver.write("lfsr_state", [lfsr])
        spikes, _ = await driver.run(protocol.ticks, protocol.raster)
        weights = await driver.weights(image.tables["synapse"].size)
        if spikes.tolist() != np.stack([expected.times, expected.neurons], 1).tolist():
            mismatches.append(f"repetition {rep}: spikes differ")
        if not np.array_equal(weights, model.weights):
            mismatches.append(f"repetition {rep}: {int(np.sum(weights != model.weights))} weights differ")
        probe.weights = weights
        samples.append((probe.projection_weights("plastic")[2] - W0).tolist())
    with open(os.environ["AXONITE_OUT"], "w") as f:
        json.dump({"samples": samples, "mismatches": mismatches}, f)
