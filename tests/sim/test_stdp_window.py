"""The float limit of the learning rule is the classic exponential STDP window (Song, Miller
& Abbott 2000): dw(D) = A+ exp(-D / tau+) for pre before post (D > 0), A- exp(D / tau-) for
post before pre (D < 0).

Protocol (tests/support/stdp_protocol.py): 40 independent pairs per D in -20..20 (D != 0), each an
input axon -> neuron through a plastic synapse and a second input axon that forces the neuron
to spike D ticks after (or before) the pre spike; the traces start at 0. 25 repetitions
(the model is reset to its loaded weights each time, the LFSR continuing) give 1000 samples of
dw per D; stochastic rounding makes their mean converge to a+ x_D / 2**lr_shift.

Tolerances:
- sign: LTP (mean dw > 0) for every D > 0 and LTD (mean dw < 0) for every D < 0;
- decay constants fitted by weighted log-linear regression over |D| = 1..20: within 10% of the
  tau given to STDPRule.from_float. (The 8-bit traces decay with truncation, which shortens the
  effective time constant: for tau = 20 and impulse 255 the noise-free fit gives 18.6, -7%.)
- amplitude (the fit's value at D = 0): within 5% of the float amplitude;
- each mean dw within 0.1 of its exact expectation a * x_D / 2**lr_shift, where x_D is the
  integer trace after D ticks of x <- x * (4096 - decay) >> 12 from the impulse.
"""

from __future__ import annotations

import numpy as np
import pytest

from firmware import STDPRule
from sim import GoldenModel
from tests.support.stdp_protocol import (A_MINUS, A_PLUS, DELAYS, IMPULSE, TAU_MINUS, TAU_PLUS, W0, fit_window,
                           pairing_protocol, window_means)

PAIRS, REPETITIONS = 40, 25


@pytest.fixture(scope="module")
def window():
    protocol = pairing_protocol(PAIRS)
    model = GoldenModel(protocol.image)
    n = protocol.t_post.size
    samples = []
    for _ in range(REPETITIONS):
        lfsr = model.lfsr_state
        model.reset()
        model.seed(lfsr)
        result = model.run(protocol.ticks, protocol.raster, record_all=True)
        post_times = [np.nonzero(result.all_spikes[:, k])[0].tolist() for k in range(n)]
        assert post_times == [[t] for t in protocol.t_post], "the protocol must give one post spike per pair"
        pre_idx, post_idx, w = model.projection_weights("plastic")
        assert np.array_equal(pre_idx, np.arange(n)) and np.array_equal(post_idx, np.arange(n))
        samples.append(w - W0)
    return protocol.rule, window_means(samples, PAIRS)


_fit = fit_window


def test_window_sign(window):
    _, mean = window
    for d, m in zip(DELAYS, mean):
        assert (m > 0) if d > 0 else (m < 0), (d, m)


def test_window_potentiation_time_constant_and_amplitude(window):
    _, mean = window
    tau, amp = _fit(mean, +1)
    assert abs(tau - TAU_PLUS) <= 0.10 * TAU_PLUS, tau
    assert abs(amp - A_PLUS) <= 0.05 * abs(A_PLUS), amp


def test_window_depression_time_constant_and_amplitude(window):
    _, mean = window
    tau, amp = _fit(mean, -1)
    assert abs(tau - TAU_MINUS) <= 0.10 * TAU_MINUS, tau
    assert abs(amp - abs(A_MINUS)) <= 0.05 * abs(A_MINUS), amp


def test_window_means_match_the_integer_traces(window):
    rule, mean = window
    for d, m in zip(DELAYS, mean):
        decay, a = (rule.pre_decay, rule.a_plus) if d > 0 else (rule.post_decay, rule.a_minus)
        x = IMPULSE
        for _ in range(abs(d)):
            x = x * (4096 - decay) >> 12
        expected = a * x / 2**rule.lr_shift
        assert abs(m - expected) <= 0.1, (d, m, expected)


def test_from_float_picks_the_window_parameters():
    rule = STDPRule.from_float(tau_plus=TAU_PLUS, tau_minus=TAU_MINUS, a_plus=A_PLUS,
                               a_minus=A_MINUS, impulse=IMPULSE)
    # a * impulse / 2**lr_shift is the float amplitude within half a quantization step
    step = IMPULSE / 2**rule.lr_shift
    assert abs(rule.a_plus * step - A_PLUS) <= step / 2
    assert abs(rule.a_minus * step - A_MINUS) <= step / 2
    # the largest shift with both amplitudes in 8 bits
    assert max(abs(rule.a_plus), abs(rule.a_minus)) <= 127
    assert abs(A_MINUS) * 2**(rule.lr_shift + 1) / IMPULSE > 127
    # decays: (4096 - decay) / 4096 nearest to exp(-1 / tau)
    for decay, tau in ((rule.pre_decay, TAU_PLUS), (rule.post_decay, TAU_MINUS)):
        assert abs((4096 - decay) / 4096 - np.exp(-1 / tau)) <= 0.5 / 4096
