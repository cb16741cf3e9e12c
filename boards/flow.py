"""The board build: configuration -> Verilog -> netlist -> placed design -> bitstream -> summary.

    check(request, environ=None) -> Checked   every argument check, before anything is built:
                                             BoardError (clock, baud), ConfigError, ToolError
    build(request, say=print, environ=None, quiet=False) -> dict
                                             runs the stages and returns the summary (also
                                             written to <out>/summary.json)

Stages (each printed with its elapsed seconds; while one runs, a line on stderr counts its
seconds when stderr is a terminal, unless `quiet`: host.progress.Elapsed):
  elaborate -> Verilog   the board glue around DeviceTop is elaborated by the board's amaranth
                         platform (`platform.prepare`), which writes the build plan: top.il (what
                         yosys reads), top.v (the same design as Verilog, for reading and other
                         tools), top.ys, the pin and clock constraints (top.pcf / top.lpf) and
                         build_top.sh (the same commands, to rerun by hand). A configuration the
                         part cannot hold raises ConfigError here.
  synthesis              yosys (`synth_ice40 -dsp` / `synth_ecp5`): top.json, log top.rpt, cell
                         counts top.stat.json
  place and route        nextpnr with `--report top.report.json --timing-allow-fail --seed S`,
                         log top.tim; a design that does not fit stops nextpnr, and the
                         utilisation then comes from its log
  pack                   icepack / ecppack: the bitstream
With `pack_only`, nextpnr stops after packing (`--pack-only`, stage "packing"): its report
holds the exact resource counts of the full build (logic cells, RAM, SPRAM, DSP) in seconds
instead of minutes, so whether the design fits is known; timing is not (no placement), and
there is no bitstream.
The commands are amaranth's (build_top.json), run one at a time inside the build folder with
relative paths (YoWASP tools see nothing else), with the executables from boards.tools; tool
output goes to tools.log. A failed stage ends the flow, and the summary is written either way.

The summary: board, part, config, clock (requested, built for, PLL settings), UART divisor,
Fmax per clock, resources used / available, fits, timing_met, failures (each naming what
failed and by how much), ok, bitstream, artefacts, tool paths and versions, seconds per stage.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from amaranth.hdl import UnusedElaboratable

from firmware.config import CoreConfig
from firmware.errors import AxoniteError
from host.progress import Elapsed
from rtl.lib.dsp import RENAME_MAC

from . import report
from .glue import ClockPlan, glue_for, plan_clock, uart_divisor
from .registry import Board, BoardError
from .tools import TOOLS, find_tool, run_tool, tool_version

DESIGN = "top"
STAGE_OF_TOOL = {"yosys": "synthesis", "nextpnr-ice40": "place and route",
                 "nextpnr-ecp5": "place and route", "icepack": "pack", "ecppack": "pack"}
ELABORATE = "elaborate -> Verilog"
TOOL_LOG = "tools.log"
SUMMARY = "summary.json"
# Products of an earlier build in the same folder; removed first so that none is mistaken
# for this build's.
PRODUCTS = ("top.v", "top.json", "top.rpt", "top.stat.json", "top.tim", "top.report.json",
            "top.asc", "top.bin", "top.config", "top.bit", "top.svf", TOOL_LOG, SUMMARY)
ARTEFACTS = {"verilog": "top.v", "rtlil": "top.il", "yosys_script": "top.ys",
             "yosys_log": "top.rpt", "yosys_stat": "top.stat.json", "netlist": "top.json",
             "nextpnr_log": "top.tim", "nextpnr_report": "top.report.json",
             "tool_output": TOOL_LOG}


@dataclass(frozen=True)
class BuildRequest:
    board: Board
    config: CoreConfig
    clock_hz: float
    baud: int
    out_dir: Path
    seed: int = 1
    synth_only: bool = False      # stop after synthesis (no place and route, no bitstream)
    pack_only: bool = False       # stop after nextpnr's packing: exact resources, no timing, no bitstream
    cores: int = 1                # cores on the device, each of `config` (rtl.multicore when more)


@dataclass(frozen=True)
class Checked:
    clock: ClockPlan
    divisor: int
    tools: dict[str, Path]        # tool name -> executable


def check(request: BuildRequest, environ=None) -> Checked:
    clock = plan_clock(request.board, request.clock_hz)
    divisor = uart_divisor(clock.achieved_hz, request.baud)
    needed = [name for name in request.board.platform().required_tools if name in TOOLS]
    if request.synth_only and request.pack_only:
        raise BoardError("synth_only and pack_only exclude each other: packing follows synthesis")
    if request.synth_only or request.pack_only:
        needed = [name for name in needed if STAGE_OF_TOOL[name] in _stages(request)]
    tools = {name: find_tool(name, environ) for name in needed}
    return Checked(clock, divisor, tools)


PACKING = "packing"


def _stages(request: BuildRequest) -> tuple[str, ...]:
    """The tool stages a request runs, in order."""
    if request.synth_only:
        return ("synthesis",)
    if request.pack_only:
        return ("synthesis", "place and route")
    return ("synthesis", "place and route", "pack")


def _pack_only(args: list[str]) -> list[str]:
    """nextpnr's arguments with `--pack-only` and without its placed-design output (the .asc
    or the ECP5 text config: nothing is placed)."""
    kept, skip = ["--pack-only"], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--asc", "--textcfg"):
            skip = True
        else:
            kept.append(arg)
    return kept


def synthesis_options(board: Board, design: str = DESIGN, after_synth: str = "") -> dict:
    """The amaranth toolchain overrides that make the board's synthesis, for a design named
    `design`: the board's own (`Board.synth_options`: synth_ice40's options, abc9's script),
    then after synthesis the MAC black boxes renamed to SB_MAC16 and the cell counts written
    to <design>.stat.json, then `after_synth` (more yosys commands). The board build and the
    gate-level simulation (sim/cosim/gate_level.py) both synthesize with these."""
    # RENAME_MAC: the core's SB_MAC16 black boxes become SB_MAC16 (rtl/lib/dsp.py says why)
    commands = [RENAME_MAC, f"tee -q -o {design}.stat.json stat -json", *filter(None, [after_synth])]
    return {"script_after_synth": "\n".join(commands), **board.synth_options}


def _elaborate(request: BuildRequest, checked: Checked):
    """The build plan's files (name -> content) and its commands (argv lists)."""
    board = request.board
    glue = glue_for(board, request.config, checked.clock, request.baud, cores=request.cores)
    platform = board.platform()
    try:
        plan = platform.prepare(
            glue, name=DESIGN, debug_verilog=True,
            nextpnr_opts=f"--report {DESIGN}.report.json --timing-allow-fail --seed {request.seed}",
            **synthesis_options(board))
    except AxoniteError:
        # A refused configuration leaves half-elaborated parts behind; amaranth would warn
        # about each when it is collected, burying the one message that matters.
        warnings.filterwarnings("ignore", category=UnusedElaboratable)
        raise
    files = dict(plan.files)
    # The "debug" Verilog is the design as Verilog (amaranth only names it so because it keeps
    # amaranth's attributes); yosys synthesizes the RTLIL it came from.
    files[f"{DESIGN}.v"] = files.pop(f"{DESIGN}.debug.v")
    commands = json.loads(files[f"build_{DESIGN}.json"])["commands"]
    return files, commands


