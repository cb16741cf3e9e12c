# amaranth: UnusedElaboratable=no
"""rtl.link.uart: TX -> RX loopback, the transmitter's waveform, and the receiver against a
bit-level line model (baud off by +-2 %, framing errors, breaks, glitches, garbage).

The line model is a function of real time (in clock periods); the receiver sees it at each
clock edge, at a random phase, which is all an asynchronous line looks like to a clocked
design (metastability aside: that is the synchronizer's business).
"""

import re

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Elaboratable, Module
from amaranth.sim import Simulator

from rtl.link.uart import UARTRx, UARTTx


def simulate(dut, testbench):
    sim = Simulator(dut)
    sim.add_clock(1e-7)
    sim.add_testbench(testbench)
    sim.run()


# --- line model ---------------------------------------------------------------------------


class Line:
    """A serial line as a list of (time, level) transitions, time in clock periods."""

    def __init__(self):
        self.times, self.levels = [0.0], [1]
        self.t = 0.0

    def hold(self, level, duration):
        if level != self.levels[-1]:
            self.times.append(self.t)
            self.levels.append(level)
        self.t += duration

    def byte(self, value, bit_time, stop=1):
        for level in [0] + [(value >> k) & 1 for k in range(8)] + [stop]:
            self.hold(level, bit_time)

    def sample(self, phase):
        """Levels at the clock edges: cycle c sees the line at time c + phase."""
        n = int(np.ceil(self.t)) + 1
        at = np.arange(n) + phase
        index = np.searchsorted(np.array(self.times), at, side="right") - 1
        return np.array(self.levels)[index]


def run_rx(divisor, levels, tail_cycles=None):
    """Drive rx with levels[c] in cycle c; return the receiver's events [(cycle, byte or
    'error')] in the order they came out."""
    dut = UARTRx(divisor)
    events = []
    tail = 12 * divisor if tail_cycles is None else tail_cycles

    async def testbench(ctx):
        for cycle in range(len(levels) + tail):
            ctx.set(dut.rx, int(levels[cycle]) if cycle < len(levels) else 1)
            await ctx.tick()
            valid, error = ctx.get(dut.o.valid), ctx.get(dut.error)
            assert not (valid and error)
            if valid:
                events.append((cycle, ctx.get(dut.o.payload)))
            if error:
                events.append((cycle, "error"))

    simulate(dut, testbench)
    return events


# --- loopback and the transmitter's waveform ------------------------------------------------


class Loopback(Elaboratable):
    def __init__(self, divisor):
        self.tx, self.rx = UARTTx(divisor), UARTRx(divisor)

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx, m.submodules.rx = self.tx, self.rx
        m.d.comb += self.rx.rx.eq(self.tx.tx)
        return m


@pytest.mark.parametrize("divisor", [4, 5, 8, 12, 13, 36])
def test_loopback(divisor):
    """Random bytes, half of them offered back to back, the rest after random idle time;
    the receiver gets them all, and the line carries exactly 8N1 at `divisor` cycles per bit."""
    rng = np.random.default_rng(divisor)
    n = 200 if divisor < 20 else 60
    values = rng.integers(0, 256, size=n).tolist()
    gaps = [0 if rng.random() < 0.5 else int(rng.integers(1, 3 * divisor)) for _ in range(n)]
    dut = Loopback(divisor)
    accepted, line, received = [], [], []

    async def testbench(ctx):
        cycle = 0

        async def step():
            nonlocal cycle
            line.append(ctx.get(dut.tx.tx))
            await ctx.tick()
            cycle += 1
            if ctx.get(dut.rx.o.valid):
                received.append(ctx.get(dut.rx.o.payload))
            assert not ctx.get(dut.rx.error)

        for value, gap in zip(values, gaps):
            ctx.set(dut.tx.i.valid, 0)
            for _ in range(gap):
                await step()
            ctx.set(dut.tx.i.valid, 1)
            ctx.set(dut.tx.i.payload, value)
            while not ctx.get(dut.tx.i.ready):
                await step()
            accepted.append(cycle)
            await step()
        ctx.set(dut.tx.i.valid, 0)
        for _ in range(12 * divisor):
            await step()

    simulate(dut, testbench)
    assert received == values
    # Waveform: the frame of the byte taken in cycle a occupies cycles a + 1 .. a + 10 * divisor.
    line = np.array(line)
    assert np.all(line[:accepted[0] + 1] == 1)
    for a, value, gap in zip(accepted, values, gaps):
        bits = [0] + [(value >> k) & 1 for k in range(8)] + [1]
        want = np.repeat(bits, divisor)
        assert np.array_equal(line[a + 1:a + 1 + want.size], want), f"byte {value:#04x} at {a}"
    back_to_back = [b - a for a, b, gap in zip(accepted, accepted[1:], gaps[1:]) if gap == 0]
    assert back_to_back and set(back_to_back) == {10 * divisor}
    assert np.all(line[accepted[-1] + 1 + 10 * divisor:] == 1)


# --- receiver against the line model ----------------------------------------------------------


