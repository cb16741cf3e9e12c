"""sim.fast.FastModel (numba) against sim.GoldenModel (numpy, the reference), bit for bit.

Random networks (inputs and populations, recurrent and feed-forward projections, signed
weights with exponents up to 16 - weight_bits, delays up to max_delay, refractory periods,
per-neuron parameters, plastic projections in both trace modes) and scenarios for the wraps,
a hand-permuted synapse table and the step() fallback. Every tick's spikes of every neuron,
the outputs, the final state (u, v, ref, x, y, accumulators, weights, LFSR, tick) and the
counters must be identical, also when runs are split and mixed with step().
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from firmware import CoreConfig, FromList, Image, Network, compile_network
from firmware import formats
from sim import InputError, GoldenModel

from sim.fast import FastModel   # numba is a test dependency ([test] extra): no skip
from tests.support import ROOT
from tests.support.networks import random_network as reference_network

# Random and property networks here wrap their 16-bit input sums on purpose (spec §4), so the
# compiler's InputWrapWarning is expected.
pytestmark = pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning")


# --- random networks ------------------------------------------------------------------------


def random_network(seed: int):
    """(image, raster) for a seed, from the scalar-reference test's random family."""
    net, config, raster, lfsr_seed = reference_network(seed)
    return compile_network(net, config, lfsr_seed=lfsr_seed), raster


def assert_same(fast_model, ref_model, where=""):
    sf, sr = fast_model.state(), ref_model.state()
    assert sf.keys() == sr.keys()
    for key in sr:
        a, b = np.asarray(sf[key]), np.asarray(sr[key])
        assert a.shape == b.shape and np.array_equal(a, b), (
            f"{where}: state {key!r} differs" + (f" first at index {np.argwhere(a != b)[0].tolist()}"
                                                  if a.shape == b.shape else f" in shape {a.shape} vs {b.shape}"))
        assert np.asarray(sf[key]).dtype == np.asarray(sr[key]).dtype, key
    assert fast_model.counters == ref_model.counters, f"{where}: counters differ"
    for proj in ref_model.image.symbols["projections"]:
        for a, b in zip(fast_model.projection_weights(proj["name"]),
                        ref_model.projection_weights(proj["name"])):
            assert np.array_equal(a, b), f"{where}: projection {proj['name']}"


def assert_same_result(rf, rr, where):
    assert rf.start_tick == rr.start_tick
    assert np.array_equal(rf.output_ids, rr.output_ids)
    if rr.all_spikes is not None:
        diff = np.argwhere(rf.all_spikes != rr.all_spikes)
        assert diff.size == 0, f"{where}: first spike difference at (tick, neuron) {diff[0].tolist()}"
    assert np.array_equal(rf.spikes, rr.spikes), f"{where}: output spikes differ"


def run_both(image, raster, split=True):
    """Run the raster through both models: in one run, or split into run / step / run."""
    fm, gm = FastModel(image), GoldenModel(image)
    ticks = raster.shape[0]
    if not split:
        rf, rr = fm.run(ticks, raster, record_all=True), gm.run(ticks, raster, record_all=True)
        assert_same_result(rf, rr, "run")
        assert_same(fm, gm, "run")
        return fm, gm
    a, b = ticks // 3, ticks // 3 + 5
    assert_same_result(fm.run(a, raster[:a], record_all=True), gm.run(a, raster[:a], record_all=True), "run 1")
    assert_same(fm, gm, "after run 1")
    for t in range(a, b):
        axons = np.nonzero(raster[t])[0]
        assert np.array_equal(fm.step(axons), gm.step(axons)), f"step at tick {t}"
    assert_same(fm, gm, "after steps")
    rest = raster[b:]
    assert_same_result(fm.run(rest.shape[0], rest, record_all=False),
                       gm.run(rest.shape[0], rest, record_all=False), "run 2")
    assert_same(fm, gm, "end")
    return fm, gm


# --- tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(30))
def test_random_network(seed):
    image, raster = random_network(seed)
    run_both(image, raster, split=bool(seed % 2))


