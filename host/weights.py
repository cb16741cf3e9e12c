"""A projection's weights as a [pre, post] matrix, on one core: where its synapses are, the
matrix of their weights, and a matrix checked before it is written (Device.weights,
Device.set_weights; host/multicore.py for a projection on several cores)."""

from __future__ import annotations

import numpy as np

from firmware import formats
from firmware.image import Image
from firmware.tables import projection_synapses


def projection_layout(image: Image, tables, name: str):
    """Synapse addresses of projection `name`, their (pre, post) indices into its groups, the
    matrix shape, and the bounds of its weights (its STDP bounds if plastic)."""
    found = projection_synapses(image, tables, name)      # SymbolError (a KeyError) if there is none
    row, idx = image.table("projection"), found.index
    bounds = ((int(row["w_min"][idx]), int(row["w_max"][idx])) if int(row["plastic"][idx])
              else formats.signed_range(image.config.weight_bits))
    return found.addr, found.pre, found.post, found.shape, bounds


def weight_matrix(image: Image, tables, name: str, weights_by_addr, masked: bool = False):
    """Projection `name`'s weights (`weights_by_addr`: the core's weight mantissa per synapse
    address) as a [pre, post] matrix: float with NaN where no synapse, or an integer masked array."""
    addr, pre, post, shape, _ = projection_layout(image, tables, name)
    w = weights_by_addr[addr]
    if masked:
        m = np.ma.masked_all(shape, dtype=np.int64)
        m[pre, post] = w
        return m
    out = np.full(shape, np.nan)
    out[pre, post] = w
    return out


def check_weights(image: Image, tables, name: str, matrix) -> tuple[np.ndarray, np.ndarray]:
    """A [pre, post] weight matrix for projection `name` checked (ValueError naming what is
    wrong): (synapse addresses, weight mantissas)."""
    addr, pre, post, shape, bounds = projection_layout(image, tables, name)
    return addr, check_weight_values(name, matrix, shape, pre, post, bounds, image.config.weight_bits)


def check_weight_values(name: str, matrix, shape, pre, post, bounds, weight_bits: int) -> np.ndarray:
    """The weight mantissas of synapses (pre, post) from a [pre, post] matrix of projection `name`
    of `shape`: ValueError, naming the entry, for a matrix of another shape, a value where no
    synapse is (it must be NaN or masked), or a weight that is no integer within `bounds`."""
    lo, hi = bounds
    m = np.ma.asarray(matrix, dtype=np.float64)
    if m.shape != shape:
        raise ValueError(f"projection {name!r}: weight matrix has shape {m.shape}; expected {shape} "
                         f"[pre, post]")
    mask = np.ma.getmaskarray(m)
    data = np.where(mask, np.nan, np.ma.getdata(m))
    has = np.zeros(shape, bool)
    has[pre, post] = True
    extra = np.argwhere(~has & ~np.isnan(data))
    if extra.size:
        i, j = extra[0]
        raise ValueError(f"projection {name!r} has no synapse ({i}, {j}), but the matrix gives it "
                         f"weight {data[i, j]}; leave NaN (or masked) where there is no synapse")
    w = data[pre, post]
    bad = ~np.isfinite(w) | (w != np.round(w)) | (w < lo) | (w > hi)
    if np.any(bad):
        k = np.nonzero(bad)[0][0]
        raise ValueError(f"projection {name!r}: weight {w[k]} of synapse ({pre[k]}, {post[k]}) must be "
                         f"an integer mantissa in [{lo}, {hi}]"
                         f"{' (its STDP bounds)' if (lo, hi) != formats.signed_range(weight_bits) else ''}")
    return w.astype(np.int64)
