"""Board glue (boards.glue): the power-on reset, the UART divisor, and what elaboration writes
for each board (PLL instance, clock constraint, pins), without running any tool."""

import math

import pytest
from amaranth.hdl import ClockDomain, Module, Signal
from amaranth.sim import Simulator

from boards.glue import (BAUD_TOLERANCE, POR_HOLD_S, PowerOnReset, device_options, glue_for, plan_clock,
                         uart_divisor)
from boards.registry import BOARDS, BoardError
from firmware import protocol as P
from firmware.config import CoreConfig

SMALL = CoreConfig(n_neurons=32, n_inputs=32, n_synapses=1024, n_segments=64, n_reverse=512)


def test_power_on_reset_waits_for_lock_then_holds():
    hold = 7
    m = Module()
    m.domains.sync = sync = ClockDomain("sync", reset_less=True)
    locked = Signal()
    m.submodules.por = por = PowerOnReset(sync.clk, locked, hold)
    sim = Simulator(m)
    sim.add_clock(1e-6, domain="sync")
    trace = []

    async def bench(ctx):
        for cycle in range(60):
            # Locked from cycle 10, lost at cycle 40 for 3 cycles.
            ctx.set(locked, 10 <= cycle < 40 or cycle >= 43)
            await ctx.tick()
            trace.append(ctx.get(por.ready))

    sim.add_testbench(bench)
    sim.run()
    first = trace.index(1)
    # Two synchronizer stages, `hold` cycles of counting, one cycle to register `ready`.
    assert first == 10 + 2 + hold
    assert all(trace[first:41])
    assert not any(trace[42:43 + 2 + hold])
    assert trace[43 + 2 + hold]


def test_por_hold_covers_ice40_ram_start_up():
    assert POR_HOLD_S >= 16e-6
    assert math.ceil(POR_HOLD_S * 24e6) >= 384


@pytest.mark.parametrize("clock_hz, baud, divisor", [(24e6, 3_000_000, 8), (12e6, 3_000_000, 4),
                                                     (50e6, 3_000_000, 17), (36e6, 115_200, 312)])
def test_uart_divisor(clock_hz, baud, divisor):
    assert uart_divisor(clock_hz, baud) == divisor


def test_uart_divisor_refuses_a_far_baud_rate():
    # 24 MHz / 2.5 Mbaud = 9.6 -> 10 -> 2.4 Mbaud, 4 % off.
    with pytest.raises(BoardError, match=r"baud rate 2500000 from clock 24 MHz.*4\.00% off"):
        uart_divisor(24e6, 2_500_000)
    with pytest.raises(BoardError, match="at least 4 clock cycles per bit"):
        uart_divisor(24e6, 8_000_000)
    assert BAUD_TOLERANCE == 0.02


def _prepare(board_name, clock_hz):
    board = BOARDS[board_name]
    clock = plan_clock(board, clock_hz)
    platform = board.platform()
    plan = platform.prepare(glue_for(board, SMALL, clock, board.default_baud), name="top")
    return plan.files


def test_icebreaker_elaboration_has_pll_constraint_and_pins():
    files = _prepare("icebreaker", 30e6)
    rtlil, pcf = files["top.il"], files["top.pcf"]
    assert "SB_PLL40_PAD" in rtlil
    assert "parameter \\DIVF 7'1001111" in rtlil and "parameter \\DIVQ 3'101" in rtlil
    assert "set_frequency board_clk 30.0" in pcf
    for pin in ("set_io clk12_0__io 35", "set_io uart_0__rx__io 6", "set_io uart_0__tx__io 9",
                "set_io led_0__io 11", "set_io led_1__io 37"):
        assert pin in pcf


def test_icebreaker_at_12_mhz_has_no_pll():
    files = _prepare("icebreaker", 12e6)
    assert "SB_PLL40_PAD" not in files["top.il"]
    assert "set_frequency board_clk 12.0" in files["top.pcf"]


def test_ulx3s_elaboration_has_pll_constraint_and_pins():
    files = _prepare("ulx3s", 50e6)
    rtlil, lpf = files["top.il"], files["top.lpf"]
    assert "EHXPLLL" in rtlil and "parameter \\CLKOP_DIV 12" in rtlil
    assert 'FREQUENCY NET "board_clk" 50000000.0 HZ;' in lpf
    for site in ('"clk25_0__io" SITE "G2"', '"uart_0__rx__io" SITE "M1"', '"uart_0__tx__io" SITE "L4"',
                 '"led_0__io" SITE "B2"', '"led_1__io" SITE "C2"', '"led_7__io" SITE "H3"'):
        assert f"LOCATE COMP {site};" in lpf


def test_ulx3s_announces_the_protocols_largest_payload():
    """2,048 bytes: a tick's spike record of 4 cores of 2,048 neurons (1,030 bytes) fits one
    SPIKES frame; the iCEBreaker keeps 256."""
    assert device_options(BOARDS["ulx3s"]) == {"max_payload": P.MAX_PAYLOAD, "input_depth": 512}
    assert P.MAX_PAYLOAD == 2048
    P.check_spike_record(CoreConfig(n_neurons=2048, n_inputs=512), 4, BOARDS["ulx3s"].max_payload)
    assert device_options(BOARDS["icebreaker"]) == {"max_payload": 256, "input_depth": 256}
