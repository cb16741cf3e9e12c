"""The vectorized golden model against the scalar transcription of the contract (tests/support/reference.py).

Random networks (tests/support/networks.py: sizes, connectors, fan-outs up to full fan-in, weight signs and exponents up
to 16 - weight_bits, delays up to max_delay, refractory periods, per-neuron parameters,
plastic projections in both trace modes) and named scenarios that must exercise one rule
each (u wrap, 16-bit a_in wrap, v clip, STDP bounds, several target windows, maximum fan-in).
Every tick's spikes of every neuron and the final u, v, ref, x, y, weights, LFSR state and
counters must be identical.
"""

from __future__ import annotations

import numpy as np
import pytest

from firmware import AllToAll, CoreConfig, FixedProbability, FromList, Network, STDPRule, compile_network
from sim import GoldenModel
from tests.support.networks import random_network
from tests.support.reference import ReferenceCore, wrap_a_in

# Random and property networks here wrap their 16-bit input sums on purpose (spec §4), so the
# compiler's InputWrapWarning is expected.
pytestmark = pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning")


# --- comparison -------------------------------------------------------------------------------


def run_both(net, config, raster, lfsr_seed=0xACE1ACE1):
    image = compile_network(net, config, lfsr_seed=lfsr_seed)
    model = GoldenModel(image)
    result = model.run(raster.shape[0], raster, record_all=True)
    ref = ReferenceCore(net, image.symbols, config, lfsr_seed)
    ref_spikes = ref.run([np.nonzero(row)[0].tolist() for row in raster])
    expected = np.zeros_like(result.all_spikes)
    for t, fired in enumerate(ref_spikes):
        expected[t, fired] = True
    compare(model, result, ref, expected, net)
    return model, ref


def compare(model, result, ref, expected, net):
    diff = np.nonzero(result.all_spikes != expected)
    assert diff[0].size == 0, (f"first spike mismatch at tick {diff[0][0]}, neuron {diff[1][0]}: "
                               f"model {result.all_spikes[diff[0][0], diff[1][0]]}")
    out = [j for j in range(ref.n_neurons) if ref.output[j]]
    assert result.output_ids.tolist() == out
    assert np.array_equal(result.spikes, expected[:, out])
    st = model.state()
    for name in ("u", "v", "ref"):
        assert st[name].tolist() == getattr(ref, name), name
    if ref.trace is not None:   # the contract says nothing about traces without a plastic projection
        assert st["x"].tolist() == ref.x
        assert st["y"].tolist() == ref.y
    # input already delivered for the coming ticks, compared modulo 2**16 (spec §4)
    assert [[wrap_a_in(int(a)) for a in row] for row in st["acc"]] == \
        [[wrap_a_in(a) for a in row] for row in ref.acc]
    n_syn = len(ref.synapses)
    assert st["weights"][:n_syn].tolist() == ref.weights
    assert st["lfsr"] == ref.lfsr
    assert model.counters == ref.counters
    for proj in net.projections:
        pre, post, w = model.projection_weights(proj.name)
        got = sorted(zip(pre.tolist(), post.tolist(), w.tolist()))
        pre_base, post_base = _bases(model, proj, ref.n_inputs)
        want = [(s - pre_base, t - post_base, x) for s, t, x in ref.projection_weights(proj.index)]
        assert got == want, proj.name


def _bases(model, proj, n_inputs):
    """Source number of the projection's pre index 0 and neuron number of its post index 0,
    from the symbols."""
    sym = model.image.symbols
    inputs = {g["name"]: g["first"] for g in sym["inputs"]}
    pops = {g["name"]: g["first"] for g in sym["populations"]}
    pre = inputs[proj.pre.name] if proj.pre.name in inputs else n_inputs + pops[proj.pre.name]
    return pre, pops[proj.post.name]


# --- tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_random_network_matches_reference(seed):
    net, config, raster, lfsr_seed = random_network(seed)
    run_both(net, config, raster, lfsr_seed)


def test_random_networks_are_not_trivial():
    """The random family must make neurons spike and weights learn (else it tests nothing)."""
    spikes = updates = plastic_nets = 0
    for seed in range(40):
        net, config, raster, lfsr_seed = random_network(seed)
        ref = ReferenceCore(net, compile_network(net, config, lfsr_seed).symbols, config, lfsr_seed)
        ref.run([np.nonzero(row)[0].tolist() for row in raster])
        spikes += ref.counters["spikes"]
        updates += ref.counters["plastic_updates"]
        plastic_nets += ref.trace is not None
    assert spikes > 1000 and updates > 1000 and plastic_nets >= 15


