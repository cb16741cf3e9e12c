"""UART, 8N1, for the host link: `UARTRx` and `UARTTx`, `divisor` clock cycles per bit.

The iCEBreaker's FT2232H gives the FPGA RX and TX only, no flow control. So the receiver has
no `ready`: it delivers each byte as a one-cycle pulse and whatever takes its bytes must
accept one every 10 * divisor cycles (or put a FIFO behind it). The transmitter takes bytes
through a stream with backpressure and sends them back to back.

`divisor` is a constructor parameter (an int >= 4): core clock / baud rate, rounded to the
nearest integer, e.g. 24 MHz / 3 Mbaud = 8, 36 MHz / 3 Mbaud = 12, 30 MHz / 1 Mbaud = 30.
The rounding error adds to the baud mismatch the receiver must tolerate (see `UARTRx`).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import cdc, stream, wiring
from amaranth.lib.wiring import In, Out

from ..lib.ports import flow_signature

MIN_DIVISOR = 4
DATA_BITS = 8
FRAME_BITS = 1 + DATA_BITS + 1           # start, 8 data bits LSB first, stop


def _checked_divisor(cls: str, divisor) -> int:
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < MIN_DIVISOR:
        raise ValueError(f"{cls}: divisor is {divisor!r}, it must be an int >= {MIN_DIVISOR} "
                         f"(clock cycles per bit)")
    return divisor


class UARTRx(wiring.Component):
    """UART receiver, 8N1, `divisor` clock cycles per bit.

    Ports:
      rx         In(1), idle high: the serial line, asynchronous (a 2-flop synchronizer is
                 inside; its 2 cycles of latency are the same for every bit).
      o.valid    Out(1): a one-cycle pulse per byte received with a good stop bit ...
      o.payload  Out(8): ... the byte (held until the next byte).
      error      Out(1): a one-cycle pulse instead of `o.valid` when the stop bit is 0
                 (framing error, or a break); that byte is dropped and reception goes on.
    No backpressure: a consumer that is not ready loses the byte. Pulses come at least
    at least 9 * divisor cycles apart.

    Timing: a start is a 0 on the synchronized line after the line was seen high while idle
    or during the previous stop bit (so a break gives one framing error, not a stream of
    zero bytes, and the receiver starts again at the first falling edge after it). Each bit
    is decided by a majority of three samples: the one at the bit's centre ((divisor - 1) // 2
    cycles after the start edge was seen, then every `divisor` cycles) and the cycles either
    side; a start bit that reads 1 there is a glitch and is ignored. The receiver is idle
    again 2 cycles after the stop bit's centre, ready for the next start edge.
    Tolerance of the sender's baud rate (back-to-back bytes, any phase, measured with the
    line model of tests/rtl/link/test_uart.py): +-2.5 % at divisor 4, -3.5/+4 % at 8, +-4 % at 12,
    +-4.5 % at 36.
    Nothing wedges it: every state returns to idle within 10 bits, whatever the line does.
    """

    def __init__(self, divisor: int):
        self.divisor = _checked_divisor("UARTRx", divisor)
        super().__init__({
            "rx": In(1, init=1),
            "o": Out(flow_signature(8)),
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        sync = m.d.sync
        divisor = self.divisor

        line = Signal(init=1)
        m.submodules.synchronizer = cdc.FFSynchronizer(self.rx, line, init=1, stages=2)
        # The line one and two cycles ago: a bit is the majority of these and the line now.
        line_1 = Signal(init=1)
        line_2 = Signal(init=1)
        sync += [line_1.eq(line), line_2.eq(line_1)]
        vote = (line & line_1) | (line & line_2) | (line_1 & line_2)

        armed = Signal()                      # the line was high since the last start
        count = Signal(range(divisor))        # cycles to the next decision
        bit = Signal(range(DATA_BITS))
        shift = Signal(DATA_BITS)
        decide = count == 0

        sync += [self.o.valid.eq(0), self.error.eq(0)]
        with m.If(~decide):
            sync += count.eq(count - 1)
        with m.Else():
            sync += count.eq(divisor - 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(line):
                    sync += armed.eq(1)
                with m.Elif(armed):
                    # count reaches 0 in the cycle after the start bit's centre sample
                    sync += [armed.eq(0), count.eq((divisor - 1) // 2), bit.eq(0)]
                    m.next = "START"
            with m.State("START"):
                with m.If(decide):
                    with m.If(vote):           # a glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(decide):
                    sync += [shift.eq(Cat(shift[1:], vote)), bit.eq(bit + 1)]
                    with m.If(bit == DATA_BITS - 1):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(line):
                    sync += armed.eq(1)
                with m.If(decide):
                    with m.If(vote):
                        sync += [self.o.valid.eq(1), self.o.payload.eq(shift)]
                    with m.Else():
                        sync += [self.error.eq(1), armed.eq(0)]
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """UART transmitter, 8N1, `divisor` clock cycles per bit.

    Ports:
      i.valid, i.payload (8), i.ready: a byte stream (amaranth.lib.stream rules: a byte
                 moves in a cycle where valid and ready are both 1; ready does not depend on
                 valid). ready is 1 while idle and in the last cycle of a stop bit, so bytes
                 offered back to back go out with no idle time between them (exactly
                 10 * divisor cycles per byte).
      tx         Out(1), idle high: the serial line, straight from a register.
    The start bit begins in the cycle after the byte is taken.
    """

    def __init__(self, divisor: int):
        self.divisor = _checked_divisor("UARTTx", divisor)
        super().__init__({
            "i": In(stream.Signature(8)),
            "tx": Out(1, init=1),
        })

    def elaborate(self, platform):
        m = Module()
        sync = m.d.sync
        divisor = self.divisor

        shift = Signal(FRAME_BITS, init=(1 << FRAME_BITS) - 1)   # LSB on the line; 1s when idle
        bits_left = Signal(range(FRAME_BITS + 1))
        count = Signal(range(divisor))
        bit_ends = count == 0

        m.d.comb += [
            self.tx.eq(shift[0]),
            self.i.ready.eq((bits_left == 0) | ((bits_left == 1) & bit_ends)),
        ]
        with m.If(self.i.valid & self.i.ready):
            sync += [
                shift.eq(Cat(Const(0, 1), self.i.payload, Const(1, 1))),
                bits_left.eq(FRAME_BITS),
                count.eq(divisor - 1),
            ]
        with m.Elif(bits_left != 0):
            with m.If(bit_ends):
                sync += [shift.eq(Cat(shift[1:], Const(1, 1))), bits_left.eq(bits_left - 1),
                         count.eq(divisor - 1)]
            with m.Else():
                sync += count.eq(count - 1)
        return m
