"""rtl.lib.fifo.RxFIFO (the receive bytes between UART and COBS decoder) against amaranth's
SyncFIFOBuffered whose writes pass the same drop rule, cycle by cycle. (BufferedFIFO and
ShiftFIFO have theirs in tests/rtl/core/test_core.py and test_router.py.)"""

import numpy as np
import pytest
from amaranth.hdl import Module, Mux, Signal
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.sim import Simulator

from rtl.lib.fifo import RxFIFO

DELIMITER = 0


@pytest.mark.parametrize("depth", [2, 4, 16])
def test_rx_fifo_is_sync_fifo_buffered_that_drops_when_nearly_full(depth):
    """Random bytes (a third of them the delimiter) written without backpressure and taken at
    random: RxFIFO's stream equals a SyncFIFOBuffered whose write is refused when a byte would
    leave no place of `depth` for a delimiter (other bytes need two free places, the delimiter
    one), so the bytes kept, dropped and delivered, and the cycle each is offered, are the
    same. (The reference is one deeper, so that only the rule refuses: SyncFIFOBuffered also
    refuses a write while its one entry moves into its output register, RxFIFO does not.)"""
    m = Module()
    m.submodules.ours = ours = RxFIFO(depth, DELIMITER)
    m.submodules.theirs = theirs = SyncFIFOBuffered(width=8, depth=depth + 1)
    w_en, w_data, ready = Signal(), Signal(8), Signal()
    room = Mux(w_data == DELIMITER, theirs.level != depth, theirs.level < depth - 1)
    m.d.comb += [ours.w_en.eq(w_en), ours.w_data.eq(w_data), ours.o.ready.eq(ready),
                 theirs.w_en.eq(w_en & room), theirs.w_data.eq(w_data), theirs.r_en.eq(ready)]
    rng = np.random.default_rng(depth)
    seen = {"dropped": 0, "delimiters_kept_when_full": 0, "delivered": 0}

    async def bench(ctx):
        for cycle in range(3000):
            phase = (cycle // 300) % 3          # mostly writing, mostly reading, balanced
            write = int(rng.random() < (0.8, 0.2, 0.5)[phase])
            byte = DELIMITER if rng.random() < 1 / 3 else int(rng.integers(1, 256))
            ctx.set(w_en, write)
            ctx.set(w_data, byte)
            ctx.set(ready, int(rng.random() < (0.2, 0.8, 0.5)[phase]))
            assert ctx.get(ours.o.valid) == ctx.get(theirs.r_rdy), f"valid, cycle {cycle}"
            if ctx.get(theirs.r_rdy):
                assert ctx.get(ours.o.payload) == ctx.get(theirs.r_data), f"payload, cycle {cycle}"
                seen["delivered"] += ctx.get(ready)
            level = ctx.get(theirs.level)
            seen["dropped"] += write and not ctx.get(room)
            seen["delimiters_kept_when_full"] += write and byte == DELIMITER and level == depth - 1
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen["dropped"] > 20 and seen["delimiters_kept_when_full"] > 5 and seen["delivered"] > 200
