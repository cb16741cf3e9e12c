"""The flow's decisions (boards.flow through boards.build.main) with stand-in tools: shell
scripts, chosen through the tools' environment variables, that leave behind the captured
outputs of tests/boards/data. The design is really elaborated; no yosys or nextpnr runs."""

import io
import json
import os
import sys
import time
from pathlib import Path

import pytest

from boards import build, flow
from host import progress

DATA = Path(__file__).parent / "data"
SMALL = ["--neurons", "32", "--inputs", "32", "--synapses", "1024", "--segments", "64",
         "--reverse", "512"]


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def stand_ins(tmp_path):
    """Stand-ins for yosys and icepack that succeed; nextpnr is chosen per test."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return bin_dir, {
        "PATH": os.environ.get("PATH", ""),
        "YOSYS": _script(bin_dir / "yosys", "echo '{}' > top.json\necho '{}' > top.stat.json\n"),
        "ICEPACK": _script(bin_dir / "icepack", "cp top.asc top.bin\n"),
    }


def _run(tmp_path, environ, argv=()):
    lines = []
    out = tmp_path / "out"
    status = build.main(["icebreaker", *SMALL, "--out", str(out), *argv], say=lines.append,
                        environ=environ)
    return status, "\n".join(lines), json.loads((out / "summary.json").read_text()), out


def test_fits_and_meets_timing(tmp_path, stand_ins):
    bin_dir, environ = stand_ins
    environ["NEXTPNR_ICE40"] = _script(
        bin_dir / "nextpnr", f"cp {DATA / 'nextpnr_ice40_report.json'} top.report.json\n"
                             "echo asc > top.asc\necho 'Info: placed' > top.tim\n")
    status, text, summary, out = _run(tmp_path, environ)
    assert status == build.EXIT_OK, text
    assert summary["ok"] and summary["fits"] and summary["timing_met"]
    assert summary["fmax_mhz"] == pytest.approx(74.008, abs=0.001)
    assert summary["bitstream"] == str(out / "top.bin")
    assert list(summary["seconds"]) == ["elaborate -> Verilog", "synthesis", "place and route", "pack"]
    for stage in ("[1/4] elaborate -> Verilog", "[2/4] synthesis (yosys)",
                  "[3/4] place and route (nextpnr-ice40)", "[4/4] pack (icepack)",
                  "OK: fits and meets timing", f"bitstream: {out / 'top.bin'}"):
        assert stage in text
    # The stand-ins saw amaranth's command lines, run inside the build folder.
    log = (out / "tools.log").read_text()
    assert "$ yosys -q -l top.rpt top.ys" in log
    assert "--report top.report.json --timing-allow-fail --seed 1" in log
    assert "synth_ice40 -dsp -dff -top top" in (out / "top.ys").read_text()
    assert (out / "top.v").read_text().lstrip().startswith("/*")


def test_pack_only_reports_the_exact_resources_without_placing(tmp_path, stand_ins):
    bin_dir, environ = stand_ins
    environ["NEXTPNR_ICE40"] = _script(
        bin_dir / "nextpnr", f'echo "$@" >> nextpnr.args\n'
                             f"cp {DATA / 'nextpnr_ice40_pack_only_report.json'} top.report.json\n")
    status, text, summary, out = _run(tmp_path, environ, ["--pack-only"])
    assert status == build.EXIT_OK, text
    args = (out / "nextpnr.args").read_text().splitlines()[0].split()     # then --version
    assert "--pack-only" in args and "--asc" not in args and "--report" in args
    assert summary["pack_only"] and summary["fits"] is True and summary["timing_met"] is None
    assert summary["ok"] and summary["fmax_mhz"] is None and summary["bitstream"] is None
    assert summary["utilisation_source"] == "nextpnr"
    assert summary["resources"]["LUT"]["used"] == 5228 and summary["resources"]["RAM"]["used"] == 30
    assert list(summary["seconds"]) == ["elaborate -> Verilog", "synthesis", "packing"]
    assert "[3/3] packing (nextpnr-ice40)" in text and not (out / "top.bin").exists()
    assert "OK: fits (packed, not placed: timing not checked)" in text


def test_pack_only_and_synth_only_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exit_:
        build.main(["icebreaker", "--pack-only", "--synth-only"])
    assert exit_.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_does_not_fit(tmp_path, stand_ins):
    bin_dir, environ = stand_ins
    environ["NEXTPNR_ICE40"] = _script(
        bin_dir / "nextpnr", f"cp {DATA / 'nextpnr_ice40_overfull.log'} top.tim\nexit 125\n")
    status, text, summary, out = _run(tmp_path, environ, ["--seed", "7"])
    assert status == build.EXIT_FAILED
    assert summary["fits"] is False and summary["timing_met"] is None and not summary["ok"]
    assert summary["utilisation_source"] == "nextpnr log"
    assert summary["resources"]["LUT"]["used"] == 10445
    assert summary["failures"][:2] == [
        "does not fit: LUT4 (logic cells) 10445 used, 5280 available (5165 over, 198%)",
        "does not fit: EBR (SB_RAM40_4K) 50 used, 30 available (20 over, 167%)"]
    assert summary["failures"][2].startswith("place and route failed (nextpnr-ice40 exit 125): "
                                             "ERROR: Unable to place cell")
    assert summary["bitstream"] is None and "pack" not in summary["seconds"]
    assert "--seed 7" in (out / "tools.log").read_text()
    assert "FAILED:" in text and "5165 over" in text


def test_misses_timing(tmp_path, stand_ins):
    bin_dir, environ = stand_ins
    report = json.loads((DATA / "nextpnr_ice40_report.json").read_text())
    report["fmax"]["board_clk"]["achieved"] = 21.3
    (tmp_path / "slow.json").write_text(json.dumps(report))
    environ["NEXTPNR_ICE40"] = _script(
        bin_dir / "nextpnr", f"cp {tmp_path / 'slow.json'} top.report.json\necho asc > top.asc\n")
    status, text, summary, out = _run(tmp_path, environ)
    assert status == build.EXIT_FAILED
    assert summary["fits"] is True and summary["timing_met"] is False
    assert summary["failures"] == ["misses timing: clock board_clk Fmax 21.30 MHz is below the "
                                   "requested 24.00 MHz"]
    assert "timing MISSED" in text


def test_synthesis_failure_still_writes_the_summary(tmp_path, stand_ins):
    bin_dir, environ = stand_ins
    environ["YOSYS"] = _script(bin_dir / "bad-yosys", "echo 'ERROR: out of cheese' > top.rpt\nexit 1\n")
    environ["NEXTPNR_ICE40"] = _script(bin_dir / "nextpnr", "exit 99\n")
    status, text, summary, out = _run(tmp_path, environ)
    assert status == build.EXIT_FAILED
    assert summary["failures"] == [f"synthesis failed (yosys exit 1): ERROR: out of cheese; "
                                   f"see {out / 'top.rpt'}"]
    assert summary["fits"] is None and summary["timing_met"] is None
    assert list(summary["seconds"]) == ["elaborate -> Verilog", "synthesis"]


# --- progress and Ctrl-C (issue 13, item 4) ----------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def _quick_elaboration(request, checked):
    """A stand-in for the elaboration (seconds of amaranth): a pause, then a one-command plan."""
    time.sleep(0.3)
    return {"top.ys": ""}, [["yosys", "-q", "top.ys"]]


@pytest.mark.parametrize("quiet", [False, True])
def test_a_running_stage_counts_its_seconds_on_a_terminal(tmp_path, stand_ins, monkeypatch, quiet):
    bin_dir, environ = stand_ins
    environ["YOSYS"] = _script(bin_dir / "slow-yosys", "sleep 0.3\necho '{}' > top.stat.json\n")
    monkeypatch.setattr(flow, "_elaborate", _quick_elaboration)
    monkeypatch.setattr(progress, "REFRESH_S", 0.02)
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    lines = []
    status = build.main(["icebreaker", "--synth-only", "--out", str(tmp_path / "out"),
                         *(["--quiet"] if quiet else [])], say=lines.append, environ=environ)
    assert status == build.EXIT_OK, lines
    text = terminal.getvalue()
    if quiet:
        assert text == ""
    else:
        for stage in ("elaborate -> Verilog", "synthesis"):
            assert text.count(f"\r      {stage} ... 0 s\x1b[K") >= 3, text
        assert text.endswith("\r\x1b[K")         # cleared before the stage's result is printed
    assert "      synthesis: done in" in "\n".join(lines)


def test_ctrl_c_during_a_build(tmp_path, stand_ins, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(flow, "_elaborate", _quick_elaboration)
    monkeypatch.setattr(flow, "run_tool", interrupted)
    status = build.main(["icebreaker", "--synth-only", "--out", str(tmp_path / "out")], say=print,
                        environ=stand_ins[1])
    assert status == build.EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "interrupted\n"
