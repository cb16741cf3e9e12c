"""A spiking classifier trained elsewhere, as NIR, on the core (docs/nir.md).

    python examples/nir_digits.py                # run the kept graph: float and core accuracy
    python examples/nir_digits.py --train        # train it again (numpy, under a minute) and write it

Training happens in float, as snnTorch or Norse would do it, but in numpy (surrogate gradients,
backpropagation through time), so that the graph is reproducible without torch. The network:
64 pixels, rate-coded over STEPS steps, -> Linear -> HIDDEN LIF -> Linear -> 10 LIF; the class
is the output neuron with the most spikes (ties: the lowest). Each LIF is NIR's, at DT:
tau dv/dt = -v + r x with r = tau/DT (snnTorch's convention), so that forward Euler gives
v <- (1 - DT/tau) v + W s, threshold 1, reset to 0. The graph goes to examples/data/digits_snn.nir;
running it reads the file back, simulates it in float (forward Euler, the same equations) and
on the core's golden model through firmware.nir.from_nir, and prints both accuracies.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import nir

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GRAPH = ROOT / "examples" / "data" / "digits_snn.nir"

DT = 1e-3                 # the step (s): pass it to from_nir
TAU = 10e-3               # membrane time constant of both layers (s)
STEPS = 24                # steps per sample
HIDDEN = 40
MAX_RATE = 0.5            # spikes per step of a pixel at full intensity (16)
SEED = 0


def digits():
    """sklearn's digits (8x8, 0..16; bundled with sklearn), split 75/25 with a fixed seed."""
    from sklearn.datasets import load_digits
    data = load_digits()
    order = np.random.default_rng(SEED).permutation(len(data.target))
    cut = int(0.75 * order.size)
    return (data.data[order[:cut]], data.target[order[:cut]]), (data.data[order[cut:]], data.target[order[cut:]])


def encode(pixels: np.ndarray) -> np.ndarray:
    """Regular rate code: pixel p spikes at step k when floor((k + 1) r) > floor(k r), r = p/16 *
    MAX_RATE spikes per step. Returns bool [STEPS, samples, 64]."""
    rate = np.asarray(pixels, np.float64) / 16.0 * MAX_RATE
    k = np.arange(STEPS)[:, None, None]
    return np.floor((k + 1) * rate) > np.floor(k * rate)


def float_run(w1, w2, x):
    """Forward Euler of the graph (the core's convention, docs/nir.md), batched: x [steps,
    batch, 64] -> output spike counts [batch, 10]."""
    beta = 1.0 - DT / TAU
    v1 = np.zeros((x.shape[1], w1.shape[0]))
    v2 = np.zeros((x.shape[1], w2.shape[0]))
    counts = np.zeros_like(v2)
    for t in range(x.shape[0]):
        v1 = beta * v1 + x[t] @ w1.T
        s1 = v1 > 1.0
        v1[s1] = 0.0
        v2 = beta * v2 + s1 @ w2.T
        s2 = v2 > 1.0
        v2[s2] = 0.0
        counts += s2
    return counts


