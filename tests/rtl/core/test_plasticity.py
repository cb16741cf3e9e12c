"""rtl.core.plasticity: the weight update of spec §6.2 and the LTP engine, against the golden model's
own functions (sim.neuron.stochastic_round, sim.lfsr) and decoded tables (firmware.tables)."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from firmware import (AllToAll, CoreConfig, FixedProbability, Network, STDPRule, compile_network)
from firmware import formats as fmt
from firmware.tables import decode
from rtl.core.plasticity import WRITE_DELAY, LTPEngine, PipelinedWeightUpdate, weight_update
from sim import lfsr as golden_lfsr
from sim.neuron import stochastic_round
from tests.support.engine_harness import Harness, pulse, read_memory


# --- weight_update, combinational ------------------------------------------------------------

def expected_update(w, a, trace, shift, w_min, w_max, draw):
    return np.clip(w + stochastic_round(a * trace, shift, draw), w_min, w_max)


def simulate_weight_update(vectors, weight_bits):
    """Drive weight_update with each vector (dict of arrays); return its outputs, read through
    a 24-bit signed signal so that no bit of the result is hidden by a narrow capture."""
    m = Module()
    ins = {"w": Signal(signed(weight_bits)), "a": Signal(signed(fmt.STDP_A_BITS)),
           "trace": Signal(unsigned(fmt.TRACE_BITS)), "shift": Signal(unsigned(4)),
           "w_min": Signal(signed(weight_bits)), "w_max": Signal(signed(weight_bits)),
           "draw": Signal(unsigned(fmt.LFSR_BITS))}
    out = Signal(signed(24))
    m.d.comb += out.eq(weight_update(ins["w"], ins["a"], ins["trace"], ins["shift"], ins["w_min"],
                                     ins["w_max"], ins["draw"]))
    sim = Simulator(m)
    got = []
    n = len(vectors["w"])

    async def bench(ctx):
        for k in range(n):
            for name, sig in ins.items():
                ctx.set(sig, int(vectors[name][k]))
            got.append(ctx.get(out))

    sim.add_testbench(bench)
    sim.run()
    return np.array(got, np.int64)


def simulate_pipelined_weight_update(vectors, weight_bits):
    """Drive a PipelinedWeightUpdate with one vector per cycle (back to back); return each
    vector's result, read LATENCY cycles later."""
    config = CoreConfig(n_neurons=8, n_inputs=8, n_synapses=64, n_segments=16, n_reverse=64,
                        n_profiles=2, n_projections=2, weight_bits=weight_bits, max_delay=2)
    dut = PipelinedWeightUpdate(config)
    rule = dut.rule
    ins = {"w": rule.weight, "a": rule.amplitude, "trace": rule.trace, "shift": rule.shift,
           "w_min": rule.w_min, "w_max": rule.w_max, "draw": dut.draw}
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    got = []
    n = len(vectors["w"])

    async def bench(ctx):
        for k in range(n + dut.LATENCY):
            if k < n:
                for name, sig in ins.items():
                    ctx.set(sig, int(vectors[name][k]))
            await ctx.tick()
            if k >= dut.LATENCY - 1 and len(got) < n:
                got.append(ctx.get(rule.new_weight))

    sim.add_testbench(bench)
    sim.run()
    return np.array(got, np.int64)


def extreme_vectors(rng, weight_bits):
    lo, hi = fmt.signed_range(weight_bits)
    grid = np.array(np.meshgrid([-128, -127, -1, 0, 1, 126, 127], [0, 1, 128, 254, 255],
                                [0, 1, 7, 8, 14, 15],
                                [0, 0xFFFFFFFF, 0xFFFF, 0x7FFF, 0x8000, 0xFFFF0000, 0x55555555],
                                indexing="ij")).reshape(4, -1)
    n = grid.shape[1]
    bounds = np.array([(lo, hi), (lo, lo), (hi, hi), (0, 0), (lo, 0), (0, hi), (-2, 3)])
    pick = bounds[rng.integers(0, len(bounds), n)]
    w_min, w_max = pick[:, 0], pick[:, 1]
    w = np.where(rng.random(n) < 0.5, np.where(rng.random(n) < 0.5, w_min, w_max),
                 rng.integers(w_min, w_max + 1))
    return {"a": grid[0], "trace": grid[1], "shift": grid[2], "draw": grid[3], "w": w,
            "w_min": w_min, "w_max": w_max}


