"""Properties of the golden model on random networks (hypothesis):

- order independence: the same synapses given in another FromList row order give identical
  spikes, weights and LFSR state; with deterministic rounding (lr_shift = 0) the creation order
  of input groups, populations and projections does not matter either (compared by name);
- accumulation is modular: a_in equals the 16-bit sum of the delivered weights taken in any
  order (a shuffled order here), seen through u = a_in << 6;
- weights stay within [w_min, w_max] of their projection, every tick;
- a refractory neuron does not spike during its refractory window and has v == 0 there;
- u stays in (-2**23, 2**23] and v in [-(2**23 - 1), 2**23 - 1], every tick.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware import CoreConfig, FromList, Network, STDPRule, compile_network
from sim import GoldenModel

# Random and property networks here wrap their 16-bit input sums on purpose (spec §4), so the
# compiler's InputWrapWarning is expected.
pytestmark = pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning")

SETTINGS = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
U_LIMIT, V_MAX = 1 << 23, (1 << 23) - 1


@st.composite
def network_specs(draw, lr_shift=None, max_neurons=10):
    """A network as plain data, so that it can be rebuilt in another order."""
    wb = draw(st.integers(2, 8))
    max_delay = draw(st.integers(1, 6))
    wlo, whi = -(1 << (wb - 1)), (1 << (wb - 1)) - 1
    inputs = [(f"in{k}", draw(st.integers(1, 8))) for k in range(draw(st.integers(1, 2)))]
    pops = []
    for k in range(draw(st.integers(1, 3))):
        size = draw(st.integers(1, max_neurons))
        pops.append((f"pop{k}", size, dict(
            du=draw(st.integers(0, 4095)), dv=draw(st.integers(0, 4095)),
            vth=draw(st.sampled_from([0, 1, 10, 50, 200, 1000, (1 << 17) - 1])),
            bias_mant=draw(st.integers(-4096, 4095)), bias_exp=draw(st.integers(-8, 7)),
            refractory=draw(st.integers(0, 15)))))
    trace = dict(pre_decay=draw(st.integers(0, 4095)), pre_impulse=draw(st.integers(0, 255)),
                 post_decay=draw(st.integers(0, 4095)), post_impulse=draw(st.integers(0, 255)),
                 mode=draw(st.sampled_from(["all-to-all", "nearest"])))
    groups = {name: size for name, size in inputs}
    groups.update({name: size for name, size, _ in pops})
    projections = []
    for k in range(draw(st.integers(1, 5))):
        pre = draw(st.sampled_from(sorted(groups)))
        post = draw(st.sampled_from([name for name, _, _ in pops]))
        rule = None
        if draw(st.booleans()):
            w_min = draw(st.integers(wlo, whi))
            w_max = draw(st.integers(w_min, whi))
            rule = STDPRule(a_plus=draw(st.integers(-128, 127)), a_minus=draw(st.integers(-128, 127)),
                            lr_shift=draw(st.integers(0, 15)) if lr_shift is None else lr_shift,
                            w_min=w_min, w_max=w_max, **trace)
        lo, hi = (rule.w_min, rule.w_max) if rule else (wlo, whi)
        pairs = draw(st.lists(st.tuples(st.integers(0, groups[pre] - 1), st.integers(0, groups[post] - 1)),
                              unique=True, max_size=groups[pre] * groups[post]))
        rows = [(a, b, draw(st.integers(lo, hi)), draw(st.integers(1, max_delay))) for a, b in pairs]
        projections.append((f"p{k}", pre, post, rows, draw(st.integers(0, 16 - wb)), rule))
    ticks = draw(st.integers(10, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    return dict(weight_bits=wb, max_delay=max_delay, inputs=inputs, pops=pops,
                projections=projections, ticks=ticks, seed=seed)


def build(spec, rng=None, reorder=False):
    """Compile the spec; with rng, FromList rows are shuffled; with reorder, also the creation
    order of input groups, populations and projections."""
    net = Network("prop")
    order = (lambda xs: [xs[k] for k in rng.permutation(len(xs))]) if reorder else list
    groups = {}
    for name, size in order(spec["inputs"]):
        groups[name] = net.inputs(name, size)
    for name, size, params in order(spec["pops"]):
        groups[name] = net.population(name, size, **params)
        net.record(groups[name])
    for name, pre, post, rows, exp, rule in order(spec["projections"]):
        rows = np.array(rows, np.int64).reshape(-1, 4)
        if rng is not None:
            rows = rows[rng.permutation(len(rows))]
        net.connect(groups[pre], groups[post], FromList(rows), weight_exp=exp, stdp=rule, name=name)
    n_in = sum(s for _, s in spec["inputs"])
    n = sum(s for _, s, _ in spec["pops"])
    config = CoreConfig(n_neurons=n, n_inputs=n_in, weight_bits=spec["weight_bits"],
                        max_delay=spec["max_delay"])
    return compile_network(net, config, lfsr_seed=spec["seed"] % (2**32 - 1) + 1)


def raster_of(spec, image):
    rng = np.random.default_rng(spec["seed"])
    return rng.random((spec["ticks"], image.config.n_inputs)) < 0.3


def named_raster(spec, image, raster):
    """The same input spikes addressed by (group, index), mapped onto another placement."""
    out = np.zeros_like(raster)
    base = {g["name"]: g["first"] for g in image.symbols["inputs"]}
    at = 0
    for name, size in spec["inputs"]:
        out[:, base[name]:base[name] + size] = raster[:, at:at + size]
        at += size
    return out


def by_name(image, result, model):
    """Spikes, u, v per population and weights per projection, keyed by names."""
    out = {}
    for g in image.symbols["populations"]:
        ids = image.neuron_ids(g["name"])
        out[g["name"]] = (result.all_spikes[:, ids].tolist(), model.u[ids].tolist(),
                          model.v[ids].tolist())
    for p in image.symbols["projections"]:
        pre, post, w = model.projection_weights(p["name"])
        out[p["name"]] = sorted(zip(pre.tolist(), post.tolist(), w.tolist()))
    return out


@settings(max_examples=75, **SETTINGS)
@given(spec=network_specs(), perm_seed=st.integers(0, 2**32 - 1))
def test_fromlist_row_order_does_not_matter(spec, perm_seed):
    a = build(spec)
    b = build(spec, np.random.default_rng(perm_seed))
    raster = raster_of(spec, a)
    ma, mb = GoldenModel(a), GoldenModel(b)
    ra = ma.run(spec["ticks"], raster, record_all=True)
    rb = mb.run(spec["ticks"], raster, record_all=True)
    assert np.array_equal(ra.all_spikes, rb.all_spikes)
    assert by_name(a, ra, ma) == by_name(b, rb, mb)
    assert ma.lfsr_state == mb.lfsr_state and ma.counters == mb.counters


@settings(max_examples=75, **SETTINGS)
@given(spec=network_specs(lr_shift=0), perm_seed=st.integers(0, 2**32 - 1))
def test_creation_order_does_not_matter_with_exact_rounding(spec, perm_seed):
    a = build(spec)
    b = build(spec, np.random.default_rng(perm_seed), reorder=True)
    raster = raster_of(spec, a)
    ma, mb = GoldenModel(a), GoldenModel(b)
    ra = ma.run(spec["ticks"], named_raster(spec, a, raster), record_all=True)
    rb = mb.run(spec["ticks"], named_raster(spec, b, raster), record_all=True)
    assert by_name(a, ra, ma) == by_name(b, rb, mb)
    assert ma.counters == mb.counters


@settings(max_examples=100, **SETTINGS)
@given(n_inputs=st.integers(1, 40), n_neurons=st.integers(1, 6), weight_bits=st.integers(2, 8),
       seed=st.integers(0, 2**32 - 1))
def test_accumulation_is_modular_in_any_order(n_inputs, n_neurons, weight_bits, seed):
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    net = Network("acc")
    inp = net.inputs("in", n_inputs)
    pop = net.population("n", n_neurons, du=4095, dv=4095, vth=(1 << 17) - 1)
    events = []    # (axon, target, delivered value)
    for k in range(3):
        exp = int(rng.integers(0, 16 - weight_bits + 1))
        mask = rng.random((n_inputs, n_neurons)) < 0.7
        rows = [(a, b, int(rng.integers(lo, hi + 1))) for a, b in zip(*np.nonzero(mask))]
        if rows:
            net.connect(inp, pop, FromList(rows), weight_exp=exp)
            events += [(a, b, w << exp) for a, b, w in rows]
    model = GoldenModel(compile_network(net, CoreConfig(n_neurons=n_neurons, n_inputs=n_inputs,
                                                        weight_bits=weight_bits)))
    fired = np.nonzero(rng.random(n_inputs) < 0.6)[0]
    model.step(fired)
    model.step([])
    expected = [0] * n_neurons
    for k in rng.permutation(len(events)):
        a, b, value = events[k]
        if a in fired:
            total = expected[b] + value
            expected[b] = ((total + 32768) & 0xFFFF) - 32768    # wrap after every addition
    assert (model.u[:n_neurons] // 64).tolist() == expected
    assert np.all(model.u[:n_neurons] % 64 == 0)


def run_checked(spec, check):
    image = build(spec)
    model = GoldenModel(image)
    raster = raster_of(spec, image)
    for t in range(spec["ticks"]):
        before = model.state()
        fired = model.step(np.nonzero(raster[t])[0])
        check(image, model, before, fired)
    return model


@settings(max_examples=75, **SETTINGS)
@given(spec=network_specs(max_neurons=8))
def test_weights_stay_within_bounds(spec):
    bounds = []
    for name, _, _, rows, _, rule in spec["projections"]:
        if rule is not None:
            bounds.append((name, rule.w_min, rule.w_max))

    def check(image, model, before, fired):
        for name, w_min, w_max in bounds:
            w = model.projection_weights(name)[2]
            assert np.all((w >= w_min) & (w <= w_max)), name

    run_checked(spec, check)


@settings(max_examples=75, **SETTINGS)
@given(spec=network_specs(max_neurons=8))
def test_refractory_neurons_do_not_spike_and_hold_v_at_zero(spec):
    remaining = {}

    def check(image, model, before, fired):
        n = model.config.n_neurons
        period = {}
        for g, (name, size, params) in zip(image.symbols["populations"], spec["pops"]):
            for k in range(size):
                period[g["first"] + k] = params["refractory"]
        for j in range(n):
            if remaining.get(j, 0) > 0:
                assert j not in fired, f"neuron {j} spiked in its refractory window"
                assert model.v[j] == 0
                remaining[j] -= 1
            elif j in fired:
                remaining[j] = period[j]
            assert model.ref[j] == remaining.get(j, 0)

    run_checked(spec, check)


@settings(max_examples=75, **SETTINGS)
@given(spec=network_specs(max_neurons=8))
def test_u_and_v_stay_in_range(spec):
    def check(image, model, before, fired):
        assert np.all((model.u > -U_LIMIT) & (model.u <= U_LIMIT))
        assert np.all((model.v >= -V_MAX) & (model.v <= V_MAX))

    run_checked(spec, check)


@settings(max_examples=15, **SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), du=st.integers(0, 3), exp=st.integers(6, 8))
def test_u_range_under_extreme_input(seed, du, exp):
    """Inputs of full 16-bit magnitude every tick and no current decay: u keeps wrapping and
    stays in (-2**23, 2**23]; v saturates and stays in range."""
    rng = np.random.default_rng(seed)
    net = Network("extreme")
    inp = net.inputs("in", 4)
    pop = net.population("n", 3, du=du, dv=0, vth=(1 << 17) - 1, bias_mant=-4096, bias_exp=7)
    net.connect(inp, pop, FromList([[0, 0, 127], [1, 0, 127], [2, 1, -128], [3, 2, 100]]), weight_exp=exp)
    model = GoldenModel(compile_network(net, CoreConfig(n_neurons=3, n_inputs=4)))
    wrapped = 0
    for t in range(300):
        u_before = model.u.copy()
        model.step(np.nonzero(rng.random(4) < 0.8)[0])
        wrapped += int(np.sum(np.abs(model.u - u_before) > U_LIMIT))
        assert np.all((model.u > -U_LIMIT) & (model.u <= U_LIMIT))
        assert np.all((model.v >= -V_MAX) & (model.v <= V_MAX))
    assert wrapped > 0
