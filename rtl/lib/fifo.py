"""The design's FIFOs, one module: three behaviours, each the one its user needs.

    BufferedFIFO  amaranth.lib.fifo.SyncFIFOBuffered's ports and behaviour, cycle by cycle, in
                  a memory (the core's input queue and output spikes)
    ShiftFIFO     amaranth.lib.fifo.SyncFIFO's ports and behaviour, cycle by cycle, in
                  registers that shift (the router's 2-entry descriptor FIFO of wide words)
    RxFIFO        a byte FIFO for a writer without backpressure (the UART receiver): a stream
                  out, with SyncFIFOBuffered's timing; a byte that finds it (nearly) full is
                  dropped, and a place is kept for the 0x00 that ends a frame

They are not one parametrised FIFO because each is the smallest for its use (the iCE40UP5K is
nearly full): a memory FIFO for deep queues, registers for a few wide entries, and for the
receive bytes the memory's own read register as the head with no level counter.
tests/rtl/lib/test_fifo.py and tests/rtl/core (test_core.py, test_router.py) hold each against its
amaranth counterpart under random traffic (tests/support/fifo_compare.py).
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .compare import less_than
from .memory import SimpleMemory


class BufferedFIFO(Elaboratable):
    """A FIFO with the ports and the cycle-by-cycle behaviour of amaranth.lib.fifo's
    SyncFIFOBuffered (`w_data`, `w_en`, `w_rdy`, `r_data`, `r_en`, `r_rdy`, `level`; `depth`
    entries: `depth` - 1 in the memory, one in the output register) in less logic: the memory
    is a power of two deep, so its pointers wrap for free, and one counter keeps `level`, from
    which the memory's own level follows (level - r_rdy)."""

    def __init__(self, *, width: int, depth: int, direct: bool = True):
        assert depth >= 2, depth
        self.width, self.depth, self.direct = width, depth, direct
        self.w_data, self.w_en, self.w_rdy = Signal(width), Signal(), Signal()
        self.r_data, self.r_en, self.r_rdy = Signal(width), Signal(), Signal()
        self.level = Signal(range(depth + 1))

    def elaborate(self, platform):
        m = Module()
        pointer_bits = max(1, (self.depth - 2).bit_length())
        # (NO_COLLISIONS: a read is enabled only while the memory holds an entry, so consume is
        # not produce then)
        m.submodules.storage = storage = SimpleMemory(self.width, 1 << pointer_bits, direct=self.direct)
        write, read = storage.write, storage.read
        produce, consume = Signal(pointer_bits), Signal(pointer_bits)
        do_write = self.w_rdy & self.w_en
        # the memory holds level - r_rdy entries: room while that is below depth - 1
        m.d.comb += self.w_rdy.eq(Mux(self.r_rdy, self.level != self.depth, self.level != self.depth - 1))
        do_read_memory = Mux(self.r_rdy, self.level != 1, self.level != 0) & (~self.r_rdy | self.r_en)
        m.d.comb += [write.addr.eq(produce), write.data.eq(self.w_data), write.en.eq(do_write),
                     read.addr.eq(consume), read.en.eq(do_read_memory), self.r_data.eq(read.data)]
        change = Signal(signed(2))               # +1, 0 or -1: one adder for the level
        m.d.comb += change.eq(do_write - (self.r_rdy & self.r_en))
        m.d.sync += [produce.eq(produce + do_write), consume.eq(consume + do_read_memory),
                     self.level.eq(self.level + change)]
        with m.If(do_read_memory):
            m.d.sync += self.r_rdy.eq(1)
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        return m


class ShiftFIFO(Elaboratable):
    """A small FIFO with the ports and the cycle-by-cycle behaviour of amaranth.lib.fifo's
    SyncFIFO (`w_data`, `w_en`, `w_rdy`, `r_data`, `r_en`, `r_rdy`, `level`; first word
    through: `r_data` is the head while `r_rdy`), built as a register file that shifts toward
    its head on a read: the head is always entry 0, so there is no read multiplexer, and each
    entry bit takes one LUT (written word or the next entry's bit) in its own logic cell. For a
    few entries of a wide word (a memory of that size would be flip-flops too). The entries
    have no reset: `level` says which hold anything."""

    def __init__(self, *, width: int, depth: int):
        assert depth >= 1, depth
        self.width, self.depth = width, depth
        self.w_data, self.w_en, self.w_rdy = Signal(width), Signal(), Signal()
        self.r_data, self.r_en, self.r_rdy = Signal(width), Signal(), Signal()
        self.level = Signal(range(depth + 1))

    def elaborate(self, platform):
        m = Module()
        entries = [Signal(self.width, name=f"entry_{k}", reset_less=True) for k in range(self.depth)]
        m.d.comb += [self.w_rdy.eq(self.level != self.depth), self.r_rdy.eq(self.level != 0),
                     self.r_data.eq(entries[0])]
        do_write, do_read = self.w_en & self.w_rdy, self.r_en & self.r_rdy
        # The written word goes to entry `level`, or `level` - 1 when the entries shift.
        target = Signal.like(self.level)
        m.d.comb += target.eq(self.level - do_read)
        for k, entry in enumerate(entries):
            with m.If(do_write & (target == k)):
                m.d.sync += entry.eq(self.w_data)
            if k + 1 < self.depth:
                with m.Elif(do_read):
                    m.d.sync += entry.eq(entries[k + 1])
        m.d.sync += self.level.eq(self.level + do_write - do_read)
        return m


class RxFIFO(wiring.Component):
    """`depth` bytes (a power of two) from a writer without backpressure to a stream (first
    word falls through, two cycles after its write: SyncFIFOBuffered's timing).

        w_en      In(1)    a byte to store
        w_data    In(8)    the byte
        o         Out(stream.Signature(8))   the bytes in order

    When the FIFO is (nearly) full a byte is dropped, not stored: a byte other than `delimiter`
    needs two free places, `delimiter` one. So the delimiter that ends a frame (the link's
    0x00) is kept when the frame's own bytes overflow: only that frame is damaged (too long:
    OVERSIZE), never the next one.
    """

    def __init__(self, depth: int, delimiter: int):
        if depth < 2 or depth & (depth - 1):
            raise ValueError(f"RxFIFO depth {depth} must be a power of two >= 2")
        self.depth, self.delimiter = depth, delimiter
        super().__init__({"w_en": In(1), "w_data": In(8), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        k = self.depth.bit_length() - 1
        # (no port reads an address in the cycle it is written: see `visible`)
        m.submodules.storage = mem = SimpleMemory(8, self.depth)   # (one EBR as built on an iCE40)
        wr, rd = mem.write, mem.read
        wp, rp = Signal(k + 1), Signal(k + 1)       # one bit more than the address: full != empty
        visible = Signal()                          # an entry written a cycle ago or more waits
        level = Signal(k + 1)
        m.d.comb += level.eq(wp - rp)
        room = Signal()
        m.d.comb += room.eq(Mux(self.w_data == self.delimiter, level != self.depth, less_than(level, self.depth - 1)))
        m.d.comb += [wr.addr.eq(wp[:k]), wr.data.eq(self.w_data), wr.en.eq(self.w_en & room)]
        with m.If(wr.en):
            m.d.sync += wp.eq(wp + 1)
        rp_next = Signal(k + 1)
        m.d.comb += [rp_next.eq(rp + (self.o.valid & self.o.ready)), rd.addr.eq(rp_next[:k]),
                     self.o.valid.eq(visible), self.o.payload.eq(rd.data)]
        m.d.sync += [rp.eq(rp_next), visible.eq(wp != rp_next)]
        return m