def _write(out_dir: Path, files: dict):
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (*PRODUCTS, *files):
        (out_dir / name).unlink(missing_ok=True)
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (out_dir / name).write_bytes(data)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _measure(out: Path, board: Board, placed: bool, timed: bool = True):
    """(resources, clocks or None, source) from the best report the tools left: nextpnr's
    report JSON, else its log (placement failed), else yosys' cell counts. `timed` False:
    nextpnr only packed, so its report holds no timing (clocks None)."""
    if placed and (out / "top.report.json").exists():
        nextpnr_report = json.loads((out / "top.report.json").read_text())
        return (report.utilisation_from_report(nextpnr_report, board),
                report.clocks_from_report(nextpnr_report) if timed else None, "nextpnr")
    from_log = report.utilisation_from_log(_read(out / "top.tim"), board) if placed else None
    if from_log is not None:
        return from_log, None, "nextpnr log"
    if (out / "top.stat.json").exists():
        stat = json.loads((out / "top.stat.json").read_text())
        return report.utilisation_from_yosys(stat, board), None, "yosys estimate"
    return {}, None, None


def build(request: BuildRequest, say=print, environ=None, quiet: bool = False) -> dict:
    board, out = request.board, Path(request.out_dir)
    checked = check(request, environ)
    clock = checked.clock
    actual_baud = clock.achieved_hz / checked.divisor
    cores = f"{request.cores} cores of " if request.cores > 1 else ""
    say(f"{board.name}: {board.part}, {cores}{request.config}")
    say(f"clock: {clock.describe()}; UART {request.baud} baud = {clock.achieved_hz / 1e6:g} MHz / "
        f"{checked.divisor} ({abs(actual_baud - request.baud) / request.baud:.2%} off)")

    seconds = {}
    stages = 1 + len(_stages(request))

    def stage(index: int, name: str):
        say(f"[{index}/{stages}] {name} ...")
        return time.monotonic()

    def done(name: str, started: float, outcome: str = "done"):
        seconds[name] = round(time.monotonic() - started, 1)
        say(f"      {name}: {outcome} in {seconds[name]:.1f} s")

    started = stage(1, ELABORATE)
    with Elapsed(f"      {ELABORATE}", quiet=quiet):
        files, commands = _elaborate(request, checked)   # ConfigError propagates from here
        _write(out, files)
    done(ELABORATE, started)

    commands = [argv for argv in commands if STAGE_OF_TOOL.get(argv[0]) in _stages(request)]
    failures, ran, succeeded = [], [], []
    for index, (tool, *args) in enumerate(commands, start=2):
        name = STAGE_OF_TOOL[tool]
        if request.pack_only and name == "place and route":
            name, args = PACKING, _pack_only(args)
        started = stage(index, f"{name} ({tool})")
        with Elapsed(f"      {name}", quiet=quiet):
            status = run_tool(checked.tools[tool], args, out, out / TOOL_LOG)
        ran.append(tool)
        if status != 0:
            done(name, started, f"FAILED (exit {status})")
            log = out / ("top.rpt" if name == "synthesis" else "top.tim")
            error = report.last_error(_read(log)) or report.last_error(_read(out / TOOL_LOG))
            failures.append(f"{name} failed ({tool} exit {status}): {error or 'no ERROR line'}; "
                            f"see {log if log.exists() else out / TOOL_LOG}")
            break
        succeeded.append(tool)
        done(name, started)

    placed = any(STAGE_OF_TOOL[tool] == "place and route" for tool in ran)
    resources, clocks, source = _measure(out, board, placed, timed=not request.pack_only)
    if source in (None, "yosys estimate"):
        # Not placed: nothing is known, or yosys' cell counts, which are an estimate and
        # decide nothing.
        result = report.Verdict(None, None, ())
    else:
        result = report.verdict(resources, clocks, clock.achieved_hz / 1e6)
    # A stage failure the verdict does not explain (e.g. nextpnr stopping for another reason)
    # comes after the verdict's own failures.
    failures = [*result.failures, *failures]

    bitstream = out / board.bitstream.format(name=DESIGN)
    packed = any(STAGE_OF_TOOL[tool] == "pack" for tool in succeeded)
    fmax = min((c.achieved_mhz for c in clocks.values()), default=None) if clocks else None
    summary = {
        "board": board.name,
        "part": board.part,
        "config": request.config.to_dict(),
        "cores": request.cores,
        "clock": {
            "requested_mhz": request.clock_hz / 1e6,
            "achieved_mhz": clock.achieved_hz / 1e6,
            "source": "pll" if clock.pll else "pad",
            "pad": clock.pad, "pad_mhz": clock.pad_hz / 1e6,
            "pll": asdict(clock.pll) if clock.pll else None,
        },
        "uart": {"baud": request.baud, "divisor": checked.divisor,
                 "actual_baud": round(actual_baud),
                 "error_percent": round(100 * abs(actual_baud - request.baud) / request.baud, 3)},
        "fmax_mhz": None if fmax is None else round(fmax, 3),
        "clocks": {name: c.to_dict() for name, c in (clocks or {}).items()},
        "resources": {kind: use.to_dict() for kind, use in resources.items()},
        "utilisation_source": source,
        "fits": result.fits,
        "timing_met": result.timing_met,
        "synth_only": request.synth_only,
        "pack_only": request.pack_only,
        "failures": failures,
        "ok": not failures,
        "bitstream": str(bitstream) if packed and bitstream.exists() else None,
        "artefacts": {key: str(out / name) for key, name in ARTEFACTS.items()
                      if (out / name).exists()},
        "tools": {name: {"path": str(path), "version": tool_version(name, path, out)}
                  for name, path in checked.tools.items() if name in ran},
        "seconds": seconds,
        "seed": request.seed,
    }
    (out / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    return summary
