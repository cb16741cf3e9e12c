"""Real builds through `python -m boards.build` (boards.build.main) with the YoWASP tools.

Each build runs once per session (module-scoped fixtures), one tool at a time:
  - iCEBreaker, small configuration: place and route, bitstream, summary.json
  - iCEBreaker, the registry's DEFAULT configuration: must fit (nextpnr --pack-only: the exact
    resource counts of the full build, in seconds instead of the full place and route's
    minutes); and, under `-m slow`, the full build: it meets timing at 24 MHz, with a bitstream
  - ULX3S (ECP5), small configuration, synthesis only: yosys synth_ecp5 through the flow
"""

import json
from pathlib import Path

import pytest

from boards import build
from boards.registry import ICEBREAKER_CONFIG

SMALL = ["--neurons", "32", "--inputs", "32", "--synapses", "1024", "--segments", "64",
         "--reverse", "512"]


def _assert_fits_with_bitstream(out, summary):
    assert summary is not None
    assert summary["fits"] is True, summary["failures"]
    assert summary["bitstream"] == str(out / "top.bin") and (out / "top.bin").stat().st_size > 0
    assert (out / "top.report.json").exists()
    assert summary["fmax_mhz"] > 0


def _build(out: Path, argv):
    lines = []
    status = build.main([*argv, "--out", str(out)], say=lines.append)
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return status, "\n".join(lines), summary


@pytest.fixture(scope="module")
def small_icebreaker(tmp_path_factory):
    out = tmp_path_factory.mktemp("icebreaker_small")
    return (out, *_build(out, ["icebreaker", *SMALL]))


@pytest.fixture(scope="module")
def default_icebreaker_packed(tmp_path_factory):
    out = tmp_path_factory.mktemp("icebreaker_default_packed")
    return (out, *_build(out, ["icebreaker", "--pack-only"]))


@pytest.fixture(scope="module")
def default_icebreaker(tmp_path_factory):
    out = tmp_path_factory.mktemp("icebreaker_default")
    return (out, *_build(out, ["icebreaker"]))


@pytest.fixture(scope="module")
def ulx3s_synthesis(tmp_path_factory):
    out = tmp_path_factory.mktemp("ulx3s_synth")
    # two small cores: the many-core device through synth_ecp5 at half the default's four
    return (out, *_build(out, ["ulx3s", *SMALL, "--cores", "2", "--synth-only"]))


def test_small_icebreaker_build_records_everything(small_icebreaker):
    out, status, text, summary = small_icebreaker
    assert summary is not None, text
    for stage in ("elaborate -> Verilog", "synthesis", "place and route"):
        assert stage in text and stage in summary["seconds"]
    assert summary["board"] == "icebreaker" and summary["part"] == "iCE40UP5K-SG48"
    assert summary["config"]["n_neurons"] == 32 and summary["config"]["n_synapses"] == 1024
    assert summary["clock"]["requested_mhz"] == 24.0 and summary["clock"]["source"] == "pll"
    assert summary["uart"]["divisor"] == 8
    assert summary["utilisation_source"] in ("nextpnr", "nextpnr log")
    assert set(summary["resources"]) == {"LUT", "RAM", "SPRAM", "DSP"}
    assert summary["resources"]["LUT"]["available"] == 5280
    assert summary["resources"]["RAM"]["available"] == 30
    assert summary["resources"]["SPRAM"]["available"] == 4
    assert summary["resources"]["DSP"]["available"] == 8
    assert summary["resources"]["LUT"]["used"] > 0
    assert summary["tools"]["yosys"]["version"].startswith("Yosys")
    assert "nextpnr" in summary["tools"]["nextpnr-ice40"]["version"]
    for artefact in ("top.v", "top.il", "top.rpt", "top.stat.json", "top.tim", "top.pcf"):
        assert (out / artefact).exists(), artefact
    assert "set_frequency board_clk 24.0" in (out / "top.pcf").read_text()
    assert status == (build.EXIT_OK if summary["ok"] else build.EXIT_FAILED)
    for failure in summary["failures"]:
        assert failure in text


def test_small_icebreaker_fits(small_icebreaker):
    out, status, text, summary = small_icebreaker
    _assert_fits_with_bitstream(out, summary)


def test_small_icebreaker_meets_timing(small_icebreaker):
    out, status, text, summary = small_icebreaker
    assert summary["timing_met"] is True, summary["failures"]
    assert summary["fmax_mhz"] >= 24.0
    assert status == build.EXIT_OK
    assert summary["bitstream"] == str(out / "top.bin") and (out / "top.bin").stat().st_size > 0
    assert (out / "top.report.json").exists()
    assert "OK: fits and meets timing" in text


def test_default_icebreaker_fits(default_icebreaker_packed):
    out, status, text, summary = default_icebreaker_packed
    assert summary is not None, text
    assert summary["config"] == ICEBREAKER_CONFIG.to_dict()
    assert summary["pack_only"] and summary["fits"] is True, summary["failures"]
    assert summary["utilisation_source"] == "nextpnr" and summary["timing_met"] is None
    assert status == build.EXIT_OK and summary["bitstream"] is None
    for kind, use in summary["resources"].items():
        assert 0 < use["used"] <= use["available"], kind
    assert summary["resources"]["SPRAM"]["used"] == 4


@pytest.mark.slow
def test_default_icebreaker_meets_timing(default_icebreaker):
    out, status, text, summary = default_icebreaker
    assert summary["config"] == ICEBREAKER_CONFIG.to_dict()
    _assert_fits_with_bitstream(out, summary)
    assert summary["timing_met"] is True, summary["failures"]
    assert summary["clock"]["requested_mhz"] >= 24.0 and summary["fmax_mhz"] >= summary["clock"]["achieved_mhz"]
    assert status == build.EXIT_OK and summary["bitstream"]


def test_ulx3s_synthesizes_through_the_flow(ulx3s_synthesis):
    out, status, text, summary = ulx3s_synthesis
    assert status == build.EXIT_OK, text
    assert summary["synth_only"] and summary["ok"]
    assert summary["fits"] is None and summary["timing_met"] is None
    assert summary["utilisation_source"] == "yosys estimate"
    assert summary["part"] == "LFE5U-85F-6BG381C" and summary["cores"] == 2
    assert set(summary["seconds"]) == {"elaborate -> Verilog", "synthesis"}
    assert "synth_ecp5" in (out / "top.ys").read_text()
    cells = json.loads((out / "top.stat.json").read_text())["design"]["num_cells_by_type"]
    assert cells.get("EHXPLLL") == 1          # the 25 MHz -> 30 MHz PLL
    assert cells.get("LUT4", 0) > 0 and cells.get("DP16KD", 0) > 0
    assert summary["resources"]["LUT"]["used"] >= cells["LUT4"]
    assert (out / "top.json").exists() and not (out / "top.bit").exists()
    achieved = summary["clock"]["achieved_mhz"] * 1e6
    assert f'FREQUENCY NET "board_clk" {achieved}' in (out / "top.lpf").read_text()
