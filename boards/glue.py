"""Board glue: DeviceTop on a real board, with its clock, reset, UART and LEDs.

    plan_clock(board, clock_hz) -> ClockPlan      how the `sync` clock is made from the board's
                                                  oscillator: straight from the pad when the
                                                  request equals it, else through the PLL
    uart_divisor(clock_hz, baud) -> int           clock cycles per UART bit; BoardError if the
                                                  rounding puts the baud rate off by more than
                                                  BAUD_TOLERANCE
    ICE40Glue / ECP5Glue(board, config, clock, baud)   the top-level Elaboratable of a build;
                                                  glue_for(board, ...) picks the family's one

The glue defines the `sync` domain itself (amaranth's default one would run at the pad's
frequency): the PLL (SB_PLL40_PAD on the iCE40 fed by the clock pin, EHXPLLL on the ECP5)
clocks it at the achieved frequency, and PowerOnReset holds it in reset until the PLL has
locked and then for POR_HOLD_S more. The iCE40 needs the hold: its block RAMs read as zeroes
for a few microseconds after configuration (amaranth's own iCE40 `sync` holds 15 us for that;
a PLL domain has to do it itself). The `sync` clock gets a timing constraint at the achieved
frequency. DeviceTop's rx/tx go to the board's "uart" resource and its three LEDs to the board
LEDs the registry names (two roles on one LED show as their XOR). DeviceTop gets the board's
device options (`device_options(board)`: max_payload, input_depth).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from amaranth.hdl import ClockDomain, ClockSignal, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import FFSynchronizer

from rtl.link.top import DeviceTop
from rtl.link.uart import MIN_DIVISOR

from .registry import Board, BoardError

BAUD_TOLERANCE = 0.02        # an 8N1 receiver tolerates ~4 % in total, for both ends
POR_HOLD_S = 20e-6           # > 16 us: the iCE40 block RAM start-up time with a margin


@dataclass(frozen=True)
class ClockPlan:
    pad: str                 # the board's clock resource
    pad_hz: float
    requested_hz: float
    achieved_hz: float       # what `sync` really runs at; the design is built for this
    pll: object | None       # boards.pll settings, None when `sync` is the pad clock

    @property
    def clock_hz(self) -> int:
        """The achieved frequency in whole hertz, as DeviceTop takes it."""
        return round(self.achieved_hz)

    def describe(self) -> str:
        if self.pll is None:
            return f"{self.achieved_hz / 1e6:g} MHz straight from {self.pad} (no PLL)"
        return (f"PLL {self.pad_hz / 1e6:g} MHz -> {self.achieved_hz / 1e6:.4f} MHz "
                f"(requested {self.requested_hz / 1e6:g} MHz)")


def plan_clock(board: Board, clock_hz: float) -> ClockPlan:
    platform = board.platform()
    pad, pad_hz = platform.default_clk, platform.default_clk_frequency
    if clock_hz == pad_hz:
        return ClockPlan(pad, pad_hz, clock_hz, pad_hz, None)
    try:
        pll = board.pll(pad_hz, clock_hz)
    except ValueError as error:
        raise BoardError(f"{board.name}: clock {clock_hz / 1e6:g} MHz: {error} (or ask for "
                         f"{pad_hz / 1e6:g} MHz to run from {pad} without the PLL)") from None
    return ClockPlan(pad, pad_hz, clock_hz, pll.f_out_hz, pll)


def uart_divisor(clock_hz: float, baud: int) -> int:
    if not isinstance(baud, int) or baud <= 0:
        raise BoardError(f"baud rate {baud!r} must be a positive integer")
    divisor = round(clock_hz / baud)
    if divisor < MIN_DIVISOR:
        raise BoardError(f"baud rate {baud} needs at least {MIN_DIVISOR} clock cycles per bit; "
                         f"the clock {clock_hz / 1e6:g} MHz gives {clock_hz / baud:.2f}: lower "
                         f"the baud rate or raise the clock")
    actual = clock_hz / divisor
    error = abs(actual - baud) / baud
    if error > BAUD_TOLERANCE:
        raise BoardError(f"baud rate {baud} from clock {clock_hz / 1e6:g} MHz: the nearest divisor "
                         f"{divisor} gives {actual:.0f} baud, {error:.2%} off (more than "
                         f"{BAUD_TOLERANCE:.0%}); choose a clock that is a multiple of the baud "
                         f"rate")
    return divisor


def device_options(board: Board) -> dict:
    """DeviceTop's keyword arguments that the board sets (besides clock, divisor, memories):
    the same for the bitstream and the simulated board."""
    return {"max_payload": board.max_payload, "input_depth": board.input_depth}


class PowerOnReset(Elaboratable):
    """`ready` rises `hold_cycles` cycles of `clk` after `locked` rose; it falls with `locked`.
    Its counter is in a reset-less domain: the flip-flops start at 0 when the FPGA configures."""

    def __init__(self, clk: Signal, locked, hold_cycles: int):
        self.clk, self.locked, self.hold_cycles = clk, locked, hold_cycles
        self.ready = Signal()

    def elaborate(self, platform):
        m = Module()
        m.domains.por = ClockDomain("por", reset_less=True, local=True)
        m.d.comb += ClockSignal("por").eq(self.clk)
        # LOCK is not synchronous to the PLL output.
        locked = Signal()
        m.submodules.lock_sync = FFSynchronizer(self.locked, locked, o_domain="por")
        timer = Signal(range(self.hold_cycles + 1))
        with m.If(~locked):
            m.d.por += [timer.eq(0), self.ready.eq(0)]
        with m.Elif(timer == self.hold_cycles):
            m.d.por += self.ready.eq(1)
        with m.Else():
            m.d.por += timer.eq(timer + 1)
        return m


class BoardGlue(Elaboratable):
    """DeviceTop, clock, reset and pins; a family subclass supplies `pll(m, platform, pad)`."""

    def __init__(self, board: Board, config, clock: ClockPlan, baud: int, memories=None, cores: int = 1):
        self.board, self.config, self.clock, self.baud, self.cores = board, config, clock, baud, cores
        self.divisor = uart_divisor(clock.achieved_hz, baud)
        self.memories = board.memories() if memories is None else memories

    def pll(self, m: Module, platform, pad) -> tuple[Signal, object]:
        """Instantiate the PLL fed by `pad` (the clock resource, requested with dir="-");
        return its output clock and its lock indication."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        pad = platform.request(self.clock.pad, dir="-")
        if self.clock.pll is None:
            m.submodules.clk_buf = clk_buf = io.Buffer("i", pad)
            source, locked = clk_buf.i, Const(1)
        else:
            source, locked = self.pll(m, platform, pad)
        # The constraint goes on a net named in this (the top) module only: synthesis keeps
        # top-level names, and amaranth names a signal after the last module that uses it.
        board_clk = Signal()
        platform.add_clock_constraint(board_clk, self.clock.achieved_hz)
        m.domains.sync = sync = ClockDomain("sync")
        hold_cycles = math.ceil(POR_HOLD_S * self.clock.achieved_hz)
        m.submodules.por = por = PowerOnReset(sync.clk, locked, hold_cycles)
        m.d.comb += [board_clk.eq(source), sync.clk.eq(board_clk), sync.rst.eq(~por.ready)]

        m.submodules.device = device = DeviceTop(self.config, divisor=self.divisor,
                                                 clock_hz=self.clock.clock_hz,
                                                 memories=self.memories, cores=self.cores,
                                                 **device_options(self.board))
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [device.rx.eq(rx.i), tx.o.eq(device.tx)]

        roles_per_led: dict[tuple[str, int], list[str]] = {}
        for role, led in self.board.leds.items():
            roles_per_led.setdefault(led, []).append(role)
        for (name, number), roles in roles_per_led.items():
            m.submodules[f"{name}_{number}"] = buffer = io.Buffer(
                "o", platform.request(name, number, dir="-"))
            shown = getattr(device, roles[0])
            for role in roles[1:]:
                shown = shown ^ getattr(device, role)
            m.d.comb += buffer.o.eq(shown)
        return m