def random_vectors(rng, n, weight_bits):
    lo, hi = fmt.signed_range(weight_bits)
    pair = np.sort(rng.integers(lo, hi + 1, (n, 2)), axis=1)
    w_min, w_max = pair[:, 0], pair[:, 1]
    return {"a": rng.integers(-128, 128, n), "trace": rng.integers(0, 256, n),
            "shift": rng.integers(0, 16, n), "draw": rng.integers(0, 1 << 32, n, dtype=np.int64),
            "w": rng.integers(w_min, w_max + 1), "w_min": w_min, "w_max": w_max}


@pytest.mark.parametrize("weight_bits", [8, 4])
@pytest.mark.parametrize("simulate", [simulate_weight_update, simulate_pipelined_weight_update],
                         ids=["combinational", "pipelined"])
def test_weight_update_equals_clipped_stochastic_round(weight_bits, simulate):
    rng = np.random.default_rng(weight_bits)
    parts = [extreme_vectors(rng, weight_bits), random_vectors(rng, 2500, weight_bits)]
    vec = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    got = simulate(vec, weight_bits)
    want = expected_update(vec["w"], vec["a"], vec["trace"], vec["shift"], vec["w_min"], vec["w_max"],
                           vec["draw"])
    bad = np.nonzero(got != want)[0]
    if bad.size:
        k = bad[0]
        pytest.fail(f"{bad.size} mismatches; first: { {n: int(v[k]) for n, v in vec.items()} }: "
                    f"rtl {got[k]}, model {want[k]}")
    # The vectors reach what they claim: both clips, and draws that change the rounding.
    raw = vec["w"] + stochastic_round(vec["a"] * vec["trace"], vec["shift"], vec["draw"])
    assert np.count_nonzero(raw < vec["w_min"]) > 50 and np.count_nonzero(raw > vec["w_max"]) > 50
    no_draw = vec["w"] + stochastic_round(vec["a"] * vec["trace"], vec["shift"], 0 * vec["draw"])
    assert np.count_nonzero(no_draw != raw) > 100
    assert np.any((vec["a"] == -128) & (vec["trace"] == 255) & (vec["draw"] == 0xFFFFFFFF)
                  & (vec["shift"] == 15))


# --- LTPEngine --------------------------------------------------------------------------------

LTP_CONFIG = CoreConfig(n_neurons=40, n_inputs=12, n_synapses=1024, n_segments=256, n_reverse=512,
                        n_profiles=4, n_projections=6, weight_bits=8, max_delay=3)
LTP_CONFIG_32 = CoreConfig(n_neurons=32, n_inputs=12, n_synapses=1024, n_segments=256, n_reverse=512,
                           n_profiles=4, n_projections=6, weight_bits=8, max_delay=3)


def plastic_network(seed, config=LTP_CONFIG):
    """Inputs and three populations; four plastic projections with different amplitudes, shifts
    and bounds (two onto population a, one recurrent), one static projection; c has no plastic
    fan-in."""
    rng = np.random.default_rng(seed)
    net = Network(f"ltp-{seed}")
    inp = net.inputs("in", config.n_inputs)
    a = net.population("a", 18, vth=50)
    b = net.population("b", 12, vth=50)
    c = net.population("c", config.n_neurons - 30, vth=50)
    common = dict(pre_decay=100, post_decay=300, pre_impulse=90, post_impulse=70)

    def weights(rule, shape):
        w = rng.integers(rule.w_min, rule.w_max + 1, shape)
        edge = rng.random(shape) < 0.25
        return np.where(edge, np.where(rng.random(shape) < 0.5, rule.w_min, rule.w_max), w)

    rules = [STDPRule(a_plus=100, a_minus=-30, lr_shift=4, w_min=-10, w_max=90, **common),
             STDPRule(a_plus=-77, a_minus=20, lr_shift=0, w_min=-128, w_max=0, **common),
             STDPRule(a_plus=127, a_minus=-128, lr_shift=15, w_min=-128, w_max=127, **common),
             STDPRule(a_plus=-128, a_minus=5, lr_shift=8, w_min=-100, w_max=127, **common)]
    net.connect(inp, a, AllToAll(), weight=weights(rules[0], (12, 18)), stdp=rules[0], name="in-a")
    net.connect(a, a, FixedProbability(0.3, seed=seed), weight=weights(rules[1], (18, 18)),
                stdp=rules[1], name="a-a")
    net.connect(inp, b, FixedProbability(0.5, seed=seed + 1), weight=weights(rules[2], (12, 12)),
                stdp=rules[2], name="in-b")
    net.connect(b, a, FixedProbability(0.4, seed=seed + 2), weight=weights(rules[3], (12, 18)),
                stdp=rules[3], name="b-a")
    net.connect(a, b, FixedProbability(0.5, seed=seed + 3), weight=rng.integers(-128, 128, (18, 12)),
                name="a-b static")
    net.connect(inp, c, FixedProbability(0.2, seed=seed + 4), weight=50, name="in-c static")
    return compile_network(net, config, lfsr_seed=int(rng.integers(1, 1 << 32)))


