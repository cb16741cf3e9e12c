"""The scripts of examples/ as modules, for the tests that reuse their functions."""

import importlib.util
import sys

from tests.support import EXAMPLES


def load(name: str):
    """examples/<name>.py, imported once (registered in sys.modules under its name, as dataclasses
    need), without putting examples/ on sys.path."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
