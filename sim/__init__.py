"""The golden model: the bit-exact executable form of docs/spec.md.

What a run takes and gives (RunResult, SpikeMonitor, InputError, normalize_inputs) is defined in
firmware.run, for the host as for the model; it is importable from here too."""

from firmware.run import InputError, RasterTooLargeError, RunResult, SpikeMonitor, normalize_inputs

from .model import COUNTERS, GoldenModel

__all__ = ["COUNTERS", "FastModel", "GoldenModel", "InputError", "RasterTooLargeError", "RunResult",
           "SpikeMonitor", "normalize_inputs"]


def __getattr__(name):
    # FastModel (numba, optional: pip install axonite[fast]) is imported on first use only.
    if name == "FastModel":
        from .fast import FastModel
        return FastModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
