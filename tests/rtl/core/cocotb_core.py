"""cocotb regression: random networks on the Verilated core against the golden model.

Seeds come from AXONITE_SEEDS ("0-49" or "3,17,42"). Each seed's network is loaded through
the access port into the same build, run tick by tick, and compared with the golden model:
every tick's output spikes, then u, v, ref, traces, accumulators, weights, LFSR and counters.
AXONITE_CONFIG (a CoreConfig as JSON) names the build's configuration when it is not the
regression's; AXONITE_TIMEOUT_US bounds the simulated time (a broken netlist may never go idle);
AXONITE_REPRODUCE is the command a failure names to rerun its seed.
"""

import json
import os

import cocotb
import numpy as np

from firmware import CoreConfig
from sim import GoldenModel
from sim.cosim.cocotb_adapter import start_core
from tests.support.random_networks import REGRESSION_CONFIG, random_case
from tests.support.state_compare import state_difference


def parse_seeds(text):
    seeds = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            seeds.extend(range(int(lo), int(hi) + 1))
        elif part.strip():
            seeds.append(int(part))
    return seeds


def compare(case, spikes, state, weights):
    """The first difference between RTL and golden model, as a sentence, or None."""
    model = GoldenModel(case.image)
    result = model.run(case.ticks, case.inputs)
    expected = np.stack([result.times, result.neurons], axis=1)
    if not np.array_equal(spikes, expected):
        for k in range(case.ticks):
            want = expected[expected[:, 0] == k, 1].tolist()
            got = spikes[spikes[:, 0] == k, 1].tolist()
            if want != got:
                return f"tick {k}: output spikes {got}, model {want}"
        return f"output spikes differ: {len(spikes)} vs model {len(expected)}"
    return state_difference(state, weights, model)


CONFIG = (CoreConfig.from_dict(json.loads(os.environ["AXONITE_CONFIG"])) if os.environ.get("AXONITE_CONFIG")
          else REGRESSION_CONFIG)
# The command that reruns a seed (AXONITE_SEEDS and AXONITE_PLASTIC in front of it).
REPRODUCE = os.environ.get("AXONITE_REPRODUCE", "python -m pytest tests/rtl/core/test_core_regression.py")
TIMEOUT_US = float(os.environ["AXONITE_TIMEOUT_US"]) if os.environ.get("AXONITE_TIMEOUT_US") else None


@cocotb.test(timeout_time=TIMEOUT_US, timeout_unit="us")
async def regression(dut):
    seeds = parse_seeds(os.environ.get("AXONITE_SEEDS", "0-4"))
    plastic = {"1": True, "0": False}.get(os.environ.get("AXONITE_PLASTIC", ""))
    driver = await start_core(dut, CONFIG)
    failures = []
    for seed in seeds:
        case = random_case(seed, CONFIG, plastic=plastic)
        await driver.load(case.image)
        spikes, _ = await driver.run(case.ticks, case.inputs)
        state = await driver.state()
        weights = await driver.weights(case.image.tables["synapse"].size)
        problem = compare(case, spikes, state, weights)
        if problem:
            flag = f"AXONITE_PLASTIC={os.environ['AXONITE_PLASTIC']} " if plastic is not None else ""
            failures.append(f"{case.describe()}\n    {problem}\n    reproduce: {flag}"
                            f"AXONITE_SEEDS={seed} {REPRODUCE}")
            dut._log.error(failures[-1])
    assert not failures, f"{len(failures)} of {len(seeds)} seeds differ:\n" + "\n".join(failures)
