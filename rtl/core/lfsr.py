"""The stochastic-rounding LFSR of spec §6.4: 32-bit Galois, shifting right, one step per draw."""

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt


def lfsr_step(state):
    """The state after one step: (s >> 1) ^ taps if s is odd, else s >> 1."""
    return Mux(state[0], (state >> 1) ^ fmt.LFSR_TAPS, state >> 1)[:fmt.LFSR_BITS]


class LFSR(wiring.Component):
    """`draw` is the next value; asserting `step` makes it the state (one draw per weight
    update, in the order of spec §2). `load` sets the state to `value` (reset, seeding).

        state   Out   the LFSR's state
        draw    Out   the next state (the draw)
        step    In    the draw becomes the state
        load    In    `value` becomes the state (over `step`)
        value   In    the state to load
    """

    state: Out(fmt.LFSR_BITS, init=fmt.LFSR_DEFAULT_SEED)
    draw: Out(fmt.LFSR_BITS)
    step: In(1)
    load: In(1)
    value: In(fmt.LFSR_BITS)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.draw.eq(lfsr_step(self.state))
        with m.If(self.load):
            m.d.sync += self.state.eq(self.value)
        with m.Elif(self.step):
            m.d.sync += self.state.eq(self.draw)
        return m
