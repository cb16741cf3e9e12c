"""A one-beat register in a stream (amaranth.lib.stream), to cut a long path between two blocks."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class StreamRegister(wiring.Component):
    """`o` is `i` delayed by one register: a beat taken on `i` is offered on `o` from the next
    cycle. `i.ready` is 1 while the register is empty, so a beat goes through at most every
    other cycle, and nothing combinational passes through: `i.ready`, `o.valid` and
    `o.payload` all come from flip-flops.

        i   In(stream.Signature(payload_shape))    the beats in
        o   Out(stream.Signature(payload_shape))   the same beats, a cycle later or more
    """

    def __init__(self, payload_shape):
        self._payload_shape = payload_shape
        super().__init__({"i": In(stream.Signature(payload_shape)), "o": Out(stream.Signature(payload_shape))})

    def elaborate(self, platform):
        m = Module()
        held = Signal(self._payload_shape, name="held", reset_less=True)
        m.d.comb += [self.i.ready.eq(~self.o.valid), self.o.payload.eq(held)]
        with m.If(~self.o.valid):
            m.d.sync += [self.o.valid.eq(self.i.valid), held.eq(self.i.payload)]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        return m
