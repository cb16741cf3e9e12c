"""host.Cluster: several devices run one partitioned network in lock-step and give the result
of the golden model on one core (docs/spec.md §12)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware import CoreConfig, FromList, Network, compile_network
from host import Device
from host.cluster import Cluster
from host.errors import ConfigMismatchError, LinkError
from sim import GoldenModel, InputError
from sim.device_emulator import DeviceEmulator, EmulatorServer
from sim.multicore import MultiCoreModel
from tests.support.multicore_networks import CORE, ONE_CORE, random_network

pytestmark = pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning")


def expected(net, raster, seed):
    model = GoldenModel(compile_network(net, ONE_CORE, lfsr_seed=seed))
    return model, model.run(len(raster), raster)


@pytest.mark.parametrize("seed, cores, plastic", [(0, 2, True), (1, 3, False), (2, 3, True)])
def test_emulators_give_the_one_core_result(seed, cores, plastic):
    net, raster, lfsr_seed = random_network(seed, plastic)
    reference, want = expected(net, raster, lfsr_seed)
    multi = compile_network(net, CORE, cores=cores, lfsr_seed=lfsr_seed)
    assert multi.route_core.size > 0                         # spikes cross devices
    servers = [EmulatorServer(DeviceEmulator(CORE), host="127.0.0.1", port=0).start() for _ in range(cores - 1)]
    try:
        urls = ["emulator://"] + [s.url for s in servers]    # in-process and over TCP
        with Cluster.open(urls, CORE) as cluster:
            cluster.load(multi)
            half = len(raster) // 2                          # two runs: spikes in flight carry over
            a = cluster.run(half, raster[:half])
            b = cluster.run(len(raster) - half, raster[half:])
            assert np.array_equal(np.concatenate([a.times, b.times]), want.times)
            assert np.array_equal(np.concatenate([a.neurons, b.neurons]), want.neurons)
            for proj in net.projections:
                pre, post, w = reference.projection_weights(proj.name)
                matrix = cluster.weights(proj.name)
                assert np.array_equal(matrix[pre, post], w), proj.name
                assert np.count_nonzero(~np.isnan(matrix)) == w.size
            counters = cluster.counters()
            for name in ("ticks", "input_events", "spikes", "output_spikes", "plastic_updates", "dropped"):
                assert counters[name] == reference.counters[name], name
            cluster.reset()
            again = cluster.run(len(raster), raster)
            assert np.array_equal(again.times, want.times) and np.array_equal(again.neurons, want.neurons)
    finally:
        for s in servers:
            s.stop()


def test_model_devices_equal_the_multicore_model():
    net, raster, seed = random_network(3, plastic=True)
    multi = compile_network(net, CORE, cores=2, lfsr_seed=seed)
    want = MultiCoreModel(multi).run(len(raster), raster)
    with Cluster.open(["model", "model"], CORE) as cluster:
        cluster.load(multi)
        got = cluster.run(len(raster), raster)
    assert np.array_equal(got.times, want.times) and np.array_equal(got.neurons, want.neurons)


def test_refusals():
    net, raster, seed = random_network(0)
    multi = compile_network(net, CORE, cores=3, lfsr_seed=seed)
    with Cluster.open(["model", "model"], CORE) as cluster:
        with pytest.raises(LinkError, match="no network loaded"):
            cluster.run(3)
        with pytest.raises(ConfigMismatchError, match="placed on 3 cores, the cluster has 2 devices"):
            cluster.load(multi)
        cluster.load(compile_network(net, CORE, cores=2, lfsr_seed=seed))
        with pytest.raises(InputError, match="input axon 99 at tick 0 is out of range"):
            cluster.run(3, {0: [99]})
        assert cluster.tick == 0
    with pytest.raises(Exception, match="list of device URLs"):
        Cluster.open("model")


def test_a_tick_that_may_overflow_a_device_queue_is_refused_before_running():
    net = Network("wide")
    inp = net.inputs("in", 8)
    pop = net.population("p", 4)
    net.connect(inp, pop, FromList([(k, k % 4, 1) for k in range(8)]), name="x")
    config = CoreConfig(n_neurons=8, n_inputs=16)
    multi = compile_network(net, config, cores=2)
    with Cluster([Device.open("emulator://", config, input_depth=4), Device.open("model", config)]) as cluster:
        cluster.load(multi)
        with pytest.raises(InputError, match=r"device 0 .* 8 input spikes .* holds 4 entries"):
            cluster.run(2, {1: list(range(8))})
        assert cluster.tick == 0