def expected_ltp(tables, weights, spiking, x, lfsr_state):
    """Spec §6.2 LTP with the model's functions: neurons ascending, each reverse entry in order,
    one draw each. Returns (weights, number of updates, LFSR state)."""
    w = weights.copy()
    p = tables.proj
    updates = 0
    for j in spiking:
        for k in range(tables.rev_ptr[j], tables.rev_ptr[j + 1]):
            syn, src = tables.rev_syn[k], tables.rev_src[k]
            q = tables.syn_projection[syn]
            draws, lfsr_state = golden_lfsr.sequence(lfsr_state, 1)
            dw = stochastic_round(np.int64(p["a_plus"][q] * x[src]), p["lr_shift"][q], draws[0])
            w[syn] = np.clip(w[syn] + dw, p["w_min"][q], p["w_max"][q])
            updates += 1
    return w, updates, lfsr_state


def run_ltp(image, events, first, x, lfsr_state, spram=True):
    """Run the LTPEngine once over `events` from index `first`. Returns the synapse words, the
    LFSR state (a Python LFSR stepped by `step`, whose draw its WeightUpdate takes), and the
    pulse counts."""
    c = image.config
    lay = fmt.layouts(c)
    regions = fmt.memory_map(c)
    ltp = LTPEngine(c)
    h = Harness(ltp)
    updater = h.add_updater(c)

    def table(name):
        words = np.zeros(regions[name].depth, np.uint64)
        words[:image.tables[name].size] = image.tables[name]
        return words

    ev = np.zeros(c.n_sources, np.int64)
    ev[:len(events)] = events
    h.add("events", fmt.bits_for(c.n_sources), c.n_sources, ev, rd="events_rd")
    for name in ("reverse_ptr", "reverse", "projection"):
        h.add(name, lay[name].width, regions[name].depth, table(name), rd=f"{name}_rd")
    synapse = h.add("synapse", lay["synapse"].width, c.n_synapses, table("synapse"), rd="synapse_rd",
                    wr="synapse_wr", single_port=spram, write_delay=WRITE_DELAY)
    h.add("x_in", fmt.TRACE_BITS, c.n_inputs, x[:c.n_inputs], rd="x_in_rd")
    h.add("x_n", fmt.TRACE_BITS, c.n_neurons, x[c.n_inputs:], rd="x_n_rd")
    out = {"step": 0, "update": 0, "done": 0, "writes": []}

    async def bench(ctx):
        state = lfsr_state
        ctx.set(ltp.first, first)
        ctx.set(ltp.n_events, len(events))
        ctx.set(updater.draw, golden_lfsr.step(state))
        await pulse(ctx, ltp.start)
        for cycle in range(20000):
            ctx.set(updater.draw, golden_lfsr.step(state))
            if ctx.get(ltp.step):
                state = golden_lfsr.step(state)
                out["step"] += 1
            out["update"] += ctx.get(ltp.update)
            if ctx.get(ltp.synapse_wr.en):
                out["writes"].append(ctx.get(ltp.synapse_wr.addr))
            if ctx.get(ltp.done):         # every write is committed before done
                out["done"] += 1
                out["cycles"] = cycle
                assert not ctx.get(ltp.synapse_wr.en)
                break
            await ctx.tick()
        for _ in range(5):                       # nothing after done
            await ctx.tick()
            out["done"] += ctx.get(ltp.done)
            out["step"] += ctx.get(ltp.step)
            assert not ctx.get(ltp.busy) and not ctx.get(ltp.synapse_wr.en)
        out["synapse"] = read_memory(ctx, synapse, image.tables["synapse"].size)
        out["lfsr"] = state

    h.run(bench)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ltp_engine_equals_the_models_ltp(seed):
    image = plastic_network(seed)
    c = image.config
    t = decode(image)
    rng = np.random.default_rng(100 + seed)
    x = rng.integers(0, 256, c.n_sources)
    x[rng.random(c.n_sources) < 0.1] = 0
    x[rng.random(c.n_sources) < 0.1] = 255
    inputs = np.sort(rng.choice(c.n_inputs, rng.integers(0, 6), replace=False))
    spiking = np.sort(rng.choice(c.n_neurons, rng.integers(5, 25), replace=False))
    spiking = np.union1d(spiking, [0, 17, 18, 35])        # a's ends, b's first, one of c
    events = np.concatenate([inputs, c.n_inputs + spiking])
    state0 = image.table("lfsr_seed")["seed"][0]

    out = run_ltp(image, events, len(inputs), x, int(state0))
    want, n_updates, lfsr_after = expected_ltp(t, t.syn_weight, spiking, x, int(state0))
    got = fmt.layouts(c)["synapse"].unpack(np.array(out["synapse"], np.uint64))
    bad = np.nonzero(got["weight"] != want)[0]
    assert not bad.size, (f"{bad.size} weights differ; first synapse {bad[0]}: rtl {got['weight'][bad[0]]}, "
                          f"model {want[bad[0]]}")
    assert np.array_equal(got["target"], image.table("synapse")["target"]), "a target field changed"
    assert out["update"] == out["step"] == n_updates == len(out["writes"]) > 30
    assert sorted(out["writes"]) == sorted(set(out["writes"]))     # each synapse written once
    assert out["lfsr"] == lfsr_after
    assert out["done"] == 1
    # the test means something: weights moved, some to a bound, and c's spikes had no fan-in
    changed = np.nonzero(want != t.syn_weight)[0]
    assert changed.size > 10
    assert np.any(np.diff(t.rev_ptr)[spiking] == 0)


