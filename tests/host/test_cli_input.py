"""python -m host run takes input spikes and shows progress (issue 13, item 4).

Input from a file (times/axons or a raster) and Poisson input (--rate, --probability); bad files
refused before the run; the progress line on a terminal only; Ctrl-C saves the ticks completed.
Most cases call host.__main__.main in this process on a relay network (input i -> neuron i a
tick later) on a small core, where the output spikes are the input spikes one tick later.
"""

import io
import os
import pty
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from firmware import compile_network
from host import __main__ as cli
from host import progress
from host.device import Device
from host.model_device import ModelDevice
from host.inputs import PoissonInput, parse_axons, probability_of_rate
from sim import GoldenModel, InputError
from tests.support import ENV, ROOT, sigint_as_from_a_shell
from tests.support.networks import SMALL_CORE, relay_network

N = 8
IMAGE = compile_network(relay_network(N), SMALL_CORE)
DEVICES = ["model", "emulator://"]


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "relay.axi"
    IMAGE.save(path)
    return path


def run(args, capsys, code=0):
    """main(args); (stdout, stderr), after checking the exit status."""
    got = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert got == code, (got, out, err)
    return out, err


def one_line_error(capsys, args):
    out, err = run(args, capsys, code=1)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def expected(ticks, inputs):
    return GoldenModel(IMAGE).run(ticks, inputs)


def same_events(data, result):
    return (np.array_equal(data["times"], result.times) and np.array_equal(data["neurons"], result.neurons)
            and int(data["ticks"]) == result.ticks)


# --- input from a file ------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_times_and_axons_from_a_file(tmp_path, capsys, image_file, device):
    times, axons = np.array([0, 0, 3, 7, 7, 7]), np.array([1, 5, 2, 0, 6, 7])
    np.savez(tmp_path / "in.npz", times=times, axons=axons)
    out_file = tmp_path / "r.npz"
    out, _ = run(["run", image_file, "--device", device, "--ticks", 12, "--input", tmp_path / "in.npz",
                  "--out", out_file], capsys)
    data = np.load(out_file)
    assert same_events(data, expected(12, (times, axons)))
    assert data["times"].tolist() == [1, 1, 4, 8, 8, 8]           # each input, one tick later
    assert data["neurons"].tolist() == [1, 5, 2, 0, 6, 7]
    assert f"input: {tmp_path / 'in.npz'} (times/axons): 6 spikes\n" in out
    assert not data["interrupted"] and str(data["input"]) == f"{tmp_path / 'in.npz'} (times/axons)"
    assert dict(zip(data["counter_names"].tolist(), data["counters"].tolist()))["input_events"] == 6


@pytest.mark.parametrize("device", DEVICES)
def test_a_raster_from_a_file(tmp_path, capsys, image_file, device):
    raster = np.random.default_rng(3).random((30, 6)) < 0.3       # shorter and narrower than allowed
    np.savez(tmp_path / "in.npz", raster=raster)
    out_file = tmp_path / "r.npz"
    run(["run", image_file, "--device", device, "--ticks", 40, "--input", tmp_path / "in.npz",
         "--out", out_file], capsys)
    data = np.load(out_file)
    assert same_events(data, expected(40, raster))
    assert data["spikes"][1:31, :6].tolist() == raster.tolist() and not data["spikes"][:, 6:].any()


def test_the_input_file_replaces_a_network_files_inputs(tmp_path, capsys):
    net = tmp_path / "net.py"
    net.write_text("from tests.support.networks import relay_network\n"
                   "network = relay_network(8)\ninputs = {0: [0, 1, 2]}\n")
    np.savez(tmp_path / "in.npz", times=[2], axons=[7])
    run(["run", net, "--ticks", 5, "--out", tmp_path / "a.npz"], capsys)
    run(["run", net, "--ticks", 5, "--input", tmp_path / "in.npz", "--out", tmp_path / "b.npz"], capsys)
    assert np.load(tmp_path / "a.npz")["neurons"].tolist() == [0, 1, 2]
    assert np.load(tmp_path / "b.npz")["neurons"].tolist() == [7]


def _write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, dict):
        np.savez(path, **content)
    else:
        np.save(path.with_suffix(".npy"), content)
        path.with_suffix(".npy").rename(path)


