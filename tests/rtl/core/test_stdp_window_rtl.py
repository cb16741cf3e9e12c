"""The classic pairing protocol on the RTL reproduces the model's STDP window.

Every repetition's weights equal the golden model's exactly (so the RTL's window is the
model's), and the window fitted from the RTL's own weight changes has the right sign for
every D and time constants and amplitudes within 10% of the float rule (6 pairs per D, 10
repetitions: 60 samples per D).
"""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sim.cosim.verilator import build_core, run_cocotb
from tests.support.stdp_protocol import (A_MINUS, A_PLUS, DELAYS, TAU_MINUS, TAU_PLUS, fit_window,
                           pairing_protocol, window_means)

HERE = Path(__file__).resolve().parent
PAIRS, REPETITIONS = 6, 10


@pytest.fixture(scope="module")
def rtl_window(tmp_path_factory):
    out = tmp_path_factory.mktemp("stdp") / "window.json"
    build = build_core(pairing_protocol(PAIRS).image.config, name="stdp-window")
    results = run_cocotb(build, "tests.rtl.core.cocotb_stdp_window", HERE, {
        "AXONITE_PAIRS": str(PAIRS), "AXONITE_REPETITIONS": str(REPETITIONS), "AXONITE_OUT": str(out)})
    root = ET.parse(results).getroot()
    assert root.findall(".//testcase") and not root.findall(".//failure") + root.findall(".//error")
    return json.loads(out.read_text())


def test_rtl_weights_equal_the_model_in_every_repetition(rtl_window):
    assert len(rtl_window["samples"]) == REPETITIONS
    assert rtl_window["mismatches"] == []


def test_rtl_window_has_the_classic_shape(rtl_window):
    mean = window_means(rtl_window["samples"], PAIRS)
    for d, m in zip(DELAYS, mean):
        assert (m > 0) if d > 0 else (m < 0), (d, m)
    for sign, tau_expected, amp_expected in ((+1, TAU_PLUS, A_PLUS), (-1, TAU_MINUS, abs(A_MINUS))):
        tau, amp = fit_window(mean, sign)
        assert abs(tau - tau_expected) <= 0.10 * tau_expected, (sign, tau)
        assert abs(amp - amp_expected) <= 0.10 * amp_expected, (sign, amp)