def test_random_networks_exercise_the_features():
    """The random family must spike, learn in both trace modes, use delays and refractory
    periods; otherwise the equality above proves little."""
    spikes = updates = 0
    modes, delays, refractory = set(), set(), 0
    for seed in range(30):
        image, raster = random_network(seed)
        gm = GoldenModel(image)
        gm.run(raster.shape[0], raster)
        spikes += gm.counters["spikes"]
        if gm.counters["plastic_updates"]:
            updates += gm.counters["plastic_updates"]
            modes.add(gm.tables.stdp["mode"])
        delays.update(np.unique(gm.tables.syn_delay[gm.tables.syn_delay > 0]).tolist())
        refractory += int(np.any(gm.tables.refractory > 0) and gm.counters["spikes"] > 0)
    assert spikes > 2000 and updates > 2000
    assert modes == {formats.TRACE_MODE_ALL_TO_ALL, formats.TRACE_MODE_NEAREST}
    assert max(delays) >= 5 and refractory >= 10


def _u_trajectory(image, raster):
    gm = GoldenModel(image)
    us = []
    for row in raster:
        gm.step(np.nonzero(row)[0])
        us.append(gm.u.copy())
    return np.array(us)


def test_wraps_and_clips():
    """u wraps past 2**23 (du = 0, big inputs), a_in wraps at 16 bits (two inputs of
    127 << 8 in one tick), v clips; the scenario is checked to wrap before the models are
    compared."""
    net = Network("wrap")
    inp = net.inputs("in", 4)
    pop = net.population("n", 3, du=0, dv=4095, vth=(1 << 17) - 1, bias_mant=4095, bias_exp=7)
    net.connect(inp, pop, FromList([[0, 0, 127, 1], [1, 0, 127, 1], [2, 1, 127, 2], [3, 2, -128, 3],
                                    [0, 2, -128, 1]]), weight_exp=8)
    net.record(pop)
    image = compile_network(net, CoreConfig(n_neurons=3, n_inputs=4))
    raster = np.random.default_rng(1).random((300, 4)) < 0.6
    u = _u_trajectory(image, raster)
    jumps = np.abs(np.diff(u, axis=0)) > (1 << 23)
    assert jumps.sum() > 5, "the scenario must wrap u"
    run_both(image, raster)


def test_u_at_exactly_minus_2_23_becomes_plus_2_23():
    """The current wrap's edge (spec §3.3): a u of exactly -2**23 becomes +2**23. u and the
    pending input are set by hand (u0 searched, not copied from a model run) so that an input
    of -32768 lands u on -2**23; the next tick checks the value is used as +2**23."""
    net = Network("edge")
    inp = net.inputs("in", 1)
    pop = net.population("n", 2, du=0, dv=0, vth=(1 << 17) - 1)
    net.connect(inp, pop, FromList([[0, 0, -128], [0, 1, -128]]), weight_exp=8)
    image = compile_network(net, CoreConfig(n_neurons=2, n_inputs=1))
    unity, a = formats.DECAY_UNITY, -(1 << 15)
    want = -(1 << 23) - (a << formats.ACT_SHIFT)          # decay(u0) must give this
    guess = -want * unity // (unity - 1)
    u0 = next(-m for m in range(guess - 4, guess + 4) if -((m * (unity - 1)) >> formats.DECAY_BITS) == want)
    fm, gm = FastModel(image), GoldenModel(image)
    for model in (fm, gm):
        model.u = np.array([u0, u0 + 4096], np.int64)
        model.acc[0, :] = a
        model.step([])
    assert gm.u[0] == 1 << 23 and gm.u[1] != 1 << 23
    assert_same(fm, gm, "edge tick")
    for model in (fm, gm):
        model.run(20, [[0]] * 20)
    assert_same(fm, gm, "after")


