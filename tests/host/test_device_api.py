"""The Device API on every backend: the golden model in process, and the emulator over TCP
(socket://) and in process (emulator://) speaking the protocol. Same network, same inputs:
same spikes, weights, state and counters."""

import time

import numpy as np
import pytest

from firmware import CoreConfig, compile_network, formats
from firmware import protocol as P
from host import Device, DeviceError, LinkError, OverrunWarning
from sim import GoldenModel
from sim.model import InputError
from tests.support.networks import plastic_network, relay_network


def random_inputs(rng, ticks, n_inputs, p):
    return rng.random((ticks, n_inputs)) < p


def snapshot(dev, projections):
    return {
        "weights": {name: dev.weights(name) for name in projections},
        "probes": {name: dev.probe(name) for name in ("u", "v", "ref", "x", "y", "acc")},
        "counters": dev.counters(),
        "tick": dev.tick,
    }


def assert_same(a, b):
    for name in a["weights"]:
        np.testing.assert_array_equal(a["weights"][name], b["weights"][name], err_msg=f"weights {name}")
    for name in a["probes"]:
        np.testing.assert_array_equal(a["probes"][name], b["probes"][name], err_msg=f"probe {name}")
    assert a["counters"] == b["counters"]
    assert a["tick"] == b["tick"]


def session(dev, rng_seed):
    """The same script on any device: load, run with STDP, read back, write weights, seed,
    run again, reset, run again. Returns everything observed."""
    rng = np.random.default_rng(rng_seed)
    projections = ["in_exc", "exc_exc", "exc_out"]
    seen = []
    dev.load(plastic_network())
    r1 = dev.run(120, random_inputs(rng, 120, 16, 0.15))
    seen.append((r1.spikes, r1.start_tick, snapshot(dev, projections)))
    w = dev.weights("exc_out")
    w[~np.isnan(w)] = np.clip(w[~np.isnan(w)] + 7, -10, 90)
    dev.set_weights("exc_out", w)
    dev.seed(0x1234567)
    r2 = dev.run(80, {t: [t % 16] for t in range(0, 80, 3)})
    seen.append((r2.spikes, r2.start_tick, snapshot(dev, projections)))
    dev.counters(clear=True)
    r3 = dev.run(10)
    seen.append((r3.spikes, r3.start_tick, snapshot(dev, projections)))
    dev.reset()
    r4 = dev.run(120, random_inputs(np.random.default_rng(rng_seed), 120, 16, 0.15))
    seen.append((r4.spikes, r4.start_tick, snapshot(dev, projections)))
    return seen


def test_model_and_emulators_agree_with_stdp(server):
    with Device.open("model") as model:
        expected = session(model, 5)
    for url in (server.url, "emulator://"):
        with Device.open(url, timeout=5) as dev:
            got = session(dev, 5)
        for k, ((s_a, t_a, snap_a), (s_b, t_b, snap_b)) in enumerate(zip(expected, got)):
            np.testing.assert_array_equal(s_a, s_b, err_msg=f"{url}: spikes of run {k}")
            assert t_a == t_b
            assert_same(snap_a, snap_b)
    # the session really exercised plasticity, set_weights, seed, clear and reset
    first, second, third, fourth = expected
    assert first[0].sum() > 0 and first[2]["counters"]["plastic_updates"] > 0
    initial = compile_network(plastic_network())
    assert not np.array_equal(first[2]["weights"]["in_exc"],
                              GoldenModel(initial).projection_weights("in_exc")[2])   # learned
    assert third[2]["counters"]["ticks"] == 10 and fourth[2]["tick"] == 120
    np.testing.assert_array_equal(fourth[0], first[0])          # reset replays the first run


def test_a_device_with_a_smaller_frame_buffer_gives_the_same_results():
    rng = np.random.default_rng(8)
    inputs = random_inputs(rng, 150, 16, 0.3)
    with Device.open("model") as model, Device.open("emulator://", max_payload=128) as dev:
        assert dev.link.max_payload == 128
        for d in (model, dev):
            d.load(plastic_network())
        assert np.array_equal(model.run(150, inputs).spikes, dev.run(150, inputs).spikes)
        assert np.array_equal(model.weights("in_exc"), dev.weights("in_exc"), equal_nan=True)
        assert np.array_equal(model.probe("u"), dev.probe("u"))
        wide = {3: list(range(200)), 4: list(range(0, 256, 3))}        # groups longer than a frame
        assert np.array_equal(model.run(10, wide).spikes, dev.run(10, wide).spikes)
        assert model.counters() == dev.counters()
        # a frame longer than max_encoded(128) bytes: refused before it is read (no header)
        with pytest.raises(DeviceError, match="payload limit 128"):
            dev.link.request(P.Op.WRITE, P.REGION_ACCESS.pack(4, 2, 0, 100) + bytes(200))


