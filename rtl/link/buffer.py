"""The Link's buffer `buf`: where things are in it, and how its read address moves.

One memory of bytes (one read and one write port; 1,024 bytes, two iCE40 EBRs, for
max_payload 256; 6,144 for 2,048) holds, in this order (BufLayout):

    frame       the frame being received (max_encoded(max_payload) bytes at most)
    slots       the reply templates: 8 bytes each, slot r for the reply (or the check) r
    high page   256 bytes: the Link's variables (RAM_*), template bodies and constants
                (rtl.link.templates), the region table (TABLE_AT: 4 bytes a region)
    spikes      the SPIKES payload, its records from byte 8 on

The read address is the pointer's next value, so `data` (the read port's output) is always
buf[ptr]; a state chooses the next value by a small code (`ptr_mode`, P_*), and for the fixed
places (A_*) by `fixed_index`. The write port takes the frame's bytes, a variable's new byte
(from the byte adder) or a spike record's byte; its three writers never write in one cycle.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from firmware import protocol as P

from ..lib.memory import SimpleMemory

FIRST_SLOT = 2                      # template r begins at slot_base + 8 r, r = FIRST_SLOT .. 31
TABLE_AT = 128                      # region r's entry at HIGH + TABLE_AT + 4 r: depth u16, word bytes, width
# The variables (high page): the Link's counters dropped and overruns (u64), the OVERRUN count
# not yet reported, four zero bytes, the pending ticks (BUSY's detail), a ring with the
# remaining ticks of the running and the waiting STEPs. The READ of counter 7 / 6 adds the
# one at Cat(0, 0, 0, ~addr[0]).
RAM_DROPPED, RAM_OVERRUNS, RAM_UNREPORTED, RAM_ZERO, RAM_PENDING, RAM_RING = 0, 8, 16, 20, 28, 32
RING_SLOTS = 8                      # 4 bytes each: the running STEP's ticks and those waiting
RAM_END = RAM_RING + 4 * RING_SLOTS

# ptr_mode: buf's next read address
P_HOLD, P_INC, P_RET, P_DATA, P_HIGH, P_TABLE, P_SLOT, P_FIXED = range(8)
# the P_FIXED places (fixed_index)
(A_FRAME, A_PAYLOAD, A_WORDS, A_ONES, A_PENDING, A_DROPPED, A_OVERRUNS, A_UNREPORTED, A_HEAD,
 A_NEW, A_EXTRA, A_SPIKES) = range(12)


def _round_up(x, unit):
    return -(-x // unit) * unit


class BufLayout:
    """Where things are in buf for a device of `max_payload` (all bounds exclusive):

    frame       0 .. frame_area: the frame being received, at most max_encoded(max_payload)
                bytes (a frame that decodes to more is refused as OVERSIZE before it is read)
    slots       slot_base + 8 r, r = FIRST_SLOT .. 31: the reply templates (slot_base is a
                multiple of 256 at or after frame_area - 8 FIRST_SLOT: slots 0, 1 do not exist)
    high        high .. high + 256: variables, template bodies, the region table
    spikes      spk_base .. spk_base + max_payload: the SPIKES payload (its records from byte
                8 on); spk_base is a multiple of a power of two >= max_payload, so its address is
                spk_base | offset
    """

    def __init__(self, max_payload: int):
        self.frame_area = P.max_encoded(max_payload)
        self.slot_base = _round_up(self.frame_area - 8 * FIRST_SLOT, 256)
        self.high = self.slot_base + 256
        self.spk_bits = (max_payload - 1).bit_length()
        self.spk_base = _round_up(self.high + 256, 1 << self.spk_bits)
        self.depth = self.spk_base + max_payload
        self.ptr_bits = (self.depth - 1).bit_length()
        assert self.slot_base + 8 * FIRST_SLOT >= self.frame_area


class Buffer:
    """buf (a memory with `image` as its initial contents), its pointer and the control of
    its read address; `spikes_write` is the spike records' way into its write port."""

    def __init__(self, layout: BufLayout, image):
        self.layout = layout
        pw = layout.ptr_bits
        self.memory = SimpleMemory(8, layout.depth, init=image)
        self.write, self.read = self.memory.write, self.memory.read
        # the SPIKES payload is written into buf while a tick's records are made: then buf's
        # write port is otherwise idle (frames are stored in IDLE, variables in RAM)
        self.spikes_write = wiring.Signature({"en": Out(1), "data": Out(8)}).create(path=("sw",))
        self.ptr = Signal(pw)
        self.ptr_next = Signal(pw)
        self.ptr_inc = self.ptr + 1
        self.data = self.read.data          # buf[ptr]
        self.ptr_mode = Signal(3)
        self.fixed_index = Signal(4)
        self.table_byte = Signal(2)         # P_TABLE: the byte of the region's entry

    def follow(self, m):
        """The read address is the pointer's next value."""
        m.d.comb += self.read.addr.eq(self.ptr_next)
        m.d.sync += self.ptr.eq(self.ptr_next)

    def write_port(self, m, k):
        """buf's write port: a variable's new byte (RAM), a spike record's byte, or the frame's."""
        lay, pw, sw = self.layout, self.layout.ptr_bits, self.spikes_write
        ram_write = k.datapath.ram_write
        spk_addr = Cat(k.spikes.length[:lay.spk_bits], Const(lay.spk_base >> lay.spk_bits, pw - lay.spk_bits))
        m.d.comb += [self.write.addr.eq(Mux(ram_write, self.ptr, Mux(sw.en, spk_addr, k.receiver.decoded))),
                     self.write.en.eq(ram_write | k.receiver.store | sw.en),
                     self.write.data.eq(Mux(ram_write, k.datapath.adder[:8],
                                            Mux(sw.en, sw.data, k.link.rx.payload.data)))]

    def read_address(self, m, k, where):
        """buf's next read address, by ptr_mode (and fixed_index for P_FIXED)."""
        lay, pw = self.layout, self.layout.ptr_bits
        high, executor = lay.high, k.executor
        fixed = Array([
            Const(0, pw), Const(P.HEADER_SIZE, pw), Const(P.HEADER_SIZE + P.REGION_ACCESS.size, pw),
            Const(high + where["ones"], pw), Const(high + RAM_PENDING, pw), Const(high + RAM_DROPPED, pw),
            Const(high + RAM_OVERRUNS, pw), Const(high + RAM_UNREPORTED, pw),
            # ring slots: the running STEP's, the next free one
            Cat(Const(0, 2), executor.ring_head, Const((high + RAM_RING) >> 5, pw - 5)),
            Cat(Const(0, 2), (executor.ring_head + 1 + executor.steps_waiting)[:3],
                Const((high + RAM_RING) >> 5, pw - 5)),
            # the Link's counter added to counter 7 (dropped) or 6 (overruns)
            Cat(Const(0, 3), ~executor.word_addr[0], Const(high >> 4, pw - 4)),
            # the SPIKES payload's first record
            Const(lay.spk_base + P.SPIKES.size, pw),
        ])[self.fixed_index]
        assert RAM_RING % 32 == 0 and high % 256 == 0 and (high + TABLE_AT) % 128 == 0
        assert len(executor.ring_head) == 3
        ptr, ptr_next, data = self.ptr, self.ptr_next, self.data
        with m.Switch(self.ptr_mode):
            with m.Case(P_HOLD):
                m.d.comb += ptr_next.eq(ptr)
            with m.Case(P_INC):
                m.d.comb += ptr_next.eq(self.ptr_inc)
            with m.Case(P_RET):
                m.d.comb += ptr_next.eq(k.transmitter.resume)
            with m.Case(P_DATA):
                m.d.comb += ptr_next.eq(data)
            with m.Case(P_HIGH):
                m.d.comb += ptr_next.eq(Cat(data, Const(high >> 8, pw - 8)))
            with m.Case(P_TABLE):
                m.d.comb += ptr_next.eq(Cat(self.table_byte, executor.region,
                                            Const((high + TABLE_AT) >> 7, pw - 7)))
            with m.Case(P_SLOT):
                m.d.comb += ptr_next.eq(Cat(Const(0, 3), k.transmitter.slot(), Const(lay.slot_base >> 8, pw - 8)))
            with m.Case(P_FIXED):
                m.d.comb += ptr_next.eq(fixed)

    def go(self, m, mode, fixed=None):
        """This cycle, buf's next read address by `mode` (P_*), at fixed place `fixed` (A_*)."""
        m.d.comb += self.ptr_mode.eq(mode)
        if fixed is not None:
            m.d.comb += self.fixed_index.eq(fixed)
