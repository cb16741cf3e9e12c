"""Host input axons of a tick (spec §5.1): from the input FIFO into the tick's event list."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt

from ..lib.compare import less_than
from ..lib.ports import done_when_idle


class InputStage(wiring.Component):
    """`start` takes one tick's group from the input FIFO: axons up to and including the next
    tick-end entry (or until the FIFO is empty). Each axon that is in range and above the
    previous one of the group is appended (`append_valid`, `append_axon`); any other is dropped
    (`dropped`). A tick-end entry whose `fifo_repeat` is k > 0 ends k + 1 ticks: it stays at the
    head for k more ticks (which take no axons) and is popped at the last. `consumed` pulses for
    every entry popped (the protocol's credits, docs/protocol.md).

        start          In    pulse: take the tick's group
        done           Out   pulse: the group is taken
        busy           Out   taking it
        fifo_axon      In    the input FIFO's head: an axon ...
        fifo_repeat    In    ... or, a tick end, its repeat count
        fifo_tick_end  In    the head is a tick end
        fifo_rdy       In    the FIFO has a head
        fifo_en        Out   pop the head
        append_valid   Out   append `append_axon` to the event list
        append_axon    Out   the axon appended
        dropped        Out   pulse: an axon out of order or out of range dropped
        consumed       Out   pulse: an entry popped
    """

    def __init__(self, config):
        self.config = config
        ab = fmt.bits_for(config.n_inputs)
        super().__init__({
            "start": In(1), "done": Out(1), "busy": Out(1),
            "fifo_axon": In(15), "fifo_repeat": In(15), "fifo_tick_end": In(1), "fifo_rdy": In(1),
            "fifo_en": Out(1),
            "append_valid": Out(1), "append_axon": Out(ab), "dropped": Out(1), "consumed": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        running = Signal()
        previous = Signal(len(self.fifo_axon) + 1)      # previous axon + 1; 0 before the first
        used = Signal(15)                               # tick ends taken from the head entry
        with m.If(self.start):
            m.d.sync += [running.eq(1), previous.eq(0)]
        with m.If(running):
            with m.If(~self.fifo_rdy):
                m.d.sync += running.eq(0)
            with m.Elif(self.fifo_tick_end):
                m.d.sync += running.eq(0)
                with m.If(used < self.fifo_repeat):
                    m.d.sync += used.eq(used + 1)
                with m.Else():
                    m.d.comb += [self.fifo_en.eq(1), self.consumed.eq(1)]
                    m.d.sync += used.eq(0)
            with m.Else():
                m.d.comb += [self.fifo_en.eq(1), self.consumed.eq(1)]
                with m.If(less_than(self.fifo_axon, self.config.n_inputs) & (self.fifo_axon >= previous)):
                    m.d.comb += [self.append_valid.eq(1), self.append_axon.eq(self.fifo_axon[:len(self.append_axon)])]
                    m.d.sync += previous.eq(self.fifo_axon + 1)
                with m.Else():
                    m.d.comb += self.dropped.eq(1)
        m.d.comb += self.busy.eq(running)
        done_when_idle(m, self.busy, self.done)
        return m
