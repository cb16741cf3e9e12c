"""rtl.core.tick.TickController alone, with fake engines driving phase_busy: the phase sequence of
spec §2, step N ticks, free-run period and overruns, clear, slot / slot_base wrap at max_delay."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from firmware import CoreConfig
from rtl.core.tick import Phase, TickController

TICK_PHASES = [Phase.PREPARE, Phase.NEURON, Phase.ROUTE, Phase.LTP, Phase.IMPULSE]


def config(max_delay, n_neurons=10):
    return CoreConfig(n_neurons=n_neurons, n_inputs=4, n_synapses=8, n_segments=4, n_reverse=4,
                      n_profiles=2, max_delay=max_delay)


def simulate(cfg, script, busy_cycles, cycles):
    """Run `cycles` cycles. `script(cycle)` returns the inputs to drive in that cycle (dict);
    a fake engine answers each `start` with phase_busy high for busy_cycles(phase, n) cycles
    from the next cycle on (n counts the starts). Returns a per-cycle log."""
    dut = TickController(cfg)
    log = []

    async def bench(ctx):
        countdown, n = 0, 0
        for cycle in range(cycles):
            for name, value in script(cycle).items():
                ctx.set(getattr(dut, name), value)
            busy_in = countdown > 0
            ctx.set(dut.phase_busy, int(busy_in))
            countdown = max(0, countdown - 1)
            row = {name: ctx.get(getattr(dut, name)) for name in
                   ("phase", "start", "busy", "tick", "slot", "slot_base", "tick_end", "overrun")}
            row["phase_busy"] = busy_in
            row["cycle"] = cycle
            log.append(row)
            if row["start"]:
                countdown = busy_cycles(Phase(row["phase"]), n)
                n += 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return log


def starts(log):
    return [(r["cycle"], Phase(r["phase"])) for r in log if r["start"]]


def check_sequencing(log, expected_phases):
    """Phases start in the expected order; a phase keeps `phase` while its engine is busy; the
    next phase starts only after the engine's busy fell, within 3 cycles."""
    s = starts(log)
    assert [p for _, p in s] == expected_phases
    for (c0, p0), (c1, _) in zip(s, s[1:] + [(None, None)]):
        end = c0 + 1
        while end < len(log) and log[end]["phase_busy"]:
            assert log[end]["phase"] == p0, f"cycle {end}: phase changed while {p0.name} busy"
            end += 1
        if c1 is not None and p0 != Phase.IMPULSE:
            assert end <= c1 <= end + 3, f"{p0.name} busy until {end}, next start at {c1}"


@pytest.mark.parametrize("max_delay, n_neurons", [(1, 10), (3, 10), (4, 300)])
def test_step_n_ticks_phases_and_slots(max_delay, n_neurons):
    cfg = config(max_delay, n_neurons)
    rng = np.random.default_rng(max_delay)
    durations = rng.integers(0, 7, 200)
    n_ticks = 2 * max_delay + 3

    def script(cycle):
        return {"step": int(cycle == 2), "step_ticks": n_ticks}

    log = simulate(cfg, script, lambda phase, n: int(durations[n]), 400)
    check_sequencing(log, TICK_PHASES * n_ticks)
    s = starts(log)
    # slot and slot_base of each tick, in every phase of it
    for k in range(n_ticks):
        for cycle, phase in s[5 * k:5 * k + 5]:
            row = log[cycle]
            assert row["tick"] == k and row["slot"] == k % max_delay, (k, phase, row)
            assert row["slot_base"] == (k % max_delay) * n_neurons, (k, phase, row)
    ends = [r for r in log if r["tick_end"]]
    assert len(ends) == n_ticks and all(Phase(r["phase"]) == Phase.IMPULSE for r in ends)
    first, last = s[0][0], ends[-1]["cycle"]
    assert first == 3                                          # the cycle after `step`
    assert all(r["busy"] for r in log[first:last + 1])
    assert not any(r["busy"] or r["start"] for r in log[last + 1:])
    assert log[-1]["tick"] == n_ticks and log[-1]["slot"] == n_ticks % max_delay
    assert log[-1]["slot_base"] == (n_ticks % max_delay) * n_neurons
    assert not any(r["overrun"] for r in log)


