"""The import graph of firmware/, sim/ and host/ stays layered and acyclic, read from the source
(ast; every import, those inside functions too):

- firmware (formats, the wire protocol, compiler, image, run results) imports none of the others;
- sim, the golden model, imports firmware only; sim.cosim, the co-simulation harness, is the
  only part of sim that imports rtl/ or boards/ (sim/board.py is its command-line entry point);
- host imports firmware, and the golden side of sim only where it runs the model in this
  process; never sim.cosim or rtl/;
- the imports made when a module loads (not those inside functions) form no cycle;
- under tests/, a module imports what the tests share from tests.support only, never another
  test module (by its dotted name or by a bare one), and nothing edits sys.path.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
PACKAGES = ("firmware", "sim", "host")
PROJECT = ("firmware", "sim", "host", "rtl", "boards", "bench", "tests", "examples")

# host runs the golden model in this process only here: "model" (ModelDevice) and the emulator
# ("emulator://": Device.open and the doctor).
HOST_RUNS_THE_MODEL = {"host.model_device": {"sim.model", "sim.fast", "sim.multicore"},
                       "host.device": {"sim.emulator"}, "host.doctor": {"sim.emulator"}}
# host finds boards by the board table (names, USB ids, default baud rates), imported lazily.
HOST_BOARD_TABLE = {"boards.registry"}
# sim.cosim's command line counts the seconds of a Verilator build as boards.build does.
COSIM_FROM_HOST = {"host.progress"}
COSIM_ENTRY_POINTS = {"sim.board"}          # `python -m sim.board`: forwards to sim.cosim.board


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


MODULES = modules()


@functools.lru_cache(maxsize=None)
def imports(name: str, path: Path, top_level_only: bool = False) -> frozenset[str]:
    """The project modules `name` imports (relative imports resolved; `from a import b` is a.b
    when that is a module)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES or (ROOT / sub.replace(".", "/")).with_suffix(".py").exists()
                          else base)
    return frozenset(m for m in found if m.split(".")[0] in PROJECT)


def under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations() -> list[str]:
    bad = []
    for name, path in MODULES.items():
        for target in sorted(imports(name, path)):
            top = target.split(".")[0]
            if under(name, "firmware"):
                ok = top == "firmware"
            elif under(name, "sim.cosim"):
                ok = top in ("firmware", "sim", "rtl", "boards") or target in COSIM_FROM_HOST
            elif under(name, "sim"):
                ok = top == "firmware" or (top == "sim" and not under(target, "sim.cosim")) \
                    or (name in COSIM_ENTRY_POINTS and under(target, "sim.cosim"))
            else:                                                     # host
                ok = top in ("firmware", "host") or target in HOST_BOARD_TABLE \
                    or target in HOST_RUNS_THE_MODEL.get(name, ())
            if not ok:
                bad.append(f"{name} imports {target}")
    return bad


def test_the_packages_are_found():
    assert {"firmware.protocol", "firmware.run", "sim.model", "sim.emulator", "sim.cosim.board",
            "host.device", "host.scheduler"} <= set(MODULES)
    assert imports("sim.cosim.board", MODULES["sim.cosim.board"]) >= {"rtl.link.uart", "sim.serving",
                                                                      "sim.cosim.verilator"}
    assert "sim.model" in imports("host.model_device", MODULES["host.model_device"])


def test_each_package_imports_only_what_lies_below_it():
    assert violations() == []


@pytest.mark.parametrize("name,source,refused", [
    ("firmware.formats", "from host.link import LinkClient\n", "firmware.formats imports host.link"),
    ("sim.model", "def f():\n    from rtl.link import top\n", "sim.model imports rtl.link.top"),
    ("sim.fast", "from .cosim import verilator\n", "sim.fast imports sim.cosim.verilator"),
    ("host.cluster", "from sim.model import GoldenModel\n", "host.cluster imports sim.model"),
    ("host.model_device", "import sim.cosim.board\n", "host.model_device imports sim.cosim.board"),
])
def test_an_import_against_the_layers_is_named(tmp_path, monkeypatch, name, source, refused):
    path = tmp_path / "module.py"
    path.write_text(source)
    monkeypatch.setitem(MODULES, name, path)
    assert refused in violations()