@pytest.mark.parametrize("divisor", [4, 8, 12, 36])
@pytest.mark.parametrize("error", [-0.02, 0.02])
def test_rx_off_baud(divisor, error):
    """The sender's bit time is divisor * (1 + error); bytes back to back or with short gaps."""
    rng = np.random.default_rng([divisor, int(error * 100) + 10])
    bit_time = divisor * (1 + error)
    for phase in rng.random(4):
        values = rng.integers(0, 256, size=100 if divisor < 20 else 30).tolist()
        values[:4] = [0x00, 0xFF, 0x55, 0xAA]
        line = Line()
        line.hold(1, 3 * divisor)
        for value in values:
            if rng.random() < 0.5:
                line.hold(1, rng.uniform(0, 2) * bit_time)
            line.byte(value, bit_time)
        events = run_rx(divisor, line.sample(phase))
        assert [value for _, value in events] == values, f"phase {phase}"


@pytest.mark.parametrize("divisor", [4, 8, 13])
def test_framing_error_then_next_byte(divisor):
    """A byte whose stop bit is 0 gives one error pulse and no byte; the next byte (after one
    bit time of idle line) is received."""
    rng = np.random.default_rng(divisor)
    line = Line()
    line.hold(1, 2 * divisor)
    expected = []
    for _ in range(6):
        bad, good = (int(x) for x in rng.integers(0, 256, size=2))
        line.byte(bad, divisor, stop=0)
        line.hold(1, divisor)
        line.byte(good, divisor)
        expected += ["error", good]
    events = run_rx(divisor, line.sample(rng.random()))
    assert [value for _, value in events] == expected


@pytest.mark.parametrize("divisor", [4, 8])
def test_break_then_byte(divisor):
    """A break (line low for 50 bit times) is one framing error; the receiver then waits for
    the line to go high and receives the next byte."""
    rng = np.random.default_rng(5)
    line = Line()
    line.hold(1, 2 * divisor)
    line.byte(0x3C, divisor)
    line.hold(0, 50 * divisor)
    line.hold(1, 1.5 * divisor)
    line.byte(0xA5, divisor)
    line.hold(0, 23.3 * divisor)                 # a break that ends mid-bit
    line.hold(1, 0.7 * divisor)
    line.byte(0x5A, divisor)
    events = run_rx(divisor, line.sample(rng.random()))
    assert [value for _, value in events] == [0x3C, "error", 0xA5, "error", 0x5A]


@pytest.mark.parametrize("divisor", [5, 8, 12])
def test_glitches_are_ignored(divisor):
    """A low pulse shorter than a third of a bit is not a start bit."""
    rng = np.random.default_rng(divisor)
    line = Line()
    line.hold(1, 2 * divisor)
    for width in range(1, max(2, divisor // 3)):
        line.hold(0, width)
        line.hold(1, 12 * divisor)
    line.byte(0x81, divisor)
    events = run_rx(divisor, line.sample(rng.random()))
    assert [value for _, value in events] == [0x81]


def test_garbage_then_bytes():
    """150 trials in one run: random line levels (any durations, up to 30 bit times), then
    11 bit times of idle line, then two bytes: exactly those two bytes come out for them,
    and nothing comes out between the end of the idle time and them."""
    divisor = 8
    rng = np.random.default_rng(11)
    line = Line()
    line.hold(1, 2 * divisor)
    windows = []
    for _ in range(150):
        end = line.t + rng.uniform(0, 30) * divisor
        while line.t < end:
            line.hold(int(rng.integers(2)), min(end - line.t, rng.uniform(0.2, 3 * divisor)))
        line.hold(0, rng.uniform(0, 2) * divisor)           # garbage ending low, sometimes
        line.hold(1, 11 * divisor)
        start = line.t
        values = [int(x) for x in rng.integers(0, 256, size=2)]
        line.byte(values[0], divisor)
        line.byte(values[1], divisor)
        windows.append((start - divisor, line.t + divisor, values))
    events = run_rx(divisor, line.sample(rng.random()))
    for lo, hi, values in windows:
        inside = [value for cycle, value in events if lo <= cycle < hi]
        assert inside == values, f"window {lo:.0f}..{hi:.0f}"


def test_divisor_is_checked():
    for bad in (3, 0, 8.0, True, None):
        with pytest.raises(ValueError, match="must be an int >= 4"):
            UARTRx(bad)
        with pytest.raises(ValueError, match="must be an int >= 4"):
            UARTTx(bad)


def test_converts_to_verilog():
    text = verilog.convert(UARTRx(8), name="uart_rx")
    assert re.search(r"^module uart_rx\(", text, re.M)
    for port in ("input rx", "output o__valid", "output [7:0] o__payload", "output error"):
        assert port in text, f"no '{port}' in the Verilog"
    text = verilog.convert(UARTTx(8), name="uart_tx")
    assert re.search(r"^module uart_tx\(", text, re.M)
    for port in ("input i__valid", "output i__ready", "input [7:0] i__payload", "output tx"):
        assert port in text, f"no '{port}' in the Verilog"
