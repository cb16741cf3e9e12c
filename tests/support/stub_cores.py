"""A stand-in for a device of K cores behind the Link, for the Link's own tests: its access port
keeps each core's words of each region (the first WORDS of each), and its ticks compute
nothing: each fires the same device neurons, those of `fires` (a range; none by default).

    DeviceTop of K cores with StubCores in its place: StubTop(config, cores=2, fires=range(0), ...)

The Link's part of a K-core device (SELECT_CORE, BAD_CORE, HELLO's n_cores, the K-core memory
map, the Link's own counters on core 0) is tested with it against the emulator of K cores,
whose regions hold the same words as long as no tick runs; and the spike records of a device
of many neurons (a tick's record of thousands of spikes, cheaply) against the emulator of K
cores whose tables make the same device neurons fire every tick (tests/rtl/link/test_link.py).
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
    address), masked to the region's width, two cycles after `re`; every input entry taken
    and forgotten. A `step` runs one tick: busy while it pushes the device neurons of `fires`
    (ascending) into the output FIFO, one a cycle, then `tick` + 1 (`clear`: tick 0, at once)."""

    def __init__(self, config, cores: int, input_depth: int, fires: range = range(0)):
        self.config, self.cores, self.fires = config, cores, fires
        super().__init__(core_signature(config, input_depth, LINK_STEP_BITS, cores))
        if fires.step != 1 or (len(fires) and not 0 <= fires.start < fires.stop <= 1 << len(self.outputs.neuron)):
            raise ValueError(f"fires = {fires}: a range of step 1 of the device's neurons "
                             f"0 .. {(1 << len(self.outputs.neuron)) - 1}")

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
        self.ticks(m)
        return m

    def ticks(self, m):
        """A tick pushes the neurons of `fires`; the output FIFO's head is the next not taken."""
        control, outputs, first, count = self.control, self.outputs, self.fires.start, len(self.fires)
        pushed = Signal(range(count + 1))
        taken = Signal(range(count + 1))
        with m.If(control.step):
            m.d.sync += [control.busy.eq(1), pushed.eq(0), taken.eq(0)]
        with m.Elif(control.busy & (pushed == count)):
            m.d.sync += [control.busy.eq(0), control.tick.eq(control.tick + 1)]
        with m.Elif(control.busy):
            m.d.comb += [outputs.push.eq(1), outputs.push_neuron.eq(first + pushed)]
            m.d.sync += pushed.eq(pushed + 1)
        with m.If(control.clear):
            m.d.sync += control.tick.eq(0)
        m.d.comb += [outputs.valid.eq(taken != pushed), outputs.neuron.eq(first + taken)]
        with m.If(outputs.valid & outputs.ready):
            m.d.sync += taken.eq(taken + 1)


class StubTop(DeviceTop):
    """DeviceTop with StubCores of `cores` cores, each tick firing the device neurons of `fires`
    (a range), in place of rtl.multicore.MultiCore."""

    def __init__(self, config, *args, fires: range = range(0), **kwargs):
        self.fires = fires
        super().__init__(config, *args, **kwargs)

    def build_core(self):
        return StubCores(self.config, self.cores, self.input_depth, self.fires)
