"""The networks the RTL benchmarks run (bench/cocotb_core_bench.py, bench/bandwidth.py), apart
from cocotb so that the host-side benchmarks and the tests build the same ones."""

import numpy as np

from firmware import FromList, Network, compile_network


def fanout_network(config, fanout, spiking):
    """Every input axon projects to `fanout` neurons; neurons are silent (vth at maximum) or,
    with `spiking`, each neuron also fires every tick from its bias and projects to `fanout`."""
    rng = np.random.default_rng(0)
    net = Network("bench")
    inputs = net.inputs("in", config.n_inputs)
    pop = net.population("n", config.n_neurons, vth=0 if spiking else 131071,
                         bias_mant=100 if spiking else 0)
    rows = [(i, int(t), 1) for i in range(config.n_inputs)
            for t in rng.choice(config.n_neurons, size=fanout, replace=False)]
    net.connect(inputs, pop, FromList(rows), name="input")
    if spiking:
        net.record(pop)
    return compile_network(net, config)


def activity_network(config, fanout, spikers):
    """Every source (input axon and neuron) projects to `fanout` random neurons with weight 0,
    so deliveries never change a voltage: the first `spikers` neurons fire every tick from their
    bias (vth 0, no refractory period), the others never. Input and spike counts per tick are
    then exactly what the workload asks."""
    rng = np.random.default_rng(0)
    net = Network("activity")
    inputs = net.inputs("in", config.n_inputs)
    bias = np.zeros(config.n_neurons, np.int64)
    bias[:spikers] = 100
    pop = net.population("n", config.n_neurons, vth=0, bias_mant=bias, refractory=0)
    for pre, size, name in ((inputs, config.n_inputs, "input"), (pop, config.n_neurons, "recurrent")):
        rows = [(i, int(t), 0) for i in range(size)
                for t in rng.choice(config.n_neurons, size=fanout, replace=False)]
        net.connect(pre, pop, FromList(rows), name=name)
    return compile_network(net, config)


def relay_network(config, fanout):
    """Input axons to neurons, `fanout` random targets each, random weights 0..7: with about
    255 events per tick a tenth or so of the neurons fire; every neuron is an output."""
    rng = np.random.default_rng(2)
    net = Network("relay")
    inputs = net.inputs("in", config.n_inputs)
    pop = net.population("n", config.n_neurons, du=2048, dv=1024, vth=300, refractory=1)
    rows = [(i, int(t), int(rng.integers(0, 8))) for i in range(config.n_inputs)
            for t in rng.choice(config.n_neurons, size=fanout, replace=False)]
    net.connect(inputs, pop, FromList(rows), name="input")
    net.record(pop)
    return compile_network(net, config)


def input_raster(config, ticks, events, seed=1):
    rng = np.random.default_rng(seed)
    raster = np.zeros((ticks, config.n_inputs), bool)
    for k in range(ticks):
        raster[k, rng.choice(config.n_inputs, size=events, replace=False)] = True
    return raster


def crossing_network(config, cores, spikers, fanout):
    """`cores` populations of config.n_neurons neurons, one per core: the first `spikers` of
    each fire every tick from their bias (vth 0, no refractory period), the others never; every
    neuron projects to `fanout` random neurons of every other population with weight 0 and
    delay 2 (deliveries change no voltage). Each spike is then one packet per other core:
    cores * spikers * (cores - 1) packets a tick. Returns the MultiImage."""
    rng = np.random.default_rng(0)
    net = Network("crossing")
    n = config.n_neurons
    bias = np.zeros(n, np.int64)
    bias[:spikers] = 100
    pops = [net.population(f"p{k}", n, vth=0, bias_mant=bias, refractory=0) for k in range(cores)]
    for k, pre in enumerate(pops):
        for j, post in enumerate(pops):
            if j != k:
                rows = [(i, int(t), 0, 2) for i in range(n) for t in rng.choice(n, size=fanout, replace=False)]
                net.connect(pre, post, FromList(rows), name=f"p{k}->p{j}")
        net.record(pre)
    return compile_network(net, config, placement={pop.name: k for k, pop in enumerate(pops)})
