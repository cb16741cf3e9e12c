"""Random networks and inputs for the RTL regression, reproducible from a seed.

Each case fits the regression's CoreConfig and stresses one or more edges at random: wrap of
u (du = 0, strong input), the 16-bit wrap of a_in (weight_exp up to the limit, maximum fan-in),
the clip of v (large bias, no leak), refractory periods, inhibitory weights, every delay,
segments across target windows, empty ticks and silent inputs, maximum fan-out; and, in
plastic cases, STDP on some projections (excitatory and inhibitory, weights starting at and
driven to both bounds, every learning-rate shift, both trace modes, bursts and long silences
so traces decay to zero, several plastic projections onto one neuron).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from firmware import (AllToAll, CapacityError, CoreConfig, FixedProbability, FromList,
                      InputWrapWarning, Network, OneToOne, STDPRule, compile_network)
from firmware import formats as fmt

# The configuration the regression builds once. 300 neurons > 256 so that segments use two
# target windows; delays up to 4.
REGRESSION_CONFIG = CoreConfig(n_neurons=300, n_inputs=24, n_synapses=4096, n_segments=1024,
                               n_reverse=2048, n_profiles=8, n_projections=8, weight_bits=8,
                               max_delay=4)


@dataclass
class Case:
    seed: int
    network: Network
    image: object
    ticks: int
    inputs: np.ndarray          # bool raster [ticks, n_inputs]

    def describe(self) -> str:
        sym = self.image.symbols
        return (f"seed {self.seed}: {sym['usage']}, {self.ticks} ticks, "
                f"{int(self.inputs.sum())} input spikes; projections "
                + ", ".join(f"{p['name']}({p['synapses']})" for p in sym["projections"]))


def _population_params(rng, size):
    kind = rng.integers(0, 5)
    params = {"du": int(rng.integers(0, 4096)), "dv": int(rng.integers(0, 4096)),
              "vth": int(rng.integers(0, 400)), "bias_exp": int(rng.integers(-8, 8)),
              "refractory": int(rng.integers(0, 16)) if rng.random() < 0.5 else 0,
              "bias_mant": rng.integers(-50, 200, size)}
    if kind == 0:     # u wraps: no current decay, strong input
        params.update(du=0, vth=int(rng.integers(1000, 131072)))
    elif kind == 1:   # v clips: large bias, no leak
        params.update(dv=0, bias_exp=7, bias_mant=rng.integers(-4096, 4096, size),
                      vth=int(rng.integers(0, 131072)))
    elif kind == 2:   # IF neurons with instant current
        params.update(du=4095, dv=0)
    return params


def random_case(seed: int, config: CoreConfig = REGRESSION_CONFIG, plastic: bool | None = None) -> Case:
    """The network of `seed`; `plastic` forces STDP on (True) or off (False), else 60% of cases."""
    rng = np.random.default_rng(seed)
    for attempt in range(20):
        net = Network(f"random-{seed}")
        n_inputs = int(rng.integers(1, config.n_inputs + 1))
        inputs = net.inputs("in", n_inputs)
        sizes = rng.multinomial(int(rng.integers(3, config.n_neurons + 1)), [1 / 3] * 3)
        pops = [net.population(f"p{k}", int(s), **_population_params(rng, int(s)))
                for k, s in enumerate(sizes) if s > 0]
        groups = [inputs] + pops
        plastic_case = rng.random() < 0.6 if plastic is None else (rng.random() < 2) and plastic
        traces = dict(pre_decay=int(rng.choice([0, 60, 197, 900, 4095])),
                      post_decay=int(rng.choice([0, 60, 197, 900, 4095])),
                      pre_impulse=int(rng.integers(0, 256)), post_impulse=int(rng.integers(0, 256)),
                      mode=str(rng.choice(["all-to-all", "nearest"])))
        for k in range(int(rng.integers(1, config.n_projections + 1))):
            rule = None
            if plastic_case and rng.random() < 0.6:
                w_lo, w_hi = sorted(int(v) for v in rng.integers(-128, 128, 2))
                if rng.random() < 0.3:
                    w_lo, w_hi = (0, 127) if rng.random() < 0.5 else (-128, 0)
                rule = STDPRule(a_plus=int(rng.integers(-128, 128)), a_minus=int(rng.integers(-128, 128)),
                                lr_shift=int(rng.integers(0, 16)), w_min=w_lo, w_max=w_hi, **traces)
            pre = groups[rng.integers(0, len(groups))]
            post = pops[rng.integers(0, len(pops))]
            weight_exp = int(rng.integers(0, fmt.max_weight_exp(config.weight_bits) + 1))
            shape = (pre.size, post.size)
            weights = rng.integers(-128, 128, shape)
            if rng.random() < 0.3:
                weights = np.where(rng.random(shape) < 0.5, -128, 127)
            if rule is not None:          # start inside the bounds, often at one of them
                weights = np.clip(weights, rule.w_min, rule.w_max)
            delays = rng.integers(1, config.max_delay + 1, shape)
            choice = rng.integers(0, 4)
            if choice == 0:
                connector = AllToAll(allow_self_connections=bool(rng.integers(0, 2)))
            elif choice == 1 and pre.size == post.size:
                connector = OneToOne()
            elif choice == 2:
                n = int(rng.integers(1, pre.size * post.size + 1))
                flat = rng.choice(pre.size * post.size, size=min(n, 200), replace=False)
                pre_i, post_i = np.divmod(flat, post.size)
                rows = np.stack([pre_i, post_i, weights[pre_i, post_i], delays[pre_i, post_i]], axis=1)
                net.connect(pre, post, FromList(rows), weight_exp=weight_exp, stdp=rule, name=f"proj{k}")
                continue
            else:
                connector = FixedProbability(float(rng.random() ** 2), seed=int(rng.integers(1 << 30)))
            net.connect(pre, post, connector, weight=weights, weight_exp=weight_exp,
                        delay=delays if rng.random() < 0.7 else int(rng.integers(1, config.max_delay + 1)),
                        stdp=rule, name=f"proj{k}")
        for pop in pops:
            if rng.random() < 0.8:
                net.record(pop)
            else:
                net.record(pop, rng.choice(pop.size, size=max(1, pop.size // 2), replace=False))
        try:
            with warnings.catch_warnings():   # these networks wrap their input sums on purpose
                warnings.simplefilter("ignore", InputWrapWarning)
                image = compile_network(net, config, lfsr_seed=int(rng.integers(1, 1 << 32)))
        except CapacityError:
            continue
        ticks = int(rng.integers(8, 60))
        density = rng.choice([0.0, 0.05, 0.2, 0.6])
        raster = np.zeros((ticks, config.n_inputs), bool)
        raster[:, :n_inputs] = rng.random((ticks, n_inputs)) < density
        raster[rng.random(ticks) < 0.2] = False              # empty ticks
        if rng.random() < 0.3:                               # a long silence: traces decay
            start = int(rng.integers(0, ticks))
            raster[start:start + int(rng.integers(5, 30))] = False
        return Case(seed, net, image, ticks, raster)
    raise RuntimeError(f"seed {seed}: no network fitting {config} in 20 attempts")
