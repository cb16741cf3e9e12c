"""A cluster of two device emulators and the simulated board (the gateware behind TCP, the
configuration CI already builds) runs one network placed on three cores and gives the golden
model's result on one core: spikes, learned weights and counters (docs/spec.md §12)."""

from __future__ import annotations

import numpy as np

from firmware import compile_network
from host.cluster import Cluster
from sim import GoldenModel
from sim.device_emulator import DeviceEmulator, EmulatorServer
from tests.support.multicore_networks import three_part_network


def test_two_emulators_and_the_simulated_board_give_the_one_core_result(device_board):
    board, config = device_board
    net = three_part_network()
    multi = compile_network(net, config, placement={"a": 0, "b": 1, "c": 2}, lfsr_seed=12345)
    assert multi.route_core.size == 8          # a 0, 3, 5 -> core 1; b 1, 4, 7 -> core 2; c 0, 2 -> core 0
    raster = np.random.default_rng(1).random((40, 2)) < 0.3
    reference = GoldenModel(compile_network(net, config.__class__(n_neurons=32, n_inputs=8, max_delay=2),
                                            lfsr_seed=12345))
    want = reference.run(40, raster)
    assert want.times.size > 50
    c = want.neurons[want.neurons >= 16] - 16               # c fires only where a cut synapse reaches it
    assert set(c.tolist()) == {0, 2, 5}
    server = EmulatorServer(DeviceEmulator(config), host="127.0.0.1", port=0).start()
    try:
        with Cluster.open(["emulator://", board.url, server.url], config, timeout=30) as cluster:
            cluster.load(multi)
            got = cluster.run(40, raster)
            assert np.array_equal(got.times, want.times) and np.array_equal(got.neurons, want.neurons)
            pre, post, w = reference.projection_weights("in->a")
            assert np.array_equal(cluster.weights("in->a")[pre, post], w)
            assert not np.array_equal(w, net.projections[0].weights(8))       # it learned
            counters = cluster.counters()
            for name in ("ticks", "input_events", "spikes", "output_spikes", "plastic_updates", "dropped"):
                assert counters[name] == reference.counters[name], name
    finally:
        server.stop()
