"""rtl.core.access.AccessPort alone: the write and read decode of every region of spec §9 (memories,
the stdp and lfsr_seed registers, counters through counter_index / counter_value /
counter_load / counter_ready, the LFSR state through lfsr_state / lfsr_write), read timing, and enable
gating."""

import numpy as np
from amaranth.hdl import Array, Const, Mux, Signal

from firmware import CoreConfig
from firmware import formats as fmt
from rtl.core.access import REGISTER_REGIONS, AccessPort
from tests.support.engine_harness import Harness, read_memory

CONFIG = CoreConfig(n_neurons=20, n_inputs=6, n_synapses=100, n_segments=30, n_reverse=40,
                    n_profiles=5, n_projections=3, weight_bits=6, max_delay=3)
REGIONS = fmt.memory_map(CONFIG)
MEMORY_REGIONS = [name for name in REGIONS if name not in REGISTER_REGIONS]
COUNTER_VALUES = [(0x0123456789ABCDEF * (k + 1)) % (1 << 64) for k in range(len(fmt.COUNTERS))]


def build(rng, counters_ready_at_once=True):
    """The port on memories of random contents. Counters: COUNTER_VALUES, ready at once, or as
    the core's ring offers them: counter k in the cycles where a free-running count mod 8 is k."""
    port = AccessPort(CONFIG)
    h = Harness(port)
    contents = {}
    for name in MEMORY_REGIONS:
        r = REGIONS[name]
        contents[name] = [int(v) for v in rng.integers(0, 1 << r.layout.width, r.depth, dtype=np.uint64)]
        h.add(name, r.layout.width, r.depth, contents[name], rd=f"{name}_rd", wr=f"{name}_wr")
    table = Array([Const(v, 64) for v in COUNTER_VALUES])
    h.m.d.comb += port.counter_value.eq(table[port.counter_index])
    if counters_ready_at_once:
        h.m.d.comb += [port.counter_ready.eq(1), port.counter_load.eq(-1)]
    else:
        at_head = Signal(range(len(COUNTER_VALUES)))
        h.m.d.sync += at_head.eq(at_head + 1)
        h.m.d.comb += [port.counter_ready.eq(at_head == port.counter_index),
                       port.counter_load.eq(Mux(port.counter_ready, -1, 0))]
    return port, h, contents


def random_word(rng, name):
    return int(rng.integers(0, 1 << REGIONS[name].layout.width, dtype=np.uint64))


def check_memories(ctx, h, want):
    for name in MEMORY_REGIONS:
        got = read_memory(ctx, h.memories[name])
        bad = [a for a in range(len(got)) if got[a] != want[name][a]]
        assert not bad, f"region {name}: word {bad[0]} is {got[bad[0]]:#x}, expected {want[name][bad[0]]:#x}"


def test_writes_reach_exactly_their_region():
    rng = np.random.default_rng(1)
    port, h, contents = build(rng)
    want = {k: list(v) for k, v in contents.items()}
    ops = []
    for name, r in REGIONS.items():
        for addr in sorted({0, r.depth - 1, int(rng.integers(0, r.depth))}):
            ops.append((name, addr, random_word(rng, name)))
    order = rng.permutation(len(ops))
    ops = [ops[k] for k in order]
    seen = {"lfsr_write": []}

    async def bench(ctx):
        ctx.set(port.enable, 1)
        stdp, seed = 0, fmt.LFSR_DEFAULT_SEED
        assert ctx.get(port.lfsr_seed) == seed and ctx.get(port.stdp) == 0
        for name, addr, word in ops:
            ctx.set(port.region, REGIONS[name].index)
            ctx.set(port.addr, addr)
            ctx.set(port.wdata, word)
            ctx.set(port.we, 1)
            if ctx.get(port.lfsr_write):
                seen["lfsr_write"].append((name, ctx.get(port.wdata)))
            await ctx.tick()
            ctx.set(port.we, 0)
            if name in want:
                want[name][addr] = word
            elif name == "stdp":
                stdp = word
            elif name == "lfsr_seed":
                seed = word
            assert ctx.get(port.stdp) == stdp, f"after a write to {name}"
            assert ctx.get(port.lfsr_seed) == seed, f"after a write to {name}"
            assert not ctx.get(port.lfsr_write)
        check_memories(ctx, h, want)

    h.run(bench)
    lfsr_writes = [(n, w) for n, a, w in ops if n == "lfsr_state"]
    assert seen["lfsr_write"] == lfsr_writes and len(lfsr_writes) == 1
    assert any(n == "counters" for n, _, _ in ops)        # written, and nothing changed


