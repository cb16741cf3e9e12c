"""rtl.core.counters.Counters alone: 64-bit counts with carries through every word of the block RAM,
reads while counting (the value of one instant, delivered word by word), clear during counting
and during a read, and the read latency bound."""

import numpy as np
from amaranth.sim import Simulator

from rtl.core.counters import WORD, Counters

N = 8
MASK64 = (1 << 64) - 1


def run(bench_body, n=N):
    dut = Counters(n, 64)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    async def bench(ctx):
        await bench_body(ctx, dut)

    sim.add_testbench(bench)
    sim.run()
    return dut


class Model:
    """The reference count, advanced one cycle at a time by what the testbench drives."""

    def __init__(self, n, start=None):
        self.counts = list(start or [0] * n)

    def step(self, increments, clear):
        if clear:
            self.counts = [0] * len(self.counts)
        else:
            self.counts = [(c + i) & MASK64 for c, i in zip(self.counts, increments)]


async def preset(ctx, dut, model, values):
    """Counters `values` (multiples of the low part's range) into the memory: a clear, its turn
    of zeros, then the words, twice a cycle apart (the word written back in the first cycle was
    read before it)."""
    ctx.set(dut.clear, 1)
    await ctx.tick()
    ctx.set(dut.clear, 0)
    for _ in range(dut.slots + 1):
        await ctx.tick()
    for _ in range(2):
        for k, value in enumerate(values):
            for w in range(dut.words):
                ctx.set(dut.storage.storage.data[k * dut.words + w], (value >> (WORD * w)) & ((1 << WORD) - 1))
        await ctx.tick()
    model.counts = list(values)


async def drive(ctx, dut, model, rng, cycles, rate, reads=(), clear_at=(), clear_in_read=()):
    """`cycles` cycles of random increments (0..2, each counter busy with probability `rate`);
    reads of the counters in `reads` issued one after another; clears at `clear_at`, and one
    cycle after the first word of the reads numbered in `clear_in_read`. Returns
    (index, value, cycles waited, expected) per read."""
    done, queue, waiting, words, started = [], list(reads), None, [0] * dut.words, 0
    clear_next = None
    for cycle in range(cycles):
        increments = [int(rng.integers(0, 3)) if rng.random() < rate else 0 for _ in range(dut.n)]
        clear = cycle in clear_at or cycle == clear_next
        for k, inc in enumerate(increments):
            ctx.set(dut.increments[k], inc)
        ctx.set(dut.clear, clear)
        if waiting is None and queue:
            waiting, started, snapshot = queue.pop(0), cycle, None
        ctx.set(dut.read, waiting is not None)
        ctx.set(dut.index, waiting if waiting is not None else 0)
        if waiting is not None:
            enables = ctx.get(dut.word_en)
            for w in range(dut.words):
                if enables >> w & 1:
                    words[w] = ctx.get(dut.word)
                    if w == 0:
                        snapshot = model.counts[waiting]     # the instant of the value
                        if len(done) in clear_in_read and clear_next is None:
                            clear_next = cycle + 1
            if ctx.get(dut.ready):
                value = sum(word << (WORD * w) for w, word in enumerate(words))
                done.append((waiting, value, cycle - started, snapshot))
                waiting = None
        model.step(increments, clear)
        await ctx.tick()
    return done


def test_counts_carry_through_every_word_of_the_memory():
    """Counters preset just below carries into word 1, 2 and 3 and below the 64-bit wrap count
    random bursts; every read equals the count of its instant, and at the end all of them."""
    starts = [(1 << 16) - 40, (1 << 32) - 100, (1 << 48) - 7, MASK64 - 60,
              0, 1 << 40, (1 << 32) - 1, 0x0123456789ABCDEF]
    rng = np.random.default_rng(1)
    model = Model(N, starts)
    results = []

    async def bench(ctx, dut):
        await preset(ctx, dut, model, [v & ~((1 << dut.low_bits) - 1) for v in starts])
        reads = [int(k) for k in rng.integers(0, N, 60)]
        results.extend(await drive(ctx, dut, model, rng, 3000, 0.9, reads))
        results.extend(await drive(ctx, dut, model, rng, 400, 0.0, list(range(N))))

    dut = run(bench)
    assert len(results) == 60 + N
    for index, value, waited, expected in results:
        assert value == expected, f"counter {index}: {value:#x}, expected {expected:#x}"
        assert waited <= dut.slots + dut.words
    final = {index: value for index, value, _, _ in results[-N:]}
    assert [final[k] for k in range(N)] == model.counts
    # every carry boundary was crossed (and the 64-bit wrap)
    assert final[0] >> 16 and final[1] >> 32 and final[2] >> 48 and final[3] < 1 << 20


def test_clear_while_counting_and_while_reading():
    """A clear zeroes every counter at once, reads during the turn that zeroes the memory see
    zeros plus what came since, and a read in flight when the clear comes starts over."""
    rng = np.random.default_rng(2)
    model = Model(N)
    results = []

    async def bench(ctx, dut):
        for _ in range(dut.slots + 2):
            await ctx.tick()
        await preset(ctx, dut, model, [int(v) << dut.low_bits for v in rng.integers(1, 1 << 56, N)])
        # count well past the low parts, read, clear in the middle of reads, read again
        results.extend(await drive(ctx, dut, model, rng, 2000, 1.0, []))
        reads = [int(k) for k in rng.integers(0, N, 40)]
        results.extend(await drive(ctx, dut, model, rng, 1200, 0.7, reads,
                                   clear_at={3, 5, 40, 41, 300, 333, 700}))
        # a clear in the middle of a read's words: the read starts over with the new counts
        reads = [int(k) for k in rng.integers(0, N, 6)]
        for cleared in range(3):
            results.extend(await drive(ctx, dut, model, rng, 200, 1.0, []))
            await preset(ctx, dut, model, [int(v) << dut.low_bits for v in rng.integers(1, 1 << 56, N)])
            results.extend(await drive(ctx, dut, model, rng, 300, 1.0, reads[2 * cleared:2 * cleared + 2],
                                       clear_in_read={0}))
        results.extend(await drive(ctx, dut, model, rng, 400, 0.0, list(range(N))))

    run(bench)
    assert len(results) == 40 + 6 + N
    for index, value, _, expected in results:
        assert value == expected, f"counter {index}: {value:#x}, expected {expected:#x}"
    assert all(value > 0 for _, value, _, _ in results[-N:])


def test_low_parts_cannot_wrap_twice_in_a_turn():
    """The bound the design rests on: in one turn of the sequencer a counter counts less than
    the low part holds, even at 3 per cycle."""
    dut = Counters(N, 64)
    assert 3 * dut.slots < 1 << dut.low_bits
    assert dut.low_bits < WORD