def test_model_matches_the_golden_model_directly():
    rng = np.random.default_rng(3)
    inputs = random_inputs(rng, 100, 16, 0.2)
    image = compile_network(plastic_network())
    reference = GoldenModel(image)
    expected = reference.run(100, inputs)
    with Device.open("emulator://") as dev:
        dev.load(image)
        got = dev.run(100, inputs)
        assert np.array_equal(got.output_ids, expected.output_ids)
        assert np.array_equal(got.spikes, expected.spikes)
        assert np.array_equal(got.monitor.times, expected.times)
        assert np.array_equal(got.monitor.indices, expected.neurons)
        pre, post, w = reference.projection_weights("in_exc")
        matrix = dev.weights("in_exc")
        assert np.array_equal(matrix[pre, post], w)
        assert np.isnan(matrix).sum() == matrix.size - w.size
        masked = dev.weights("in_exc", masked=True)
        assert masked.count() == w.size and np.array_equal(masked[pre, post].data, w)
        state = reference.state()
        assert np.array_equal(dev.probe("v"), state["v"]) and np.array_equal(dev.probe("acc"), state["acc"])
        assert np.array_equal(dev.probe("v", "out"), state["v"][image.neuron_ids("out")])
        assert np.array_equal(dev.probe("x", "in"), state["x"][:16])
        assert dev.counters() == {k: reference.counters.get(k, 0) for k in formats.COUNTERS}


def test_api_errors_name_the_problem():
    with Device.open("emulator://") as dev:
        with pytest.raises(LinkError, match="no network is loaded"):
            dev.run(5)
        dev.load(plastic_network())
        with pytest.raises(KeyError, match=r"no projection named 'nope'.*'in_exc'"):
            dev.weights("nope")
        with pytest.raises(ValueError, match=r"shape \(3, 3\); expected \(16, 24\)"):
            dev.set_weights("in_exc", np.zeros((3, 3)))
        w = dev.weights("exc_out")
        hole = np.argwhere(np.isnan(w))[0]
        w[tuple(hole)] = 5
        with pytest.raises(ValueError, match="has no synapse"):
            dev.set_weights("exc_out", w)
        w = dev.weights("exc_out")
        w[tuple(np.argwhere(~np.isnan(w))[0])] = 95
        with pytest.raises(ValueError, match=r"in \[-10, 90\] \(its STDP bounds\)"):
            dev.set_weights("exc_out", w)
        with pytest.raises(KeyError, match="probe one of"):
            dev.probe("w")
        with pytest.raises(InputError, match="axon 300 at tick 0 is out of range; the core has input axons 0 .. 255"):
            dev.run(5, {0: [300]})
        with pytest.raises(InputError, match="twice at tick 2"):
            dev.run(5, {2: [1, 1]})
        with pytest.raises(TypeError, match="firmware.Network"):
            dev.load(42)
        assert dev.run(3).ticks == 3                 # still fine


