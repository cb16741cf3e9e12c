"""A cluster of two device emulators and the simulated board (the gateware behind TCP, the
configuration CI already builds) runs one network placed on three cores and gives the golden
model's result on one core: spikes, learned weights and counters (docs/spec.md §12)."""

from __future__ import annotations

import numpy as np

from firmware import FromList, Network, STDPRule, compile_network
from host.cluster import Cluster
from sim import GoldenModel
from sim.device_emulator import DeviceEmulator, EmulatorServer


def three_part_network():
    rng = np.random.default_rng(7)
    net = Network("ring-of-three")
    inp = net.inputs("in", 2)
    a = net.population("a", 8, du=409, dv=200, vth=60, bias_mant=rng.integers(0, 40, 8))
    b = net.population("b", 8, du=2048, dv=100, vth=40, refractory=1, bias_mant=rng.integers(0, 30, 8))
    c = net.population("c", 6, du=4095, dv=0, vth=80, bias_mant=rng.integers(-5, 25, 6))
    rule = STDPRule(a_plus=70, a_minus=-50, lr_shift=3, w_min=0, w_max=100)
    net.connect(inp, a, FromList([(i, j, int(rng.integers(20, 90))) for i in range(2) for j in range(8)]),
                stdp=rule, name="in->a")
    net.connect(a, b, FromList([(0, 1, 90, 2), (3, 4, 120, 2), (5, 7, 100, 2), (0, 6, -40, 2)]), name="a->b")
    net.connect(b, c, FromList([(1, 0, 110, 2), (4, 2, 127, 2), (7, 5, 90, 2)]), name="b->c")
    net.connect(c, a, FromList([(0, 3, 80, 2), (2, 6, -60, 2)]), name="c->a")
    net.connect(b, b, FromList([(k, (k + 1) % 8, 30) for k in range(8)]), name="b->b")
    for pop in (a, b, c):
        net.record(pop)
    return net


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
