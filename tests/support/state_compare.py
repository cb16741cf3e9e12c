"""The first difference between a core's state read from the RTL (CoreDriver.state() with
its synapse weights) and the golden model's, as a sentence: the cocotb regressions of one
core (tests/rtl/core) and of many (tests/rtl/multicore) judge with it."""

from __future__ import annotations

import numpy as np

STATE_KEYS = ("u", "v", "ref", "x", "y", "acc")


def state_difference(state: dict, weights: np.ndarray, model) -> str | None:
    """`state` (CoreDriver.state()), `weights` (the synapse weights read back, at least the
    model's) against `model` (a GoldenModel after the same run): u, v, ref, traces,
    accumulators, weights, LFSR, counters; None when equal."""
    ref = model.state()
    for key in STATE_KEYS:
        if not np.array_equal(state[key], ref[key]):
            where = np.argwhere(state[key] != ref[key])[0]
            return f"final {key}{where.tolist()}: RTL {state[key][tuple(where)]}, model {ref[key][tuple(where)]}"
    weights = weights[:ref["weights"].size]
    if not np.array_equal(weights, ref["weights"]):
        k = int(np.nonzero(weights != ref["weights"])[0][0])
        return f"final weight of synapse {k}: RTL {weights[k]}, model {ref['weights'][k]}"
    if state["lfsr"] != ref["lfsr"]:
        return f"LFSR state: RTL {state['lfsr']:#010x}, model {ref['lfsr']:#010x}"
    for name, value in model.counters.items():
        if state["counters"][name] != value:
            return f"counter {name}: RTL {state['counters'][name]}, model {value}"
    return None
