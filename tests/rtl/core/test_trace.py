"""rtl.core.trace: TraceImpulse (phase 5) alone, against sim.neuron.trace_impulse (spec §6.1); the
decays are the NeuronEngine's (tests/rtl/core/test_neuron_engine.py)."""

import numpy as np
import pytest

from firmware import CoreConfig
from firmware import formats as fmt
from rtl.core.trace import TraceImpulse
from sim.neuron import trace_impulse
from tests.support.engine_harness import Harness, pulse, read_memory


def config(n_inputs, n_neurons=10):
    return CoreConfig(n_neurons=n_neurons, n_inputs=n_inputs, n_synapses=8, n_segments=4, n_reverse=4,
                      n_profiles=2, max_delay=2)


async def run_engine(ctx, engine, limit, writes):
    """Pulse start, clock until done; return (cycles, done pulses, busy was low before done).
    No write port is enabled from the done cycle on."""
    await pulse(ctx, engine.start)
    done = early = 0
    for cycle in range(limit):
        if ctx.get(engine.done):
            done += 1
            assert not any(ctx.get(getattr(engine, w).en) for w in writes)
            break
        early |= not ctx.get(engine.busy)
        await ctx.tick()
    else:
        raise AssertionError(f"no done after {limit} cycles")
    for _ in range(3):
        await ctx.tick()
        done += ctx.get(engine.done)
        assert not ctx.get(engine.busy)
        assert not any(ctx.get(getattr(engine, w).en) for w in writes)
    return cycle, done, early


def run_impulse(c, events, x, y, pre_impulse, post_impulse, nearest):
    NI, N = c.n_inputs, c.n_neurons
    engine = TraceImpulse(c)
    h = Harness(engine)
    ev = np.zeros(c.n_sources, np.int64)
    ev[:len(events)] = events
    h.add("events", fmt.bits_for(c.n_sources), c.n_sources, ev, rd="events_rd")
    mx_in = h.add("x_in", fmt.TRACE_BITS, NI, x[:NI], rd="x_in_rd", wr="x_in_wr")
    mx_n = h.add("x_n", fmt.TRACE_BITS, N, x[NI:], rd="x_n_rd", wr="x_n_wr")
    my = h.add("y", fmt.TRACE_BITS, N, y, rd="y_rd", wr="y_wr")
    out = {}

    async def bench(ctx):
        ctx.set(engine.n_events, len(events))
        ctx.set(engine.pre_impulse, pre_impulse)
        ctx.set(engine.post_impulse, post_impulse)
        ctx.set(engine.nearest, nearest)
        writes = ["x_in_wr", "x_n_wr", "y_wr"]
        out["cycles"], out["done"], out["early"] = await run_engine(ctx, engine, len(events) + 20, writes)
        out["x"] = np.array(read_memory(ctx, mx_in) + read_memory(ctx, mx_n))
        out["y"] = np.array(read_memory(ctx, my))

    h.run(bench)
    return out


@pytest.mark.parametrize("nearest", [0, 1])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trace_impulse(nearest, seed):
    """Inputs get only the pre impulse; neurons the pre impulse on x and the post impulse on y;
    all-to-all saturates at 255; nearest sets; sources that are not events keep their traces."""
    c = config(n_inputs=[13, 16, 5][seed], n_neurons=[20, 32, 300][seed])
    NI = c.n_inputs
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, c.n_sources)
    y = rng.integers(0, 256, c.n_neurons)
    x[rng.random(c.n_sources) < 0.2] = 250
    y[rng.random(c.n_neurons) < 0.2] = 255
    pre_impulse, post_impulse = [(128, 70), (255, 0), (5, 255)][seed]
    inputs = np.sort(rng.choice(NI, int(rng.integers(1, NI)), replace=False))
    neurons = np.sort(rng.choice(c.n_neurons, int(rng.integers(1, min(40, c.n_neurons))), replace=False))
    events = np.concatenate([inputs, NI + neurons])
    out = run_impulse(c, events, x, y, pre_impulse, post_impulse, nearest)
    mode = fmt.TRACE_MODE_NEAREST if nearest else fmt.TRACE_MODE_ALL_TO_ALL
    want_x, want_y = x.copy(), y.copy()
    want_x[events] = trace_impulse(x[events], pre_impulse, mode)
    want_y[neurons] = trace_impulse(y[neurons], post_impulse, mode)
    assert np.array_equal(out["x"], want_x), np.nonzero(out["x"] != want_x)[0].tolist()
    assert np.array_equal(out["y"], want_y), np.nonzero(out["y"] != want_y)[0].tolist()
    assert out["done"] == 1 and not out["early"]
    assert out["cycles"] <= len(events) + 4
    if not nearest:     # saturation was exercised
        assert np.any(x[events] + pre_impulse > 255) or np.any(y[neurons] + post_impulse > 255)


def test_trace_impulse_edges():
    """Only inputs (no post-trace touched), only neurons, every source, and no events at all."""
    c = config(n_inputs=6, n_neurons=9)
    x = np.arange(c.n_sources) * 17 % 256
    y = 255 - np.arange(c.n_neurons) * 20
    only_inputs = run_impulse(c, np.array([0, 5]), x, y, 200, 200, 0)
    want = x.copy()
    want[[0, 5]] = np.minimum(x[[0, 5]] + 200, 255)
    assert np.array_equal(only_inputs["x"], want) and np.array_equal(only_inputs["y"], y)
    only_neurons = run_impulse(c, np.array([6, 14]), x, y, 3, 9, 1)
    want_x, want_y = x.copy(), y.copy()
    want_x[[6, 14]] = 3
    want_y[[0, 8]] = 9
    assert np.array_equal(only_neurons["x"], want_x) and np.array_equal(only_neurons["y"], want_y)
    everything = run_impulse(c, np.arange(c.n_sources), x, y, 100, 50, 0)
    assert np.array_equal(everything["x"], np.minimum(x + 100, 255))
    assert np.array_equal(everything["y"], np.minimum(y + 50, 255))
    nothing = run_impulse(c, np.zeros(0, np.int64), x, y, 200, 200, 0)
    assert np.array_equal(nothing["x"], x) and np.array_equal(nothing["y"], y) and nothing["done"] == 1
