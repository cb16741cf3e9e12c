"""Run inputs under fuzzing (sim/model.py: normalize_inputs, tick_axons, check_ticks), on every
backend: GoldenModel, FastModel, Device("model") and Device("emulator://").

Inputs of every form (None, dicts, (times, axons) pairs, rasters, lists and generators of
groups, junk at the top), valid or with junk inside, and tick counts valid or not. Every backend
takes a run or refuses it with the same InputError; a refused run changes nothing (tick,
counters, state); runs that were taken give the golden model's spikes on every backend, and
the state after a sequence of runs is the golden model's. stream() is fuzzed the same way: the
ticks before a bad item run, and equal the golden model's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from firmware import AllToAll, CoreConfig, FixedProbability, Network, OneToOne, STDPRule, compile_network
from host import Device
from sim import FastModel, GoldenModel, InputError
from tests.support.hardening import assert_clean_failure, budget, junk_values, weighted

N_INPUTS = 6
CORE = CoreConfig(n_neurons=10, n_inputs=N_INPUTS, n_synapses=96, n_segments=48, n_reverse=96, max_delay=2)


def plastic_relay() -> Network:
    """Input i -> neuron i (a spike out a tick after a spike in), a plastic all-to-all layer
    behind it, and recurrent inhibition: state that a stray tick would change."""
    net = Network("relay")
    inp = net.inputs("in", N_INPUTS)
    relay = net.population("relay", N_INPUTS, du=4095, dv=4095, vth=10)
    out = net.population("out", 4, du=600, dv=300, vth=30, refractory=1)
    net.connect(inp, relay, OneToOne(), weight=127, name="in_relay")
    net.connect(relay, out, AllToAll(), weight=20, stdp=STDPRule(a_plus=60, a_minus=-40, lr_shift=3), name="plastic")
    net.connect(out, out, FixedProbability(0.5, seed=3), weight=-30, delay=2, name="inhibit")
    net.record(relay)
    net.record(out)
    return net


IMAGE = compile_network(plastic_relay(), CORE)


class ModelBackend:
    def __init__(self, cls):
        self.model = cls(IMAGE)

    def run(self, ticks, inputs):
        return self.model.run(ticks, inputs)

    def snapshot(self):
        state = self.model.state()
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in state.items()}, dict(self.model.counters)

    def close(self):
        pass


class DeviceBackend:
    def __init__(self, url):
        self.dev = Device.open(url, config=CORE)
        self.dev.load(IMAGE)

    def run(self, ticks, inputs):
        return self.dev.run(ticks, inputs)

    def snapshot(self):
        return (self.dev.tick, self.dev.probe("v").tolist(), self.dev.weights("plastic", masked=True).tolist(),
                self.dev.counters())

    def close(self):
        self.dev.close()


BACKENDS = {"fast": lambda: ModelBackend(FastModel), "model-device": lambda: DeviceBackend("model"),
            "emulator-device": lambda: DeviceBackend("emulator://")}


# --- inputs ------------------------------------------------------------------------------------

TICKS = st.one_of(st.integers(0, 8), st.integers(0, 8), st.integers(0, 8),
                  st.sampled_from([-1, 2.0, 2.5, "3", True, None, np.int64(3), np.uint8(2), 2**32, 2**64, math.nan]))
axon = st.one_of(st.integers(0, N_INPUTS - 1), st.integers(0, N_INPUTS - 1), st.integers(0, N_INPUTS - 1),
                 st.integers(0, N_INPUTS - 1).map(float),
                 st.sampled_from([-1, N_INPUTS, 2.5, -0.5, math.nan, math.inf, True, "1", None, 2**70, np.uint64(2**63), np.int8(3)]))
tick = st.one_of(st.integers(0, 9), st.integers(0, 9), st.integers(0, 9),
                 st.sampled_from([-1, 1.0, 1.5, "2", True, 2**64, (1,), frozenset({1}), math.nan]))


def group(clean: bool):
    """One tick's axons, in any of the forms a tick takes (or junk)."""
    axons = st.integers(0, N_INPUTS - 1) if clean else axon
    forms = [st.lists(axons, max_size=4), st.lists(axons, max_size=4).map(tuple),
             st.sets(st.integers(0, N_INPUTS - 1), max_size=4), st.sets(st.integers(0, N_INPUTS - 1)).map(sorted).map(np.array),
             axons, st.none(), st.just(range(1, 3))]
    if clean:
        return st.one_of(*forms)
    return weighted((3, st.one_of(*forms)), (1, st.one_of(junk_values(), st.just([[1, 2]]), st.just({0: 1}))))


