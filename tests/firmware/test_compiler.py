"""Network API and compiler: every NetworkError / CapacityError path (the message must name
the offending population, projection or network and the limit), compile results (placement,
profile dedup, table layout, reproducible FixedProbability) and the float helpers."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

from firmware import (AllToAll, CapacityError, ConfigError, CoreConfig, FixedProbability, FromList,
                      Network, NetworkError, OneToOne, STDPRule, compile_network, du_from_tau,
                      dv_from_tau, quantize_weights)
from firmware.errors import InputWrapWarning, SymbolError
from firmware.network import Projection
from firmware.tables import decode


def raises(exc, *fragments):
    """pytest.raises that also checks every fragment appears (literally) in the message."""
    return pytest.raises(exc, match=".*".join(re.escape(f) for f in fragments))


def base():
    net = Network("net")
    inp = net.inputs("inp", 4)
    pop = net.population("pop", 3)
    return net, inp, pop


# --- neuron parameters --------------------------------------------------------------------------

PARAM_LIMITS = {
    "du": (0, 4095), "dv": (0, 4095), "vth": (0, 131071), "bias_mant": (-4096, 4095),
    "bias_exp": (-8, 7), "refractory": (0, 15),
}


@pytest.mark.parametrize("name", sorted(PARAM_LIMITS))
@pytest.mark.parametrize("side", ["low", "high"])
def test_neuron_parameter_out_of_range(name, side):
    lo, hi = PARAM_LIMITS[name]
    bad = lo - 1 if side == "low" else hi + 1
    net = Network("net")
    with raises(NetworkError, "population 'cells'", f"{name} = {bad}", f"[{lo}, {hi}]"):
        net.population("cells", 3, **{name: bad})
    # per-neuron arrays are checked element by element
    with raises(NetworkError, "population 'cells'", f"{name} = {bad}", f"[{lo}, {hi}]"):
        net.population("cells", 3, **{name: [lo, hi, bad]})
    # and the limits themselves are accepted
    net.population(f"ok_{side}", 2, **{name: [lo, hi]})


def test_neuron_parameter_must_be_integer():
    net = Network("net")
    with raises(NetworkError, "population 'cells'", "du must be integers"):
        net.population("cells", 2, du=1.5)
    with raises(NetworkError, "population 'cells'", "vth must be integers"):
        net.population("cells", 2, vth=float("nan"))
    assert net.population("cells", 2, du=3.0).params["du"].tolist() == [3, 3]


def test_neuron_parameter_shape_and_unknown_name():
    net = Network("net")
    with raises(NetworkError, "population 'cells'", "du has shape (3,)", "scalar or 2 values"):
        net.population("cells", 2, du=[1, 2, 3])
    with raises(NetworkError, "population 'cells'", "unknown parameters ['tau_m']", "known"):
        net.population("cells", 2, tau_m=20)


@pytest.mark.parametrize("size", [0, -1, 2.5, "3"])
def test_group_sizes(size):
    net = Network("net")
    with raises(NetworkError, "inputs 'ax'", f"size = {size!r}", "positive integer"):
        net.inputs("ax", size)
    with raises(NetworkError, "population 'cells'", f"size = {size!r}", "positive integer"):
        net.population("cells", size)


# --- network structure ----------------------------------------------------------------------------


def test_names_are_unique():
    net, inp, pop = base()
    with raises(NetworkError, "network 'net'", "'pop' is used twice"):
        net.inputs("pop", 2)
    with raises(NetworkError, "network 'net'", "'inp' is used twice"):
        net.population("inp", 2)
    net.connect(inp, pop, AllToAll(), weight=1, name="proj")
    with raises(NetworkError, "network 'net'", "projection name 'proj' is used twice"):
        net.connect(inp, pop, AllToAll(), weight=1, name="proj")


def test_connect_checks_groups_and_arguments():
    net, inp, pop = base()
    other = Network("other").population("stranger", 2)
    with raises(NetworkError, "network 'net'", "Population('stranger', 2)", "does not belong"):
        net.connect(inp, other, AllToAll(), weight=1)
    with raises(NetworkError, "projection 'inp->inp", "target must be a Population"):
        net.connect(inp, inp, AllToAll(), weight=1)
    with raises(NetworkError, "projection 'inp->pop'", "give a weight"):
        net.connect(inp, pop, AllToAll())
    with raises(NetworkError, "projection 'bad'", "stdp must be an STDPRule or None"):
        net.connect(inp, pop, AllToAll(), weight=1, stdp={"a_plus": 1}, name="bad")
    # the source check, reachable through the Projection class itself
    with raises(NetworkError, "projection 'direct'", "source must be a Population or Inputs"):
        Projection(net, 0, "not a group", pop, AllToAll(), 1, 0, 1, None, "direct")


def test_connector_errors():
    net, inp, pop = base()
    with raises(NetworkError, "projection 'o2o'", "OneToOne needs equal sizes", "4 pre and 3 post"):
        net.connect(inp, pop, OneToOne(), weight=1, name="o2o")
    with raises(NetworkError, "projection 'pre_idx'", "pre index 4", "[0, 3]"):
        net.connect(inp, pop, FromList([[4, 0, 1]]), name="pre_idx")
    with raises(NetworkError, "projection 'post_idx'", "post index -1", "[0, 2]"):
        net.connect(inp, pop, FromList([[0, -1, 1]]), name="post_idx")
    with raises(NetworkError, "projection 'dup'", "connection (2, 1) appears twice"):
        net.connect(inp, pop, FromList([[0, 0, 1], [2, 1, 1], [1, 1, 1], [2, 1, 5]]), name="dup")
    with pytest.raises(ValueError, match=r"FixedProbability: p = 1.5 is outside \[0, 1\]"):
        FixedProbability(1.5)
    with pytest.raises(ValueError, match="FromList takes rows of"):
        FromList([[0, 1]])
    with pytest.raises(ValueError, match="FromList: .* must be integers"):
        FromList([[0, 1, 0.5]])


def test_record_errors():
    net, inp, pop = base()
    with raises(NetworkError, "network 'net'", "Inputs('inp', 4)", "not one of its populations"):
        net.record(inp)
    with raises(NetworkError, "population 'pop'", "[0, 2]"):
        net.record(pop, [0, 3])


def test_weight_and_delay_shapes_and_ranges():
    net, inp, pop = base()
    net.connect(inp, pop, AllToAll(), weight=np.ones((3, 4), int), name="wshape")
    with raises(NetworkError, "projection 'wshape'", "weight has shape (3, 4)", "(4, 3) matrix"):
        compile_network(net)
    net, inp, pop = base()
    net.connect(inp, pop, AllToAll(), weight=1, delay=np.ones(3, int), name="dshape")
    with raises(NetworkError, "projection 'dshape'", "delay has shape (3,)", "(4, 3) matrix"):
        compile_network(net)
    for weight_bits, bad in ((8, 128), (8, -129), (4, 8), (4, -9), (2, 2)):
        lo, hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
        net, inp, pop = base()
        net.connect(inp, pop, FromList([[0, 0, 0], [1, 1, bad]]), name="w")
        with raises(NetworkError, "projection 'w'", f"weight = {bad}", f"[{lo}, {hi}]"):
            compile_network(net, CoreConfig(weight_bits=weight_bits))
    for max_delay, bad in ((4, 0), (4, 5), (1, 2), (64, 65)):
        net, inp, pop = base()
        net.connect(inp, pop, AllToAll(), weight=1, delay=bad, name="d")
        with raises(NetworkError, "projection 'd'", f"delay = {bad}", f"[1, {max_delay}]"):
            compile_network(net, CoreConfig(max_delay=max_delay))
    net, inp, pop = base()
    net.connect(inp, pop, FromList([[0, 0, 1, 9]]), name="d4")
    with raises(NetworkError, "projection 'd4'", "delay = 9", "[1, 4]"):
        compile_network(net)


@pytest.mark.parametrize("weight_bits,bad", [(8, 9), (8, -1), (4, 13), (2, 15), (8, 1.5)])
def test_weight_exp_out_of_range(weight_bits, bad):
    net, inp, pop = base()
    net.connect(inp, pop, AllToAll(), weight=1, weight_exp=bad, name="x")
    with raises(NetworkError, "projection 'x'", f"weight_exp = {bad!r}", f"[0, {16 - weight_bits}]"):
        compile_network(net, CoreConfig(weight_bits=weight_bits))


# --- STDP -----------------------------------------------------------------------------------------

STDP_LIMITS = {
    "a_plus": (-128, 127), "a_minus": (-128, 127), "lr_shift": (0, 15),
    "pre_decay": (0, 4095), "post_decay": (0, 4095), "pre_impulse": (0, 255), "post_impulse": (0, 255),
}


@pytest.mark.parametrize("field", sorted(STDP_LIMITS))
@pytest.mark.parametrize("side", ["low", "high"])
def test_stdp_parameter_out_of_range(field, side):
    lo, hi = STDP_LIMITS[field]
    bad = lo - 1 if side == "low" else hi + 1
    net, inp, pop = base()
    net.connect(inp, pop, AllToAll(), weight=1, stdp=STDPRule(**{field: bad}), name="learn")
    with raises(NetworkError, "projection 'learn'", f"stdp.{field} = {bad}", f"[{lo}, {hi}]"):
        compile_network(net)


@pytest.mark.parametrize("weight_bits", [8, 5, 2])
def test_stdp_weight_bounds(weight_bits):
    lo, hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    config = CoreConfig(weight_bits=weight_bits)
    for rule, fragment in ((STDPRule(w_min=lo - 1, w_max=0), f"stdp.w_min = {lo - 1}"),
                           (STDPRule(w_min=0, w_max=hi + 1), f"stdp.w_max = {hi + 1}")):
        net, inp, pop = base()
        net.connect(inp, pop, AllToAll(), weight=0, stdp=rule, name="learn")
        with raises(NetworkError, "projection 'learn'", fragment, f"[{lo}, {hi}]"):
            compile_network(net, config)
    net, inp, pop = base()
    net.connect(inp, pop, AllToAll(), weight=0, stdp=STDPRule(w_min=1, w_max=0), name="learn")
    with raises(NetworkError, "projection 'learn'", "stdp.w_min = 1 is above w_max = 0"):
        compile_network(net, config)
    net, inp, pop = base()
    net.connect(inp, pop, FromList([[0, 0, 0], [1, 2, 1]]), stdp=STDPRule(w_min=-1, w_max=0), name="learn")
    with raises(NetworkError, "projection 'learn'", "initial weights span [0, 1]", "STDP bounds [-1, 0]"):
        compile_network(net, config)


def test_stdp_mode_and_shared_trace_parameters():
    net, inp, pop = base()
    net.connect(inp, pop, AllToAll(), weight=1, stdp=STDPRule(mode="pairwise"), name="learn")
    with raises(NetworkError, "projection 'learn'", "stdp.mode = 'pairwise'", "all-to-all", "nearest"):
        compile_network(net)
    for change in ({"pre_decay": 100}, {"post_decay": 100}, {"pre_impulse": 1}, {"post_impulse": 1},
                   {"mode": "nearest"}):
        net, inp, pop = base()
        net.connect(inp, pop, AllToAll(), weight=1, stdp=STDPRule(), name="first")
        net.connect(pop, pop, AllToAll(), weight=1, stdp=STDPRule(**change), name="second")
        with raises(NetworkError, "projection 'second'", "trace parameters", "projection 'first'", "core-wide"):
            compile_network(net)
    # rules that differ only in per-projection fields are fine
    net, inp, pop = base()
    net.connect(inp, pop, AllToAll(), weight=1, stdp=STDPRule(a_plus=3, lr_shift=2), name="first")
    net.connect(pop, pop, AllToAll(), weight=-1, stdp=STDPRule(a_minus=5, w_min=-4, w_max=4), name="second")
    compile_network(net)


# --- compiler-level checks and capacities ------------------------------------------------------


def test_lfsr_seed_and_empty_network():
    net, inp, pop = base()
    for seed in (0, 1 << 32, -5):
        with raises(NetworkError, f"lfsr_seed = {seed}", "[1, 2**32 - 1]"):
            compile_network(net, lfsr_seed=seed)
    compile_network(net, lfsr_seed=(1 << 32) - 1)
    empty = Network("void")
    empty.inputs("x", 2)
    with raises(NetworkError, "network 'void'", "no population"):
        compile_network(empty)


def test_capacity_inputs_and_neurons():
    net = Network("net")
    net.inputs("a", 6)
    net.inputs("b", 5)
    net.population("p", 3)
    net.population("q", 4)
    with raises(CapacityError, "inputs 'b'", "needs 11 input axons", "holds 10", "CoreConfig.n_inputs"):
        compile_network(net, CoreConfig(n_inputs=10, n_neurons=8))
    with raises(CapacityError, "population 'q'", "needs 7 neurons", "holds 6", "CoreConfig.n_neurons"):
        compile_network(net, CoreConfig(n_inputs=11, n_neurons=6))
    compile_network(net, CoreConfig(n_inputs=11, n_neurons=7))


def test_capacity_profiles():
    net = Network("net")
    net.population("p", 3, vth=[1, 2, 3])
    net.population("q", 2, vth=[3, 4], bias_mant=[5, 6])   # bias_mant is not part of a profile
    with raises(CapacityError, "['p', 'q']", "4 distinct parameter sets", "holds 3", "CoreConfig.n_profiles"):
        compile_network(net, CoreConfig(n_profiles=3))
    assert compile_network(net, CoreConfig(n_profiles=4)).symbols["usage"]["profiles"] == 4


def test_capacity_projections():
    net, inp, pop = base()
    for k in range(3):
        net.connect(inp, pop, AllToAll(), weight=1, delay=k + 1)
    with raises(CapacityError, "network 'net'", "needs 3 projections", "holds 2", "CoreConfig.n_projections"):
        compile_network(net, CoreConfig(n_projections=2))
    compile_network(net, CoreConfig(n_projections=3))


def test_capacity_synapses_segments_reverse():
    net, inp, pop = base()
    net.connect(inp, pop, AllToAll(), weight=1, delay=np.arange(12).reshape(4, 3) % 2 + 1)  # 12 synapses
    net.connect(pop, pop, AllToAll(), weight=1, stdp=STDPRule(), name="rec")                 # 9 synapses
    # segments: each input has delays {1, 2} -> 2 segments each (8); each neuron 1 (3): 11
    with raises(CapacityError, "network 'net'", "needs 21 synapses", "holds 20", "CoreConfig.n_synapses"):
        compile_network(net, CoreConfig(n_synapses=20))
    with raises(CapacityError, "network 'net'", "needs 11 fan-out segments", "holds 10", "CoreConfig.n_segments"):
        compile_network(net, CoreConfig(n_segments=10))
    with raises(CapacityError, "network 'net'", "needs 9 reverse-index entries", "holds 8", "CoreConfig.n_reverse"):
        compile_network(net, CoreConfig(n_reverse=8))
    usage = compile_network(net, CoreConfig(n_synapses=21, n_segments=11, n_reverse=9)).symbols["usage"]
    assert usage == {"neurons": 3, "synapses": 21, "segments": 11, "reverse": 9, "profiles": 1}


def test_capacity_errors_are_network_errors():
    assert issubclass(CapacityError, NetworkError) and issubclass(NetworkError, ValueError)


# --- compile results ------------------------------------------------------------------------------


def test_placement_in_creation_order():
    net = Network("place")
    net.inputs("a", 3)
    p = net.population("p", 2)
    b = net.inputs("b", 4)
    q = net.population("q", 5)
    net.connect(b, q, FromList([[1, 2, 7]]), name="b->q")
    net.connect(q, p, FromList([[4, 1, -3, 2]]), name="q->p")
    image = compile_network(net, CoreConfig(n_inputs=10, n_neurons=9))
    assert image.symbols["inputs"] == [{"name": "a", "first": 0, "size": 3}, {"name": "b", "first": 3, "size": 4}]
    assert image.symbols["populations"] == [{"name": "p", "first": 0, "size": 2},
                                            {"name": "q", "first": 2, "size": 5}]
    assert image.input_ids("b", [1]).tolist() == [4]
    assert image.neuron_ids("q").tolist() == [2, 3, 4, 5, 6]
    t = decode(image)
    # input b[1] = source 4 -> neuron q[2] = 4; neuron q[4] = neuron 6 = source 10 + 6 -> p[1] = 1
    used = np.nonzero(t.syn_target >= 0)[0]
    rows = sorted(zip(t.syn_source[used].tolist(), t.syn_target[used].tolist(),
                      t.syn_weight[used].tolist(), t.syn_delay[used].tolist()))
    assert rows == [(4, 4, 7, 1), (16, 1, -3, 2)]
    assert [p["name"] for p in image.symbols["projections"]] == ["b->q", "q->p"]
    with pytest.raises(SymbolError, match="no input group or population named 'nope'"):
        image.neuron_ids("nope")
    with pytest.raises(SymbolError, match=r"inputs 'a': index 3 is outside \[0, 2\]"):
        image.input_ids("a", [3])


def test_profiles_are_deduplicated():
    net = Network("prof")
    net.population("p", 4, du=[1, 2, 1, 2], vth=50, bias_mant=[0, 1, 2, 3])
    net.population("q", 3, du=2, vth=50, bias_mant=-7, refractory=[0, 0, 1])
    net.record(net.populations[1], [2])
    image = compile_network(net)
    neuron = image.table("neuron")
    prof = neuron["profile"].tolist()
    # distinct (du, dv, vth, bias_exp, refractory): (1,..,0), (2,..,0), (2,..,1)
    assert image.symbols["usage"]["profiles"] == 3 and image.table("profile")["du"].size == 3
    assert prof[0] == prof[2] and prof[1] == prof[3] == prof[4] == prof[5]
    assert len({prof[0], prof[1], prof[6]}) == 3
    assert neuron["bias_mant"][:7].tolist() == [0, 1, 2, 3, -7, -7, -7]
    assert neuron["output"][:7].tolist() == [0, 0, 0, 0, 0, 0, 1]
    # the per-neuron table is written in full depth (spec §9): unused neurons bias 0, no output
    assert neuron["bias_mant"].size == 256
    assert not neuron["bias_mant"][7:].any() and not neuron["output"][7:].any()
    assert image.output_ids.tolist() == [6]
    profile = image.table("profile")
    assert profile["refractory"][prof[6]] == 1 and profile["du"][prof[0]] == 1


def test_synapse_layout_and_reverse_index():
    """Synapses sorted by (source, projection, delay, window, target); segments group equal
    (source, projection, delay, window); the reverse index lists each neuron's plastic synapses
    by ascending address."""
    rng = np.random.default_rng(0)
    net = Network("layout")
    inp = net.inputs("in", 5)
    pop = net.population("n", 300)
    net.connect(pop, pop, FixedProbability(0.01, seed=2), weight=1, delay=rng.integers(1, 5, (300, 300)),
                stdp=STDPRule(w_min=0), name="rec")
    net.connect(inp, pop, FixedProbability(0.3, seed=1), weight=2, delay=rng.integers(1, 5, (5, 300)), name="ff")
    net.connect(inp, pop, AllToAll(), weight=3, stdp=STDPRule(), name="ff2")
    config = CoreConfig(n_neurons=300, n_inputs=5)
    image = compile_network(net, config)
    t = decode(image)
    n = image.symbols["usage"]["synapses"]
    assert np.array_equal(t.fanout, np.arange(n))       # routing order is address order
    key = np.stack([t.syn_source[:n], t.syn_projection[:n], t.syn_delay[:n],
                    t.syn_target[:n] >> config.target_bits, t.syn_target[:n]], axis=1)
    assert np.all([tuple(key[k]) < tuple(key[k + 1]) for k in range(n - 1)])
    seg = image.table("segment")
    assert seg["syn_ptr"].size == len({tuple(r) for r in key[:, :4]})
    assert set(seg["window"].tolist()) == {0, 1}
    plastic = np.nonzero(np.isin(t.syn_projection[:n], [0, 2]))[0]
    assert t.rev_syn.size == plastic.size
    for j in range(300):
        mine = t.rev_syn[t.rev_ptr[j]:t.rev_ptr[j + 1]]
        assert mine.tolist() == [a for a in plastic.tolist() if t.syn_target[a] == j]


def test_fixed_probability_is_reproducible():
    def synapses(seed, allow=True):
        net = Network("fp")
        pop = net.population("n", 40)
        net.connect(pop, pop, FixedProbability(0.2, seed=seed, allow_self_connections=allow), weight=1)
        return net.projections[0].pre_idx.tolist(), net.projections[0].post_idx.tolist(), net

    a, b = synapses(7), synapses(7)
    assert a[:2] == b[:2]
    assert compile_network(a[2]).to_bytes() == compile_network(b[2]).to_bytes()
    assert synapses(8)[:2] != a[:2]
    pre, post, _ = synapses(7, allow=False)
    assert all(i != j for i, j in zip(pre, post))
    assert 0.15 < len(pre) / 1600 < 0.25
    # FixedProbability(0) and (1)
    net = Network("edge")
    pop = net.population("n", 5)
    assert net.connect(pop, pop, FixedProbability(0.0), weight=1).pre_idx.size == 0
    assert net.connect(pop, pop, FixedProbability(1.0), weight=1).pre_idx.size == 25


# --- float helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [0.3, 1.0, 2.5, 5.0, 20.0, 100.0, 1000.0, 1e5])
def test_dv_and_du_from_tau(tau):
    target = math.exp(-1.0 / tau)
    dv = dv_from_tau(tau)
    assert isinstance(dv, int) and 0 <= dv <= 4095
    assert abs((4096 - dv) / 4096 - target) <= 0.5 / 4096     # nearest factor
    du = du_from_tau(tau)
    assert isinstance(du, int) and 0 <= du <= 4095
    # u decays by (4096 - du - 1) / 4096; du >= 0 means the factor is at most 4095/4096
    factor = (4096 - du - 1) / 4096
    assert abs(factor - target) <= 0.5 / 4096 or (du == 0 and target > 4095 / 4096)
    # dt scales the same way
    assert dv_from_tau(2 * tau, dt=2.0) == dv


def test_tau_helpers_limits():
    assert dv_from_tau(math.inf) == 0
    assert dv_from_tau(1e-6) == 4095 and du_from_tau(1e-6) == 4095
    assert du_from_tau(1e9) == 0
    for f in (dv_from_tau, du_from_tau):
        for tau, dt in ((0, 1), (-1, 1), (5, 0)):
            with pytest.raises(ValueError, match="must be positive"):
                f(tau, dt)


@pytest.mark.parametrize("weight_bits", [2, 4, 8])
def test_quantize_weights_round_trip(weight_bits):
    rng = np.random.default_rng(weight_bits)
    lo, hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    for scale in (0.3, 1.0, 10.0, 100.0, 3000.0):
        w = rng.normal(0, scale, 200)
        if np.abs(w).max() > hi * 2.0 ** (16 - weight_bits):
            continue
        q = quantize_weights(w, weight_bits)
        assert q.mantissa.min() >= lo and q.mantissa.max() <= hi
        err = np.abs(q.values - w)
        assert err.max() <= 2.0 ** q.exponent / 2 + 1e-9
        assert q.max_abs_error == pytest.approx(err.max())
        assert q.rms_error == pytest.approx(np.sqrt(np.mean(err ** 2)))
        if q.exponent > 0:   # the smallest exponent: one less would not fit
            m = np.round(w / 2.0 ** (q.exponent - 1))
            assert m.min() < lo or m.max() > hi
    assert quantize_weights(np.zeros(3), weight_bits).exponent == 0
    top = hi << (16 - weight_bits)
    assert quantize_weights([top, -top], weight_bits).exponent == 16 - weight_bits
    with pytest.raises(ValueError, match=f"largest weight {top}"):
        quantize_weights([top * 2.0], weight_bits)
    with pytest.raises(ValueError, match="finite"):
        quantize_weights([np.nan], weight_bits)


def test_quantized_weights_drive_the_network():
    q = quantize_weights(np.array([[300.0, -1000.0], [2.0, 0.0]]))
    net = Network("q")
    inp = net.inputs("in", 2)
    pop = net.population("n", 2)
    net.connect(inp, pop, AllToAll(), weight=q.mantissa, weight_exp=q.exponent)
    t = decode(compile_network(net))
    assert q.exponent == 3
    assert sorted(t.syn_weight[t.syn_target >= 0].tolist()) == sorted(q.mantissa.ravel().tolist())


# --- float helpers and constructors refuse what they cannot represent (issue 12, findings 7, 8) ---

NAN, INF = float("nan"), float("inf")


# Found by the property suite (tests/properties/test_firmware_network.py); each escaped as
# another exception, or was taken, or named the wrong value, before.
FOUND_BY_PROPERTIES = [
    # a name no set can hold was looked up among the taken ones first (TypeError)
    (lambda: Network().inputs([1], 2), ("inputs [1]: the name must be a non-empty string",)),
    # ragged nestings escaped numpy as ValueError
    (lambda: Network().population("p", 2, vth=[[1], [1, 2]]), ("population 'p': vth is a ragged nesting",)),
    # beyond int64: a wrapped cast named the wrong value, or "not integers" for an integer
    (lambda: Network().population("p", 2, vth=1e300), ("population 'p': vth = 1e+300 is outside [0, 131071]",)),
    (lambda: Network().population("p", 2, vth=np.uint64(2**64 - 1)), ("vth = 18446744073709551615 is outside",)),
    (lambda: Network().population("p", 2, vth=2**70), ("vth = 1180591620717411303424 is outside",)),
    # a size no machine holds: MemoryError
    (lambda: Network().population("p", 10**12), ("population 'p': size = 1000000000000", "memory")),
    (lambda: Network().population("p", 2**64), ("population 'p': size = 18446744073709551616", "memory")),
    # huge integers: OverflowError from float()
    (lambda: FixedProbability(2**2000), ("FixedProbability: p = ", "outside [0, 1]")),
    (lambda: du_from_tau(20.0, dt=2**2000), ("du_from_tau: dt = ",)),
    (lambda: STDPRule.from_float(a_plus=2**2000), ("STDPRule.from_float: a_plus = ", "finite")),
    # an unhashable mode: TypeError
    (lambda: STDPRule.from_float(mode=["all-to-all"]), ("mode = ['all-to-all']",)),
    # complex numbers lost their imaginary part, strings and booleans were taken as numbers
    (lambda: quantize_weights([1 + 2j]), ("weights must be real numbers", "complex128")),
    (lambda: quantize_weights("1"), ("weights must be real numbers", "'1'")),
    (lambda: quantize_weights([True, 2.0]), ("weights must be real numbers", "True")),
    (lambda: quantize_weights([2**2000]), ("quantize_weights: a weight of 603 digits exceeds",)),
    # FromList's refusals name what they refuse
    (lambda: FromList([1, 2, 3]), ("got 1-dimensional data of shape (3,)",)),
    (lambda: FromList([[0, 1, 2], [1, 2.5, 3]]), ("FromList: row 1 has 2.5 as its post",)),
    (lambda: FromList([[0, 1, 2], [1, 0, None]]), ("FromList: row 1 has None as its weight",)),
    (lambda: FromList([[2**70, 0, 1]]), ("FromList: row 0 has 1180591620717411303424 as its pre",)),
]


@pytest.mark.parametrize("call,fragments", [
    (lambda: dv_from_tau(NAN), ("dv_from_tau: tau = nan", "(0, inf]")),
    (lambda: du_from_tau(NAN), ("du_from_tau: tau = nan", "(0, inf]")),
    (lambda: dv_from_tau(-INF), ("tau = -inf",)),
    (lambda: du_from_tau("20"), ("tau = '20'",)),
    (lambda: dv_from_tau(True), ("tau = True",)),
    (lambda: dv_from_tau(20.0, dt=NAN), ("dt = nan", "(0, inf)")),
    (lambda: du_from_tau(20.0, dt=INF), ("dt = inf", "(0, inf)")),
    (lambda: STDPRule.from_float(a_plus=NAN), ("STDPRule.from_float: a_plus = nan", "finite")),
    (lambda: STDPRule.from_float(a_plus=INF), ("a_plus = inf", "finite")),
    (lambda: STDPRule.from_float(a_minus="-1"), ("a_minus = '-1'",)),
    (lambda: STDPRule.from_float(impulse=0), ("impulse = 0", "[1, 255]")),
    (lambda: STDPRule.from_float(impulse=256), ("impulse = 256", "[1, 255]")),
    (lambda: STDPRule.from_float(impulse=12.5), ("impulse = 12.5", "[1, 255]")),
    (lambda: STDPRule.from_float(tau_plus=NAN), ("STDPRule.from_float: tau_plus = nan",)),
    (lambda: STDPRule.from_float(tau_minus=0), ("tau_minus = 0", "must be positive")),
    (lambda: STDPRule.from_float(dt=-1), ("dt = -1",)),
    (lambda: STDPRule.from_float(mode="pairs"), ("mode = 'pairs'", "all-to-all")),
    (lambda: quantize_weights([1.0], weight_bits=0), ("quantize_weights: weight_bits = 0", "[2, 8]")),
    (lambda: quantize_weights([1.0], weight_bits=9), ("weight_bits = 9", "[2, 8]")),
    (lambda: quantize_weights([1.0], weight_bits="8"), ("weight_bits = '8'",)),
    (lambda: quantize_weights([1.0, INF]), ("weights must be finite", "inf")),
    (lambda: quantize_weights("abc"), ("weights must be real numbers",)),
    (lambda: quantize_weights([[1.0], [2.0, 3.0]]), ("weights must be real numbers",)),
    (lambda: FixedProbability(NAN), ("FixedProbability: p = nan", "[0, 1]")),
    (lambda: FixedProbability("0.5"), ("p = '0.5'",)),
    (lambda: FixedProbability(0.5, seed=-1), ("seed = -1", "non-negative integer")),
    (lambda: FixedProbability(0.5, seed="x"), ("seed = 'x'",)),
    (lambda: FixedProbability(0.5, seed=1.5), ("seed = 1.5",)),
    (lambda: FromList([[0, 0, INF]]), ("FromList", "integers")),
    (lambda: FromList([[0, 0, 1e30]]), ("FromList", "integers")),
    (lambda: FromList([["a", "b", "c"]]), ("FromList", "integers")),
    (lambda: FromList(None), ("FromList",)),
    (lambda: Network().inputs(7, 3), ("inputs 7: the name must be a non-empty string",)),
    (lambda: Network().population("", 3), ("population '': the name must be a non-empty string",)),
    (lambda: Network().population("p", True), ("size = True",)),
] + FOUND_BY_PROPERTIES)
def test_bad_float_helper_and_constructor_arguments_raise_network_error(call, fragments):
    with pytest.raises(NetworkError) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_record_and_connect_check_their_arguments():
    net = Network("n")
    inp, pop = net.inputs("in", 2), net.population("p", 3)
    with pytest.raises(NetworkError, match="population 'p': recorded neuron index must be integers"):
        net.record(pop, [1.5])
    with pytest.raises(NetworkError, match=r"recorded neuron index = 3 is outside \[0, 2\]"):
        net.record(pop, [0, 3])
    assert not pop.recorded.any()                       # nothing half-applied
    with pytest.raises(NetworkError, match="network 'n': projection 5: the name must be a non-empty string"):
        net.connect(inp, pop, AllToAll(), weight=1, name=5)


def test_from_float_refuses_an_amplitude_it_would_clip():
    """a_plus = 20000 used to become 127 at lr_shift 0 (and a_minus = -1 became 0)."""
    with pytest.raises(NetworkError) as info:
        STDPRule.from_float(a_plus=20000, a_minus=-1)
    message = str(info.value)
    for fragment in ("a_plus = 20000", "[-16256, 16256]", "impulse 128"):
        assert fragment in message, message
    with pytest.raises(NetworkError, match=r"a_minus = -30000 is outside \[-25400, 25400\].*impulse 200"):
        STDPRule.from_float(a_plus=1, a_minus=-30000, impulse=200)


def test_from_float_refuses_an_amplitude_that_loses_its_precision():
    """The smaller amplitude of a lopsided pair rounds to 0 or far from its value."""
    with pytest.raises(NetworkError) as info:
        STDPRule.from_float(a_plus=16000, a_minus=-1)
    message = str(info.value)
    for fragment in ("a_minus = -1 would be 0", "with a_plus = 16000", "lr_shift 0",
                     "multiples of 128", "from 640 to 16256", "within 10%"):
        assert fragment in message, message
    with pytest.raises(NetworkError, match=r"a_minus = -0.7 would be -1 \(43% off\)"):
        STDPRule.from_float(a_plus=100, a_minus=-0.7)
    with pytest.raises(NetworkError, match=r"a_plus = 0.01 would be 0.0117.*lr_shift 15"):
        STDPRule.from_float(a_plus=0.01, a_minus=-0.01)


def test_from_float_represents_every_accepted_amplitude_within_10_percent():
    accepted = 0
    for impulse in (1, 64, 128, 255):
        for a_plus in (0.0, 0.05, 1.0, 3.0, 100.0, 1000.0):
            for ratio in (0.0, 0.01, 0.05, 0.1, 0.5, 1.05, 4.0, 30.0):
                a_minus = -ratio * max(a_plus, 0.1)
                try:
                    rule = STDPRule.from_float(a_plus=a_plus, a_minus=a_minus, impulse=impulse)
                except NetworkError as error:
                    assert "would be" in str(error) or "is outside" in str(error)
                    continue
                accepted += 1
                step = impulse / 2**rule.lr_shift
                for a, q in ((a_plus, rule.a_plus), (a_minus, rule.a_minus)):
                    assert -128 <= q <= 127
                    assert abs(q * step - a) <= 0.1 * abs(a), (impulse, a_plus, a_minus, rule)
    assert accepted > 100
    rule = STDPRule.from_float(a_plus=1.0, a_minus=0.0)      # pure potentiation stays exact
    assert rule.a_minus == 0 and rule.a_plus > 0


# --- the 16-bit input sum: the one difference from Lava's Dense (issue 12, finding 11) -----------


def _wrap_warnings(net, config=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compile_network(net, config)
    return [w for w in caught if issubclass(w.category, InputWrapWarning)]


def _one_neuron(rows, weight_exp, stdp=None, n_inputs=None):
    net = Network("wrap")
    inp = net.inputs("in", n_inputs or len(rows))
    pop = net.population("n", 2)
    net.connect(inp, pop, FromList(rows), weight_exp=weight_exp, stdp=stdp, name="p")
    return net


@pytest.mark.parametrize("rows,weight_exp,bound", [
    ([[0, 0, 64], [1, 0, 64]], 8, "+32768"),                             # 16384 + 16384
    ([[0, 1, -128], [1, 1, -1]], 8, "-33024"),                           # -32768 - 256
    ([[0, 0, 64, 1], [1, 0, 64, 4]], 8, "+32768"),                       # other delays, same tick
])
def test_a_network_whose_input_can_wrap_warns(rows, weight_exp, bound):
    caught = _wrap_warnings(_one_neuron(rows, weight_exp))
    assert len(caught) == 1
    message = str(caught[0].message)
    neuron = rows[0][1]
    for fragment in ("network 'wrap'", f"population 'n' neuron {neuron}", bound, "[-32768, 32767]",
                     "Lava", "1 neuron"):
        assert fragment in message, message
    assert caught[0].filename == __file__     # points at the caller of compile_network


def test_a_network_at_the_bounds_does_not_warn():
    # 127 << 8 + 127 + 127 + 1 = 32767 and -128 << 8 = -32768: the largest sums that do not wrap
    net = Network("edge")
    inp = net.inputs("in", 4)
    pop = net.population("n", 2)
    net.connect(inp, pop, FromList([[0, 0, 127], [1, 1, -128]]), weight_exp=8)
    net.connect(inp, pop, FromList([[1, 0, 127], [2, 0, 127], [3, 0, 1], [0, 1, 0]]), weight_exp=0)
    assert _wrap_warnings(net) == []


def test_plastic_synapses_count_with_their_bounds():
    """Weights start at 0 but may learn up to w_max: 2 * (100 << 8) = 51,200 can reach one neuron."""
    rule = STDPRule(w_min=-10, w_max=100)
    caught = _wrap_warnings(_one_neuron([[0, 0, 0], [1, 0, 0]], 8, stdp=rule))
    assert len(caught) == 1 and "+51200" in str(caught[0].message)
    # negative bound: 2 * (-10 << 8) = -5120 stays inside; a small w_max stays inside too
    assert _wrap_warnings(_one_neuron([[0, 0, 0], [1, 0, 0]], 8, stdp=STDPRule(w_min=-10, w_max=60))) == []


def test_one_warning_per_network_lists_the_first_neurons_and_the_count():
    net = Network("many")
    inp = net.inputs("in", 3)
    a = net.population("a", 4)
    b = net.population("b", 30)
    net.connect(inp, a, AllToAll(), weight=0)
    net.connect(inp, b, AllToAll(), weight=127, weight_exp=7)          # 3 * 16256 = 48768
    caught = _wrap_warnings(net)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "30 neurons" in message and "population 'b' neuron 0 (up to +48768)" in message
    assert "population 'b' neuron 4" in message and "neuron 5 " not in message and "population 'a'" not in message


def test_compile_network_checks_its_arguments():
    net = Network("n")
    net.population("p", 1)
    for kwargs, error, fragment in (
            (dict(network="n"), NetworkError, "compile_network: network is a str, not a firmware.Network"),
            (dict(config={"n_neurons": 8}), ConfigError, "compile_network: config is a dict, not a CoreConfig"),
            (dict(lfsr_seed="1"), NetworkError, "lfsr_seed = '1' must be an integer"),
            (dict(lfsr_seed=1.0), NetworkError, "lfsr_seed = 1.0 must be an integer")):
        with pytest.raises(error, match=re.escape(fragment)):
            compile_network(**{"network": net, **kwargs})
    with pytest.raises(NetworkError, match="network 7: the name must be a non-empty string"):
        Network(7)


# --- found by the property suite (tests/properties/test_firmware_network.py) ------------------


def test_connect_and_record_refuse_what_is_not_a_group_or_connector():
    net, inp, pop = base()
    # an array compared with `in` raised "truth value of an array is ambiguous" (ValueError)
    with raises(NetworkError, "does not belong to this network"):
        net.connect(np.array([1, 2]), pop, AllToAll(), weight=1)
    with raises(NetworkError, "is not one of its populations"):
        net.record(np.array([1, 2]))
    # None had no connections() (AttributeError), a class needed self (TypeError)
    for connector in (None, AllToAll, "AllToAll"):
        with raises(NetworkError, "projection 'inp->pop#0': the connector is", "give an instance of AllToAll"):
            net.connect(inp, pop, connector, weight=1)
    assert net.projections == []


def test_record_refuses_a_boolean_mask():
    """numpy reads [True, False, True] as the indices 1, 0, 1: neurons 0 and 1, not 0 and 2."""
    net, inp, pop = base()
    with raises(NetworkError, "population 'pop': the recorded neurons are booleans", "np.nonzero(mask)[0]"):
        net.record(pop, [True, False, True])
    assert not pop.recorded.any()


def test_connections_too_many_for_memory_are_refused():
    net = Network("huge")
    inp, pop = net.inputs("in", 10**7), net.population("pop", 10**6 // 8)
    with raises(NetworkError, "projection 'dense': the AllToAll connections of 10000000 x 125000", "memory"):
        net.connect(inp, pop, AllToAll(), weight=1, name="dense")
    with raises(NetworkError, "FixedProbability connections", "memory"):
        net.connect(inp, pop, FixedProbability(0.1), weight=1, name="sparse")


def test_stdp_rule_fields_must_be_one_value_each():
    net, inp, pop = base()
    net.connect(inp, pop, AllToAll(), weight=1, stdp=STDPRule(pre_decay=[1, 2]), name="array")
    with raises(NetworkError, "projection 'array': stdp.pre_decay = [1, 2] must be one integer in [0, 4095]"):
        compile_network(net)
    net, inp, pop = base()
    net.connect(inp, pop, AllToAll(), weight=1, stdp=STDPRule(mode=["nearest"]), name="listed")
    with raises(NetworkError, "projection 'listed': stdp.mode = ['nearest']"):
        compile_network(net)


def test_a_ragged_weight_matrix_is_refused_at_compile():
    net, inp, pop = base()
    net.connect(inp, pop, AllToAll(), weight=[[1], [1, 2]], name="ragged")
    with raises(NetworkError, "projection 'ragged': weight is a ragged nesting"):
        compile_network(net)
