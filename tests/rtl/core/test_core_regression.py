"""pytest wrapper of the cocotb regression (tests/rtl/core/cocotb_core.py) on Verilator."""

import os
from pathlib import Path

import pytest

from sim.cosim.verilator import build_core, cocotb_failures, core_verilog, run_cocotb
from tests.support.random_networks import REGRESSION_CONFIG

HERE = Path(__file__).resolve().parent


def run_seeds(seeds: str, plastic: str = ""):
    build = build_core(REGRESSION_CONFIG, name="regression")
    results = run_cocotb(build, "tests.rtl.core.cocotb_core", HERE,
                         {"AXONITE_SEEDS": seeds, "AXONITE_PLASTIC": plastic})
    failures = cocotb_failures(results)
    assert not failures, "\n".join(failures)


def test_core_verilog_stays_small():
    """Verilator's compile time follows the Verilog's size, and Amaranth writes an expression
    once per use: a comparison replicated over a write-enable's bits was written once a bit, and
    the core's Verilog grew to 11,337 wires; Verilator then compiled it for an hour, past CI's
    limit. With each such expression behind one signal the core has 2,339."""
    text, _ = core_verilog(REGRESSION_CONFIG)
    assert text.count("wire") < 3_000


def test_core_equals_model_on_random_networks():
    """50 random networks in CI, 60% of them plastic (AXONITE_SEEDS overrides, e.g. to
    reproduce one)."""
    run_seeds(os.environ.get("AXONITE_SEEDS", "0-49"), os.environ.get("AXONITE_PLASTIC", ""))


def test_core_equals_model_on_random_plastic_networks():
    """50 more random networks, every one with STDP on some projections."""
    run_seeds(os.environ.get("AXONITE_SEEDS", "100-149"), os.environ.get("AXONITE_PLASTIC", "1"))


@pytest.mark.slow
def test_core_sweep_1000_seeds():
    run_seeds(os.environ.get("AXONITE_SWEEP", "1000-1999"))