BAD_FILES = [
    ("in.npz", b"times,axons\n0,1\n", "is not an .npz archive (numpy.savez writes them)"),
    ("in.npz", np.zeros((3, 4)), "is a single .npy array"),
    ("in.npz", {"spikes": np.zeros((3, 4))}, "holds `spikes`, which an input file does not have"),
    ("in.npz", {"times": [1, 2]}, "holds `times` but no `axons`"),
    ("in.npz", {"raster": np.zeros((3, 4)), "times": [1]}, "holds both `raster` and `times`; keep one form"),
    ("in.npz", {}, "holds no arrays"),
    ("in.npz", {"times": [1, 2], "axons": [3]}, "`times` has 2 entries and `axons` 1"),
    ("in.npz", {"times": [[1, 2]], "axons": [[3, 4]]}, "`times` has shape (1, 2); `times` and `axons` are 1-D"),
    ("in.npz", {"raster": np.zeros((2, 3, 4))}, "`raster` has shape (2, 3, 4); a raster is 2-D"),
    ("in.npz", {"raster": np.array([["a"]], dtype=object)}, "not a readable .npz archive of numeric arrays"),
    ("in.csv", {"times": [1], "axons": [1]}, "give a name ending in .npz"),
    ("missing.npz", None, "no such file"),
]


@pytest.mark.parametrize("name,content,fragment", BAD_FILES)
def test_bad_input_files_are_refused_before_the_device_opens(tmp_path, capsys, image_file, monkeypatch,
                                                           name, content, fragment):
    path = tmp_path / name
    if content is not None:
        _write(path, content)

    def refuse(*args, **kwargs):
        raise AssertionError("the device was opened before the input file was checked")
    monkeypatch.setattr(Device, "open", staticmethod(refuse))
    err = one_line_error(capsys, ["run", image_file, "--ticks", 10, "--input", path, "--out", tmp_path / "r.npz"])
    assert err.startswith(f"error: --input {path}") and fragment in err, err


@pytest.mark.parametrize("content,fragment", [
    ({"times": [0, 10], "axons": [1, 2]}, "input tick 10 in the (times, axons) pair is out of range; the run has ticks 0 .. 9"),
    ({"times": [0, 1], "axons": [1, 8]}, "input axon 8 in the (times, axons) pair is out of range; the core has input axons 0 .. 7"),
    ({"times": [0.5], "axons": [1]}, "input tick 0.5 in the (times, axons) pair is not an integer"),
    ({"times": [3, 3], "axons": [1, 1]}, "input axon 1 spikes twice at tick 3"),
    ({"raster": np.ones((11, 2), bool)}, "input raster has shape (11, 2); expected at most (10, 8)"),
    ({"raster": np.ones((2, 9), bool)}, "input raster has shape (2, 9); expected at most (10, 8)"),
    ({"raster": np.full((2, 2), 2)}, "input raster holds 2 at [0, 0]"),
])
def test_input_values_are_checked_against_the_core_before_the_run(tmp_path, capsys, image_file, monkeypatch,
                                                                 content, fragment):
    np.savez(tmp_path / "in.npz", **content)

    def no_run(*args, **kwargs):
        raise AssertionError("the run started with refused input")
    monkeypatch.setattr(ModelDevice, "stream", no_run)
    err = one_line_error(capsys, ["run", image_file, "--ticks", 10, "--input", tmp_path / "in.npz",
                                  "--out", tmp_path / "r.npz"])
    assert err.startswith(f"error: --input {tmp_path / 'in.npz'}: {fragment}"), err
    assert not (tmp_path / "r.npz").exists()


def test_a_tick_the_devices_input_queue_cannot_hold_is_refused_before_the_run(tmp_path, capsys, image_file,
                                                                             monkeypatch):
    from host.link_device import LinkDevice
    np.savez(tmp_path / "in.npz", times=[0, 5, 5, 5], axons=[0, 1, 2, 3])
    real_open = Device.open
    monkeypatch.setattr(Device, "open", staticmethod(lambda url, **kw: real_open(url, input_depth=3, **kw)))
    monkeypatch.setattr(LinkDevice, "stream", lambda *a, **k: pytest.fail("the run started"))
    err = one_line_error(capsys, ["run", image_file, "--device", "emulator://", "--ticks", 10,
                                  "--input", tmp_path / "in.npz", "--out", tmp_path / "r.npz"])
    assert err == ("error: tick 5 has 3 input spikes; the device's input queue holds 3 entries, one of them "
                   "the end-of-tick marker: spread the spikes over more ticks")


