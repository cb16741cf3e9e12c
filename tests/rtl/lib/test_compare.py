"""rtl.lib.compare against Python's integer order: every value of small signals, every constant
around their range, signed and unsigned; and the point of it, no carry chain in yosys's map."""

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from rtl.lib.compare import greater_than, less_than


@pytest.mark.parametrize("shape", [unsigned(1), unsigned(3), unsigned(5), signed(1), signed(3), signed(5)],
                         ids=str)
def test_orders_like_python(shape):
    x = Signal(shape)
    width = shape.width
    low, high = (-(1 << (width - 1)), 1 << (width - 1)) if shape.signed else (0, 1 << width)
    limits = range(low - 2, high + 2)
    m = Module()
    below = {c: Signal(name=f"below_{c - low + 2}") for c in limits}
    above = {c: Signal(name=f"above_{c - low + 2}") for c in limits}
    for c in limits:
        m.d.comb += [below[c].eq(less_than(x, c)), above[c].eq(greater_than(x, c))]
    wrong = []

    async def testbench(ctx):
        for value in range(low, high):
            ctx.set(x, value)
            for c in limits:
                if (ctx.get(below[c]), ctx.get(above[c])) != (int(value < c), int(value > c)):
                    wrong.append((value, c, ctx.get(below[c]), ctx.get(above[c])))

    sim = Simulator(m)
    sim.add_testbench(testbench)
    sim.run()
    assert wrong == []


def test_no_subtraction_is_left_for_yosys():
    # `<` with a constant elaborates to an RTLIL $lt cell, which yosys maps to a carry chain;
    # less_than leaves only bit logic.
    x = Signal(15)
    m = Module()
    out = Signal(2)
    m.d.comb += out.eq(less_than(x, 256) | (greater_than(x, 1000) << 1))
    text = rtlil.convert(m, ports=[x, out])
    assert "$lt" not in text and "$gt" not in text and "$ge" not in text and "$sub" not in text
    m2 = Module()
    m2.d.comb += out.eq(x < 256)
    assert "$lt" in rtlil.convert(m2, ports=[x, out])


def _verilog_assigns(width):
    from amaranth.back import verilog
    x = Signal(width)
    out = Signal()
    m = Module()
    m.d.comb += out.eq(less_than(x, 0xA6C95A69 & ((1 << width) - 1)))
    return verilog.convert(m, ports=[x, out]).count("assign")


@pytest.mark.parametrize("width", [8, 16, 32])
def test_one_term_per_bit(width):
    # A chain from the top bit down: one inverter and one and/or a bit. The form by halves
    # (below_hi | equal_hi & below_lo) wrote 2.6 times as much Verilog at 32 bits, and every
    # wire costs Verilator compile time in each core test build.
    assert _verilog_assigns(width) <= 2 * width
