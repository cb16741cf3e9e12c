"""Connectors: which (pre, post) pairs a projection connects (firmware.network.Network.connect).
Each has `connections(n_pre, n_post, same_population) -> (pre, post)`, int64 index arrays."""

from __future__ import annotations

import numpy as np

from .checks import check_real
from .errors import NetworkError


class AllToAll:
    def __init__(self, allow_self_connections: bool = True):
        self.allow_self_connections = allow_self_connections

    def connections(self, n_pre, n_post, same_population):
        pre, post = np.divmod(np.arange(n_pre * n_post, dtype=np.int64), n_post)
        if same_population and not self.allow_self_connections:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre, post


class OneToOne:
    def connections(self, n_pre, n_post, same_population):
        if n_pre != n_post:
            raise ValueError(f"OneToOne needs equal sizes, got {n_pre} pre and {n_post} post")
        idx = np.arange(n_pre, dtype=np.int64)
        return idx, idx.copy()


class FixedProbability:
    """Each (pre, post) pair is connected with probability p, drawn from numpy's PCG64 with
    `seed`: the same seed gives the same connections on every machine."""

    def __init__(self, p: float, seed: int = 0, allow_self_connections: bool = True):
        p = check_real("FixedProbability", "p", p, lambda x: 0 <= x <= 1, "is outside [0, 1]")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_)) or seed < 0:
            raise NetworkError(f"FixedProbability: seed = {seed!r} must be a non-negative integer")
        self.p, self.seed, self.allow_self_connections = p, int(seed), allow_self_connections

    def connections(self, n_pre, n_post, same_population):
        mask = np.random.default_rng(self.seed).random((n_pre, n_post)) < self.p
        if same_population and not self.allow_self_connections:
            np.fill_diagonal(mask, False)
        pre, post = np.nonzero(mask)
        return pre.astype(np.int64), post.astype(np.int64)


class FromList:
    """Explicit connections: rows of (pre, post, weight) or (pre, post, weight, delay)."""

    def __init__(self, connections):
        try:
            arr = np.asarray(connections)
        except (ValueError, TypeError):
            raise NetworkError("FromList: every row needs the same length: all (pre, post, weight) "
                               "or all (pre, post, weight, delay)") from None
        if arr.ndim != 2 or arr.shape[1] not in (3, 4):
            raise NetworkError(f"FromList takes rows of (pre, post, weight) or (pre, post, weight, delay); "
                               f"got {arr.ndim}-dimensional data of shape {arr.shape}")
        # Floats must be whole and inside int64 (a cast would wrap them); nothing else but integers.
        flat = arr.reshape(-1)
        if arr.dtype.kind == "f":
            bad = np.nonzero(~np.isfinite(flat) | (flat != np.round(flat)) | (np.abs(flat) >= 2.0**62))[0]
        elif arr.dtype.kind == "u":
            bad = np.nonzero(flat >= 2**62)[0]
        elif arr.dtype.kind == "O":
            bad = [k for k, v in enumerate(flat.tolist()) if isinstance(v, (bool, np.bool_))
                   or not isinstance(v, (int, np.integer)) or abs(v) >= 2**62][:1]
        else:
            bad = [] if arr.dtype.kind in "ib" else [0]
        if len(bad):
            row, column = divmod(int(bad[0]), arr.shape[1])
            value = repr(flat[bad[0]].item() if isinstance(flat[bad[0]], np.generic) else flat[bad[0]])
            raise NetworkError(f"FromList: row {row} has {value[:40]} as its "
                               f"{('pre', 'post', 'weight', 'delay')[column]}; pre, post, weight and delay "
                               f"must be integers (within +-2**62)")
        self.rows = arr.astype(np.int64)

    def connections(self, n_pre, n_post, same_population):
        return self.rows[:, 0].copy(), self.rows[:, 1].copy()
