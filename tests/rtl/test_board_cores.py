"""The simulated board of K cores (DeviceTop(config, cores=K): rtl.multicore.MultiCore behind
the Link, Verilated, on TCP) runs a MultiImage through host.Device as the golden model of
several cores does (sim.multicore.MultiCoreModel): spikes (in flight across runs), learned
weights, counters. Slow: each K is a Verilator build of its own (about 80 s)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware import compile_network
from host import Device
from sim.multicore import MultiCoreModel
from tests.support.multicore_networks import three_part_network
from tests.support.board_server import BOARD_CONFIG, simulated_board

PLACEMENTS = {2: {"a": 0, "b": 1, "c": [0, 0, 0, 0, 1, 1]}, 3: {"a": 0, "b": 1, "c": 2}}


@pytest.mark.slow
@pytest.mark.parametrize("cores", [2, 3])
def test_a_board_of_k_cores_equals_the_multicore_model(cores):
    net = three_part_network()
    with simulated_board(cores=cores, **BOARD_CONFIG) as (board, config):
        multi = compile_network(net, config, placement=PLACEMENTS[cores], lfsr_seed=12345)
        assert multi.route_core.size > 0
        raster = np.random.default_rng(1).random((40, 2)) < 0.3
        reference = MultiCoreModel(multi)
        want = [reference.run(20, raster[:20]), reference.run(20, raster[20:])]
        with Device.open(board.url, timeout=30) as dev:
            assert dev.cores == cores
            dev.load(multi)
            for got, w in zip([dev.run(20, raster[:20]), dev.run(20, raster[20:])], want):
                assert np.array_equal(got.times, w.times) and np.array_equal(got.neurons, w.neurons)
            for proj in net.projections:
                pre, post, w = reference.projection_weights(proj.name)
                assert np.array_equal(dev.weights(proj.name)[pre, post], w), proj.name
            assert not np.array_equal(reference.projection_weights("in->a")[2], net.projections[0].weights(8))
            assert dev.counters() == reference.counters