def load_cycle() -> list[str]:
    """A cycle of the imports made when modules load (each importing the next), or []."""
    graph = {name: {m for m in imports(name, path, top_level_only=True) if m in MODULES and m != name}
             for name, path in MODULES.items()}
    done: set[str] = set()
    stack: list[str] = []                # the modules being visited, each importing the next

    def cycle_from(node: str) -> list[str]:
        if node in stack:
            return stack[stack.index(node):] + [node]
        if node in done:
            return []
        stack.append(node)
        for nxt in sorted(graph[node]):
            found = cycle_from(nxt)
            if found:
                return found
        stack.pop()
        done.add(node)
        return []

    for name in sorted(graph):
        found = cycle_from(name)
        if found:
            return found
    return []


def test_the_imports_at_load_time_have_no_cycle():
    assert load_cycle() == []


def test_a_cycle_is_named(tmp_path, monkeypatch):
    path = tmp_path / "formats.py"
    path.write_text("from . import image\n")            # firmware.image imports formats when it loads
    monkeypatch.setitem(MODULES, "firmware.formats", path)
    cycle = load_cycle()
    assert cycle[0] == cycle[-1] and {"firmware.formats", "firmware.image"} <= set(cycle), cycle


# --- tests/ ---------------------------------------------------------------------------------------


def tree_of_tests() -> dict[Path, ast.Module]:
    """Every Python file under tests/ but its data, parsed."""
    return {p: ast.parse(p.read_text(), str(p)) for p in sorted(TESTS.rglob("*.py")) if "data" not in p.parts}


def violations_in_tests(tree: dict[Path, ast.Module]) -> list[str]:
    """What breaks the rules of tests/: a use of sys.path, an import of a test module (its
    dotted name other than tests.support's, or the bare name of a file under tests/)."""
    stems = {p.stem for p in tree if p.stem != "__init__"}
    bad = []
    for path, module in tree.items():
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        for node in ast.walk(module):
            if isinstance(node, ast.Attribute) and node.attr == "path" \
                    and isinstance(node.value, ast.Name) and node.value.id == "sys":
                bad.append(f"{where}:{node.lineno} uses sys.path")
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:     # from tests import x: tests.x
                names = [f"{node.module}.{a.name}" for a in node.names] if node.module == "tests" else [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if (top == "tests" and not under(name, "tests.support") and name != "tests") or top in stems:
                    bad.append(f"{where}:{node.lineno} imports {name}")
    return bad


def test_tests_share_only_tests_support_and_leave_sys_path_alone():
    tree = tree_of_tests()
    assert {"tests/support/networks.py", "tests/rtl/conftest.py"} <= {str(p.relative_to(ROOT)) for p in tree}
    assert violations_in_tests(tree) == []


@pytest.mark.parametrize("source,refused", [
    ("import sys\nsys.path.insert(0, 'x')\n", "t.py:2 uses sys.path"),
    ("import sys\ndef f():\n    sys.path[:0] = ['x']\n", "t.py:3 uses sys.path"),
    ("from test_core import CONFIG\n", "t.py:1 imports test_core"),
    ("def f():\n    from link_helpers import RawClient\n", "t.py:2 imports link_helpers"),
    ("from tests.rtl.core.test_core import CONFIG\n", "t.py:1 imports tests.rtl.core.test_core"),
    ("import tests.host.conftest\n", "t.py:1 imports tests.host.conftest"),
    ("from tests import conftest\n", "t.py:1 imports tests.conftest"),
], ids=["sys.path.insert", "sys.path slice", "bare test module", "bare helper", "dotted test module",
        "conftest", "from tests import"])
def test_a_test_module_import_or_a_sys_path_edit_is_named(tmp_path, source, refused):
    fine = ("from tests.support.networks import relay_network\nimport tests.support\nfrom tests import support\n"
            "TEXT = 'sys.path.insert(0, x)'\n")
    tree = {p: ast.parse(text) for p, text in ((tmp_path / "t.py", source), (tmp_path / "ok.py", fine),
                                              (tmp_path / "test_core.py", ""), (tmp_path / "link_helpers.py", ""))}
    assert [v.replace(f"{tmp_path}/", "") for v in violations_in_tests(tree)] == [refused]
