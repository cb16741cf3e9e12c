"""Conformance with Loihi's CUBA-LIF arithmetic (Lava 0.10 PyLifModelBitAcc): the 48 cases of
tests/data/loihi_cuba_lif.npz (format: tests/data/loihi_cuba_lif.README.md), reproduced
exactly (spikes, u and v at every tick) by sim.neuron.lif_step and by a compiled network
whose input axons deliver each case's a_in.
"""

from __future__ import annotations


import numpy as np
import pytest

from firmware import CoreConfig, FromList, Network, compile_network
from sim import GoldenModel
from sim.neuron import lif_step
from tests.support import DATA as TEST_DATA

DATA = np.load(TEST_DATA / "loihi_cuba_lif.npz")
CASES = [f"c{k:02d}" for k in range(48)]
N = 8            # neurons per case
BITS = 9         # |a_in| <= 511: nine bits of magnitude


def _bias(mant, exp):
    return mant << exp if exp >= 0 else mant >> -exp


def test_the_data_file_is_what_the_readme_says():
    assert len(DATA.files) == 5 * 48
    spikes = sum(int(DATA[f"{c}_spikes"].sum()) for c in CASES)
    assert spikes == 15680
    for c in CASES:
        a_in = DATA[f"{c}_a_in"]
        assert a_in.shape[1] == N and np.abs(a_in.astype(np.int64)).max() <= 511
        assert DATA[f"{c}_params"].shape == (5,)


@pytest.mark.parametrize("case", CASES)
def test_lif_step_reproduces_case(case):
    du, dv, vth, mant, exp = (int(p) for p in DATA[f"{case}_params"])
    a_in = DATA[f"{case}_a_in"].astype(np.int64)
    u = v = ref = np.zeros(N, np.int64)
    for t in range(a_in.shape[0]):
        u, v, ref, spiked = lif_step(u, v, ref, a_in[t], du, dv, vth, _bias(mant, exp), 0)
        assert np.array_equal(spiked, DATA[f"{case}_spikes"][t]), (case, t)
        assert np.array_equal(u, DATA[f"{case}_u"][t]), (case, t)
        assert np.array_equal(v, DATA[f"{case}_v"][t]), (case, t)


def _compiled_cases():
    """One population of 48 * 8 neurons with each case's parameters. Every neuron n has 2 * 9
    input axons: axon (n, sign, k) delivers sign * 2**k. Bits 0..6 use weight mantissas 2**k
    with weight_exp 0; bits 7 and 8 use mantissas 32 and 64 with weight_exp 2 (128, 256)."""
    params = np.stack([DATA[f"{c}_params"] for c in CASES]).astype(np.int64)
    per_neuron = np.repeat(params, N, axis=0)
    n_neurons = len(CASES) * N
    net = Network("lava")
    axons = net.inputs("bits", n_neurons * 2 * BITS)
    pop = net.population("cases", n_neurons, du=per_neuron[:, 0], dv=per_neuron[:, 1],
                         vth=per_neuron[:, 2], bias_mant=per_neuron[:, 3], bias_exp=per_neuron[:, 4])
    net.record(pop)

    def axon(n, sign, k):
        return (n * 2 + (sign < 0)) * BITS + k

    for sign in (1, -1):
        lo = [[axon(n, sign, k), n, sign * (1 << k)] for n in range(n_neurons) for k in range(7)]
        hi = [[axon(n, sign, k), n, sign * (1 << (k - 2))] for n in range(n_neurons) for k in (7, 8)]
        net.connect(axons, pop, FromList(lo), weight_exp=0, name=f"lo{sign:+d}")
        net.connect(axons, pop, FromList(hi), weight_exp=2, name=f"hi{sign:+d}")
    config = CoreConfig(n_neurons=n_neurons, n_inputs=n_neurons * 2 * BITS,
                        n_segments=n_neurons * 2 * BITS, n_profiles=64)
    return compile_network(net, config), axon


def test_compiled_network_reproduces_all_cases():
    """Case tick t is model tick t. The model's a_in at tick t comes from events of tick t - 1
    (delay 1), so a_in[t] is sent at tick t - 1 for t >= 1; a_in[0] has no earlier tick and is
    preloaded into accumulator slot 0 (the model's documented state 'acc')."""
    image, axon = _compiled_cases()
    n_neurons = len(CASES) * N
    ticks = max(DATA[f"{c}_a_in"].shape[0] for c in CASES)
    a_in = np.zeros((ticks, n_neurons), np.int64)
    for k, c in enumerate(CASES):
        case = DATA[f"{c}_a_in"].astype(np.int64)
        a_in[:case.shape[0], k * N:(k + 1) * N] = case
    raster = np.zeros((ticks, image.config.n_inputs), bool)
    for t in range(1, ticks):
        for n in np.nonzero(a_in[t])[0]:
            value = int(a_in[t, n])
            for k in range(BITS):
                if abs(value) >> k & 1:
                    raster[t - 1, axon(n, 1 if value > 0 else -1, k)] = True
    model = GoldenModel(image)
    model.acc[0, :] = a_in[0]
    ids = image.neuron_ids("cases")
    assert np.array_equal(image.output_ids, ids)
    u = np.zeros((ticks, n_neurons), np.int64)
    v = np.zeros_like(u)
    spikes = np.zeros((ticks, n_neurons), bool)
    for t in range(ticks):
        fired = model.step(np.nonzero(raster[t])[0])
        spikes[t, fired] = True
        u[t], v[t] = model.u[ids], model.v[ids]
    for k, c in enumerate(CASES):
        T = DATA[f"{c}_a_in"].shape[0]
        cols = slice(k * N, (k + 1) * N)
        assert np.array_equal(spikes[:T, cols], DATA[f"{c}_spikes"]), c
        assert np.array_equal(u[:T, cols], DATA[f"{c}_u"]), c
        assert np.array_equal(v[:T, cols], DATA[f"{c}_v"]), c


def test_input_encoding_delivers_exact_a_in():
    """The axon encoding itself: every value in [-511, 511] arrives as exactly that a_in."""
    image, axon = _compiled_cases()
    model = GoldenModel(image)
    n_neurons = len(CASES) * N
    values = np.arange(-511, 512)
    for start in range(0, values.size, n_neurons):
        chunk = values[start:start + n_neurons]
        axons = [axon(n, 1 if value > 0 else -1, k)
                 for n, value in enumerate(chunk.tolist()) for k in range(BITS) if abs(value) >> k & 1]
        slot = (model.tick + 1) % image.config.max_delay
        model.step(sorted(axons))
        assert np.array_equal(model.acc[slot, :chunk.size], chunk)