def test_ltp_engine_ignores_input_events_and_runs_from_first():
    """With first = 0 the input axons at the head of the list are skipped (no update, no draw);
    with first past some spiking neurons, those neurons get no LTP. 32 neurons: an input axon
    taken for a neuron would wrap onto neurons 20..31, which have plastic fan-in."""
    image = plastic_network(4, LTP_CONFIG_32)
    c = image.config
    t = decode(image)
    rng = np.random.default_rng(9)
    x = rng.integers(0, 256, c.n_sources)
    inputs = np.array([0, 3, 11])
    spiking = np.array([1, 2, 5, 20, 29])
    events = np.concatenate([inputs, c.n_inputs + spiking])
    seed = 0x0BADCAFE
    for first, active in ((0, spiking), (5, spiking[2:])):
        out = run_ltp(image, events, first, x, seed)
        want, n_updates, lfsr_after = expected_ltp(t, t.syn_weight, active, x, seed)
        got = fmt.layouts(c)["synapse"].unpack(np.array(out["synapse"], np.uint64))["weight"]
        assert np.array_equal(got, want), f"first = {first}"
        assert out["step"] == n_updates and out["lfsr"] == lfsr_after, f"first = {first}"


def test_ltp_engine_with_no_spiking_neuron_does_nothing():
    image = plastic_network(5)
    c = image.config
    x = np.full(c.n_sources, 200)
    out = run_ltp(image, np.array([1, 2]), 2, x, 12345)
    assert out["step"] == out["update"] == 0 and out["writes"] == [] and out["done"] == 1
    assert np.array_equal(np.array(out["synapse"], np.uint64), image.tables["synapse"])
