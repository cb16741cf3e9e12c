"""NIR graphs on the simulated board (sim/board.py: the gateware in Verilator behind socket://):
spikes identical to the golden model's. In CI, a graph that fits board_server.BOARD_CONFIG
(the board every module here shares, so CI builds nothing new) and the host CLI with a .nir file;
behind the slow marker, test digits of examples/data/digits_snn.nir on a board large enough for
it (its own Verilator build, a few minutes)."""

import subprocess
import sys

import numpy as np
import pytest

import nir
from firmware import compile_network
from firmware.nir import from_nir
from sim import GoldenModel

from tests.support import ROOT
from tests.support.board_server import simulated_board
from tests.support.example_modules import load
from tests.support.nir_reference import self_driven_graph

nir_digits = load("nir_digits")


def small_graph():
    """6 inputs -> 6 LIF -> 4 CubaLIF with random weights: 60 synapses, two profiles, two
    projections, in board_server.BOARD_CONFIG (12 neurons, 6 inputs, 64 synapses)."""
    rng = np.random.default_rng(9)
    return nir.NIRGraph.from_list(
        nir.Linear(weight=rng.normal(0.6, 0.6, (6, 6))),
        nir.LIF(tau=np.full(6, 4e-3), r=np.ones(6), v_leak=np.zeros(6), v_threshold=np.full(6, 0.3)),
        nir.Linear(weight=rng.normal(0.5, 0.8, (4, 6))),
        nir.CubaLIF(tau_syn=np.full(4, 2e-3), tau_mem=np.full(4, 5e-3), r=np.ones(4), v_leak=np.zeros(4),
                    v_threshold=np.full(4, 0.1), w_in=np.ones(4)))


def test_a_nir_graph_spikes_on_the_board_as_on_the_model(device_board):
    from host import Device

    board, config = device_board
    network, report = from_nir(small_graph(), dt=1e-3, config=config)
    image = compile_network(network, config)
    x = np.random.default_rng(3).random((120, 6)) < 0.3
    raster = report.input_raster(x, image)
    want = GoldenModel(image).run(120, raster)
    with Device.open(board.url, timeout=30) as dev:
        dev.load(image)
        got = dev.run(120, raster)
    assert want.spikes.sum() > 30
    assert np.array_equal(got.spikes, want.spikes)


def test_host_cli_runs_a_nir_file_on_the_board(device_board, tmp_path):
    board, config = device_board
    path, out = tmp_path / "driven.nir", tmp_path / "raster.npz"
    nir.write(path, self_driven_graph())
    done = subprocess.run([sys.executable, "-m", "host", "run", str(path), "--dt", "1e-3", "--device", board.url,
                           "--ticks", "40", "--out", str(out), "--timeout", "30"],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    network, _ = from_nir(self_driven_graph(), dt=1e-3, config=config)
    want = GoldenModel(compile_network(network, config)).run(40)
    assert want.spikes.sum() > 20 and np.array_equal(np.load(out)["spikes"], want.spikes)


DIGITS_BOARD = dict(n_neurons=64, n_inputs=64, n_synapses=4096, n_segments=128, n_reverse=16, n_profiles=4,
                    n_projections=4, max_delay=2)


@pytest.mark.slow
def test_digits_subset_on_the_board_spikes_as_on_the_model():
    """20 test digits of the kept classifier: the board's output spikes equal the model's,
    tick for tick, and so do the classes."""
    from host import Device

    _, (pixels, labels) = nir_digits.digits()
    pixels, labels = pixels[:20], labels[:20]
    with simulated_board(**DIGITS_BOARD) as (board, config):
        network, report = from_nir(nir.read(nir_digits.GRAPH), dt=nir_digits.DT, config=config)
        image = compile_network(network, config)
        lag = max(report.latency.values())
        x = nir_digits.encode(pixels)
        with Device.open(board.url, timeout=60) as dev:
            dev.load(image)
            for k in range(labels.size):
                raster = report.input_raster(np.concatenate([x[:, k], np.zeros((lag, 64), bool)]), image)
                model = GoldenModel(image)
                want = model.run(nir_digits.STEPS + lag, raster)
                dev.reset()
                got = dev.run(nir_digits.STEPS + lag, raster)
                assert np.array_equal(got.spikes, want.spikes), f"digit {k}"
                assert want.spikes.sum() > 0
    counts = nir_digits.core_counts(network, report, pixels)
    assert np.mean(np.argmax(counts, 1) == labels) >= 0.9
