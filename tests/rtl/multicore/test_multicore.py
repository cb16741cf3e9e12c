"""pytest wrapper of the K-core regression (tests/rtl/multicore/cocotb_multicore.py) on Verilator."""

import os
from pathlib import Path

import pytest

from sim.cosim.verilator import build_multicore, cocotb_failures, run_cocotb
from tests.support.multicore_networks import CORE

HERE = Path(__file__).resolve().parent


DEVICE_CORES = 4       # one build: a 2-core partition runs on two of its cores, the others idle


def run_seeds(cores: int, seeds: str, plastic: bool):
    build = build_multicore(CORE, DEVICE_CORES, name=f"multicore{DEVICE_CORES}")
    results = run_cocotb(build, "tests.rtl.multicore.cocotb_multicore", HERE,
                         {"AXONITE_CORES": str(cores), "AXONITE_DEVICE_CORES": str(DEVICE_CORES),
                          "AXONITE_SEEDS": os.environ.get("AXONITE_SEEDS", seeds),
                          "AXONITE_PLASTIC": "1" if plastic else "0"})
    failures = cocotb_failures(results)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("plastic", [False, True], ids=["static", "plastic"])
def test_two_cores_equal_the_model(plastic):
    run_seeds(2, "0-2", plastic)


@pytest.mark.parametrize("plastic", [False, True], ids=["static", "plastic"])
def test_four_cores_equal_the_model(plastic):
    run_seeds(4, "10-12", plastic)
