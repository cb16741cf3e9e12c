"""A stand-in for a device of K cores behind the Link, for the Link's own tests: its access port
keeps each core's words of each region (the first WORDS of each), and it runs no tick.

    DeviceTop of K cores with StubCores in its place: StubTop(config, cores=2, ...)

The Link's part of a K-core device (SELECT_CORE, BAD_CORE, HELLO's n_cores, the K-core memory
map, the Link's own counters on core 0) is tested with it against the emulator of K cores,
whose regions hold the same words as long as no tick runs (tests/rtl/link/test_link.py).
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from firmware import formats as fmt
from rtl.core.interface import core_signature
from rtl.link.controller import LINK_STEP_BITS
from rtl.link.top import DeviceTop

WORDS = 64                # words kept of each region of each core (addresses alias beyond)


class StubCores(wiring.Component):
    """core_signature(config, input_depth, LINK_STEP_BITS, cores), seen from the cores: a read
    gives the word last written at (core, region, address % WORDS) (the LFSR state's at any
    address), masked to the region's width, two cycles after `re`; never busy, no tick, no
    spike, every input entry taken and forgotten."""

    def __init__(self, config, cores: int, input_depth: int):
        self.config, self.cores = config, cores
        super().__init__(core_signature(config, input_depth, LINK_STEP_BITS, cores))

    def elaborate(self, platform):
        m = Module()
        access = self.access
        regions = fmt.memory_map(self.config, self.cores)
        width = len(access.wdata)
        rb, cb = len(access.region), len(access.core)
        m.submodules.words = words = Memory(shape=width, depth=self.cores * WORDS << rb, init=[])
        write, read = words.write_port(), words.read_port()
        lfsr = regions["lfsr_state"].index
        addr = Cat(Mux(access.region == lfsr, 0, access.addr[:WORDS.bit_length() - 1]), access.region,
                   access.core[:cb])
        masks = Array(Const((1 << r.layout.width) - 1, width) for r in sorted(regions.values(), key=lambda r: r.index))
        m.d.comb += [write.addr.eq(addr), write.data.eq(access.wdata & masks[access.region]),
                     write.en.eq(access.we), read.addr.eq(addr), access.rdata.eq(read.data)]
        pending = Signal()
        m.d.sync += [pending.eq(access.re), access.rvalid.eq(pending)]
        m.d.comb += [self.inputs.ready.eq(1), self.inputs.level.eq(0)]
        return m


class StubTop(DeviceTop):
    """DeviceTop with StubCores of `cores` cores in place of rtl.multicore.MultiCore."""

    def build_core(self):
        return StubCores(self.config, self.cores, self.input_depth)