def train(epochs=40, batch=64, lr=2e-3):
    """Surrogate-gradient BPTT (fast sigmoid, slope 5; the reset is not differentiated), Adam,
    cross-entropy on the output spike counts."""
    (xs, ys), (xt, yt) = digits()
    rng = np.random.default_rng(SEED)
    w1 = rng.normal(0, 1 / np.sqrt(64 * MAX_RATE), (HIDDEN, 64)) * 1.5
    w2 = rng.normal(0, 1 / np.sqrt(HIDDEN), (10, HIDDEN)) * 1.5
    params = [w1, w2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    beta, step = 1.0 - DT / TAU, 0
    spikes_in = encode(xs)

    def surrogate(u):
        return 1.0 / (1.0 + 5.0 * np.abs(u - 1.0)) ** 2

    for epoch in range(epochs):
        order = rng.permutation(len(ys))
        for start in range(0, order.size, batch):
            idx = order[start:start + batch]
            x = spikes_in[:, idx].astype(np.float64)
            n = idx.size
            v1, v2 = np.zeros((n, HIDDEN)), np.zeros((n, 10))
            trace = []
            counts = np.zeros((n, 10))
            for t in range(STEPS):
                v1 = beta * v1 + x[t] @ w1.T
                s1 = (v1 > 1.0).astype(np.float64)
                pre1 = v1.copy()
                v1 = v1 * (1 - s1)
                v2 = beta * v2 + s1 @ w2.T
                s2 = (v2 > 1.0).astype(np.float64)
                pre2 = v2.copy()
                v2 = v2 * (1 - s2)
                counts += s2
                trace.append((pre1, s1, pre2, s2))
            logits = counts * 0.5
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            g_counts = (p - np.eye(10)[ys[idx]]) * 0.5 / n
            g1, g2 = np.zeros_like(w1), np.zeros_like(w2)
            dv1_next, dv2_next = np.zeros((n, HIDDEN)), np.zeros((n, 10))
            for t in reversed(range(STEPS)):
                pre1, s1, pre2, s2 = trace[t]
                dv2 = g_counts * surrogate(pre2) + dv2_next * (1 - s2)
                g2 += dv2.T @ s1
                ds1 = dv2 @ w2
                dv1 = ds1 * surrogate(pre1) + dv1_next * (1 - s1)
                g1 += dv1.T @ x[t]
                dv1_next, dv2_next = beta * dv1, beta * dv2
            step += 1
            for k, (param, grad) in enumerate(zip(params, (g1, g2))):
                m[k] = 0.9 * m[k] + 0.1 * grad
                v[k] = 0.999 * v[k] + 0.001 * grad**2
                param -= lr * (m[k] / (1 - 0.9**step)) / (np.sqrt(v[k] / (1 - 0.999**step)) + 1e-8)
        if epoch % 10 == 9 or epoch == epochs - 1:
            acc = np.mean(np.argmax(float_run(w1, w2, encode(xt)), 1) == yt)
            print(f"epoch {epoch + 1}: test accuracy {acc:.4f} (float)")
    return w1, w2


def graph_of(w1, w2) -> "nir.NIRGraph":
    def lif(n):
        return nir.LIF(tau=np.full(n, TAU), r=np.full(n, TAU / DT), v_leak=np.zeros(n), v_threshold=np.ones(n),
                       v_reset=np.zeros(n))
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([64])), "fc1": nir.Linear(weight=w1), "lif1": lif(w1.shape[0]),
               "fc2": nir.Linear(weight=w2), "lif2": lif(10), "output": nir.Output(output_type=np.array([10]))},
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
        metadata={"dt": DT, "steps": STEPS, "max_rate": MAX_RATE, "source": "examples/nir_digits.py"})


def core_counts(network, report, samples, fast=True):
    """Output spike counts per sample on the golden model (FastModel if numba is there), each
    sample from reset, STEPS steps aligned by the output's latency."""
    from firmware import compile_network
    from sim import GoldenModel
    image = compile_network(network)
    model_class = GoldenModel
    if fast:
        try:
            from sim import FastModel as model_class
        except ImportError:
            pass
    model = model_class(image)
    lag = max(report.latency.values())
    x = encode(samples)
    counts = np.zeros((samples.shape[0], 10), np.int64)
    for k in range(samples.shape[0]):
        model.reset()
        raster = report.input_raster(np.concatenate([x[:, k], np.zeros((lag, 64), bool)]), image)
        counts[k] = report.output_spikes(model.run(STEPS + lag, raster), image)[:STEPS].sum(0)
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", action="store_true", help="train again and write the graph")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--graph", type=Path, default=GRAPH, help="the .nir file (default: the kept one)")
    parser.add_argument("--scaling", default=None, help="from_nir's scaling: weights (default) or range")
    args = parser.parse_args(argv)
    from firmware.nir import from_nir
    if args.train:
        w1, w2 = train(args.epochs)
        args.graph.parent.mkdir(parents=True, exist_ok=True)
        nir.write(args.graph, graph_of(w1, w2))
        print(f"wrote {args.graph}")
    graph = nir.read(args.graph)
    w1, w2 = graph.nodes["fc1"].weight, graph.nodes["fc2"].weight
    _, (xt, yt) = digits()
    float_acc = np.mean(np.argmax(float_run(w1, w2, encode(xt)), 1) == yt)
    network, report = from_nir(graph, dt=DT, scaling=args.scaling)
    core_acc = np.mean(np.argmax(core_counts(network, report, xt), 1) == yt)
    print(report)
    print(f"test accuracy on {yt.size} digits: float {float_acc:.4f}, core (golden model) {core_acc:.4f}, "
          f"difference {100 * (core_acc - float_acc):+.2f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
