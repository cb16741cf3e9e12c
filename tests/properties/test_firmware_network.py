"""The network API under fuzzing (firmware/network.py): random sequences of inputs(),
population(), connect() with every connector, and record(), each argument valid or junk, then
compile_network and a short run of what compiled.

Every call succeeds or raises NetworkError naming the group or projection (or the connector,
helper or rule) and the limit; a refused call leaves the network as it was; a network that
compiles runs, and its image survives a save and load. The float helpers and STDP rules are
fuzzed the same way.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from firmware import (AllToAll, CoreConfig, FixedProbability, FromList, Image, Network, OneToOne,
                      STDPRule, compile_network, du_from_tau, dv_from_tau, formats, quantize_weights)
from firmware.network import NEURON_PARAMETERS
from sim import GoldenModel
from tests.support.hardening import assert_clean_failure, budget, junk_values, valid_or_junk, weighted

pytestmark = [pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning"),
              # a numpy cast that overflows is a value the API let through unchecked
              pytest.mark.filterwarnings("error::RuntimeWarning")]

NAMES = ("a", "b", "c", "d", "e")
# A core small enough to fill: capacity refusals are drawn as often as fits.
CORE = CoreConfig(n_neurons=24, n_inputs=16, n_synapses=160, n_segments=64, n_reverse=64,
                  n_profiles=6, n_projections=6, weight_bits=6, max_delay=3)
W_LO, W_HI = formats.signed_range(CORE.weight_bits)

# Sizes: small ones, and absurd ones (refused, or too large for any core) - never one that a
# machine could try and fail to allocate slowly.
SIZES = st.integers(1, 6)
JUNK_SIZES = st.sampled_from([0, -1, 2.5, 3.0, "3", True, None, np.int64(4), np.float64(2.0), 10**12, 2**64,
                              -2**70, math.nan])


def fuzzed(fuzz: bool, valid: st.SearchStrategy, junk: st.SearchStrategy | None = None) -> st.SearchStrategy:
    """`valid` for a clean call; for a fuzzed one, valid or (one in three) junk."""
    if not fuzz:
        return valid
    return valid_or_junk(valid, 3) if junk is None else weighted((2, valid), (1, junk))


def parameter_values(fuzz, lo, hi):
    in_range = st.integers(lo, hi)
    return fuzzed(fuzz, st.one_of(in_range, in_range.map(float), st.lists(in_range, min_size=1, max_size=6).map(np.array)),
                  st.one_of(st.sampled_from([lo - 1, hi + 1, 2**70, 1e300]), junk_values()))


def neuron_params(fuzz):
    optional = {key: parameter_values(fuzz, lo, hi) for key, (lo, hi, _) in NEURON_PARAMETERS.items()}
    if fuzz:
        optional["tau"] = st.just(5.0)
    return st.fixed_dictionaries({}, optional=optional)


def rules(fuzz):
    def ints(lo, hi):
        return fuzzed(fuzz, st.integers(lo, hi), st.one_of(st.sampled_from([lo - 1, hi + 1]), junk_values()))
    rule = st.builds(
        STDPRule, a_plus=ints(-128, 127), a_minus=ints(-128, 127), lr_shift=ints(0, 15),
        w_min=ints(W_LO, 0), w_max=ints(0, W_HI), pre_decay=ints(0, 4095), post_decay=st.just(197),
        pre_impulse=ints(0, 255), post_impulse=st.just(128),
        mode=fuzzed(fuzz, st.sampled_from(["all-to-all", "nearest"]), st.sampled_from(["lifo", None, ["all-to-all"]])))
    return weighted((1, st.none()), (2, rule), (1 if fuzz else 0, junk_values(allow_arrays=False)))


def rows(draw, fuzz):
    n = draw(st.integers(0, 8))
    cols = draw(fuzzed(fuzz, st.sampled_from([3, 4]), st.just(2)))
    values = fuzzed(fuzz, st.integers(0, 5), st.sampled_from([-1, 7, 1.5, math.nan, 2**70, 1e300, "x", None]))
    return draw(fuzzed(fuzz, st.lists(st.lists(values, min_size=cols, max_size=cols), min_size=n, max_size=n),
                       junk_values()))


@st.composite
def connectors(draw, fuzz):
    """A thunk that builds a connector (constructors refuse too), or a junk connector."""
    kinds = ["AllToAll", "OneToOne", "FixedProbability", "FromList", "FromList"] + ["junk"] * fuzz
    kind = draw(st.sampled_from(kinds))
    if kind == "AllToAll":
        flag = draw(st.booleans())
        return lambda: AllToAll(allow_self_connections=flag)
    if kind == "OneToOne":
        return OneToOne
    if kind == "FixedProbability":
        p = draw(fuzzed(fuzz, st.floats(0, 1), st.sampled_from([-0.1, 1.5, math.nan, math.inf, 2**2000])))
        seed = draw(fuzzed(fuzz, st.integers(0, 2**64)))
        return lambda: FixedProbability(p, seed=seed)
    if kind == "FromList":
        data = rows(draw, fuzz)
        return lambda: FromList(data)
    junk = draw(st.one_of(junk_values(allow_arrays=False), st.just(AllToAll), st.just(FromList)))
    return lambda: junk


@st.composite
def operations(draw):
    """One call of the network API: clean (every argument valid, though it may still break a
    rule: a name taken, sizes that differ) or fuzzed (some arguments junk)."""
    fuzz = draw(st.booleans())
    op = draw(st.sampled_from(["inputs", "population", "population", "connect", "connect", "connect", "record"]))
    name = fuzzed(fuzz, st.sampled_from(NAMES))
    if op == "inputs":
        return op, draw(name), draw(fuzzed(fuzz, SIZES, JUNK_SIZES))
    if op == "population":
        return op, draw(name), draw(fuzzed(fuzz, SIZES, JUNK_SIZES)), draw(neuron_params(fuzz))
    group = fuzzed(fuzz, st.integers(0, 9), st.one_of(junk_values(allow_arrays=False), st.just("foreign")))
    if op == "record":
        return op, draw(group), draw(st.one_of(st.none(), parameter_values(fuzz, 0, 5)))
    weight = fuzzed(fuzz, st.one_of(st.integers(W_LO, W_HI), st.integers(1, 6).flatmap(
        lambda n: st.lists(st.integers(W_LO, W_HI), min_size=n, max_size=n).map(np.array))),
        st.one_of(st.sampled_from([W_LO - 1, W_HI + 1]), junk_values()))
    optional = {
        "weight_exp": fuzzed(fuzz, st.integers(0, formats.max_weight_exp(CORE.weight_bits))),
        "delay": fuzzed(fuzz, st.integers(1, CORE.max_delay), st.sampled_from([0, CORE.max_delay + 1])),
        "stdp": rules(fuzz),
        "name": fuzzed(fuzz, st.sampled_from(["p", "q", "r"])),
    }
    # a clean call gives a weight (only FromList may go without); a fuzzed one may forget it
    kwargs = draw(st.fixed_dictionaries({} if fuzz else {"weight": weight},
                                        optional={**optional, "weight": weight} if fuzz else optional))
    return op, draw(group), draw(group), draw(connectors(fuzz)), kwargs


def snapshot(net: Network):
    """Everything a call may change."""
    groups = [(type(g).__name__, g.name, g.size) for g in net.input_groups + net.populations]
    recorded = [p.recorded.tobytes() for p in net.populations]
    params = [{k: v.tobytes() for k, v in p.params.items()} for p in net.populations]
    projections = [(p.name, p.pre_idx.tobytes(), p.post_idx.tobytes()) for p in net.projections]
    return groups, recorded, params, projections


def pick(net: Network, ref, foreign: Network, populations_only: bool = False):
    """The group an operation names: an int picks one of the network's (a population where only
    a population will do), anything else is passed as it is."""
    groups = net.populations if populations_only else net.input_groups + net.populations
    if isinstance(ref, str) and ref == "foreign":
        return foreign.populations[0]
    if isinstance(ref, int) and not isinstance(ref, bool):
        return groups[ref % len(groups)] if groups else ref
    return ref


def apply(net: Network, op, foreign: Network):
    kind = op[0]
    if kind == "inputs":
        return lambda: net.inputs(op[1], op[2])
    if kind == "population":
        return lambda: net.population(op[1], op[2], **op[3])
    if kind == "record":
        target = pick(net, op[1], foreign, populations_only=True)
        return lambda: net.record(target, op[2])
    pre, post = pick(net, op[1], foreign), pick(net, op[2], foreign, populations_only=True)
    return lambda: net.connect(pre, post, op[3](), **op[4])


def mentions(net: Network, op) -> list[str]:
    """What the message of a refused call must name: the group it creates, when it has a name."""
    if op[0] in ("inputs", "population") and isinstance(op[1], str) and op[1]:
        return [repr(op[1])]
    return []


@budget(150)
@given(st.lists(operations(), min_size=1, max_size=10))
def test_network_calls_succeed_or_refuse_cleanly_and_a_compiled_network_runs(ops):
    net, foreign = Network("fuzz"), Network("foreign")
    foreign.population("stranger", 2)
    # every sequence starts from a group of each kind, so that connect() and record() have targets
    start = [("inputs", "in", 3), ("population", "pop", 4, {"vth": 5})]
    for op in start + ops:
        before = snapshot(net)
        outcome = assert_clean_failure(apply(net, op, foreign), mentions=mentions(net, op), label=op[0])
        event(f"{op[0]} {'taken' if outcome.ok else 'refused'}")
        if not outcome.ok:
            assert snapshot(net) == before, f"a refused {op[0]} changed the network"
    compiled = assert_clean_failure(lambda: compile_network(net, CORE, lfsr_seed=12345), label="compile")
    event("compiled" if compiled.ok else f"compile refused: {type(compiled.error).__name__}")
    if compiled.ok:
        image = compiled.value
        result = GoldenModel(image).run(4, {0: list(range(image.config.n_inputs))})
        assert result.ticks == 4
        again = Image.from_bytes(image.to_bytes())
        assert again.symbols == image.symbols
        assert all(np.array_equal(again.tables[k], image.tables[k]) for k in image.tables)


# --- helpers and rules -------------------------------------------------------------------------

floats_or_junk = valid_or_junk(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6), 3)
# STDP amplitudes: the small ones (a learning rate at its limit), zero, and large ones
amplitudes = valid_or_junk(weighted((2, st.floats(-2, 2)), (1, st.just(0.0)), (1, st.floats(-2e4, 2e4))), 3)


@budget(150)
@given(tau=floats_or_junk, dt=st.one_of(st.just(1.0), floats_or_junk))
def test_tau_helpers_give_a_12_bit_decay_or_refuse(tau, dt):
    for helper in (du_from_tau, dv_from_tau):
        outcome = assert_clean_failure(lambda: helper(tau, dt), mentions=[helper.__name__])
        if outcome.ok:
            assert isinstance(outcome.value, int) and 0 <= outcome.value < formats.DECAY_UNITY


@budget(150)
@given(weights=valid_or_junk(st.one_of(
           st.floats(-1e5, 1e5), st.lists(st.floats(-1e5, 1e5), max_size=6),
           st.lists(st.lists(st.floats(-300, 300), min_size=2, max_size=2), max_size=3))),
       weight_bits=valid_or_junk(st.integers(0, 10)))
def test_quantize_weights_is_within_half_a_step_or_refuses(weights, weight_bits):
    outcome = assert_clean_failure(lambda: quantize_weights(weights, weight_bits), mentions=["quantize_weights"])
    if outcome.ok:
        q = outcome.value
        lo, hi = formats.signed_range(int(weight_bits))
        assert q.mantissa.size == 0 or lo <= q.mantissa.min() <= q.mantissa.max() <= hi
        assert q.max_abs_error <= 2.0**q.exponent / 2


@budget(150)
@given(kwargs=st.fixed_dictionaries({}, optional={
    "tau_plus": floats_or_junk, "tau_minus": floats_or_junk, "a_plus": amplitudes, "a_minus": amplitudes, "w_min": valid_or_junk(st.integers(-40, 0)),
    "w_max": valid_or_junk(st.integers(0, 40)), "dt": floats_or_junk,
    "impulse": valid_or_junk(st.integers(-1, 300)), "mode": valid_or_junk(st.sampled_from(["all-to-all", "nearest"]))}))
def test_stdp_rule_from_float_gives_a_rule_that_compiles_or_refuses(kwargs):
    outcome = assert_clean_failure(lambda: STDPRule.from_float(**kwargs), mentions=["STDPRule.from_float"])
    if not outcome.ok:
        return
    rule = outcome.value
    assert 0 <= rule.lr_shift <= 15 and -128 <= min(rule.a_plus, rule.a_minus) <= max(rule.a_plus, rule.a_minus) <= 127
    step = rule.pre_impulse / 2**rule.lr_shift     # each amplitude within 10% of what was asked, 0 exactly
    for name, default in (("a_plus", 1.0), ("a_minus", -1.05)):
        asked, got = float(kwargs.get(name, default)), getattr(rule, name) * step
        assert abs(got - asked) <= 0.1 * abs(asked), (name, asked, got)
    # a rule from_float accepted is one the compiler takes (its bounds aside, which it names)
    net = Network("rule")
    net.connect(net.inputs("in", 1), net.population("pop", 1), AllToAll(), weight=0, stdp=outcome.value,
                name="plastic")
    compiled = assert_clean_failure(lambda: compile_network(net, CoreConfig(n_neurons=1, n_inputs=1)),
                                    mentions=["'plastic'"])
    if not compiled.ok:
        assert "stdp.w_" in str(compiled.error) or "initial weights" in str(compiled.error), compiled.error
