"""Reading nextpnr's and yosys' reports, and the fits / meets-timing verdict (boards.report).

The data are real tool output (tests/boards/data/README.md says from which builds)."""

import copy
import json
from pathlib import Path

import pytest

from boards import report
from boards.registry import BOARDS

DATA = Path(__file__).parent / "data"
ICEBREAKER, ULX3S = BOARDS["icebreaker"], BOARDS["ulx3s"]


@pytest.fixture
def ice40_report():
    return json.loads((DATA / "nextpnr_ice40_report.json").read_text())


@pytest.fixture
def ecp5_report():
    return json.loads((DATA / "nextpnr_ecp5_report.json").read_text())


def test_ice40_report_utilisation(ice40_report):
    used = report.utilisation_from_report(ice40_report, ICEBREAKER)
    assert {kind: (u.used, u.available) for kind, u in used.items()} == {
        "LUT": (51, 5280), "RAM": (0, 30), "SPRAM": (0, 4), "DSP": (0, 8)}
    assert used["LUT"].percent == pytest.approx(100 * 51 / 5280)


def test_ice40_report_fits_and_meets_timing(ice40_report):
    clocks = report.clocks_from_report(ice40_report)
    assert list(clocks) == ["board_clk"]
    assert clocks["board_clk"].achieved_mhz == pytest.approx(74.008, abs=0.001)
    result = report.verdict(report.utilisation_from_report(ice40_report, ICEBREAKER), clocks, 24.0)
    assert result.fits is True and result.timing_met is True and result.ok
    assert result.failures == ()


def test_ecp5_report_misses_timing(ecp5_report):
    used = report.utilisation_from_report(ecp5_report, ULX3S)
    assert (used["LUT"].used, used["LUT"].available) == (10391, 83640)
    assert (used["RAM"].used, used["RAM"].available) == (10, 208)
    assert (used["DSP"].used, used["DSP"].available) == (8, 156)
    result = report.verdict(used, report.clocks_from_report(ecp5_report), 50.0)
    assert result.fits is True and result.timing_met is False and not result.ok
    assert result.failures == ("misses timing: clock $glbnet$board_clk Fmax 47.62 MHz is below "
                               "the requested 50.00 MHz",)


def test_constructed_timing_miss(ice40_report):
    slow = copy.deepcopy(ice40_report)
    slow["fmax"]["board_clk"] = {"achieved": 29.5, "constraint": 36.0}
    result = report.verdict(report.utilisation_from_report(slow, ICEBREAKER),
                            report.clocks_from_report(slow), 36.0)
    assert result.timing_met is False
    assert "Fmax 29.50 MHz is below the requested 36.00 MHz" in result.failures[0]


def test_constraint_that_did_not_reach_nextpnr(ice40_report):
    # nextpnr timed the clock at 24 MHz, but the design was built for 36 MHz.
    result = report.verdict(report.utilisation_from_report(ice40_report, ICEBREAKER),
                            report.clocks_from_report(ice40_report), 36.0)
    assert result.timing_met is False
    assert "no clock was constrained to 36.000 MHz" in result.failures[0]
    assert report.verdict({}, {}, 24.0).timing_met is False


def test_overfull_log_does_not_fit():
    text = (DATA / "nextpnr_ice40_overfull.log").read_text()
    used = report.utilisation_from_log(text, ICEBREAKER)
    assert {kind: (u.used, u.available) for kind, u in used.items()} == {
        "LUT": (10445, 5280), "RAM": (50, 30), "SPRAM": (4, 4), "DSP": (8, 8)}
    result = report.verdict(used, None, 24.0)
    assert result.fits is False and result.timing_met is None
    assert result.failures == (
        "does not fit: LUT4 (logic cells) 10445 used, 5280 available (5165 over, 198%)",
        "does not fit: EBR (SB_RAM40_4K) 50 used, 30 available (20 over, 167%)")
    assert report.last_error(text).startswith("ERROR: Unable to place cell")


def test_log_without_utilisation():
    assert report.utilisation_from_log("Info: reading JSON\nERROR: bad netlist\n", ICEBREAKER) is None


def test_yosys_estimate():
    stat = {"design": {"num_cells_by_type": {"LUT4": 100, "CCU2C": 10, "DP16KD": 3,
                                             "MULT18X18D": 2, "TRELLIS_FF": 50}}}
    used = report.utilisation_from_yosys(stat, ULX3S)
    assert used["LUT"].used == 120 and used["RAM"].used == 3 and used["DSP"].used == 2
    assert used["SPRAM"].used == 0


def test_summary_table(ice40_report):
    used = report.utilisation_from_report(ice40_report, ICEBREAKER)
    summary = {"board": "icebreaker", "part": "iCE40UP5K-SG48", "utilisation_source": "nextpnr",
               "resources": {kind: u.to_dict() for kind, u in used.items()},
               "clock": {"requested_mhz": 24.0, "achieved_mhz": 24.0}, "fmax_mhz": 74.008,
               "timing_met": True, "bitstream": "build/icebreaker/top.bin"}
    table = report.format_summary(summary)
    assert "LUT4 (logic cells)" in table and "51" in table and "5280" in table and "1.0%" in table
    assert "Fmax 74.01 MHz: timing met" in table
    assert "bitstream: build/icebreaker/top.bin" in table


def test_paths_through_combinational_cells_cap_fmax(ice40_report):
    # nextpnr times an unclocked SB_MAC16 under a pseudo clock: 20 ns into it and 40 ns out of it
    # make a path of at least 60 ns through it, whatever nextpnr's Fmax for board_clk says.
    capped = copy.deepcopy(ice40_report)
    pseudo = "posedge $PACKER_GND_NET_$glb_clk"
    capped["critical_paths"] = capped.get("critical_paths", []) + [
        {"from": "posedge board_clk", "to": pseudo, "path": [{"delay": 12.0}, {"delay": 8.0}]},
        {"from": pseudo, "to": "posedge board_clk", "path": [{"delay": 40.0}]},
    ]
    clocks = report.clocks_from_report(capped)
    assert clocks["board_clk"].through_pseudo_ns == pytest.approx(60.0)
    assert clocks["board_clk"].achieved_mhz == pytest.approx(1000.0 / 60.0)
    result = report.verdict(report.utilisation_from_report(capped, BOARDS["icebreaker"]), clocks, 24.0)
    assert not result.timing_met
    assert any("60.0 ns through combinational cells" in f for f in result.failures)
    # only one side of the pseudo clock: nothing to add up, nextpnr's figure stands
    one_side = copy.deepcopy(ice40_report)
    one_side["critical_paths"] = [capped["critical_paths"][-2]]
    assert report.clocks_from_report(one_side)["board_clk"].achieved_mhz == \
        ice40_report["fmax"]["board_clk"]["achieved"]
