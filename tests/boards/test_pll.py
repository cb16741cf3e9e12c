"""PLL settings (boards.pll) and the clock plan (boards.glue.plan_clock).

The iCE40 results are checked against the PLL formula, the legal ranges, and icestorm's icepll
(its YoWASP build, beside the interpreter); the ECP5 ones against their formula, their ranges
and prjtrellis' ecppll.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from boards import pll
from boards.glue import plan_clock
from boards.registry import BOARDS

ICE40_REQUESTS_MHZ = [16, 24, 30, 36, 48, 50, 66, 100]
ECP5_REQUESTS_MHZ = [12.5, 25, 33.3, 37.5, 50, 62.5, 75, 100, 150]


def ice40_formula(f_in_hz, settings):
    return f_in_hz * (settings.divf + 1) / ((settings.divr + 1) * 2 ** settings.divq)


@pytest.mark.parametrize("f_mhz", ICE40_REQUESTS_MHZ)
def test_ice40_settings_are_legal_and_close(f_mhz):
    settings = pll.ice40_pll(12e6, f_mhz * 1e6)
    assert 0 <= settings.divr <= 15 and 0 <= settings.divf <= 127 and 1 <= settings.divq <= 6
    assert 1 <= settings.filter_range <= 6
    f_pfd = 12e6 / (settings.divr + 1)
    assert 10e6 <= f_pfd <= 133e6 and settings.f_pfd_hz == f_pfd
    f_vco = f_pfd * (settings.divf + 1)
    assert 533e6 <= f_vco <= 1066e6 and settings.f_vco_hz == f_vco
    assert settings.f_out_hz == ice40_formula(12e6, settings)
    assert abs(settings.f_out_hz - f_mhz * 1e6) <= 0.01 * f_mhz * 1e6


@pytest.mark.parametrize("f_mhz", [12, 8, 300])
def test_ice40_refuses_outside_output_range(f_mhz):
    with pytest.raises(pll.PLLError, match=r"outside what the PLL makes, 16\.\.275 MHz"):
        pll.ice40_pll(12e6, f_mhz * 1e6)


def _icepll(f_mhz, cwd):
    tool = Path(sys.executable).parent / "yowasp-icepll"
    text = subprocess.run([str(tool), "-i", "12", "-o", str(f_mhz)], cwd=cwd, capture_output=True,
                          text=True, check=True).stdout
    fields = {name: int(value) for name, value in
              re.findall(r"^(DIVR|DIVF|DIVQ|FILTER_RANGE):\s+(\d+)", text, re.M)}
    achieved = float(re.search(r"([\d.]+) MHz \(achieved\)", text).group(1))
    return fields, achieved


def test_ice40_equals_icepll(tmp_path):
    for f_mhz in ICE40_REQUESTS_MHZ + [17, 41, 77.7, 200]:
        settings = pll.ice40_pll(12e6, f_mhz * 1e6)
        fields, achieved = _icepll(f_mhz, tmp_path)
        assert fields == {"DIVR": settings.divr, "DIVF": settings.divf, "DIVQ": settings.divq,
                          "FILTER_RANGE": settings.filter_range}, f_mhz
        assert achieved == pytest.approx(settings.f_out_hz / 1e6, abs=0.001)


@pytest.mark.parametrize("f_mhz", ECP5_REQUESTS_MHZ)
def test_ecp5_settings_are_legal_and_close(f_mhz):
    settings = pll.ecp5_pll(25e6, f_mhz * 1e6)
    assert 1 <= settings.clki_div <= 128 and 1 <= settings.clkfb_div <= 80
    assert 1 <= settings.clkop_div <= 128
    assert 3.125e6 <= settings.f_pfd_hz <= 400e6
    assert 400e6 <= settings.f_vco_hz <= 800e6
    assert settings.f_out_hz == pytest.approx(25e6 * settings.clkfb_div / settings.clki_div)
    assert settings.f_vco_hz == pytest.approx(settings.f_out_hz * settings.clkop_div)
    assert settings.clkop_cphase == settings.clkop_div - 1
    assert abs(settings.f_out_hz - f_mhz * 1e6) <= 0.01 * f_mhz * 1e6


def test_ecp5_equals_ecppll(tmp_path):
    tool = Path(sys.executable).parent / "yowasp-ecppll"
    for f_mhz in (13, 33, 37, 50, 100):
        text = subprocess.run([str(tool), "-i", "25", "-o", str(f_mhz)], cwd=tmp_path,
                              capture_output=True, text=True, check=True).stdout
        divisors = [int(v) for v in re.findall(r"divisor: (\d+)", text)]
        settings = pll.ecp5_pll(25e6, f_mhz * 1e6)
        assert divisors == [settings.clki_div, settings.clkfb_div, settings.clkop_div], f_mhz


def test_clock_plan_uses_the_pad_at_its_own_frequency():
    direct = plan_clock(BOARDS["icebreaker"], 12e6)
    assert direct.pll is None and direct.achieved_hz == 12e6 and direct.pad == "clk12"
    through_pll = plan_clock(BOARDS["icebreaker"], 30e6)
    assert through_pll.pll is not None and through_pll.achieved_hz == 30e6
    assert plan_clock(BOARDS["ulx3s"], 25e6).pll is None
    assert plan_clock(BOARDS["ulx3s"], 50e6).pll.clkfb_div == 2


def test_clock_plan_reports_achieved_not_requested():
    plan = plan_clock(BOARDS["ulx3s"], 37e6)
    assert plan.requested_hz == 37e6 and plan.achieved_hz == 37.5e6
    assert plan.clock_hz == 37_500_000
