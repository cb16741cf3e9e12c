"""examples/digits.py: the digits network fits the iCEBreaker core, the quick run learns, and the
learning protocol gives the same weights on the golden model and on the protocol emulator.
The simulated-board comparisons are in tests/rtl/test_board_digits.py."""

import numpy as np
import pytest

from boards.registry import ICEBREAKER_CONFIG
from firmware import compile_network
from host import Device
from tests.support.example_modules import load

digits = load("digits")

# The quick run (--quick) measured 88.5% (seed 0, 540 test digits); chance is 10%. The bar
# leaves room for a change of the rounding sequence, and none for a network that stopped learning.
QUICK_SANITY = 0.75


def test_the_network_compiles_for_the_icebreaker_core_unchanged():
    s = digits.Settings()
    image = compile_network(digits.build_network(s), ICEBREAKER_CONFIG)
    assert image.config == ICEBREAKER_CONFIG
    assert image.tables["reverse"].size == 64 * s.n_out <= ICEBREAKER_CONFIG.n_reverse
    assert image.tables["synapse"].size == 64 * s.n_out + 2 * s.n_out <= ICEBREAKER_CONFIG.n_synapses
    assert image.tables["segment"].size <= ICEBREAKER_CONFIG.n_segments
    inference = compile_network(digits.build_network(s, plastic=False), ICEBREAKER_CONFIG)
    assert inference.tables["reverse"].size == 0


def test_encoding_is_a_regular_rate_code_with_the_teacher_on_odd_arrivals():
    s = digits.Settings()
    x = np.zeros(64)
    x[5], x[9] = 16, 8
    raster = digits.encode(x, 3, np.random.default_rng(0), s)
    assert raster.shape == (s.count_ticks + s.tail_ticks, 64 + 10 + 1)
    assert not raster[1::2, :64].any()                      # pixels on even ticks only
    stream = raster[:s.stream_ticks]
    assert stream[:, 5].sum() == 8 and stream[:, 9].sum() == 4 and stream[:, :64].sum() == 12
    assert stream[0::2, 64 + 3].all() and not raster[:, 64:74].sum() - stream[:, 64 + 3].sum()
    assert raster[s.count_ticks - 1::2, -1].all() and not raster[:s.count_ticks - 1, -1].any()
    test = digits.encode(x, None, np.random.default_rng(0), s)
    assert test.shape[0] == s.count_ticks and not test[:, 64:].any()


def test_quick_run_learns_and_writes_the_receptive_fields(tmp_path):
    result = digits.run(digits.QUICK, tmp_path, log=lambda *_: None)
    print(f"\nquick: accuracy {result['accuracy']:.3f}, wall {result['wall']:.1f} s")
    assert result["accuracy"] >= QUICK_SANITY
    assert result["curve"][0] == (0, pytest.approx(0.1, abs=0.05))     # before learning: chance
    assert (tmp_path / "digits_fields_after.png").read_bytes()[:4] == b"\x89PNG"
    assert result["interventions"]["learning-rate change (load image with the learned weights)"] == 1


def _train_on(device, samples=6):
    s = digits.Settings(per_class=2, lr_shifts=(11,))
    X, _, y, _ = digits.load_data(s)
    learner = digits.Learner(device, s)
    learner.start(11)
    for x, label in zip(X[:samples], y[:samples]):
        learner.learn(x, int(label))
    return learner.weights(), learner.work


def test_the_model_and_the_emulator_learn_the_same_weights():
    with Device.open("model", config=ICEBREAKER_CONFIG, fast=True) as model:
        want, work = _train_on(model)
    with Device.open("emulator://", config=ICEBREAKER_CONFIG) as emulator:
        got, _ = _train_on(emulator)
    np.testing.assert_array_equal(got, want)
    s = digits.Settings(per_class=2)
    assert np.sum(want != digits.initial_weights(s)) > 100 and work["plastic_updates"] > 1000


@pytest.mark.slow
def test_full_run_reaches_the_bar(tmp_path):
    result = digits.run(digits.Settings(), tmp_path, log=print)
    print(digits.summary(result, digits.Settings()))
    assert result["accuracy"] >= 0.85


def test_bad_settings_and_samples_are_refused_by_name(capsys):
    from firmware import NetworkError
    from sim.model import InputError

    with pytest.raises(NetworkError, match=r"per_class = 0 must be >= 1"):
        digits.Settings(per_class=0)
    with pytest.raises(NetworkError, match=r"delay = 3 must be even"):
        digits.Settings(delay=3)
    with pytest.raises(NetworkError, match=r"lr_shifts = \(19,\).*\[0, 18\]"):
        digits.Settings(lr_shifts=(19,))
    s = digits.Settings()
    with pytest.raises(InputError, match=r"64 pixel values in \[0, 16\]; got shape \(63,\)"):
        digits.encode(np.zeros(63), 1, np.random.default_rng(0), s)
    with pytest.raises(InputError, match=r"values 17.0 .. 17.0"):
        digits.encode(np.full(64, 17.0), 1, np.random.default_rng(0), s)
    with pytest.raises(InputError, match=r"label 10 has no teacher axon"):
        digits.encode(np.zeros(64), 10, np.random.default_rng(0), s)
    # the command line says what is wrong, without a traceback
    assert digits.main(["--quick", "--per-class", "26"]) == 2       # 260 neurons: the core has 256
    assert "needs 260 neurons, the core configuration holds 256" in capsys.readouterr().err
    assert digits.main(["--quick", "--per-class", "-1"]) == 2
    assert "per_class = -1 must be >= 1" in capsys.readouterr().err


def test_learning_rates_past_the_specs_largest_shift_halve_the_amplitudes_exactly():
    r13, r15, r16, r18 = (digits.rule_for(s) for s in (13, 15, 16, 18))
    assert (r13.lr_shift, r13.a_plus, r13.a_minus) == (13, 104, -24)
    assert (r15.lr_shift, r15.a_plus, r15.a_minus) == (15, 104, -24)
    assert (r16.lr_shift, r16.a_plus, r16.a_minus) == (15, 52, -12)
    assert (r18.lr_shift, r18.a_plus, r18.a_minus) == (15, 13, -3)
    assert r18.a_minus * 104 == r18.a_plus * -24                   # the ratio is kept


def test_the_example_learns_on_the_device_it_is_given(tmp_path, monkeypatch):
    """--device: the same run on the protocol emulator as on the model, weights and predictions."""
    from dataclasses import replace
    tiny = replace(digits.QUICK, train_limit=6, test_limit=20, lr_shifts=(12,), eval_every=1000)
    want = digits.run(tiny, None, log=lambda *_: None)
    opened = []
    real_open = Device.open

    def spy(url, **options):
        opened.append(url)
        return real_open(url, **options)
    monkeypatch.setattr(digits.Device, "open", staticmethod(spy))
    monkeypatch.setattr(digits, "QUICK", tiny)
    assert digits.main(["--quick", "--device", "emulator://", "--out", str(tmp_path)]) == 0
    assert opened[0] == "emulator://"
    got = np.load(tmp_path / "digits_weights.npz")["learned"]
    np.testing.assert_array_equal(got, want["weights"])
    assert np.sum(got != digits.initial_weights(tiny)) > 50
