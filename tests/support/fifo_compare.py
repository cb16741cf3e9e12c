"""Run a FIFO of ours against one of amaranth's, cycle by cycle, under random traffic.

    counts = compare_fifos(ours, theirs, seed, reset=None)

Both FIFOs get the same random w_en / r_en / w_data for 3,000 cycles in three phases (mostly
writing, mostly reading, balanced), and, with `reset` (a signal both are ResetInserter'ed on),
a reset in about 1 cycle of 200. Every cycle w_rdy, r_rdy and level must be equal, and r_data
too while r_rdy. Returns how often the run was full, read and wrote while both were possible
("full", "read", "both"), for the caller to check the run covered what it should.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator


def compare_fifos(ours, theirs, seed: int, reset=None) -> dict[str, int]:
    m = Module()
    w_en, r_en, w_data = Signal(), Signal(), Signal(len(theirs.w_data))
    m.submodules.ours, m.submodules.theirs = ours, theirs
    for fifo in (ours, theirs):
        m.d.comb += [fifo.w_en.eq(w_en), fifo.r_en.eq(r_en), fifo.w_data.eq(w_data)]
    rng = np.random.default_rng(seed)
    seen = {"full": 0, "both": 0, "read": 0}

    async def bench(ctx):
        for cycle in range(3000):
            phase = (cycle // 300) % 3          # mostly writing, mostly reading, balanced
            ctx.set(w_en, int(rng.random() < (0.8, 0.2, 0.5)[phase]))
            ctx.set(r_en, int(rng.random() < (0.2, 0.8, 0.5)[phase]))
            ctx.set(w_data, int(rng.integers(0, 1 << len(w_data))))
            if reset is not None:
                ctx.set(reset, int(rng.random() < 0.005))
            for name in ("w_rdy", "r_rdy", "level"):
                assert ctx.get(getattr(ours, name)) == ctx.get(getattr(theirs, name)), f"{name}, cycle {cycle}"
            if ctx.get(theirs.r_rdy):
                assert ctx.get(ours.r_data) == ctx.get(theirs.r_data), f"r_data, cycle {cycle}"
                seen["read"] += ctx.get(r_en)
            seen["full"] += not ctx.get(theirs.w_rdy)
            seen["both"] += ctx.get(w_en) & ctx.get(r_en) & ctx.get(theirs.r_rdy) & ctx.get(theirs.w_rdy)
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen
