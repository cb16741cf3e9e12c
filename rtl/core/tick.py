"""Tick control: step N ticks or free-run with a period; an overrun is counted, never hidden."""

from __future__ import annotations

import enum

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt


class Phase(enum.IntEnum):
    IDLE = 0
    CLEAR = 1
    PREPARE = 2
    NEURON = 3
    ROUTE = 4
    LTP = 5
    IMPULSE = 6


class TickController(wiring.Component):
    """Sequences the phases of each tick (spec §2).

    `step` with `step_ticks` > 0 (`step_bits` wide) runs that many ticks; with `freerun` high a tick starts every
    `period` cycles (counted from the start of the previous one), and a tick still running
    when its period ends pulses `overrun` (the next starts as soon as it ends). `clear` runs
    the CLEAR phase and zeroes the tick. Each phase begins with a one-cycle `start` and ends
    when `phase_busy` (the OR of its engines' busy) is low, from the cycle after `start` on.

        step        In    run `step_ticks` ticks
        step_ticks  In    how many (up to 2**step_bits - 1)
        freerun     In    while high, a tick every `period` cycles
        period      In    cycles from tick start to tick start
        clear       In    run CLEAR and zero the tick
        busy        Out   a tick (or CLEAR) under way
        phase       Out   the phase (Phase)
        start       Out   pulse: the phase begins (its engines start)
        phase_busy  In    the phase's engines are busy
        tick        Out   ticks run since the last clear
        slot        Out   the tick's accumulator slot (tick mod max_delay)
        slot_base   Out   slot * n_neurons: the slot's first accumulator
        tick_end    Out   pulse: a tick ends (counted)
        overrun     Out   pulse: a free-run tick outlasted its period (counted)
    """

    def __init__(self, config, step_bits: int = 32):
        self.config = c = config
        self.step_bits = step_bits
        super().__init__({
            "step": In(1), "step_ticks": In(step_bits), "freerun": In(1), "period": In(32), "clear": In(1),
            "busy": Out(1), "phase": Out(3), "start": Out(1), "phase_busy": In(1),
            "tick": Out(32), "slot": Out(fmt.bits_for(c.max_delay)),
            "slot_base": Out(fmt.bits_for(c.max_delay * c.n_neurons) + 1),
            "tick_end": Out(1), "overrun": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.config
        remaining = Signal(self.step_bits)
        # Cycles since the current tick's first cycle (that cycle: 1), up to 2**32, where it
        # stays (above every period; its top bit stops it, cheaper than a test of 32 bits).
        since_start = Signal(33)
        settle = Signal()             # the cycle after `start`: engines raise busy then
        m.d.sync += [settle.eq(self.start), self.start.eq(0),
                     since_start.eq(since_start + ~since_start[32])]
        finished = ~self.start & ~settle & ~self.phase_busy

        def enter(phase):
            m.d.sync += self.start.eq(1)
            m.next = phase.name

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.phase.eq(Phase.IDLE)
                with m.If(self.clear):
                    m.d.sync += [self.tick.eq(0), self.slot.eq(0), self.slot_base.eq(0)]
                    enter(Phase.CLEAR)
                with m.Elif(self.step & (self.step_ticks != 0)):
                    m.d.sync += [remaining.eq(self.step_ticks), since_start.eq(1)]
                    enter(Phase.PREPARE)
                with m.Elif(self.freerun & (since_start >= self.period)):
                    # The tick begins next cycle, `period` cycles after the previous one began.
                    m.d.sync += [remaining.eq(1), since_start.eq(1)]
                    enter(Phase.PREPARE)
            with m.State("CLEAR"):
                m.d.comb += [self.phase.eq(Phase.CLEAR), self.busy.eq(1)]
                with m.If(finished):
                    m.next = "IDLE"
            for phase, following in ((Phase.PREPARE, Phase.NEURON), (Phase.NEURON, Phase.ROUTE),
                                     (Phase.ROUTE, Phase.LTP), (Phase.LTP, Phase.IMPULSE)):
                with m.State(phase.name):
                    m.d.comb += [self.phase.eq(phase), self.busy.eq(1)]
                    with m.If(finished):
                        enter(following)
            with m.State("IMPULSE"):
                m.d.comb += [self.phase.eq(Phase.IMPULSE), self.busy.eq(1)]
                with m.If(finished):
                    last_slot = self.slot == c.max_delay - 1
                    # Late: back in IDLE next cycle is after the next tick's due start.
                    m.d.comb += [self.tick_end.eq(1),
                                 self.overrun.eq(self.freerun & (since_start >= self.period))]
                    m.d.sync += [self.tick.eq(self.tick + 1), remaining.eq(remaining - 1),
                                 self.slot.eq(Mux(last_slot, 0, self.slot + 1)),
                                 self.slot_base.eq(Mux(last_slot, 0, self.slot_base + c.n_neurons))]
                    with m.If(remaining > 1):
                        m.d.sync += since_start.eq(1)
                        enter(Phase.PREPARE)
                    with m.Else():
                        m.next = "IDLE"
        return m
