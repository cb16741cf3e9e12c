"""Handwritten digits learned by the core's own STDP: a teacher-driven readout (docs/digits.md).

    python examples/digits.py --quick       # reduced size, well under a minute: accuracy + receptive fields
    python examples/digits.py               # the full run: 8 epochs, 50 neurons, held-out test set
    python examples/digits.py --out DIR     # where the plots go (default build/digits/)

sklearn's 8x8 digits (1,797 images, shipped with scikit-learn) are split 70/30, stratified,
seed fixed. Every pixel is an input axon with a regular rate code on even ticks; each class has
`per_class` output neurons, and the pixel -> output synapses are plastic (the core's pair STDP,
spec §6). During training a teacher axon per class makes the label's neurons fire on odd ticks,
right after the pixel spikes: with a pre-trace that lasts about one tick and a post-trace that
lasts ten, a teacher-driven spike potentiates the active pixels, while a spike the pixels cause
(on an even tick, delay 4) depresses them. Learning stops where the label's neurons fire about
as much as the teacher pays for, and the other classes' neurons not at all: a perceptron-like
rule carried out by the core. A `stop` axon silences the outputs for the last ticks of a sample
while the pixels still spike, so that late output spikes get their depression too.

The host does what a board user does: reset the state between samples keeping the learned
weights (Device.reset(keep_weights=True): the device's RESET keeps them anyway) and seed the
LFSR afresh, lower the learning rate between epochs (load the image again with the slower rule
and the learned weights), and read the weights once to load an inference image without STDP
for testing. Each intervention is counted. The same `learn` runs on any host.Device: the golden model, the emulator, the
simulated board (tests/examples/test_digits.py, tests/rtl/test_board_digits.py compare their weights).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))      # this checkout's packages, also when another one is installed

from boards.registry import ICEBREAKER_CLOCK_HZ, ICEBREAKER_CONFIG  # noqa: E402
from firmware import AllToAll, AxoniteError, FromList, Network, NetworkError, STDPRule, compile_network  # noqa: E402
from firmware.config import CoreConfig  # noqa: E402
from firmware.formats import LR_SHIFT_MAX  # noqa: E402
from host import Device  # noqa: E402
from firmware.run import InputError  # noqa: E402

PROJECTION = "learn"          # the plastic pixel -> output projection
COMMITTED = "committed"       # lifelong learning: the classes learned before, at a lower rate
# The rule (spec §6, hardware units). Pre-trace: impulse 255, decay 3072/4096 (x = 63, 15, 3, 0
# after 1-4 ticks); post-trace: impulse 50, decay 410/4096 (tau ~ 10 ticks). Teacher-driven
# spikes (odd ticks, one tick after the pixels) see x = 63 and gain; pixel-driven spikes (even
# ticks) see x = 15 and lose to the LTD of the pixel spikes that follow within the post-trace.
RULE = dict(w_min=-128, w_max=127, pre_decay=3072, pre_impulse=255, post_decay=410, post_impulse=50,
            mode="all-to-all")
A_PLUS, A_MINUS = 104, -24    # 13 x 8 and -3 x 8: they halve exactly three times (rule_for)
SLOWEST = LR_SHIFT_MAX + 3    # learning rates past the spec's lr_shift 15 halve the amplitudes
NEURON = dict(du=4095, dv=400, vth=100, refractory=0)   # current lasts a tick; v leaks ~10 ticks
STRONG = 127                  # teacher and stop weights: mantissa 127 or -128 at exponent 7
STRONG_EXP = 7
# Cycles per tick of the default iCEBreaker core, from docs/benchmarks.md (Verilator runs of
# the RTL): an empty tick 277 cycles, 0.94 synaptic events a cycle while routing, 1.5 cycles
# per STDP weight update.
EMPTY_TICK_CYCLES, SYNAPTIC_EVENTS_PER_CYCLE, CYCLES_PER_UPDATE = 277, 0.94, 1.5


@dataclass(frozen=True)
class Settings:
    per_class: int = 5               # output neurons per class
    classes: tuple = tuple(range(10))
    pixels: int = 64                 # the image pooled to this many inputs (64: as it is)
    stream_ticks: int = 40           # pixel input on the even ticks of these
    tail_ticks: int = 20             # training: pixels go on, outputs silenced (their LTD completes)
    rate: float = 0.4                # spikes per even tick of a pixel at 16
    delay: int = 4                   # pixel -> output delay (even, so pixel-driven spikes stay on even ticks)
    lr_shifts: tuple = (13, 13, 14, 14, 15, 15, 16, 16)   # one epoch each (past 15: rule_for)
    train_limit: int | None = None   # use the first N training samples (None: all)
    test_limit: int | None = None
    test_size: float = 0.3
    seed: int = 0
    init: int = 4                    # initial weights uniform in [-init, init]
    eval_every: int = 500            # samples between test evaluations (the learning curve)

    def __post_init__(self):
        """Refuse settings the network or the coding cannot have, naming the limit (NetworkError)."""
        def need(ok, what):
            if not ok:
                raise NetworkError(f"digits settings: {what}")
        need(isinstance(self.per_class, int) and self.per_class >= 1, f"per_class = {self.per_class!r} must be >= 1")
        need(len(self.classes) >= 1 and len(set(self.classes)) == len(self.classes)
             and all(c in range(10) for c in self.classes), f"classes = {self.classes!r} must be distinct digits 0..9")
        need(1 <= self.pixels <= 64, f"pixels = {self.pixels!r} must be in [1, 64]")
        need(self.stream_ticks >= 2 and self.stream_ticks % 2 == 0, f"stream_ticks = {self.stream_ticks!r} must be even and >= 2")
        need(self.tail_ticks >= 0, f"tail_ticks = {self.tail_ticks!r} must be >= 0")
        need(0 < self.rate <= 1, f"rate = {self.rate!r} must be in (0, 1]")
        need(self.delay >= 2 and self.delay % 2 == 0,
             f"delay = {self.delay!r} must be even and >= 2 (pixel-driven spikes on even ticks)")
        need(len(self.lr_shifts) >= 1 and all(0 <= s <= SLOWEST for s in self.lr_shifts),
             f"lr_shifts = {self.lr_shifts!r}: one or more, each in [0, {SLOWEST}]")
        need(0 < self.test_size < 1, f"test_size = {self.test_size!r} must be in (0, 1)")

    @property
    def n_out(self) -> int:
        return len(self.classes) * self.per_class

    @property
    def count_ticks(self) -> int:
        """Ticks of a sample in which output spikes are counted."""
        return self.stream_ticks + self.delay + 1


QUICK = Settings(per_class=2, lr_shifts=(12, 13), train_limit=700, eval_every=700)


# --- data ----------------------------------------------------------------------------------------

def load_data(settings: Settings):
    """(X_train, X_test, y_train, y_test): pixel values 0..16, pooled to settings.pixels inputs,
    only the classes of settings.classes; a stratified split with the settings' seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, settings.classes)
    X, y = pool(X[keep], settings.pixels), y[keep]
    return train_test_split(X, y, test_size=settings.test_size, stratify=y, random_state=settings.seed)