def test_u_wrap_and_a_in_wrap():
    """du = 0 (no current decay) and inputs of 127 << 8: u wraps past 2**23; two such inputs in
    one tick (65024) wrap the 16-bit a_in."""
    net = Network("wrap")
    inp = net.inputs("in", 4)
    pop = net.population("n", 3, du=0, dv=4095, vth=(1 << 17) - 1)
    net.connect(inp, pop, FromList([[0, 0, 127], [1, 0, 127], [2, 1, 127], [3, 2, -128], [0, 2, -128]]),
                weight_exp=8)
    net.record(pop)
    rng = np.random.default_rng(1)
    raster = rng.random((200, 4)) < 0.6
    _, ref = run_both(net, CoreConfig(n_neurons=3, n_inputs=4), raster)
    assert ref.seen["u_wrap"] > 5 and ref.seen["a_in_wrap"] > 5


def test_v_clips_low_and_high():
    """Large negative bias with slow leak drives v to -(2**23 - 1); large positive bias drives
    it to +(2**23 - 1) (which always spikes: the largest threshold (2**17 - 1) << 6 is below)."""
    net = Network("clip")
    inp = net.inputs("in", 2)
    low = net.population("low", 2, dv=[0, 3], bias_mant=-4096, bias_exp=7, vth=10)
    high = net.population("high", 2, dv=[0, 1], bias_mant=4095, bias_exp=7, vth=(1 << 17) - 1)
    net.connect(inp, low, AllToAll(), weight=127, weight_exp=8)
    net.connect(inp, high, AllToAll(), weight=-128, weight_exp=8, delay=2)
    raster = np.random.default_rng(2).random((60, 2)) < 0.3
    _, ref = run_both(net, CoreConfig(n_neurons=4, n_inputs=2), raster)
    assert ref.seen["v_clip_low"] > 20 and ref.seen["v_clip_high"] > 10


@pytest.mark.parametrize("mode", ["all-to-all", "nearest"])
def test_stdp_bounds_hit(mode):
    """Large amplitudes and lr_shift 0..1: both bounds are hit many times, in both modes."""
    net = Network("bounds")
    inp = net.inputs("in", 12)
    pop = net.population("n", 6, du=2000, dv=1000, vth=30, refractory=1)
    trace = dict(pre_decay=300, post_decay=500, pre_impulse=200, post_impulse=255, mode=mode)
    net.connect(inp, pop, FixedProbability(0.7, seed=3), weight=5, delay=[[1, 2, 3] * 2] * 12,
                weight_exp=3, stdp=STDPRule(a_plus=127, a_minus=-128, lr_shift=1, w_min=-3, w_max=9, **trace))
    net.connect(pop, pop, AllToAll(allow_self_connections=False), weight=2, weight_exp=2,
                stdp=STDPRule(a_plus=-50, a_minus=90, lr_shift=0, w_min=-8, w_max=8, **trace))
    raster = np.random.default_rng(3).random((120, 12)) < 0.3
    _, ref = run_both(net, CoreConfig(n_neurons=6, n_inputs=12, max_delay=3), raster, lfsr_seed=12345)
    assert ref.seen["w_min_hit"] > 10 and ref.seen["w_max_hit"] > 10


def test_refractory_and_several_target_windows():
    """300 neurons with 8-bit weights: targets span two windows of 256; refractory periods
    up to 15 hold v at 0 while u integrates."""
    net = Network("windows")
    inp = net.inputs("in", 20)
    pop = net.population("n", 300, du=np.arange(300) % 8 * 500, dv=100, vth=40,
                          refractory=np.arange(300) % 16, bias_mant=np.arange(300) % 7 - 2)
    net.connect(inp, pop, FixedProbability(0.2, seed=4), weight=90, weight_exp=1,
                delay=np.random.default_rng(4).integers(1, 5, (20, 300)),
                stdp=STDPRule(a_plus=60, a_minus=-70, lr_shift=4, w_min=-128, w_max=127))
    net.connect(pop, pop, FixedProbability(0.02, seed=5), weight=-60, delay=4, name="rec")
    net.record(pop, np.arange(0, 300, 3))
    raster = np.random.default_rng(5).random((50, 20)) < 0.3
    config = CoreConfig(n_neurons=300, n_inputs=20, n_profiles=256)
    _, ref = run_both(net, config, raster)
    assert ref.seen["refractory_hold"] > 100
    windows = {s.target >> config.target_bits for s in ref.synapses}
    assert windows == {0, 1}