class ICE40Glue(BoardGlue):
    def pll(self, m, platform, pad):
        settings = self.clock.pll
        clk, locked = Signal(), Signal()
        # SB_PLL40_PAD takes the clock pin itself (PACKAGEPIN), so no input buffer on it.
        m.submodules.pll = Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE",
            # Bit-vector parameters of the primitive's widths, as icepll writes them.
            p_DIVR=Const(settings.divr, 4), p_DIVF=Const(settings.divf, 7),
            p_DIVQ=Const(settings.divq, 3), p_FILTER_RANGE=Const(settings.filter_range, 3),
            i_PACKAGEPIN=pad.io, i_RESETB=1, i_BYPASS=0,
            o_PLLOUTGLOBAL=clk, o_LOCK=locked)
        return clk, locked


class ECP5Glue(BoardGlue):
    def pll(self, m, platform, pad):
        settings = self.clock.pll
        m.submodules.clk_buf = clk_buf = io.Buffer("i", pad)
        clk, locked = Signal(), Signal()
        m.submodules.pll = Instance(
            "EHXPLLL",
            # The loop-filter attributes that ecppll and Diamond give the EHXPLLL.
            a_FREQUENCY_PIN_CLKI=f"{settings.f_in_hz / 1e6:g}",
            a_FREQUENCY_PIN_CLKOP=f"{settings.f_out_hz / 1e6:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
            a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
            p_CLKOP_ENABLE="ENABLED", p_FEEDBK_PATH="CLKOP",
            p_CLKI_DIV=settings.clki_div, p_CLKFB_DIV=settings.clkfb_div,
            p_CLKOP_DIV=settings.clkop_div, p_CLKOP_CPHASE=settings.clkop_cphase,
            p_CLKOP_FPHASE=0,
            i_CLKI=clk_buf.i, i_CLKFB=clk, i_RST=0, i_STDBY=0,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0,
            o_CLKOP=clk, o_LOCK=locked)
        return clk, locked


GLUE = {"ice40": ICE40Glue, "ecp5": ECP5Glue}


def glue_for(board: Board, config, clock: ClockPlan, baud: int, memories=None, cores: int = 1) -> BoardGlue:
    return GLUE[board.family](board, config, clock, baud, memories, cores)
