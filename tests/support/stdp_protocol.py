"""The pairing protocol shared by the model's and the RTL's STDP-window tests.

`pairs` independent pairs per D in -20..20 (D != 0), each an input axon -> neuron through a
plastic synapse (weight 64, too weak to make the neuron fire) and a second input axon -> the
same neuron through a strong non-plastic synapse that forces a spike at a chosen tick. The
pre spike and the forced post spike are D ticks apart; the traces start at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware import CoreConfig, Network, OneToOne, STDPRule, compile_network

A_PLUS, A_MINUS = 10.0, -10.5
TAU_PLUS, TAU_MINUS = 20.0, 15.0
IMPULSE = 255
DELAYS = [d for d in range(-20, 21) if d != 0]
W0 = 64


@dataclass
class Protocol:
    rule: STDPRule
    image: object
    raster: np.ndarray      # [ticks, 2n]: pre axons 0..n-1, forcing axons n..2n-1
    t_post: np.ndarray      # the tick of each pair's post spike
    pairs: int

    @property
    def ticks(self) -> int:
        return self.raster.shape[0]


def pairing_protocol(pairs: int) -> Protocol:
    rule = STDPRule.from_float(tau_plus=TAU_PLUS, tau_minus=TAU_MINUS, a_plus=A_PLUS,
                               a_minus=A_MINUS, impulse=IMPULSE, w_min=0, w_max=127)
    n = len(DELAYS) * pairs
    net = Network("stdp_window")
    pre = net.inputs("pre", n)
    force = net.inputs("force", n)
    # du = dv = 4095: v = a_in << 6 each tick; spike iff a_in > 1000. The plastic input is
    # at most 127; the forcing input is 127 << 4 = 2032.
    post = net.population("post", n, du=4095, dv=4095, vth=1000)
    net.connect(pre, post, OneToOne(), weight=W0, stdp=rule, name="plastic")
    net.connect(force, post, OneToOne(), weight=127, weight_exp=4, name="force")
    net.record(post)
    config = CoreConfig(n_neurons=n, n_inputs=2 * n, n_synapses=2 * n, n_segments=2 * n, n_reverse=n)
    d = np.repeat(DELAYS, pairs)
    t0 = 21                                          # traces are 0 before t0
    t_pre = np.where(d > 0, t0, t0 - d)
    t_post = np.where(d > 0, t0 + d, t0)
    raster = np.zeros((t0 + 21, 2 * n), bool)
    raster[t_pre, np.arange(n)] = True
    raster[t_post - 1, n + np.arange(n)] = True     # delay 1: the forced spike is at t_post
    return Protocol(rule, compile_network(net, config), raster, t_post, pairs)


def window_means(dw: np.ndarray, pairs: int) -> np.ndarray:
    """Mean dw per D from samples [repetitions, len(DELAYS) * pairs]."""
    return np.asarray(dw, float).reshape(-1, len(DELAYS), pairs).mean(axis=(0, 2))


def fit_window(mean: np.ndarray, sign: int) -> tuple[float, float]:
    """(tau, amplitude) of the exponential through the means on one side of the window."""
    sel = [k for k, d in enumerate(DELAYS) if d * sign > 0]
    x = np.abs(np.array(DELAYS)[sel])
    y = np.abs(mean[sel])
    slope, intercept = np.polyfit(x, np.log(y), 1, w=y)   # weights: var(log y) ~ 1/y**2
    return -1.0 / slope, np.exp(intercept)
