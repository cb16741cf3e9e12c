"""Raw frames to the simulated board (sim/board.py: the gateware, core + link + UART, in
Verilator behind a TCP port), a handful of examples for it is slow: random bytes, frames of any
opcode, WRITEs and READs of any region, address, count and words, STEP, FREERUN, STOP, RESET,
SEED, COUNTERS (hardening.wire_events, the emulator's property's generator).

Afterwards a host.Device answers HELLO, and load(image) + run give exactly the golden model's
spikes, weights and counters. The board is tests/rtl's (board_server.BOARD_CONFIG): CI has
built it already, and the Verilator build is cached by source hash.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from firmware import CapacityError, CoreConfig, compile_network
from firmware import protocol as P
from host import Device
from tests.support.board_server import BOARD_CONFIG, simulated_board
from tests.support.hardening import budget, networks, wire_events
from tests.support.raw_client import RawClient


pytestmark = [pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning"),
              pytest.mark.filterwarnings("ignore::host.link.OverrunWarning")]

CONFIG = CoreConfig(**BOARD_CONFIG)
ANSWER_S = 2.0          # a frame's answer comes within this (a simulated UART is slow)


@pytest.fixture(scope="module")
def board():
    with simulated_board(**BOARD_CONFIG) as (server, _):
        yield server


def send_and_wait(client: RawClient, data: bytes) -> None:
    """Send one event, then wait for an answer (or ANSWER_S) and for the line to go quiet: the
    board's UART has no flow control, so frames go one at a time."""
    before = client.received.count(b"\0")
    client.send_raw(data)
    deadline = time.monotonic() + ANSWER_S
    while client.received.count(b"\0") == before and time.monotonic() < deadline:
        time.sleep(0.005)
    quiet = len(client.received)
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if len(client.received) == quiet:
            break
        quiet = len(client.received)


def session(dev, image, inputs):
    dev.load(image)
    result = dev.run(len(inputs), inputs)
    weights = {p["name"]: dev.weights(p["name"]) for p in image.symbols["projections"]}
    return result, weights, dev.counters()


@budget(4)
@given(net=networks(max_inputs=3, max_neurons=3), events=st.lists(wire_events(CONFIG, max_ticks=3), min_size=1, max_size=8),
       seed=st.integers(0, 2**16))
def test_raw_frames_to_the_board_then_a_host_gets_the_models_result(board, net, events, seed):
    try:
        image = compile_network(net, CONFIG)
    except CapacityError:
        assume(False)
    client = RawClient(board.url)
    try:
        for data in events:
            send_and_wait(client, data)
        answers = P.FrameDecoder().feed(bytes(client.received))
    finally:
        client.close()
    assert all(isinstance(a, P.Frame) and a.opcode in P.DEVICE_OPCODES for a in answers), \
        "the board sent a frame the host cannot decode"
    event(f"{sum(a.opcode == P.Op.ERROR for a in answers)} ERROR answers")
    inputs = np.random.default_rng(seed).random((20, CONFIG.n_inputs)) < 0.4
    with Device.open("model", config=CONFIG) as model:
        want = session(model, image, inputs)
    with Device.open(board.url, timeout=30) as dev:
        got = session(dev, image, inputs)
    assert np.array_equal(want[0].times, got[0].times) and np.array_equal(want[0].neurons, got[0].neurons), \
        "spikes differ from the golden model's"
    for name in want[1]:
        np.testing.assert_array_equal(want[1][name], got[1][name], err_msg=f"weights of {name}")
    assert want[2] == got[2], "counters differ from the golden model's"