def test_a_run_is_batched_not_a_round_trip_per_tick(server):
    ticks = 3000
    with Device.open(server.url, timeout=5) as dev:
        dev.load(relay_network(64))
        writes = []
        original = dev.link.transport.write
        dev.link.transport.write = lambda data: (writes.append(len(data)), original(data))[1]
        t0 = time.monotonic()
        result = dev.run(ticks, {t: [t % 64] for t in range(ticks)})
        elapsed = time.monotonic() - t0
        assert result.spikes.sum() == ticks - 1         # relay: spike at t+1 for input at t
        assert dev.counters()["input_events"] == ticks
    steps = -(-ticks // 256)
    # 2 entries per tick, INPUT + STEP per quarter queue (128 entries): about 94 frames
    assert len(writes) < ticks / 10, f"{len(writes)} frames for {ticks} ticks"
    assert len(writes) >= steps
    assert elapsed < 20


def test_trailing_and_leading_empty_ticks_cost_no_entries(server):
    with Device.open(server.url, timeout=5) as dev, Device.open("model") as model:
        for d in (dev, model):
            d.load(relay_network(8))
        sent = dev.link.sent_entries
        inputs = {4500: [3], 4501: [4]}
        a, b = dev.run(6000, inputs), model.run(6000, inputs)
        assert np.array_equal(a.spikes, b.spikes) and a.spikes.sum() == 2
        # 2 groups of 2 entries, and a few end-of-tick markers with repeats for 4500 empty ticks
        assert (dev.link.sent_entries - sent) % 2**32 <= 16


def test_stream_of_10000_input_events_loses_none(server):
    ticks, n = 2500, 64
    rng = np.random.default_rng(11)
    per_tick = [np.sort(rng.choice(n, 4, replace=False)) for _ in range(ticks)]

    def source():                               # a generator, consumed lazily
        for axons in per_tick:
            yield axons
    expected = GoldenModel(compile_network(relay_network(n))).run(ticks, per_tick)
    with Device.open(server.url, timeout=5) as dev:
        dev.load(relay_network(n))
        blocks = list(dev.stream(source()))
        counters = dev.counters()
    assert len(blocks) > 1                       # output arrived while input was still going in
    starts = [b.start_tick for b in blocks]
    assert starts == sorted(starts) and starts[0] == 0
    assert all(b.start_tick + b.ticks == c.start_tick for b, c in zip(blocks, blocks[1:]))
    spikes = np.concatenate([b.spikes for b in blocks])
    assert spikes.shape == (ticks, n)
    assert np.array_equal(spikes, expected.spikes)
    assert counters["input_events"] == 4 * ticks == 10_000
    assert counters["dropped"] == 0 and counters["ticks"] == ticks
    assert spikes.sum() == 4 * (ticks - 1)       # every input came out again, a tick later
    with Device.open("model") as model:          # the model backend streams the same
        model.load(relay_network(n))
        again = np.concatenate([b.spikes for b in model.stream(iter(per_tick), block_ticks=100)])
    assert np.array_equal(again, spikes)


def test_stream_can_be_abandoned_and_the_device_recovers(server):
    with Device.open(server.url, timeout=5) as dev:
        dev.load(relay_network(8))
        for block in dev.stream(([t % 8] for t in range(100_000))):
            break                                # stop consuming: the run is interrupted
        dev.reset()
        assert dev.run(4, {0: [1]}).neurons.tolist() == [1]
        assert dev.counters()["ticks"] == 4


def test_freerun_and_stop(server):
    with Device.open(server.url, timeout=5) as dev:
        dev.load(relay_network(8))
        dev.freerun(12_000)                      # 1 ms at the emulator's 12 MHz
        time.sleep(0.15)
        result = dev.stop()
        counters = dev.counters()
        assert result.ticks == counters["ticks"] > 20
        assert result.start_tick == 0
        with pytest.raises(LinkError, match="not free-running"):
            dev.stop()
    with Device.open("model") as model:
        model.load(relay_network(8))
        with pytest.raises(LinkError, match="no clock"):
            model.freerun(100)


def test_overruns_are_counted_and_warned_about(server):
    with Device.open(server.url, timeout=5) as dev:
        dev.load(plastic_network())
        with pytest.warns(OverrunWarning, match="longer than the free-run period"):
            dev.freerun(1)                       # 1 cycle: every tick overruns
            time.sleep(0.05)
            result = dev.stop()
        assert dev.counters()["overruns"] >= 1 and result.ticks >= 1


def test_hello_reports_configuration_and_credits(server):
    with Device.open(server.url, timeout=5) as dev:
        info = dev.info
        assert dev.config == CoreConfig()
        assert info["version"] == P.PROTOCOL_VERSION and info["input_depth"] == 512
        assert info["max_payload"] == P.MAX_PAYLOAD and info["window"] >= 1
        assert info["n_regions"] == len(formats.memory_map(dev.config))
        assert info["n_counters"] == len(formats.COUNTERS)
        assert P.Capability.STDP in info["capabilities"]


def _keep_weights_session(dev):
    """Learn, reset keeping the weights, learn again, then a plain reset: what each step leaves."""
    rng = np.random.default_rng(8)
    image = dev.load(plastic_network())
    dev.run(120, random_inputs(rng, 120, 16, 0.15))
    learned = dev.weights("in_exc")
    dev.reset(keep_weights=True)
    after_keep = {"weights": dev.weights("in_exc"), "v": dev.probe("v"), "x": dev.probe("x"),
                  "tick": dev.tick, "counters": dev.counters()}
    second = dev.run(60, random_inputs(rng, 60, 16, 0.15))
    again = dev.weights("in_exc")
    dev.reset()
    restored = dev.weights("in_exc")
    return image, learned, after_keep, second.spikes, again, restored


@pytest.mark.parametrize("url", ["model", "emulator://", "fast-model"])
def test_reset_keep_weights_clears_the_state_and_keeps_what_was_learned(url):
    """Device.reset(keep_weights=True) on every backend: state, tick and counters to zero, the
    learned weights stay; reset() still restores the image's. The golden model is the reference."""
    with (Device.open("model", fast=True) if url == "fast-model" else Device.open(url)) as dev:
        image, learned, after_keep, spikes, again, restored = _keep_weights_session(dev)
    with Device.open("model") as ref:
        _, want_learned, _, want_spikes, want_again, _ = _keep_weights_session(ref)
    pre, post, w = GoldenModel(image).projection_weights("in_exc")
    assert np.any(learned[pre, post] != w)                  # it did learn
    np.testing.assert_array_equal(after_keep["weights"], learned)
    assert not np.any(after_keep["v"]) and not np.any(after_keep["x"])
    assert after_keep["tick"] == 0 and not any(after_keep["counters"].values())
    np.testing.assert_array_equal(learned, want_learned)
    np.testing.assert_array_equal(spikes, want_spikes)
    np.testing.assert_array_equal(again, want_again)
    np.testing.assert_array_equal(restored[pre, post], w)