# --- Poisson input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_rate_gives_poisson_input_at_that_rate(tmp_path, capsys, image_file, device):
    """200 Hz at 1 ms ticks is p = 0.2 a tick: over 8 axons x 1,500 ticks (12,000 draws) the
    count of input spikes is within 4 standard deviations (4 x 43.8) of 2,400. The output is
    the model's with the same generated input (so it is what was fed in)."""
    ticks, out_file = 1500, tmp_path / "r.npz"
    out, _ = run(["run", image_file, "--device", device, "--ticks", ticks, "--rate", 200,
                  "--input-seed", 11, "--out", out_file, "--quiet"], capsys)
    data = np.load(out_file)
    counters = dict(zip(data["counter_names"].tolist(), data["counters"].tolist()))
    n, p = ticks * N, 0.2
    assert abs(counters["input_events"] - n * p) < 4 * np.sqrt(n * p * (1 - p)), counters
    groups = list(PoissonInput(np.arange(N), p, 11).groups(ticks))
    assert same_events(data, expected(ticks, groups))
    assert float(data["input_probability"]) == p and int(data["input_seed"]) == 11
    assert data["input_axons"].tolist() == list(range(N))
    assert (f"input: Poisson, p = 0.2 per tick (200 Hz at 1000 us ticks), on 8 axons (0..7), --input-seed 11: "
            f"{counters['input_events']} spikes\n") in out


def test_the_input_seed_reproduces_the_input(tmp_path, capsys, image_file):
    def events(seed, name, ticks=300):
        run(["run", image_file, "--ticks", ticks, "--probability", 0.1, "--out", tmp_path / name,
             *(["--input-seed", seed] if seed is not None else [])], capsys)
        data = np.load(tmp_path / name)
        return data["times"].tolist(), data["neurons"].tolist(), int(data["input_seed"])
    first, again, other = events(5, "a.npz"), events(5, "b.npz"), events(6, "c.npz")
    assert first == again and first[:2] != other[:2]
    drawn = events(None, "d.npz")                  # no seed: a fresh one, saved, that reproduces it
    assert events(drawn[2], "e.npz") == drawn
    shorter = events(5, "f.npz", ticks=100)        # a shorter run gets the first ticks of a longer one
    assert shorter[0] == [t for t in first[0] if t < 100] and len(shorter[0]) < len(first[0])


def test_tick_us_converts_the_rate(tmp_path, capsys, image_file):
    """100 Hz at 5 ms ticks is p = 0.5: the same input as --probability 0.5."""
    run(["run", image_file, "--ticks", 50, "--rate", 100, "--tick-us", 5000, "--input-seed", 2,
         "--out", tmp_path / "a.npz"], capsys)
    run(["run", image_file, "--ticks", 50, "--probability", 0.5, "--input-seed", 2, "--out", tmp_path / "b.npz"],
        capsys)
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert float(a["input_probability"]) == 0.5 and a["neurons"].size > 50
    assert a["times"].tolist() == b["times"].tolist() and a["neurons"].tolist() == b["neurons"].tolist()


def test_axons_and_input_group_choose_the_driven_axons(tmp_path, capsys):
    from firmware import Network, OneToOne
    net = Network("two")
    for side in ("left", "right"):
        inputs = net.inputs(side, 4)
        relay = net.population(f"relay_{side}", 4, du=4095, dv=4095, vth=10)
        net.connect(inputs, relay, OneToOne(), weight=127)
        net.record(relay)
    image = compile_network(net, SMALL_CORE)
    image.save(tmp_path / "two.axi")
    right = image.neuron_ids("relay_right").tolist()

    def fired(*options):
        run(["run", tmp_path / "two.axi", "--ticks", 20, "--probability", 1, *options, "--out", tmp_path / "r.npz"],
            capsys)
        return sorted(set(np.load(tmp_path / "r.npz")["neurons"].tolist()))
    assert fired("--input-group", "right") == right
    assert fired("--axons", "1:3,6") == sorted(image.neuron_ids("relay_left", [1, 2]).tolist() + [right[2]])
    assert fired() == sorted(image.output_ids.tolist())       # default: every input group


