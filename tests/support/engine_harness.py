"""A test harness for one engine of rtl/: the engine plus a memory per region it uses.

Each memory is an amaranth.lib.memory.Memory with one write port and one synchronous read port
(data one cycle after the address), as rtl.lib.memory.SimpleMemory builds them; `transparent` makes
the read port return a word written in the same cycle (the router's accumulators). A
`single_port` memory behaves like an SB_SPRAM256KA shared by reads and writes: the word read in
a cycle in which a write happens is garbage (the complement of the stored word), so an engine
that uses such a read computes a wrong result. `write_delay` puts that many registers between
the engine's write port and the memory, as the core's synapse write-back registers (the word
is written `write_delay` cycles after the engine puts it on the port). The testbench preloads memories with `init` or
`ctx.set(memory.data[addr], word)` and reads them back with `ctx.get(memory.data[addr])`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator


class Harness:
    """`Harness(engine)`, then `add(name, width, depth, init, rd=..., wr=...)` per memory, where
    rd / wr name the engine's read_port / write_port members; `add_updater(config)` gives an
    engine with an `updater` port its WeightUpdate. `run(bench)` simulates."""

    def __init__(self, engine):
        self.engine = engine
        self.m = Module()
        self.m.submodules.engine = engine
        self.memories: dict[str, Memory] = {}

    def add(self, name, width, depth, init=(), rd=None, wr=None, transparent=False, single_port=False,
            write_delay=0):
        m = self.m
        memory = Memory(shape=unsigned(width), depth=depth, init=[int(v) for v in init])
        m.submodules[f"mem_{name}"] = memory
        write = memory.write_port()
        read = memory.read_port(transparent_for=(write,) if transparent else ())
        if wr is not None:
            port = getattr(self.engine, wr)
            addr, data, en = port.addr, port.data, port.en
            for stage in range(write_delay):
                delayed = Signal.like(addr), Signal.like(data), Signal.like(en)
                m.d.sync += [delayed[0].eq(addr), delayed[1].eq(data), delayed[2].eq(en)]
                addr, data, en = delayed
            m.d.comb += [write.addr.eq(addr), write.data.eq(data), write.en.eq(en)]
        if rd is not None:
            port = getattr(self.engine, rd)
            m.d.comb += read.addr.eq(port.addr)
            if single_port:
                collided = Signal(name=f"{name}_collided")
                m.d.sync += collided.eq(write.en)
                m.d.comb += port.data.eq(Mux(collided, ~read.data, read.data))
            else:
                m.d.comb += port.data.eq(read.data)
        self.memories[name] = memory
        return memory

    def add_updater(self, config):
        """A WeightUpdate on the engine's `updater` port (as the core shares one); the testbench
        drives its `draw`."""
        from amaranth.lib import wiring
        from rtl.core.plasticity import WeightUpdate

        updater = WeightUpdate(config)
        self.m.submodules.updater = updater
        wiring.connect(self.m, self.engine.updater, updater.rule)
        return updater

    def run(self, bench):
        sim = Simulator(self.m)
        sim.add_clock(1e-6)
        sim.add_testbench(bench)
        sim.run()


def read_memory(ctx, memory, count=None):
    depth = memory.depth if count is None else count
    return [int(ctx.get(memory.data[a])) for a in range(depth)]


async def pulse(ctx, signal):
    """Drive `signal` high for exactly one cycle."""
    ctx.set(signal, 1)
    await ctx.tick()
    ctx.set(signal, 0)
