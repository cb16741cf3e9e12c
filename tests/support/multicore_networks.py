"""Random networks that several cores can hold, reproducible from a seed, for the many-core
tests (tests/firmware/test_multicore.py, tests/host/test_cluster.py).

Each has host inputs, two to four populations with random neuron parameters (some driven by
bias alone, some refractory, inhibitory weights, u and a_in wraps), projections from the
inputs (any delay) and between populations (delays 2 .. max_delay, so that they may be cut
between cores), recurrent ones included, and, when `plastic`, STDP on the input projections
onto the first population (stochastic rounding unless `lr_shift` is given) and on its own
recurrent projection (delay 1: it keeps the population whole on one core).
"""

from __future__ import annotations

import numpy as np

from firmware import CoreConfig, FixedProbability, FromList, Network, STDPRule

# Small cores, so that the networks need several; wide enough for the remote axons.
CORE = CoreConfig(n_neurons=64, n_inputs=160, n_synapses=8192, n_segments=2048, n_reverse=4096,
                  n_profiles=8, n_projections=16, weight_bits=8, max_delay=4)
# One core that holds any of them: the reference.
ONE_CORE = CoreConfig(n_neurons=256, n_inputs=32, n_synapses=32768, n_segments=8192, n_reverse=16384,
                      n_profiles=32, n_projections=16, weight_bits=8, max_delay=4)


def random_network(seed: int, plastic: bool = False, lr_shift: int | None = None,
                   max_neurons: int = 160) -> tuple[Network, np.ndarray, int]:
    """(network, input raster [ticks, inputs], LFSR seed) of `seed`."""
    rng = np.random.default_rng(seed)
    net = Network(f"multi-{seed}")
    n_in = int(rng.integers(2, 24))
    inputs = net.inputs("in", n_in)
    sizes = rng.multinomial(int(rng.integers(20, max_neurons)), [0.25] * 4)
    sizes[0] = min(max(sizes[0], 1), CORE.n_neurons - 4)     # p0 (the plastic one) fits a core
    pops = []
    for k, size in enumerate(s for s in sizes if s > 0):
        pops.append(net.population(
            f"p{k}", int(size), du=int(rng.choice([0, 409, 2048, 4095])), dv=int(rng.integers(0, 1024)),
            vth=int(rng.integers(1, 300)), refractory=int(rng.integers(0, 4)),
            bias_mant=rng.integers(-20, 120, int(size)), bias_exp=int(rng.integers(-2, 3))))
    traces = dict(pre_decay=int(rng.choice([60, 197, 900])), post_decay=int(rng.choice([60, 197, 900])),
                  pre_impulse=int(rng.integers(20, 256)), post_impulse=int(rng.integers(20, 256)),
                  mode=str(rng.choice(["all-to-all", "nearest"])))

    def rule():
        shift = int(rng.integers(1, 12)) if lr_shift is None else lr_shift
        return STDPRule(a_plus=int(rng.integers(-60, 128)), a_minus=int(rng.integers(-128, 60)),
                        lr_shift=shift, w_min=-40, w_max=100, **traces)
    for k, pop in enumerate(pops):
        stdp = rule() if plastic and k == 0 else None
        weights = rng.integers(-40, 100, (n_in, pop.size))
        net.connect(inputs, pop, FixedProbability(float(rng.uniform(0.1, 0.5)), seed=seed + k),
                    weight=weights, weight_exp=int(rng.integers(0, 3)), delay=rng.integers(1, 5, (n_in, pop.size)),
                    stdp=stdp, name=f"in->{pop.name}")
    for k in range(int(rng.integers(2, 6))):
        pre, post = pops[rng.integers(len(pops))], pops[rng.integers(len(pops))]
        n = int(rng.integers(1, pre.size * post.size // 3 + 2))
        flat = rng.choice(pre.size * post.size, size=min(n, 600), replace=False)
        a, b = np.divmod(flat, post.size)
        rows = np.stack([a, b, rng.integers(-128, 128, a.size), rng.integers(2, 5, a.size)], axis=1)
        net.connect(pre, post, FromList(rows), weight_exp=int(rng.integers(0, 4)), name=f"rec{k}")
    if plastic:                      # a plastic recurrent projection keeps its population whole
        pop = pops[0]
        net.connect(pop, pop, FixedProbability(0.2, seed=seed), weight=rng.integers(-40, 100, (pop.size,) * 2),
                    delay=1, stdp=rule(), name="plastic-rec")
    for pop in pops:
        if rng.random() < 0.8:
            net.record(pop)
    ticks = int(rng.integers(30, 80))
    raster = rng.random((ticks, n_in)) < rng.choice([0.05, 0.2, 0.5])
    return net, raster, int(rng.integers(1, 1 << 32))


def three_part_network():
    """Three small populations in a ring of cut synapses (delay 2), inputs onto `a` with STDP,
    `b` recurrent: the simulated-board tests of many cores and devices run it."""
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