def pool(X: np.ndarray, pixels: int) -> np.ndarray:
    """Average the 64 pixels in `pixels` contiguous groups (row-major); 64 leaves them as they are."""
    groups = np.array_split(np.arange(X.shape[1]), pixels)
    return np.stack([X[:, g].mean(axis=1) for g in groups], axis=1)


# --- the network ---------------------------------------------------------------------------------

def rule_for(lr_shift: int) -> STDPRule:
    """The digits rule at a learning rate 2**-lr_shift, lr_shift up to SLOWEST: past 15 (the
    spec's largest lr_shift) the amplitudes halve instead, keeping their ratio exactly."""
    extra = max(0, lr_shift - LR_SHIFT_MAX)
    return STDPRule(lr_shift=min(lr_shift, LR_SHIFT_MAX), a_plus=A_PLUS >> extra,
                    a_minus=-(-A_MINUS >> extra), **RULE)


def initial_weights(settings: Settings) -> np.ndarray:
    rng = np.random.default_rng(settings.seed)
    return rng.integers(-settings.init, settings.init + 1, (settings.pixels, settings.n_out))


def build_network(settings: Settings, lr_shift: int = 13, weights=None, plastic: bool = True,
                  committed=(), committed_shift: int | None = 0) -> Network:
    """The digits network: inputs `pixels`, `teacher` (one per class) and `stop`; population
    `out` (per_class neurons per class, class-major); plastic projection `learn` (pixels -> out,
    all to all, delay settings.delay, STDP with `lr_shift`, or none when not `plastic`: the
    inference image); `teach` (class axon -> its neurons) and `stop` (-> every output).
    `committed` classes (lifelong learning) take their pixel synapses from `learn` into
    projection `committed`, whose lr_shift is larger by `committed_shift` (they learn slower;
    rule_for, at most SLOWEST), or which has no STDP when committed_shift is None (frozen)."""
    n_classes, k = len(settings.classes), settings.per_class
    net = Network("digits")
    pixels = net.inputs("pixels", settings.pixels)
    teacher = net.inputs("teacher", n_classes)
    stop = net.inputs("stop", 1)
    out = net.population("out", settings.n_out, **NEURON)
    w = initial_weights(settings) if weights is None else np.asarray(weights)
    slow = np.repeat(np.isin(settings.classes, committed), k)
    groups = ([(PROJECTION, np.nonzero(~slow)[0], lr_shift),
               (COMMITTED, np.nonzero(slow)[0], None if committed_shift is None else lr_shift + committed_shift)]
              if plastic
              else [(PROJECTION, np.arange(settings.n_out), None)])
    for name, columns, shift in groups:
        if columns.size == 0:
            continue
        pre, post = np.divmod(np.arange(settings.pixels * columns.size), columns.size)
        rows = np.stack([pre, columns[post], w[pre, columns[post]]], axis=1)
        net.connect(pixels, out, FromList(rows), delay=settings.delay, name=name,
                    stdp=None if shift is None else rule_for(min(shift, SLOWEST)))
    net.connect(teacher, out, FromList([(c, c * k + j, STRONG) for c in range(n_classes) for j in range(k)]),
                weight_exp=STRONG_EXP, name="teach")
    net.connect(stop, out, AllToAll(), weight=-STRONG - 1, weight_exp=STRONG_EXP, name="stop")
    net.record(out)
    return net