def test_bench_network_small():
    """The benchmark's network (scaled down), static and plastic, run for 150 ticks."""
    spec = importlib.util.spec_from_file_location("bench_golden_model", ROOT / "bench" / "golden_model.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for plastic in (False, True):
        image = bench.build_image(600, 40, seed=3, plastic=plastic)
        fm, gm = run_both(image, np.zeros((150, 1), bool), split=False)
        assert gm.counters["spikes"] > 600 * 150 * 0.01
        assert (gm.counters["plastic_updates"] > 0) == plastic


def _permute_synapse_blocks(image: Image) -> Image:
    """The same network with the segments' synapse blocks stored in reverse order, so fan-out
    order is no longer synapse-address order (a table layout the compiler never makes)."""
    lay = formats.layouts(image.config)
    seg = image.table("segment")
    syn = image.table("synapse")
    rev = image.table("reverse")
    order = np.arange(seg["syn_ptr"].size)[::-1]
    new_ptr = np.zeros_like(seg["syn_ptr"])
    new_addr = np.zeros(syn["weight"].size, np.int64)
    at = 0
    for k in order:
        start, count = seg["syn_ptr"][k], seg["syn_count"][k]
        new_ptr[k] = at
        new_addr[start:start + count] = np.arange(at, at + count)
        at += count
    moved = {}
    for name, values in syn.items():      # every field of a synapse word moves with it
        moved[name] = np.zeros_like(values)
        moved[name][new_addr] = values
    tables = dict(image.tables)
    tables["segment"] = lay["segment"].pack(**{**seg, "syn_ptr": new_ptr})
    tables["synapse"] = lay["synapse"].pack(**moved)
    tables["reverse"] = lay["reverse"].pack(**{**rev, "synapse": new_addr[rev["synapse"]]})
    return Image(image.config, tables, image.symbols)


def test_permuted_synapse_table():
    for seed in (3, 4, 5, 7):
        image, raster = random_network(seed)
        permuted = _permute_synapse_blocks(image)
        fm = FastModel(permuted)
        if fm.tables.fanout.size > 1:
            assert not np.array_equal(fm.tables.fanout, np.arange(fm.tables.fanout.size))
        run_both(permuted, raster)


def test_step_refuses_repeated_unsorted_or_missing_axons_like_the_reference():
    image, raster = random_network(11)
    fm, gm = FastModel(image), GoldenModel(image)
    n_in = image.config.n_inputs
    rng = np.random.default_rng(0)
    for bad in ([1, 1], [2, 1], [n_in], [-1]):
        for model in (fm, gm):
            with pytest.raises(InputError, match="input axon"):
                model.step(bad)
    assert fm.tick == gm.tick == 0
    for t in range(60):
        axons = np.unique(rng.integers(0, n_in, int(rng.integers(0, 2 * n_in + 1))))
        assert np.array_equal(fm.step(axons), gm.step(axons)), t
    fm.step([]), gm.step([])
    assert_same(fm, gm, "after steps")


@pytest.mark.parametrize("seed", [2, 5, 8])
def test_weights_beyond_8_bits_set_by_hand(seed):
    """Weights written into the state beyond the int8 range (which compiled images never have)
    make long runs take the int64 path; the clip of plastic synapses then applies as usual."""
    image, raster = random_network(seed)
    fm, gm = FastModel(image), GoldenModel(image)
    big = (np.arange(fm.weights.size) % 7 - 3) * 1000
    for model in (fm, gm):
        model.weights[:] = big
    assert raster.shape[0] >= FastModel.COMPACT_MIN_TICKS
    assert_same_result(fm.run(raster.shape[0], raster, record_all=True),
                       gm.run(raster.shape[0], raster, record_all=True), "run")
    assert_same(fm, gm, "end")


def test_short_and_long_runs_take_both_kernel_paths():
    """int64 weights for steps and short runs, an int8 copy for runs of COMPACT_MIN_TICKS or
    more: split runs must agree with the reference across the threshold."""
    image, raster = random_network(6)
    n = FastModel.COMPACT_MIN_TICKS
    fm, gm = FastModel(image), GoldenModel(image)
    at = 0
    for length in (n - 1, n, 1, n + 7, 3):
        chunk = np.zeros((length, image.config.n_inputs), bool)
        chunk[:max(0, min(length, raster.shape[0] - at))] = raster[at:at + length]
        at += length
        assert_same_result(fm.run(length, chunk, record_all=True), gm.run(length, chunk, record_all=True),
                           f"run of {length}")
        assert_same(fm, gm, f"after run of {length}")
    assert gm.counters["plastic_updates"] > 0


def test_missing_numba_names_the_package():
    code = ("import sys; sys.modules['numba'] = None\n"
            "from firmware import Network, compile_network\n"
            "from sim.fast import FastModel\n"
            "net = Network(); net.population('p', 2)\n"
            "try:\n"
            "    FastModel(compile_network(net))\n"
            "except ImportError as e:\n"
            "    print('ERROR:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ERROR:" in out.stdout and "numba" in out.stdout
    assert "pip install axonite[fast]" in out.stdout
