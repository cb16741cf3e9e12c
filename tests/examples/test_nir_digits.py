"""A network trained elsewhere: examples/nir_digits.py's spiking digits classifier, kept as
examples/data/digits_snn.nir, on the golden model beside its float accuracy (issue 14: bar
within 3 points, goal within 1). Its subset on the simulated board is in
tests/rtl/test_nir_board.py."""

import subprocess
import sys

import numpy as np
import pytest

import nir
from firmware.nir import from_nir
from tests.support import ROOT
from tests.support.example_modules import load
from tests.support.nir_reference import simulate

nir_digits = load("nir_digits")


def test_digits_graph_on_the_golden_model_is_within_a_point_of_float():
    """The float accuracy by tests/support/nir_reference.py (the graph read from the file, forward
    Euler), the core's by from_nir and the golden model, on the 450 test digits."""
    graph = nir.read(nir_digits.GRAPH)
    _, (pixels, labels) = nir_digits.digits()
    spikes = nir_digits.encode(pixels)
    out, _ = simulate(graph, nir_digits.DT, {"input": spikes})
    float_acc = np.mean(np.argmax(out["output"].sum(0), 1) == labels)
    network, report = from_nir(graph, dt=nir_digits.DT)
    core_acc = np.mean(np.argmax(nir_digits.core_counts(network, report, pixels), 1) == labels)
    print(f"\ndigits: float {float_acc:.4f}, core {core_acc:.4f} ({100 * (core_acc - float_acc):+.2f} points); "
          f"largest quantization error {report.max_error:.2e}")
    assert float_acc >= 0.95
    assert abs(core_acc - float_acc) <= 0.01


@pytest.mark.slow
def test_digits_example_trains_again_to_the_same_standard(tmp_path):
    """examples/nir_digits.py --train: numpy training reproduces a graph that reaches 95% in float
    and the core within 3 points of it (about a minute)."""
    out = tmp_path / "digits.nir"
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "nir_digits.py"), "--train", "--graph", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("test accuracy"))
    float_acc, core_acc = (float(line.split(key)[1].split(",")[0]) for key in ("float ", "golden model) "))
    assert float_acc >= 0.95 and abs(core_acc - float_acc) <= 0.03
