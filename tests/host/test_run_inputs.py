"""Run inputs are taken exactly or refused, on every backend (issue 12, finding 4).

One validation (sim.model.normalize_inputs, and sim.model.tick_axons for one tick of a stream)
serves GoldenModel, FastModel, the "model" device and a protocol device (emulator://), in
run() and in stream(). A value that is not exactly an axon or tick number (2.7, -0.5, '3',
True, NaN, 2**70), a raster entry other than 0/1, an ill-shaped or ragged collection, or a
tuple that is not a (times, axons) pair is refused with InputError naming the value and what is
allowed, and nothing runs. Exactly integral floats (3.0) are taken, as the Network API takes them.
"""

import numpy as np
import pytest

from firmware import compile_network, formats
from host import Device
from sim import FastModel, GoldenModel, InputError
from tests.support.networks import SMALL_CORE, relay_network

N = 8                      # relay network: input i -> neuron i, which fires one tick later
IMAGE = compile_network(relay_network(N), SMALL_CORE)


class ModelRunner:
    """GoldenModel or FastModel behind the small interface the tests use."""

    def __init__(self, cls):
        self.model = cls(IMAGE)

    def run(self, ticks, inputs=None):
        return self.model.run(ticks, inputs)

    def snapshot(self):
        return self.model.tick, dict(self.model.counters)

    def close(self):
        pass


class DeviceRunner:
    def __init__(self, url):
        self.dev = Device.open(url, config=SMALL_CORE)
        self.dev.load(IMAGE)

    def run(self, ticks, inputs=None):
        return self.dev.run(ticks, inputs)

    def stream(self, items):
        return self.dev.stream(items, block_ticks=2)

    def snapshot(self):
        return self.dev.tick, self.dev.counters()

    def close(self):
        self.dev.close()


BACKENDS = {
    "golden": lambda: ModelRunner(GoldenModel),
    "fast": lambda: ModelRunner(FastModel),
    "model-device": lambda: DeviceRunner("model"),
    "emulator-device": lambda: DeviceRunner("emulator://"),
}
DEVICES = ["model-device", "emulator-device"]


def opened(request):
    runner = BACKENDS[request.param]()
    try:
        yield runner
    finally:
        runner.close()


@pytest.fixture(params=list(BACKENDS))
def backend(request):
    yield from opened(request)


@pytest.fixture(params=DEVICES)
def device(request):
    yield from opened(request)


# (inputs for a run of 5 ticks on 8 input axons, text the refusal must contain)
BAD_INPUTS = [
    ({2.7: [3]}, r"tick 2\.7"),
    ({0: [3.9]}, r"axon 3\.9"),
    ({0: [-0.5]}, r"axon -0\.5"),
    ({0: [-1]}, r"axon -1\b.*0 \.\. 7"),
    ({0: [8]}, r"axon 8\b.*0 \.\. 7"),
    ({0: ["3"]}, r"axon '3'"),
    ({0: "3"}, r"axon '3' at tick 0 is not an integer"),
    ("3", r"inputs '3': run inputs are None, a raster"),
    ({"1": [3]}, r"tick '1'"),
    ({True: [1]}, r"tick True"),
    ({0: [True]}, r"axon True"),
    ({0: [np.nan]}, r"axon nan"),
    ({0: [np.inf]}, r"axon inf"),
    ({2**64: [1]}, r"tick 18446744073709551616"),
    ({0: [2**70]}, r"axon 1180591620717411303424"),
    ({0: np.array([2**63], np.uint64)}, r"axon 9223372036854775808"),
    ({0: [[1, 2]]}, r"axons.*one axon number or a flat collection"),
    ({-1: [0]}, r"tick -1\b.*0 \.\. 4"),
    ({5: [0]}, r"tick 5\b.*0 \.\. 4"),
    ({0: [1, 1]}, r"axon 1 spikes twice at tick 0"),
    ([[1], [[2, 3], [4]]], r"tick 1"),
    ([[1], [2.5]], r"axon 2\.5 at tick 1"),
    ([[1], None, [True, False]], r"axon True at tick 2"),
    (([0, 1], [1, 2], [3, 4]), r"tuple of 3.*\(times, axons\) pair"),
    (([0.5], [1]), r"tick 0\.5"),
    (([0], ["a"]), r"axon 'a'"),
    (([0, 1], [[1], [2]]), r"axons.*one axon number or a flat collection"),
    (([0, 1], [1]), r"different lengths 2 and 1"),
    (np.array([[0, np.nan]]), r"raster.*nan at \[0, 1\].*0 and 1"),
    (np.array([[0, 2]]), r"raster.*2 at \[0, 1\].*0 and 1"),
    (np.array([[0.5, 0]]), r"raster.*0\.5 at \[0, 0\].*0 and 1"),
    (np.array([[0, -1]]), r"raster.*-1 at \[0, 1\].*0 and 1"),
    (np.array([["1", "0"]]), r"raster.*str"),
    (np.zeros((6, N), bool), r"shape \(6, 8\).*\(5, 8\)"),
    (np.zeros((5, N + 1), bool), r"shape \(5, 9\).*\(5, 8\)"),
    (np.zeros((2, 2, 2), bool), r"3-dimensional"),
    (np.int64(3), r"inputs 3: "),
    (7, r"inputs 7: "),
]