@pytest.mark.parametrize("options,message", [
    (["--rate", "2000"], "--rate 2000 Hz at 1000 us ticks is 2 spikes per tick; an axon carries at most one "
                         "spike a tick: at most 1000 Hz at 1000 us ticks (or longer ticks: --tick-us)"),
    (["--rate", "-1"], "--rate -1.0 must be a number of Hz >= 0"),
    (["--rate", "nan"], "--rate nan must be a number of Hz >= 0"),
    (["--rate", "5", "--tick-us", "0"], "--tick-us 0.0 must be a positive number of microseconds"),
    (["--probability", "1.5"], "--probability 1.5 must be a number in [0, 1] (the chance an axon spikes in a tick)"),
    (["--probability", "0.1", "--tick-us", "10"], "--tick-us converts --rate HZ to a probability per tick; "
                                                  "--probability needs none"),
    (["--axons", "0:4"], "--axons shapes Poisson input; give --rate HZ or --probability P with it"),
    (["--input-seed", "3"], "--input-seed shapes Poisson input; give --rate HZ or --probability P with it"),
    (["--rate", "5", "--input-seed", "-3"], "--input-seed -3 must be an integer in [0, 2**63 - 1]"),
    (["--rate", "5", "--input-seed", str(2**63)], f"--input-seed {2**63} must be an integer in [0, 2**63 - 1]"),
    (["--rate", "5", "--axons", "0:9"], "--axons 0:9: axon 8 is out of range; the core has input axons 0 .. 7"),
    (["--rate", "5", "--axons", "3:3"], "--axons 3:3: the range 3:3 is empty (START:STOP takes START .. STOP-1)"),
    (["--rate", "5", "--axons", "1,x"], "--axons 1,x: 'x' is not an axon number or a START:STOP range"),
    (["--rate", "5", "--axons", "1,0:3"], "--axons 1,0:3: axon 1 is named twice"),
    (["--rate", "5", "--input-group", "relay"], "'relay' is not an input group of this image but one of its populations"),
    (["--rate", "5", "--input-group", "nope"], "image has no input group or population named 'nope'; it has ['in', 'relay']"),
])
def test_bad_poisson_options_are_refused_before_the_run(tmp_path, capsys, image_file, monkeypatch, options, message):
    monkeypatch.setattr(ModelDevice, "stream", lambda *a, **k: pytest.fail("the run started"))
    err = one_line_error(capsys, ["run", image_file, "--ticks", 10, *options, "--out", tmp_path / "r.npz"])
    assert err == f"error: {message}"


def test_a_network_without_input_groups_needs_axons(tmp_path, capsys):
    from firmware import Network
    net = Network("bias")
    net.record(net.population("p", 2, bias_mant=50, vth=10))
    compile_network(net, SMALL_CORE).save(tmp_path / "bias.axi")
    err = one_line_error(capsys, ["run", tmp_path / "bias.axi", "--ticks", 5, "--rate", 5, "--out", tmp_path / "r.npz"])
    assert err == "error: the network has no input groups to drive; name the axons with --axons"


def test_poisson_helpers():
    assert probability_of_rate(50, 1000) == pytest.approx(0.05)
    assert probability_of_rate(1000, 1000) == 1
    assert parse_axons("0:3, 7", 8).tolist() == [0, 1, 2, 7]
    with pytest.raises(InputError, match="at most 100 Hz at 10000 us ticks"):
        probability_of_rate(101, 10_000)
    # the draws of a tick do not depend on how many ticks are asked for
    long = list(PoissonInput(np.arange(5), 0.3, 1).groups(2500))
    short = list(PoissonInput(np.arange(5), 0.3, 1).groups(1100))
    assert all(np.array_equal(a, b) for a, b in zip(short, long)) and len(short) == 1100


