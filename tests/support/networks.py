"""The networks several tests share, each written once.

relay_network   input i -> neuron i: one spike in, one spike out a tick later (the host, the
                device emulator, the Core's and the Link's simulator tests, the simulated board)
plastic_network inputs -> exc with STDP, inhibitory exc -> exc, exc -> out with another rule
                (the host, NIR, and shrunk to the simulated board's core)
random_network  the golden model's random family, every feature drawn at random (the model
                against the scalar reference, sim.fast against the model)
RELAY_FILE      relay_network(4) as a network file for `python -m host run`

The other random families stay apart on purpose, each in its own module: the RTL regression's
(random_networks.random_case) and the many-core one (multicore_networks.random_network). A
seed names one network of one family in reports and reproductions (AXONITE_SEEDS=<seed>), so
merging the generators would change what every seed means.
"""

from __future__ import annotations

import numpy as np

from firmware import (AllToAll, CoreConfig, FixedProbability, FromList, Network, OneToOne,
                      STDPRule)

# A core just large enough for relay_network(8): 8 input axons, quick ticks.
SMALL_CORE = CoreConfig(n_neurons=8, n_inputs=8, n_synapses=64, n_segments=64, n_reverse=64)


def relay_network(n=64, *, weight=127, vth=10):
    """Input i -> neuron i, one spike in, one spike out a tick later; no plasticity (fast).
    Any weight above the threshold relays; the Core's simulator tests use 100 over 20."""
    net = Network("relay")
    inp = net.inputs("in", n)
    pop = net.population("relay", n, du=4095, dv=4095, vth=vth)
    net.connect(inp, pop, OneToOne(), weight=weight, name="in_relay")
    net.record(pop)
    return net


def plastic_network(n_in=16, n_exc=24, seed=1, *, n_out=8, density=(0.5, 0.2, 0.4), out_delay=3,
                    recorded_out=(0, 2, 5), name="plastic"):
    """Inputs -> exc with STDP, exc -> exc inhibitory with delay 2, exc -> out with another
    STDP rule (signed bounds) and delay `out_delay`; `recorded_out` of out recorded, all of exc.
    `density` is the connection probability of the three projections (seeds seed .. seed + 2)."""
    net = Network(name)
    inp = net.inputs("in", n_in)
    exc = net.population("exc", n_exc, du=400, dv=200, vth=30, refractory=1)
    out = net.population("out", n_out, du=1000, dv=100, vth=20, bias_mant=3)
    net.connect(inp, exc, FixedProbability(density[0], seed=seed), weight=60, stdp=STDPRule(), name="in_exc")
    net.connect(exc, exc, FixedProbability(density[1], seed=seed + 1), weight=-20, delay=2, name="exc_exc")
    net.connect(exc, out, FixedProbability(density[2], seed=seed + 2), weight=25, delay=out_delay,
                stdp=STDPRule(a_plus=40, a_minus=-50, w_min=-10, w_max=90), name="exc_out")
    net.record(exc)
    net.record(out, list(recorded_out))
    return net


# A network file for `python -m host run` (relay_network(4)); tests append `inputs`, `config` ...
RELAY_FILE = '''
from firmware import Network, OneToOne
network = Network("relay")
inp = network.inputs("in", 4)
pop = network.population("relay", 4, du=4095, dv=4095, vth=10)
network.connect(inp, pop, OneToOne(), weight=127)
network.record(pop)
'''


# --- the golden model's random family ---------------------------------------------------------


def _param(rng, size, lo, hi, special=()):
    """A scalar or per-neuron parameter, sometimes one of the special values."""
    if rng.random() < 0.3:
        return rng.integers(lo, hi + 1, size)
    if special and rng.random() < 0.4:
        return int(rng.choice(special))
    return int(rng.integers(lo, hi + 1))


def _rule(rng, trace, weight_bits):
    lo, hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    w_min = int(rng.integers(lo, hi + 1))
    w_max = int(rng.integers(w_min, hi + 1))
    return STDPRule(a_plus=int(rng.integers(-128, 128)), a_minus=int(rng.integers(-128, 128)),
                    lr_shift=int(rng.integers(0, 16)), w_min=w_min, w_max=w_max,
                    pre_decay=trace[0], pre_impulse=trace[1], post_decay=trace[2],
                    post_impulse=trace[3], mode=trace[4])