@pytest.mark.parametrize("inputs, message", BAD_INPUTS, ids=[repr(b[0])[:40] for b in BAD_INPUTS])
def test_bad_run_inputs_are_refused_and_change_nothing(backend, inputs, message):
    before = backend.snapshot()
    with pytest.raises(InputError, match=message):
        backend.run(5, inputs)
    assert backend.snapshot() == before                 # nothing ran
    assert backend.run(2, {0: [3]}).neurons.tolist() == [3]


@pytest.mark.parametrize("ticks, message", [
    (-1, r"ticks = -1 .*0 \.\. 4294967295"),
    (2.0, r"ticks = 2\.0 .*integer"),
    ("5", r"ticks = '5'"),
    (True, r"ticks = True"),
    (2**32, r"ticks = 4294967296 .*at most 4294967295"),
])
def test_bad_tick_counts_are_refused(backend, ticks, message):
    before = backend.snapshot()
    with pytest.raises(InputError, match=message):
        backend.run(ticks)
    assert backend.snapshot() == before


def test_integral_floats_and_every_form_give_the_same_run(backend):
    """Exactly integral floats are axon and tick numbers (as in the Network API); a raster of
    booleans, of 0/1 integers or 0.0/1.0 floats, a dict, a pair and a list of groups (None or an
    empty collection for none, a set for several) are the same input."""
    raster = np.zeros((6, N), bool)
    raster[0, [1, 4]] = raster[3, 2] = raster[5, 7] = True
    forms = [
        raster, raster.astype(np.uint8), raster.astype(np.float32),
        {0: [4, 1], 3: 2, 5: np.array([7.0])},
        {0.0: (1.0, 4.0), np.int16(3): [np.uint8(2)], 5: [7]},
        (np.array([0, 0, 3, 5]), np.array([1, 4, 2, 7])),
        ([5.0, 3.0, 0.0, 0.0], [7, 2, 4, 1]),
        [{1, 4}, None, [], np.array([2]), (), [7]],
        (x for x in [[1, 4], [], [], [2], [], [7]]),
    ]
    for form in forms:
        got = backend.run(7, form)               # the relay answers each input a tick later
        events = (got.times - got.start_tick).tolist(), got.neurons.tolist()
        assert events == ([1, 1, 4, 6], [1, 4, 2, 7]), repr(form)[:60]


@pytest.mark.parametrize("item, message", [
    (2.7, r"axon 2\.7 at tick 2"),
    ("3", r"axon '3' at tick 2"),
    ([True], r"axon True at tick 2"),
    ([np.nan], r"axon nan at tick 2"),
    ([[1, 2]], r"tick 2.*flat collection"),
    ([9], r"axon 9 at tick 2 is out of range; the core has input axons 0 \.\. 7"),
    ([1, 1], r"axon 1 spikes twice at tick 2"),
    ({0: 1}, r"tick 2"),
])
def test_stream_refuses_a_bad_tick_after_running_the_good_ones(device, item, message):
    """stream() checks each tick as run() does; the ticks before a bad one run and are yielded,
    then InputError names the bad one, and the device is ready for the next operation."""
    start = device.snapshot()[0]
    blocks = []
    with pytest.raises(InputError, match=message):
        for block in device.stream(iter([[0], [5.0], item, [6]])):
            blocks.append(block)
    assert sum(b.ticks for b in blocks) == 2
    assert device.snapshot()[0] == start + 2
    assert [n for b in blocks for n in b.neurons.tolist()] == [0]   # neuron 5 fires at tick 2
    follow = device.run(2)
    assert follow.start_tick == start + 2 and follow.neurons.tolist() == [5]


def test_stream_refuses_more_ticks_than_a_run_may_have(device, monkeypatch):
    import host.device
    monkeypatch.setattr(host.device, "MAX_RUN_TICKS", 3)
    with pytest.raises(InputError, match="at most 3 ticks"):
        list(device.stream(iter([[0]] * 5)))
    assert device.snapshot()[0] == 3


def test_the_run_limit_is_the_tick_counter():
    assert formats.MAX_RUN_TICKS == 2**formats.TICK_BITS - 1 == 2**32 - 1