def test_reads_of_every_region_two_cycles_later_back_to_back():
    rng = np.random.default_rng(2)
    port, h, contents = build(rng)
    reads = []
    for name, r in REGIONS.items():
        for addr in sorted({0, r.depth - 1, int(rng.integers(0, r.depth))}):
            reads.append((name, addr))
    reads += [("counters", k) for k in range(len(fmt.COUNTERS))]
    reads = [reads[k] for k in rng.permutation(len(reads))]
    stdp_word, seed_word, lfsr_now = random_word(rng, "stdp"), 0x13579BDF, 0xFEDCBA98
    got = []

    async def bench(ctx):
        ctx.set(port.enable, 1)
        ctx.set(port.lfsr_state, lfsr_now)
        # before any write the seed register reads as the default seed
        ctx.set(port.region, REGIONS["lfsr_seed"].index)
        ctx.set(port.re, 1)
        await ctx.tick()
        ctx.set(port.re, 0)
        await ctx.tick()
        assert ctx.get(port.rvalid) and ctx.get(port.rdata) == fmt.LFSR_DEFAULT_SEED
        for name, word in (("stdp", stdp_word), ("lfsr_seed", seed_word)):
            ctx.set(port.region, REGIONS[name].index)
            ctx.set(port.wdata, word)
            ctx.set(port.we, 1)
            await ctx.tick()
        ctx.set(port.we, 0)
        # one read per cycle (re held high); then single reads with gaps
        issued = []
        schedule = reads + [None, None, None] + reads[:10]
        for k, request in enumerate(schedule):
            if request is None:
                ctx.set(port.re, 0)
            else:
                name, addr = request
                ctx.set(port.region, REGIONS[name].index)
                ctx.set(port.addr, addr)
                ctx.set(port.re, 1)
            issued.append(request)
            await ctx.tick()
            if ctx.get(port.rvalid):
                got.append((k - 1, ctx.get(port.rdata)))
        ctx.set(port.re, 0)
        for k in range(len(issued), len(issued) + 3):
            await ctx.tick()
            if ctx.get(port.rvalid):
                got.append((k - 1, ctx.get(port.rdata)))
        # counter_index follows the address of the read
        assert ctx.get(port.counter_index) == issued[-1][1] % (1 << len(port.counter_index))

        def expected(name, addr):
            if name in contents:
                return contents[name][addr]
            return {"stdp": stdp_word, "lfsr_seed": seed_word, "lfsr_state": lfsr_now,
                    "counters": COUNTER_VALUES[addr]}[name]

        # got holds (k, rdata) for rvalid seen in cycle k + 2: it must answer the read of cycle k
        pending = [(k, req) for k, req in enumerate(issued) if req is not None]
        assert [k for k, _ in got] == [k for k, _ in pending], "rvalid not two cycles after re"
        for (k, (name, addr)), (_, value) in zip(pending, got):
            assert value == expected(name, addr), f"read of {name}[{addr}]: {value:#x}, expected {expected(name, addr):#x}"

    h.run(bench)


def test_a_counter_read_waits_for_counter_ready():
    """rvalid comes in the cycle after the first one with counter_ready, from the second cycle
    after re on, with that counter's value; other regions keep their two cycles meanwhile."""
    rng = np.random.default_rng(4)
    port, h, contents = build(rng, counters_ready_at_once=False)

    async def bench(ctx):
        ctx.set(port.enable, 1)
        for name, addr in [("counters", k) for k in rng.permutation(len(COUNTER_VALUES))] + [
                ("neuron", 3), ("counters", 0), ("axon", 1), ("counters", 7), ("counters", 7)]:
            ctx.set(port.region, REGIONS[name].index)
            ctx.set(port.addr, int(addr))
            ctx.set(port.re, 1)
            await ctx.tick()
            ctx.set(port.re, 0)
            ready_seen = False
            for cycle in range(2, 20):
                ready_before = ready_seen
                ready_seen = ready_seen or (name != "counters") or bool(ctx.get(port.counter_ready))
                await ctx.tick()
                if ctx.get(port.rvalid):
                    break
                assert not ready_before, f"{name}[{addr}]: no rvalid after counter_ready"
            assert ready_seen and (name == "counters" or cycle == 2), f"{name}[{addr}]: rvalid after {cycle}"
            want = COUNTER_VALUES[addr] if name == "counters" else contents[name][addr]
            assert ctx.get(port.rdata) == want, f"{name}[{addr}]"
            await ctx.tick()
            assert not ctx.get(port.rvalid)

    h.run(bench)


def test_nothing_happens_while_enable_is_low():
    rng = np.random.default_rng(3)
    port, h, contents = build(rng)
    events = {"rvalid": 0, "lfsr_write": 0}

    async def bench(ctx):
        ctx.set(port.enable, 0)
        for name, r in REGIONS.items():
            for addr in (0, r.depth - 1):
                ctx.set(port.region, r.index)
                ctx.set(port.addr, addr)
                ctx.set(port.wdata, random_word(rng, name) | 1)
                ctx.set(port.we, 1)
                ctx.set(port.re, 1)
                events["lfsr_write"] += ctx.get(port.lfsr_write)
                await ctx.tick()
                events["rvalid"] += ctx.get(port.rvalid)
        ctx.set(port.we, 0)
        ctx.set(port.re, 0)
        for _ in range(3):
            await ctx.tick()
            events["rvalid"] += ctx.get(port.rvalid)
        assert ctx.get(port.stdp) == 0 and ctx.get(port.lfsr_seed) == fmt.LFSR_DEFAULT_SEED
        check_memories(ctx, h, contents)
        # and the same accesses with enable high do act (the test can fail)
        ctx.set(port.enable, 1)
        ctx.set(port.region, REGIONS["state_v"].index)
        ctx.set(port.addr, 1)
        ctx.set(port.wdata, contents["state_v"][1] ^ 1)
        ctx.set(port.we, 1)
        await ctx.tick()
        ctx.set(port.we, 0)
        assert read_memory(ctx, h.memories["state_v"])[1] == contents["state_v"][1] ^ 1

    h.run(bench)
    assert events == {"rvalid": 0, "lfsr_write": 0}
