"""Long runs stream: memory grows with events, not ticks, on every backend (issue 12, finding 3).

A run keeps its input and its output spikes as events (times, neurons); nothing is allocated per
tick. tracemalloc measures the peak of what a run allocates; a dense raster of the same run
would take ticks * outputs bytes, the old per-tick bookkeeping 8 bytes a tick and more.
"""

import tracemalloc

import numpy as np
import pytest

from firmware import compile_network
from host import Device
from host.__main__ import main as cli
from sim import FastModel, GoldenModel, RasterTooLargeError, RunResult
from sim.fast import EVENTS_START
from tests.support.networks import SMALL_CORE, relay_network

N = 8
IMAGE = compile_network(relay_network(N), SMALL_CORE)


def peak_bytes(action):
    """(result of action(), the peak of the memory it allocated)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = action()
        return result, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def stub_ticks(model):
    """Make `model`'s ticks do nothing (no spikes) so that a test of many ticks measures the
    run's own bookkeeping in a second, not the golden model's arithmetic."""
    def step(input_axons=()):
        model.tick += 1
        return np.zeros(0, np.int64)
    model.step = step


def events(result):
    return (result.times - result.start_tick).tolist(), result.neurons.tolist()


def test_fast_model_run_of_two_million_ticks_allocates_by_events():
    ticks = 2 * 10**6
    model = FastModel(IMAGE)
    model.run(40, {0: [1]})                       # compiled and warm
    inputs = {0: [1, 2], 1000: [3], ticks - 2: [7]}
    result, peak = peak_bytes(lambda: model.run(ticks, inputs))
    assert result.ticks == ticks and result.start_tick == 40
    assert events(result) == ([1, 1, 1001, ticks - 1], [1, 2, 3, 7])
    assert peak < 256 * 1024, f"{peak} bytes for {ticks} ticks (a raster: {ticks * N})"
    everything, peak = peak_bytes(lambda: model.run(ticks, inputs, record_all=True))
    assert everything.all_neurons.tolist() == [1, 2, 3, 7]
    assert peak < 256 * 1024, f"{peak} bytes for {ticks} ticks with record_all"


def test_fast_model_collects_more_events_than_its_first_buffer_holds():
    model, reference = FastModel(IMAGE), GoldenModel(IMAGE)
    rng = np.random.default_rng(1)
    raster = rng.random((1200, N)) < 0.6          # about 5,700 output spikes
    got, want = model.run(1200, raster, record_all=True), reference.run(1200, raster, record_all=True)
    assert got.times.size > EVENTS_START
    for name in ("times", "neurons", "all_times", "all_neurons"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert np.array_equal(got.spikes, want.spikes) and model.counters == reference.counters


@pytest.mark.parametrize("backend", ["golden", "model-device"])
def test_golden_model_run_bookkeeping_allocates_by_events(backend):
    ticks = 50_000
    if backend == "golden":
        model = runner = GoldenModel(IMAGE)
    else:
        runner = Device.open("model")
        runner.load(IMAGE)
        model = runner.model
    stub_ticks(model)
    result, peak = peak_bytes(lambda: runner.run(ticks, {0: [1], ticks - 1: [2]}))
    assert result.ticks == ticks and result.times.size == 0 and model.tick == ticks
    assert peak < 64 * 1024, f"{peak} bytes for {ticks} ticks"


def test_protocol_device_run_streams_its_input_by_events():
    """The emulator's ticks cost about 20 us even stubbed: 40,000 of them, for which a list of
    one input group a tick took 5.5 MB."""
    ticks = 40_000
    with Device.open("emulator://", config=SMALL_CORE) as dev:
        dev.load(IMAGE)
        dev.run(1)
        stub_ticks(dev.link.transport.emulator.model)
        result, peak = peak_bytes(lambda: dev.run(ticks, {0: [1], ticks - 1: [2]}))
        assert result.ticks == ticks and dev.tick == ticks + 1
    assert peak < 128 * 1024, f"{peak} bytes for {ticks} ticks"


def test_a_dense_raster_too_large_to_allocate_is_refused():
    result = RunResult(start_tick=5, ticks=10**9, output_ids=np.arange(256),
                       times=np.array([7, 10**9]), neurons=np.array([3, 255]))
    assert result.monitor.t.tolist() == [7, 10**9]
    with pytest.raises(RasterTooLargeError, match=r"256,000,000,000 cells.*times, neurons"):
        result.spikes
    small = RunResult(start_tick=5, ticks=4, output_ids=np.array([3, 9]),
                      times=np.array([5, 8, 8]), neurons=np.array([9, 3, 9]))
    assert small.spikes.tolist() == [[False, True], [False, False], [False, False], [True, True]]
    assert small.all_spikes is None
    again = RunResult.from_raster(5, small.output_ids, small.spikes)
    assert again.times.tolist() == [5, 8, 8] and again.neurons.tolist() == [9, 3, 9]
    assert again.ticks == 4 and again.start_tick == 5


def test_cli_refuses_a_run_beyond_the_tick_counter(tmp_path, capsys):
    image = tmp_path / "relay.axi"
    IMAGE.save(image)
    for ticks in ("4294967296", "-1"):
        assert cli(["run", str(image), "--device", "model", "--ticks", ticks,
                    "--out", str(tmp_path / "r.npz")]) == 1
        assert f"ticks = {ticks} must be an integer in 0 .. 4294967295" in capsys.readouterr().err
    assert not (tmp_path / "r.npz").exists()


def test_cli_saves_events_and_a_raster_only_when_small(tmp_path, monkeypatch):
    import host.__main__
    image = tmp_path / "relay.axi"
    IMAGE.save(image)
    (tmp_path / "net.py").write_text(f"from firmware import Image\nnetwork = Image.load({str(image)!r})\n"
                                     "inputs = {0: [1], 30: [2, 4]}\n")
    expected = GoldenModel(IMAGE).run(40, {0: [1], 30: [2, 4]})
    for limit, has_raster in ((40 * N, True), (40 * N - 1, False)):
        monkeypatch.setattr(host.__main__, "NPZ_RASTER_CELLS", limit)
        out = tmp_path / f"r{limit}.npz"
        assert cli(["run", str(tmp_path / "net.py"), "--device", "model", "--ticks", "40",
                    "--out", str(out)]) == 0
        data = np.load(out)
        assert ("spikes" in data) == has_raster
        assert data["times"].tolist() == [1, 31, 31] and data["neurons"].tolist() == [1, 2, 4]
        assert np.array_equal(data["output_ids"], expected.output_ids)
        assert int(data["ticks"]) == 40 and int(data["start_tick"]) == 0
        if has_raster:
            assert np.array_equal(data["spikes"], expected.spikes)