# --- progress -----------------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_line_shows_count_rate_and_eta_at_most_every_refresh():
    terminal, clock = FakeTerminal(), Clock()
    with progress.Progress(total=1000, stream=terminal, clock=clock) as bar:
        bar.update(10)                           # before REFRESH_S: nothing yet
        assert terminal.getvalue() == ""
        clock.now += 0.5
        bar.update(100)
        assert terminal.getvalue() == "\rtick 100 / 1,000 (10%), 200 ticks/s, ETA 0:00:04\x1b[K"
        clock.now += 0.1                         # within REFRESH_S of the last draw: no redraw
        bar.update(150)
        assert terminal.getvalue().count("\r") == 1
        clock.now += 0.4
        bar.update(500)
        assert terminal.getvalue().endswith("\rtick 500 / 1,000 (50%), 500 ticks/s, ETA 0:00:01\x1b[K")
    assert terminal.getvalue().endswith("\r\x1b[K")       # cleared at the end
    open_ended = progress.Progress(stream=FakeTerminal(), clock=clock)
    clock.now += 3725
    assert open_ended.text() == "tick 0, 0 ticks/s, 1:02:05 elapsed"


@pytest.mark.parametrize("stream,quiet", [(io.StringIO(), False), (FakeTerminal(), True)])
def test_progress_is_silent_when_piped_or_quiet(stream, quiet):
    clock = Clock()
    with progress.Progress(total=10, stream=stream, quiet=quiet, clock=clock) as bar:
        for k in range(10):
            clock.now += 1
            bar.update(k)
    with progress.Elapsed("stage", stream=stream, quiet=quiet, refresh=0.001):
        time.sleep(0.05)
    assert stream.getvalue() == ""


def test_elapsed_redraws_from_a_thread_and_clears():
    terminal = FakeTerminal()
    with progress.Elapsed("place and route", stream=terminal, refresh=0.01):
        time.sleep(0.2)                          # the block blocks; the thread draws anyway
    text = terminal.getvalue()
    assert text.count("\rplace and route ... 0 s\x1b[K") >= 3 and text.endswith("\r\x1b[K"), text


@pytest.fixture
def fast_refresh(monkeypatch):
    monkeypatch.setattr(progress, "REFRESH_S", 0.0)


def test_the_run_shows_progress_on_a_terminal(tmp_path, capsys, image_file, monkeypatch, fast_refresh):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out, _ = run(["run", image_file, "--ticks", 200, "--rate", 100, "--out", tmp_path / "r.npz"], capsys)
    lines = terminal.getvalue().split("\r")
    assert re.fullmatch(r"tick 64 / 200 \(32%\), [\d,]+ ticks/s, ETA \d:\d\d:\d\d\x1b\[K", lines[1]), lines
    assert lines[-2].startswith("tick 200 / 200 (100%)") and lines[-1] == "\x1b[K"
    assert "ticks/s" not in out and "output spikes" in out


@pytest.mark.parametrize("quiet", [True, False])
def test_the_run_shows_no_progress_when_quiet_or_piped(tmp_path, capsys, image_file, monkeypatch, fast_refresh,
                                                       quiet):
    stream = FakeTerminal() if quiet else io.StringIO()      # --quiet on a terminal; or a pipe
    monkeypatch.setattr(sys, "stderr", stream)
    run(["run", image_file, "--ticks", 200, "--rate", 100, "--out", tmp_path / "r.npz",
         *(["--quiet"] if quiet else [])], capsys)
    assert stream.getvalue() == ""


# --- Ctrl-C ------------------------------------------------------------------------------------------


def interrupt_at_step(monkeypatch, k):
    """GoldenModel.step raises KeyboardInterrupt at its k-th call (as Ctrl-C would)."""
    real, calls = GoldenModel.step, [0]

    def step(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == k:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)
    monkeypatch.setattr(GoldenModel, "step", step)


@pytest.mark.parametrize("device", DEVICES)
def test_ctrl_c_saves_the_ticks_completed(tmp_path, capsys, image_file, monkeypatch, device):
    ticks, inputs = 2000, np.random.default_rng(5).random((2000, N)) < 0.2
    np.savez(tmp_path / "in.npz", raster=inputs)
    out_file, png = tmp_path / "r.npz", tmp_path / "r.png"
    interrupt_at_step(monkeypatch, 700)
    out, err = run(["run", image_file, "--device", device, "--ticks", ticks, "--input", tmp_path / "in.npz",
                    "--out", out_file, "--plot", png], capsys, code=130)
    data = np.load(out_file)
    done = int(data["ticks"])
    assert err == f"interrupted after {done} ticks; partial results in {out_file} and {png}\n"
    assert out == "" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 0 < done < 700 and bool(data["interrupted"])
    if device == "model":
        assert done == 640                       # the model streams 64-tick blocks: 10 of them completed
    assert same_events(data, expected(done, inputs[:done]))        # exactly the first `done` ticks
    counters = dict(zip(data["counter_names"].tolist(), data["counters"].tolist()))
    assert done <= counters["ticks"] < 700    # the stopped device answered (it ran a few ticks further)