def encode(x: np.ndarray, label: int | None, rng: np.random.Generator, settings: Settings) -> np.ndarray:
    """One sample as a bool raster [ticks, pixels + classes + 1]. Pixels: a regular rate code on
    the even ticks (a pixel of value v spikes v/16 * `rate` times per even tick on average,
    evenly spaced, from a random phase). label given (training): the label's teacher axon on
    every even tick of the stream, then the tail with the stop axon every other tick; None
    (testing): the stream only. Bad samples and labels raise InputError."""
    s = settings
    x = np.asarray(x, float)
    if x.shape != (s.pixels,) or not np.all((x >= 0) & (x <= 16)):
        raise InputError(f"a sample is {s.pixels} pixel values in [0, 16]; got shape {x.shape}"
                         f"{'' if x.shape != (s.pixels,) else f', values {x.min()} .. {x.max()}'}")
    if label is not None and label not in s.classes:
        raise InputError(f"label {label!r} has no teacher axon; the network's classes are {s.classes}")
    ticks = s.count_ticks + (s.tail_ticks if label is not None else 0)
    n_classes = len(s.classes)
    raster = np.zeros((ticks, s.pixels + n_classes + 1), bool)
    slots = np.arange(0, s.stream_ticks + (s.tail_ticks if label is not None else 0), 2)
    rate = x / 16.0 * s.rate
    phase = rng.random(s.pixels)
    count = np.floor(phase[None, :] + np.arange(slots.size + 1)[:, None] * rate[None, :])
    raster[slots, :s.pixels] = np.diff(count, axis=0) > 0
    if label is not None:
        raster[0:s.stream_ticks:2, s.pixels + s.classes.index(label)] = True
        raster[s.count_ticks - 1::2, -1] = True
    return raster


# --- learning on a device ------------------------------------------------------------------------