@st.composite
def inputs(draw):
    """A thunk making the inputs of a run (a fresh one per backend: a generator is used up)."""
    clean = draw(st.booleans())
    form = draw(st.sampled_from(["dict", "pair", "raster", "list", "generator", "none", "junk"]))
    if form == "dict":
        value = draw(st.dictionaries(st.integers(0, 9) if clean else tick, group(clean), max_size=5))
    elif form == "pair":
        n = draw(st.integers(0, 6))
        times = draw(st.lists(st.integers(0, 9) if clean else tick, min_size=n, max_size=n))
        axons = draw(st.lists(st.integers(0, N_INPUTS - 1) if clean else axon, min_size=n,
                              max_size=n + (0 if clean else draw(st.integers(0, 1)))))
        as_array = draw(st.booleans())
        value = draw(st.sampled_from([(times, axons)] + ([(np.array(times), np.array(axons))] if clean and as_array else [])
                                     + ([] if clean else [(times, axons, times), (times,)])))
    elif form == "raster":
        rows, cols = draw(st.integers(0, 9)), draw(st.integers(0, N_INPUTS + (0 if clean else 1)))
        bits = np.array(draw(st.lists(st.booleans(), min_size=rows * cols, max_size=rows * cols)), bool).reshape(rows, cols)
        dtype = draw(st.sampled_from([bool, np.uint8, np.int64, np.float32]))
        value = bits.astype(dtype)
        if not clean and value.size:
            junk = draw(st.sampled_from([2, -1, 0.5, math.nan, math.inf]))
            value = value.astype(np.float64)
            value[draw(st.integers(0, rows - 1)), draw(st.integers(0, cols - 1))] = junk
        if not clean and draw(st.booleans()):
            value = draw(st.sampled_from([value.astype(str), value.reshape(1, *value.shape), value.astype(object)]))
    elif form in ("list", "generator"):
        value = draw(st.lists(group(clean), max_size=10))
    elif form == "none":
        value = None
    else:
        value = draw(junk_values())
    if form == "generator":
        return lambda: (item for item in value)
    return lambda: value


def refusal(outcome):
    return None if outcome.ok else (type(outcome.error), str(outcome.error))


@pytest.fixture(scope="module")
def backends():
    opened = {name: make() for name, make in BACKENDS.items()}
    yield opened
    for backend in opened.values():
        backend.close()


@budget(80)
@given(runs=st.lists(st.tuples(TICKS, inputs()), min_size=1, max_size=4))
def test_every_backend_takes_or_refuses_a_run_as_the_golden_model_does(backends, runs):
    golden = ModelBackend(GoldenModel)
    for backend in backends.values():     # the backends persist between examples: start again
        if isinstance(backend, DeviceBackend):
            backend.dev.reset()
        else:
            backend.model.reset()
    for ticks, make in runs:
        before = golden.snapshot()
        want = assert_clean_failure(lambda: golden.run(ticks, make()), label="GoldenModel.run")
        event("run taken" if want.ok else "run refused")
        if not want.ok:
            assert isinstance(want.error, InputError), want.error
            assert golden.snapshot() == before, "a refused run changed the golden model"
        for name, backend in backends.items():
            prior = backend.snapshot()
            got = assert_clean_failure(lambda: backend.run(ticks, make()), label=f"{name}.run")
            assert refusal(got) == refusal(want), f"{name}: {refusal(got)} where the golden model: {refusal(want)}"
            if want.ok:
                a, b = want.value, got.value
                assert (a.start_tick, a.ticks) == (b.start_tick, b.ticks), name
                assert np.array_equal(a.times, b.times) and np.array_equal(a.neurons, b.neurons), name
            else:
                assert backend.snapshot() == prior, f"{name}: a refused run changed the backend"
    # after it all, the same state: weights (plastic), counters, tick
    final = golden.model
    for name, backend in backends.items():
        if isinstance(backend, DeviceBackend):
            dev = backend.dev
            assert dev.tick == final.tick and dev.counters() == dict(final.counters), name
            assert np.array_equal(dev.weights("plastic", masked=True).filled(-999),
                                  np.ma.filled(_weights(final), -999)), name
        else:
            assert backend.snapshot() == golden.snapshot(), name


def _weights(model):
    pre, post, w = model.projection_weights("plastic")
    m = np.ma.masked_all((N_INPUTS, 4), dtype=np.int64)
    m[pre, post] = w
    return m


def _miss(axons: list, how: str) -> list:
    return axons + {"high": [N_INPUTS], "low": [-1], "twice": axons[:1] or [0, 0]}.get(how, [])


# stream items: valid ones and near misses (an axon just out of range, one twice in a tick),
# some junk
near_miss = st.builds(_miss, st.lists(st.integers(0, N_INPUTS - 1), unique=True, max_size=3),
                      st.sampled_from(["valid", "valid", "valid", "high", "low", "twice"]))


@budget(40)
@given(items=st.lists(weighted((3, near_miss), (1, group(clean=False))), max_size=8))
def test_a_stream_runs_the_ticks_before_a_bad_item_as_the_golden_model_runs_them(backends, items):
    golden = GoldenModel(IMAGE)
    good = 0
    for item in items:          # the golden model runs the longest prefix it takes
        if not assert_clean_failure(lambda: golden.run(1, [item]), label="GoldenModel.run").ok:
            break
        good += 1
    event("stream refused" if good < len(items) else "stream taken")
    for name in ("model-device", "emulator-device"):
        dev = backends[name].dev
        dev.reset()
        blocks = []

        def stream():
            for block in dev.stream(iter(items), block_ticks=3):
                blocks.append(block)
        outcome = assert_clean_failure(stream, label=f"{name}.stream")
        assert outcome.ok == (good == len(items)), name
        assert outcome.ok or isinstance(outcome.error, InputError), (name, outcome.error)
        assert sum(b.ticks for b in blocks) == good and dev.tick == good, name
        times = np.concatenate([b.times for b in blocks] + [np.zeros(0, np.int64)])
        want = GoldenModel(IMAGE).run(good, list(items[:good]))
        assert np.array_equal(times, want.times), name
