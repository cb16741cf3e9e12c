"""The scripts of examples/ as modules, for the tests that reuse their functions."""

import importlib.util
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    """examples/<name>.py, imported once (registered in sys.modules, as dataclasses need)."""
    if name not in sys.modules:
        sys.path.insert(0, str(EXAMPLES))          # an example may import its neighbours
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