def test_step_zero_ticks_does_nothing():
    log = simulate(config(2), lambda c: {"step": 1, "step_ticks": 0}, lambda p, n: 3, 30)
    assert not any(r["start"] or r["busy"] for r in log) and log[-1]["tick"] == 0


def test_a_second_step_continues_the_tick_count_and_slots():
    cfg = config(3)

    def script(cycle):
        return {"step": int(cycle in (1, 100)), "step_ticks": 2 if cycle < 50 else 4}

    log = simulate(cfg, script, lambda p, n: 1, 200)
    ends = [r["tick"] for r in log if r["tick_end"]]
    assert ends == [0, 1, 2, 3, 4, 5]
    assert log[-1]["tick"] == 6 and log[-1]["slot"] == 0 and log[-1]["slot_base"] == 0


def test_clear_runs_the_clear_phase_and_zeroes_tick_and_slots():
    cfg = config(4)

    def script(cycle):
        return {"step": int(cycle == 1), "step_ticks": 3, "clear": int(cycle in (80, 120)),
                "freerun": 0}

    log = simulate(cfg, script, lambda p, n: 6 if p == Phase.CLEAR else 1, 160)
    s = starts(log)
    assert [p for _, p in s] == TICK_PHASES * 3 + [Phase.CLEAR, Phase.CLEAR]
    assert log[79]["tick"] == 3 and log[79]["slot"] == 3 and log[79]["slot_base"] == 30
    c0 = s[15][0]
    assert c0 == 81 and log[c0]["tick"] == 0 and log[c0]["slot"] == 0 and log[c0]["slot_base"] == 0
    busy = [r["busy"] for r in log[c0:c0 + 10]]
    assert all(busy[:7]) and not busy[-1]                      # busy while the clear engine is
    assert all(Phase(r["phase"]) == Phase.CLEAR for r in log[c0:c0 + 7])


def test_clear_wins_over_step():
    log = simulate(config(2), lambda c: {"step": int(c == 1), "clear": int(c == 1), "step_ticks": 5},
                   lambda p, n: 2, 60)
    assert [p for _, p in starts(log)] == [Phase.CLEAR]


def freerun(period, tick_busy, cycles=700):
    """Free-run with `period`; each phase's engine busy for tick_busy cycles. Returns the start
    cycles of the ticks, and the cycles of overrun pulses and of tick ends."""
    log = simulate(config(2), lambda c: {"freerun": 1, "period": period}, lambda p, n: tick_busy, cycles)
    ticks = [c for c, p in starts(log) if p == Phase.PREPARE]
    return (ticks, [r["cycle"] for r in log if r["overrun"]], [r["cycle"] for r in log if r["tick_end"]])


@pytest.mark.parametrize("period", [40, 57])
def test_free_run_starts_a_tick_every_period(period):
    """docs/rtl.md: `period` is the cycles from tick start to tick start (tick.py: 'a tick
    starts every `period` cycles, counted from the start of the previous one')."""
    ticks, overruns, _ = freerun(period, tick_busy=2)
    assert len(ticks) >= 8 and not overruns
    assert set(np.diff(ticks).tolist()) == {period}, f"tick starts every {set(np.diff(ticks).tolist())} cycles"


def test_free_run_overrun_pulses_once_per_late_tick():
    """Ticks longer than the period: each pulses overrun once, and the next starts as soon as
    the previous ended (two cycles of hand-over: tick end, IDLE)."""
    ticks, overruns, ends = freerun(period=6, tick_busy=4)
    assert len(ticks) >= 10
    assert overruns == ends                          # every tick overran, one pulse each
    assert all(b - e <= 2 for e, b in zip(ends, ticks[1:]))


def test_free_run_overrun_exactly_when_a_tick_is_late():
    """Around the boundary, a tick pulses overrun if and only if the next tick cannot start
    `period` cycles after it started; otherwise it starts exactly then."""
    results = []
    for tick_busy in range(0, 8):
        for period in range(20, 50):
            ticks, overruns, ends = freerun(period, tick_busy, cycles=3 * 60)
            first, second = ticks[0], ticks[1]
            late = second - first > period
            overran = bool(overruns) and overruns[0] == ends[0]
            if late != overran or (not late and second - first != period):
                results.append((period, tick_busy, ends[0] - first, second - first, overran))
    assert not results, ("(period, busy per phase, tick length, start-to-start, overrun) that break "
                         f"the contract: {results[:6]} ... ({len(results)} cases)")
