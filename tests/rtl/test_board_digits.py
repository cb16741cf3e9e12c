"""examples/digits.py on the simulated board (rtl.link.top.DeviceTop in Verilator behind socket://):
the learning protocol (reset keeping weights, LFSR seed, sample with teacher) run on the board
through host.Device gives the golden model's weights bit for bit.

CI: the configuration the other board tests build (board_server.BOARD_CONFIG: 6 inputs, 12 neurons,
16 plastic synapses), so CI builds nothing new: the digits pooled to 3 inputs, classes 0 and 1,
2 neurons each, delay 2. Slow (-m slow): the default iCEBreaker configuration and the full
network (64 pixels, 50 neurons, 3,200 plastic synapses), whose first build takes minutes.
"""

import numpy as np
import pytest

from host import Device
from tests.support.example_modules import load

digits = load("digits")

SMALL = digits.Settings(pixels=3, classes=(0, 1), per_class=2, delay=2, stream_ticks=12,
                        tail_ticks=8, lr_shifts=(10,))
SAMPLES = 20


def _learn(device, settings, samples):
    X, _, y, _ = digits.load_data(settings)
    learner = digits.Learner(device, settings)
    learner.start(settings.lr_shifts[0])
    for x, label in zip(X[:samples], y[:samples]):
        learner.learn(x, int(label))
    return learner.weights(), learner.work


def _compare(url, config, settings, timeout):
    with Device.open("model", config=config, fast=True) as model:
        want, work = _learn(model, settings, SAMPLES)
    with Device.open(url, timeout=timeout) as board:
        assert board.config == config
        got, board_work = _learn(board, settings, SAMPLES)
    np.testing.assert_array_equal(got, want)
    assert board_work == work                     # ticks, events, spikes and updates summed over samples
    changed = np.sum(want != digits.initial_weights(settings))
    assert changed >= want.size // 3 and work["plastic_updates"] > 10 * SAMPLES, (changed, work)


def test_twenty_samples_on_the_board_give_the_models_weights(device_board):
    board, config = device_board
    _compare(board.url, config, SMALL, timeout=30)


@pytest.fixture(scope="module")
def icebreaker_board():
    from boards.glue import device_options
    from boards.registry import ICEBREAKER_CONFIG
    from boards.registry import board as board_named
    from rtl.lib.memory import ICE40Memories
    from rtl.link.top import DeviceTop
    from sim.cosim.board import BoardServer

    divisor = 4                   # as board_server.BOARD_DIVISOR: a 3 Mbaud bit at 12 MHz
    options = device_options(board_named("icebreaker"))
    top = DeviceTop(ICEBREAKER_CONFIG, divisor=divisor, clock_hz=12_000_000,
                    memories=ICE40Memories(behavioural=True), **options)
    with BoardServer(top, divisor) as board:
        yield board, ICEBREAKER_CONFIG


@pytest.mark.slow
def test_twenty_samples_of_the_full_network_on_the_icebreaker_board(icebreaker_board):
    board, config = icebreaker_board
    _compare(board.url, config, digits.Settings(), timeout=120)
