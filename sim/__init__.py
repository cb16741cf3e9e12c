"""The golden model: the bit-exact executable form of docs/spec.md."""

from .model import COUNTERS, GoldenModel, InputError, RunResult, normalize_inputs

__all__ = ["COUNTERS", "GoldenModel", "InputError", "RunResult", "normalize_inputs"]