@dataclass
class Learner:
    """Trains the network on `device` (any host.Device) the way a board user would, counting
    the host's interventions and the core's work."""

    device: Device
    settings: Settings
    rng: np.random.Generator = None
    interventions: Counter = field(default_factory=Counter)
    work: Counter = field(default_factory=Counter)     # counters summed over samples
    samples: int = 0
    lr_shift: int | None = None
    committed: tuple = ()
    committed_shift: int | None = 0

    def __post_init__(self):
        if self.rng is None:
            self.rng = np.random.default_rng(self.settings.seed + 1)

    def start(self, lr_shift: int, committed=None, why="learning-rate change") -> None:
        """Load the training image with this learning rate (and these committed classes),
        keeping the weights learned so far (the first call loads the initial weights)."""
        committed = self.committed if committed is None else tuple(committed)
        if (self.lr_shift, self.committed) == (lr_shift, committed):
            return
        learned = None if self.lr_shift is None else self.weights()
        self.lr_shift, self.committed = lr_shift, committed
        self.device.load(build_network(self.settings, lr_shift, weights=learned, committed=committed,
                                       committed_shift=self.committed_shift))
        if learned is not None:
            self.interventions[f"{why} (load image with the learned weights)"] += 1

    def learn(self, x: np.ndarray, label: int) -> None:
        """One training sample: reset the state (weights kept) and seed the LFSR afresh (RESET
        loads the image's seed: every sample would round with the same draws), then run the
        sample with its teacher."""
        self.device.reset(keep_weights=True)
        self.device.seed(int(self.rng.integers(1, 1 << 32)))
        self.interventions["state reset and LFSR seed between samples (weights kept)"] += 1
        raster = encode(x, label, self.rng, self.settings)
        self.device.run(raster.shape[0], raster)
        self.work.update(self.device.counters())
        self.samples += 1

    def weights(self) -> np.ndarray:
        """The learned weights, [pixels, outputs] integer mantissas."""
        names = [PROJECTION] * (len(self.committed) < len(self.settings.classes)) + [COMMITTED] * bool(self.committed)
        merged = np.zeros((self.settings.pixels, self.settings.n_out), np.int64)
        for name in names:
            w = self.device.weights(name)
            merged[~np.isnan(w)] = w[~np.isnan(w)]
        return merged


