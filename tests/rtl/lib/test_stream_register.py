"""rtl.lib.stream_register.StreamRegister: every beat once and in order, one cycle later or more,
one beat every other cycle at best, under random valid and ready on both sides."""

import random

from amaranth.sim import Simulator

from rtl.lib.stream_register import StreamRegister


def run(seed, n_beats=300, p_valid=0.7, p_ready=0.7):
    rng = random.Random(seed)
    dut = StreamRegister(8)
    sent, received, cycles = [], [], []

    async def bench(ctx):
        beats = [rng.randrange(256) for _ in range(n_beats)]
        k, cycle = 0, 0
        while len(received) < n_beats:
            offer = k < n_beats and rng.random() < p_valid
            take = rng.random() < p_ready
            ctx.set(dut.i.valid, offer)
            ctx.set(dut.i.payload, beats[k] if offer else rng.randrange(256))
            ctx.set(dut.o.ready, take)
            if ctx.get(dut.o.valid) and take:
                received.append(ctx.get(dut.o.payload))
                cycles.append(cycle)
            if offer and ctx.get(dut.i.ready):
                sent.append((beats[k], cycle))
                k += 1
            await ctx.tick()
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return sent, received, cycles


def test_every_beat_once_in_order_a_cycle_later_or_more():
    for seed in range(4):
        sent, received, cycles = run(seed)
        assert received == [data for data, _ in sent]
        assert all(out > taken for (_, taken), out in zip(sent, cycles))


def test_a_beat_every_other_cycle_when_both_sides_always_ready():
    sent, received, cycles = run(7, n_beats=100, p_valid=1.0, p_ready=1.0)
    assert received == [data for data, _ in sent]
    assert [taken for _, taken in sent] == list(range(0, 200, 2))
    assert cycles == list(range(1, 200, 2))   # each beat out the cycle after it went in