def random_network(seed: int):
    """(network, config, raster, ticks) for a seed; every feature is drawn at random."""
    rng = np.random.default_rng(seed)
    weight_bits = int(rng.integers(2, 9))
    max_delay = int(rng.integers(1, 9))
    wlo, whi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    top_exp = 16 - weight_bits
    net = Network(f"random{seed}")
    groups = [net.inputs(f"in{k}", int(rng.integers(1, 25))) for k in range(int(rng.integers(1, 3)))]
    pops = []
    for k in range(int(rng.integers(1, 4))):
        size = int(rng.integers(1, 30))
        pops.append(net.population(
            f"pop{k}", size,
            du=_param(rng, size, 0, 4095, (0, 4095)), dv=_param(rng, size, 0, 4095, (0, 4095)),
            vth=_param(rng, size, 0, 2000, (0, (1 << 17) - 1)),
            bias_mant=_param(rng, size, -300, 300, (-4096, 4095, 0)),
            bias_exp=_param(rng, size, -8, 7),
            refractory=_param(rng, size, 0, 15, (0,))))
        if rng.random() < 0.7:
            net.record(pops[-1], None if rng.random() < 0.5 else
                       rng.choice(size, int(rng.integers(0, size + 1)), replace=False))
    trace = (int(rng.integers(0, 4096)) if rng.random() < 0.5 else int(rng.integers(0, 600)),
             int(rng.integers(0, 256)), int(rng.integers(0, 600)), int(rng.integers(0, 256)),
             str(rng.choice(["all-to-all", "nearest"])))
    n_proj = int(rng.integers(1, 7))
    for k in range(n_proj):
        pre = (groups + pops)[int(rng.integers(0, len(groups) + len(pops)))]
        post = pops[int(rng.integers(0, len(pops)))]
        rule = _rule(rng, trace, weight_bits) if rng.random() < 0.6 else None
        wl, wh = (rule.w_min, rule.w_max) if rule else (wlo, whi)
        kind = rng.integers(0, 4)
        delay = None
        if kind == 0:
            conn = AllToAll(allow_self_connections=bool(rng.random() < 0.5))
        elif kind == 1 and pre.size == post.size:
            conn = OneToOne()
        elif kind == 2:
            conn = FixedProbability(float(rng.random()), seed=int(rng.integers(0, 1000)),
                                    allow_self_connections=bool(rng.random() < 0.5))
        else:
            pairs = rng.choice(pre.size * post.size, int(rng.integers(0, pre.size * post.size + 1)),
                               replace=False)
            cols = [pairs // post.size, pairs % post.size, rng.integers(wl, wh + 1, pairs.size)]
            if rng.random() < 0.5:
                cols.append(rng.integers(1, max_delay + 1, pairs.size))
            conn = FromList(np.stack(cols, axis=1) if pairs.size else np.zeros((0, len(cols)), np.int64))
        weight = None
        if not isinstance(conn, FromList):
            weight = (int(rng.integers(wl, wh + 1)) if rng.random() < 0.4
                      else rng.integers(wl, wh + 1, (pre.size, post.size)))
            delay = (int(rng.integers(1, max_delay + 1)) if rng.random() < 0.5
                     else rng.integers(1, max_delay + 1, (pre.size, post.size)))
        exp = int(rng.integers(0, top_exp + 1)) if rng.random() < 0.5 else int(rng.integers(0, 3))
        net.connect(pre, post, conn, weight=weight, weight_exp=exp, delay=delay, stdp=rule,
                    name=f"p{k}")
    n_inputs = sum(g.size for g in groups)
    n_neurons = sum(p.size for p in pops)
    config = CoreConfig(n_neurons=n_neurons + int(rng.integers(0, 3)),
                        n_inputs=n_inputs + int(rng.integers(0, 3)),
                        weight_bits=weight_bits, max_delay=max_delay, n_profiles=n_neurons)
    ticks = int(rng.integers(40, 90))
    rate = float(rng.choice([0.05, 0.2, 0.5]))
    raster = rng.random((ticks, config.n_inputs)) < rate
    raster[:, n_inputs:] = False
    return net, config, raster, int(rng.integers(1, 1 << 32))
