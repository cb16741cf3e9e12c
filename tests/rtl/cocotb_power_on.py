"""cocotb: what a gate-level build (sim/cosim/gate_level.py) holds before anything is written. Its
undefined values are drawn at random (X_PLUSARGS), so the regression on it shows that the core
relies on none of them being 0: the synapse SPRAM's power-on words must not read 0. (Verilator
draws one value per variable: the words of one array are alike.)"""

import cocotb

from sim.cosim.cocotb_adapter import start_core
from tests.support.random_networks import REGRESSION_CONFIG


@cocotb.test()
async def spram_contents_are_not_zero(dut):
    driver = await start_core(dut, REGRESSION_CONFIG)
    words = (await driver.read("synapse", 16)).tolist()
    assert all(words), f"the synapse SPRAM's first words read {words} after power-on"