def test_ctrl_c_saves_the_ticks_even_when_the_stopped_device_gives_no_counters(tmp_path, capsys, image_file,
                                                                              monkeypatch):
    from host import LinkError
    from host.link_device import LinkDevice

    def no_answer(self, clear=False):
        raise LinkError("emulator://: no answer")
    monkeypatch.setattr(LinkDevice, "counters", no_answer)
    interrupt_at_step(monkeypatch, 300)
    out_file = tmp_path / "r.npz"
    _, err = run(["run", image_file, "--device", "emulator://", "--ticks", 1000, "--probability", 0.5,
                  "--input-seed", 1, "--out", out_file], capsys, code=130)
    data = np.load(out_file)
    assert err == f"interrupted after {int(data['ticks'])} ticks; partial results in {out_file}\n"
    assert "counters" not in data.files and bool(data["interrupted"]) and 0 < int(data["ticks"]) < 300
    groups = list(PoissonInput(np.arange(N), 0.5, 1).groups(int(data["ticks"])))
    assert same_events(data, expected(int(data["ticks"]), groups))


def test_the_device_recovers_after_an_interrupted_stream(monkeypatch):
    """What the CLI relies on: the LinkDevice resynchronises on the operation after Ctrl-C."""
    interrupt_at_step(monkeypatch, 300)
    with Device.open("emulator://", config=SMALL_CORE) as dev:
        dev.load(IMAGE)
        with pytest.raises(KeyboardInterrupt):
            for _ in dev.stream([[1]] * 5000):
                pass
        monkeypatch.undo()
        dev.reset()
        assert dev.run(4, {0: [3]}).neurons.tolist() == [3] and dev.counters()["ticks"] == 4


def test_ctrl_c_in_a_separate_process_on_a_terminal(tmp_path, image_file):
    """A real SIGINT to `python -m host run` on emulator://, its stderr a terminal: the progress
    line appears, then Ctrl-C saves the ticks completed and exits with 130, no traceback."""
    out_file = tmp_path / "r.npz"
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "host", "run", str(image_file), "--device", "emulator://",
                             "--ticks", "10000000", "--rate", "100", "--out", str(out_file)], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=secondary, text=True, preexec_fn=sigint_as_from_a_shell)
    os.close(secondary)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"ticks/s" not in seen and time.monotonic() < deadline:
            if select.select([primary], [], [], 1)[0]:
                seen += os.read(primary, 4096)
        assert b"ticks/s, ETA" in seen, seen
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)   # a loaded machine: seconds of JIT before the handler runs
        while select.select([primary], [], [], 0.5)[0]:
            try:
                chunk = os.read(primary, 4096)
            except OSError:                      # the other end closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(primary)
    text = seen.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and out == ""
    done = int(np.load(out_file)["ticks"])
    assert text.rstrip().endswith(f"interrupted after {done} ticks; partial results in {out_file}"), text
    assert done > 0 and bool(np.load(out_file)["interrupted"])


# --- the README's command ------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_the_readme_command_draws_a_raster_with_spikes(tmp_path, capsys, monkeypatch, device):
    """The README's `python -m host run example.axi ... --rate 50 --plot raster.png`, on the
    README's own network, gives output spikes (it drew an empty raster without input)."""
    readme = (ROOT / "README.md").read_text()
    monkeypatch.chdir(tmp_path)
    exec(compile(re.findall(r"```python\n(.*?)```", readme, re.S)[0], "README.md", "exec"), {})   # example.axi
    capsys.readouterr()
    line = next(line for line in readme.splitlines() if "-m host run example.axi" in line)
    args = shlex.split(line.split("#")[0])
    args = args[args.index("host") + 1:]
    assert "--rate" in args and "--plot" in args
    args[args.index("--device") + 1] = device
    run(args, capsys)
    data = np.load(args[args.index("--out") + 1])
    assert data["times"].size > 100 and np.unique(data["neurons"]).size == data["output_ids"].size
    assert Path(args[args.index("--plot") + 1]).stat().st_size > 2000
