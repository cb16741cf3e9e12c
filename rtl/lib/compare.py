"""Comparisons with a constant, built as logic instead of a carry chain.

yosys maps `x < c` to a subtraction whose carry chain is as long as x, one iCE40 logic cell a
bit plus one to bring the result out, even when c is a constant: `fifo_axon < 256` on a 15-bit
value costs 16 logic cells. As logic, x < c is a small AND-OR of x's bits (for c = 256 only
"the bits from 8 up are zero"), which abc packs into a few LUTs. The design is close to the
iCE40UP5K's 5,280 logic cells, so its comparisons with constants use these; comparisons of two
signals stay `<`.
"""

from __future__ import annotations

from amaranth.hdl import Const, Value


def _below(bits, limit: int):
    """bits (unsigned, LSB first) < limit, for 0 < limit < 2**len(bits): from the top bit down,
    a 1 in the limit where x has 0 decides 'below'; a 0 in the limit where x has 1 decides 'not'.
    One term a bit. A form by halves (`below_hi | equal_hi & below_lo`, `equal_hi & equal_lo`)
    is shallower but wrote 2.6 times the Verilog at 32 bits (Amaranth writes a shared term once
    per use), and Verilator's compile time follows the Verilog."""
    result = Const(0, 1)                            # equal so far: not below
    for i in range(len(bits)):                      # LSB up, so the top bit is outermost
        if (limit >> i) & 1:
            result = ~bits[i] | result
        else:
            result = ~bits[i] & result
    return result


def less_than(x: Value, limit: int) -> Value:
    """`x < limit` for a constant `limit`, as logic; x's signedness counts as in `x < limit`."""
    x = Value.cast(x)
    width, signed = len(x), x.shape().signed
    if signed:                                      # offset both by 2**(width-1): unsigned order
        low, high = -(1 << (width - 1)), 1 << (width - 1)
        bits, offset = x.as_unsigned() ^ (1 << (width - 1)), 1 << (width - 1)
    else:
        low, high = 0, 1 << width
        bits, offset = x, 0
    if limit <= low:
        return Const(0, 1)
    if limit >= high:
        return Const(1, 1)
    return _below(bits, limit + offset)


def greater_than(x: Value, limit: int) -> Value:
    """`x > limit` for a constant `limit`, as logic (x > limit exactly when not x < limit + 1)."""
    return ~less_than(x, limit + 1)