def test_maximum_fan_in_at_reverse_capacity():
    """Every source (all inputs and all neurons) projects plastically onto one neuron; the
    reverse index is filled exactly to its capacity."""
    net = Network("fanin")
    inp = net.inputs("in", 60)
    pop = net.population("n", 10, du=500, dv=500, vth=300, refractory=3)
    rule = STDPRule(a_plus=100, a_minus=-90, lr_shift=3, w_min=-100, w_max=100)
    net.connect(inp, pop, AllToAll(), weight=np.random.default_rng(6).integers(-20, 60, (60, 10)),
                delay=np.random.default_rng(7).integers(1, 5, (60, 10)), stdp=rule)
    net.connect(pop, pop, AllToAll(), weight=7, stdp=rule)
    config = CoreConfig(n_neurons=10, n_inputs=60, n_reverse=60 * 10 + 100)
    raster = np.random.default_rng(8).random((80, 60)) < 0.25
    model, ref = run_both(net, config, raster)
    assert model.image.symbols["usage"]["reverse"] == config.n_reverse
    assert ref.counters["plastic_updates"] > 5000


def test_reference_stepwise_state_matches_every_tick():
    """A stricter check on one random network: u, v, ref, traces and weights after every tick."""
    net, config, raster, lfsr_seed = random_network(7)
    image = compile_network(net, config, lfsr_seed=lfsr_seed)
    model = GoldenModel(image)
    ref = ReferenceCore(net, image.symbols, config, lfsr_seed)
    for t, row in enumerate(raster):
        axons = np.nonzero(row)[0]
        fired = model.step(axons)
        assert fired.tolist() == ref.step(axons.tolist()), t
        st = model.state()
        assert st["u"].tolist() == ref.u and st["v"].tolist() == ref.v and st["ref"].tolist() == ref.ref, t
        assert st["weights"][:len(ref.weights)].tolist() == ref.weights, t


def _schedule_to_hit(target: int, max_ticks: int = 60) -> list[int]:
    """a_in values, one per tick, that drive u (du = 0) from 0 to exactly `target`, found with
    the contract's decay (reference.decay), never crossing +-2**23 before the last tick."""
    from tests.support.reference import decay
    u, schedule = 0, []
    sign = 1 if target > 0 else -1
    for _ in range(max_ticks):
        d = decay(u, 4095)
        need = target - d
        if need % 64 == 0 and abs(need // 64) <= 32767:
            return schedule + [need // 64]
        for a in range(32767, 0, -1):
            nxt = d + sign * 64 * a
            if abs(nxt) >= (1 << 23):
                continue
            rest = target - decay(nxt, 4095)
            if rest % 64 == 0 and abs(rest // 64) <= 32767:
                break
        else:
            a = 32767
            while abs(d + sign * 64 * a) >= (1 << 23) - (1 << 16):
                a //= 2
            nxt = d + sign * 64 * a
        schedule.append(sign * a)
        u = nxt
    raise AssertionError("no schedule found")


def test_u_wrap_edges_exactly():
    """u reaches exactly +2**23 (stays) and exactly -2**23 (becomes +2**23) in a network; the
    model follows the reference tick by tick. Neuron k receives any a_in in [-32767, 32767]
    through 2 x 15 input axons of values +-2**b (b < 7: mantissa 2**b, exp 0; b = 7: mantissa
    64, exp 1; b >= 8: mantissa 2**(b - 8), exp 8)."""
    targets = [1 << 23, -(1 << 23)]
    schedules = [_schedule_to_hit(t) for t in targets]
    net = Network("edges")
    inp = net.inputs("in", 2 * 2 * 15)
    pop = net.population("n", 2, du=0, dv=4095, vth=(1 << 17) - 1)

    def axon(n, sign, b):
        return (2 * n + (sign < 0)) * 15 + b

    for exp, bits, mant in ((0, range(7), lambda b: 1 << b), (1, [7], lambda b: 64),
                            (8, range(8, 15), lambda b: 1 << (b - 8))):
        rows = [[axon(n, s, b), n, s * mant(b)] for n in range(2) for s in (1, -1) for b in bits]
        net.connect(inp, pop, FromList(rows), weight_exp=exp)
    ticks = max(len(s) for s in schedules) + 2
    raster = np.zeros((ticks, 60), bool)
    for n, schedule in enumerate(schedules):
        for t, a in enumerate(schedule):          # a_in of tick t + 1 is sent at tick t
            for b in range(15):
                if abs(a) >> b & 1:
                    raster[t, axon(n, 1 if a > 0 else -1, b)] = True
    config = CoreConfig(n_neurons=2, n_inputs=60)
    image = compile_network(net, config)
    model = GoldenModel(image)
    ref = ReferenceCore(net, image.symbols, config, 0xACE1ACE1)
    seen = []
    for t in range(ticks):
        model.step(np.nonzero(raster[t])[0])
        ref.step(np.nonzero(raster[t])[0].tolist())
        assert model.u.tolist() == ref.u, t
        seen.append(list(ref.u))
    for n, schedule in enumerate(schedules):
        # after tick len(schedule) the last a_in has arrived: u is +2**23 in both cases
        assert seen[len(schedule)][n] == 1 << 23
        assert all(abs(u[n]) < 1 << 23 for u in seen[:len(schedule)])