def classify(device: Device, weights: np.ndarray, X: np.ndarray, settings: Settings,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Load the inference image (the network with `weights`, no STDP) and present each sample
    without teacher: (predicted class, spike counts [samples, classes]). The class whose neurons
    fire most wins (ties: the lower class)."""
    device.load(build_network(settings, weights=weights, plastic=False))
    counts = np.zeros((len(X), len(settings.classes)), np.int64)
    for i, x in enumerate(X):
        device.reset(keep_weights=True)       # nothing to restore: this image does not learn
        raster = encode(x, None, rng, settings)
        spikes = device.run(raster.shape[0], raster).spikes
        counts[i] = spikes.sum(axis=0).reshape(len(settings.classes), settings.per_class).sum(axis=1)
    return np.asarray(settings.classes)[counts.argmax(axis=1)], counts


def open_model(config: CoreConfig = ICEBREAKER_CONFIG) -> Device:
    """The golden model as a Device (numba's FastModel when numba is installed)."""
    try:
        import numba  # noqa: F401
        fast = True
    except ImportError:
        fast = False
    return Device.open("model", config=config, fast=fast)


def train(settings: Settings, X, y, X_test=None, y_test=None, device: Device | None = None,
          evaluator: Device | None = None, log=print):
    """Train for the epochs of settings.lr_shifts; with a test set, evaluate before learning and
    every eval_every samples on `evaluator` (a separate model device: the curve is a
    measurement, not part of the learning). Returns (learner, curve [(samples, accuracy)])."""
    device = device or open_model()
    learner = Learner(device, settings)
    order_rng = np.random.default_rng(settings.seed + 2)
    curve = []

    def evaluate():
        pred, _ = classify(evaluator, learner.weights(), X_test, settings, np.random.default_rng(settings.seed + 3))
        curve.append((learner.samples, float(np.mean(pred == y_test))))
        log(f"  {learner.samples:6d} samples seen: test accuracy {curve[-1][1]:.3f}")

    if X_test is not None:
        evaluator = evaluator or open_model(device.config)
        learner.start(settings.lr_shifts[0])
        evaluate()
    for epoch, shift in enumerate(settings.lr_shifts):
        learner.start(shift)
        for i in order_rng.permutation(len(X)):
            learner.learn(X[i], int(y[i]))
            if X_test is not None and learner.samples % settings.eval_every == 0:
                evaluate()
        log(f"epoch {epoch + 1}/{len(settings.lr_shifts)} done (lr_shift {shift}), {learner.samples} samples")
    return learner, curve


# --- report --------------------------------------------------------------------------------------

def cycles(work: Counter) -> float:
    """Core clock cycles for the counted work (the cost model of docs/benchmarks.md)."""
    return (EMPTY_TICK_CYCLES * work["ticks"] + work["synaptic_events"] / SYNAPTIC_EVENTS_PER_CYCLE
            + CYCLES_PER_UPDATE * work["plastic_updates"])


def plot_fields(weights: np.ndarray, settings: Settings, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k, n_classes = settings.per_class, len(settings.classes)
    side = int(round(np.sqrt(settings.pixels)))
    fig, axes = plt.subplots(k, n_classes, figsize=(1.1 * n_classes, 1.15 * k + 0.5), squeeze=False)
    lim = max(1, np.abs(weights).max())
    for c in range(n_classes):
        for j in range(k):
            ax = axes[j, c]
            ax.imshow(weights[:, c * k + j].reshape(side, -1), cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([]), ax.set_yticks([])
            if j == 0:
                ax.set_title(str(settings.classes[c]), fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_confusion(confusion: np.ndarray, classes, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.imshow(confusion, cmap="Blues")
    for (i, j), v in np.ndenumerate(confusion):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                color="white" if v > confusion.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes), ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted"), ax.set_ylabel("true"), ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_curve(curve, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    seen, acc = zip(*curve)
    ax.plot(seen, acc, "o-")
    ax.set_xlabel("training samples seen"), ax.set_ylabel("test accuracy"), ax.set_ylim(0, 1)
    ax.grid(alpha=0.3), ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def run(settings: Settings, out: Path | None, log=print, device: Device | None = None) -> dict:
    """The whole experiment: split, train, test, report; plots under `out` (None: none). The
    learning and the test run on `device` (default: the golden model); the learning curve is
    measured on a separate golden model."""
    t0 = time.monotonic()
    X_train, X_test, y_train, y_test = load_data(settings)
    if settings.train_limit:
        X_train, y_train = X_train[:settings.train_limit], y_train[:settings.train_limit]
    if settings.test_limit:
        X_test, y_test = X_test[:settings.test_limit], y_test[:settings.test_limit]
    image = compile_network(build_network(settings), ICEBREAKER_CONFIG)   # it fits, unchanged
    before = initial_weights(settings)
    learner, curve = train(settings, X_train, y_train, X_test, y_test, device=device, log=log)
    learned = learner.weights()
    learner.interventions["read weights, load inference image (no STDP)"] += 1
    pred, counts = classify(learner.device, learned, X_test, settings, np.random.default_rng(settings.seed + 3))
    accuracy = float(np.mean(pred == y_test))
    if curve[-1][0] != learner.samples:
        curve.append((learner.samples, accuracy))
    classes = list(settings.classes)
    confusion = np.zeros((len(classes), len(classes)), np.int64)
    for t, p in zip(y_test, pred):
        confusion[classes.index(t), classes.index(p)] += 1
    work = learner.work
    n_cycles = cycles(work)
    result = dict(
        accuracy=accuracy, per_class={c: float(confusion[i, i] / confusion[i].sum()) for i, c in enumerate(classes)},
        confusion=confusion, curve=curve, train=len(X_train), test=len(X_test),
        epochs=len(settings.lr_shifts), samples=learner.samples, neurons=settings.n_out,
        plastic=int(image.tables["reverse"].size), synapses=int(image.tables["synapse"].size),
        ticks_per_sample=settings.count_ticks + settings.tail_ticks, learning_ticks=int(work["ticks"]),
        cycles=n_cycles, seconds_at_clock=n_cycles / ICEBREAKER_CLOCK_HZ,
        seconds_at_1ms=work["ticks"] / 1000.0, silent=int(np.sum(counts.max(axis=1) == 0)),
        interventions=dict(learner.interventions), work=dict(work), weights=learned,
        wall=time.monotonic() - t0)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        plot_fields(before, settings, out / "digits_fields_before.png", "receptive fields before learning")
        plot_fields(learned, settings, out / "digits_fields_after.png",
                    f"receptive fields after {learner.samples} samples (on-chip STDP)")
        plot_confusion(confusion, classes, out / "digits_confusion.png", f"test set, accuracy {accuracy:.1%}")
        plot_curve(curve, out / "digits_curve.png", "accuracy against samples seen")
        np.savez(out / "digits_weights.npz", learned=learned, before=before, curve=np.array(curve),
                 confusion=confusion)
        result["plots"] = sorted(str(p) for p in out.glob("digits_*.png"))
    return result


def summary(result: dict, settings: Settings) -> str:
    rows = [
        ("test accuracy", f"{result['accuracy']:.1%} ({result['test']} held-out digits; {result['silent']} silent)"),
        ("per class", ", ".join(f"{c}: {a:.0%}" for c, a in result["per_class"].items())),
        ("split", f"{result['train']} train / {result['test']} test, stratified, seed {settings.seed}"),
        ("epochs, samples", f"{result['epochs']} (lr_shift {', '.join(map(str, settings.lr_shifts))}), "
                            f"{result['samples']} training presentations"),
        ("neurons", f"{result['neurons']} ({settings.per_class} per class) of {ICEBREAKER_CONFIG.n_neurons}"),
        ("synapses", f"{result['plastic']} plastic / {result['synapses']} total "
                     f"(core: {ICEBREAKER_CONFIG.n_reverse} / {ICEBREAKER_CONFIG.n_synapses})"),
        ("ticks per sample", f"{result['ticks_per_sample']} training, {settings.count_ticks} testing"),
        ("learning ticks", f"{result['learning_ticks']:,}"),
        ("learning time", f"{result['seconds_at_clock']:.2f} s at {ICEBREAKER_CLOCK_HZ / 1e6:.0f} MHz "
                          f"({result['cycles'] / max(1, result['learning_ticks']):.0f} cycles/tick), "
                          f"{result['seconds_at_1ms']:.0f} s at 1 ms per tick"),
        ("core work", f"{result['work'].get('synaptic_events', 0):,} synaptic events, "
                      f"{result['work'].get('plastic_updates', 0):,} STDP updates"),
    ] + [(f"host: {kind}", f"{n:,}") for kind, n in result["interventions"].items()] + [
        ("wall time", f"{result['wall']:.1f} s on this machine"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced size: 20 neurons, 700 samples, 2 epochs")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "digits", help="folder for the plots")
    parser.add_argument("--per-class", type=int, help="output neurons per class")
    parser.add_argument("--lr-shifts", type=lambda s: tuple(int(v) for v in s.split(",")),
                        help="the learning-rate schedule, one lr_shift per epoch: 13,14,15")
    parser.add_argument("--seed", type=int, help="split, initial weights, coding and order")
    parser.add_argument("--device", default="model",
                        help="where the network learns: model (default), emulator://, a serial port, "
                             "socket://HOST:PORT or auto (the board plugged in); its core must be the "
                             "iCEBreaker's configuration")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    chosen = {"per_class": args.per_class, "lr_shifts": args.lr_shifts, "seed": args.seed}
    try:
        settings = replace(settings, **{k: v for k, v in chosen.items() if v is not None})
        device = None if args.device == "model" else Device.open(args.device, config=ICEBREAKER_CONFIG)
        try:
            result = run(settings, args.out, device=device)
        finally:
            if device is not None:
                device.close()
    except AxoniteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary(result, settings))
    print("plots:", ", ".join(result.get("plots", [])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
