"""Lifelong learning of the digits on the core's STDP: classes in sequence, then what is left.

    python examples/lifelong.py              # two tasks (0-4, 5-9) and ten one-class tasks
    python examples/lifelong.py --quick      # fewer neurons and samples
    python examples/lifelong.py --out DIR    # accuracy-matrix plots (default build/lifelong/)

The network, coding and rule are those of examples/digits.py. The tasks come one after the
other; each is learned for `epochs` passes over its own training digits (nothing of earlier
tasks is replayed), and after each task the inference image is tested on every task's test
digits, classifying among all ten classes (class-incremental). R[i, j] is the accuracy on
task j after learning task i (T tasks):

    ACC        = 1/T       sum_j      R[T-1, j]
    BWT        = 1/(T-1)   sum_{j<T-1} (R[T-1, j] - R[j, j])            (Lopez-Paz & Ranzato 2017)
    forgetting = 1/(T-1)   sum_{j<T-1} max_{l<T-1} R[l, j] - R[T-1, j]  (Chaudhry et al. 2018)

against joint training (all classes together, the same number of passes over each digit).
The mechanisms tried against forgetting: the classes of finished tasks are *committed*: their
pixel synapses move to a projection whose lr_shift is larger by `--committed-shift` ("slower":
they learn 2**shift times slower; past lr_shift 15 the amplitudes halve, down to
digits.SLOWEST), or that has no STDP ("frozen");
the host reloads the image at each task boundary (counted).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import digits  # noqa: E402

def mechanisms(committed_shift: int) -> dict:
    """Name -> committed_shift of sequential(): nothing, committed classes slower, frozen."""
    return {"plain": 0, "slower": committed_shift, "frozen": None}


PROTOCOLS = {
    "two tasks (0-4, 5-9)": [tuple(range(5)), tuple(range(5, 10))],
    "ten one-class tasks": [(c,) for c in range(10)],
}


def task_accuracy(pred, y, tasks) -> np.ndarray:
    return np.array([np.mean(pred[np.isin(y, t)] == y[np.isin(y, t)]) for t in tasks])


def metrics(R: np.ndarray) -> dict:
    """ACC, BWT and forgetting of an accuracy matrix R[i, j] (formulas in the docstring)."""
    T = R.shape[0]
    last = R[T - 1]
    if T == 1:
        return {"ACC": float(last.mean()), "BWT": 0.0, "forgetting": 0.0}
    return {"ACC": float(last.mean()),
            "BWT": float(np.mean([last[j] - R[j, j] for j in range(T - 1)])),
            "forgetting": float(np.mean([R[:T - 1, j].max() - last[j] for j in range(T - 1)]))}


def sequential(settings, tasks, data, committed_shift: int | None = 0, log=print):
    """Learn the tasks in order; R[i, j] after each. committed_shift > 0: finished tasks'
    classes learn that many powers of two slower; None: they stop learning. Returns
    (R, interventions)."""
    X_train, X_test, y_train, y_test = data
    device, evaluator = digits.open_model(), digits.open_model()
    learner = digits.Learner(device, settings, committed_shift=committed_shift)
    order_rng = np.random.default_rng(settings.seed + 2)
    R = np.zeros((len(tasks), len(tasks)))
    for i, task in enumerate(tasks):
        committed = tuple(c for t in tasks[:i] for c in t) if committed_shift != 0 else ()
        picked = np.nonzero(np.isin(y_train, task))[0]
        for shift in settings.lr_shifts:
            learner.start(shift, committed, why="task boundary or learning-rate change")
            for k in order_rng.permutation(picked):
                learner.learn(X_train[k], int(y_train[k]))
        pred, _ = digits.classify(evaluator, learner.weights(), X_test, settings,
                                  np.random.default_rng(settings.seed + 3))
        R[i] = task_accuracy(pred, y_test, tasks)
        log(f"  after task {i + 1} {task}: " + " ".join(f"{a:.2f}" for a in R[i]))
    return R, dict(learner.interventions)


def joint(settings, tasks, data, log=print) -> np.ndarray:
    """All classes together for the same passes: accuracy on each task's test digits."""
    X_train, X_test, y_train, y_test = data
    learner, _ = digits.train(settings, X_train, y_train, log=lambda *_: None)
    pred, _ = digits.classify(digits.open_model(), learner.weights(), X_test, settings,
                              np.random.default_rng(settings.seed + 3))
    acc = task_accuracy(pred, y_test, tasks)
    log(f"  joint: " + " ".join(f"{a:.2f}" for a in acc))
    return acc


def plot_matrix(R: np.ndarray, tasks, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["-".join(map(str, (t[0], t[-1]))) if len(t) > 1 else str(t[0]) for t in tasks]
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * len(tasks), 1.0 + 0.4 * len(tasks)))
    ax.imshow(R, cmap="viridis", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(R):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6 if len(tasks) > 4 else 9,
                color="white" if v < 0.5 else "black")
    ax.set_xticks(range(len(tasks)), names), ax.set_yticks(range(len(tasks)), names)
    ax.set_xlabel("tested on task j"), ax.set_ylabel("after learning task i")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def run(settings, committed_shift: int, out: Path | None, log=print) -> dict:
    data = digits.load_data(settings)
    results = {}
    for k, (protocol, tasks) in enumerate(PROTOCOLS.items()):
        log(protocol)
        joint_acc = joint(settings, tasks, data, log)
        entry = {"tasks": tasks, "joint": joint_acc, "joint_ACC": float(joint_acc.mean())}
        for label, shift in mechanisms(committed_shift).items():
            log(f" {label}{f' (committed classes lr_shift +{shift})' if shift else ''}")
            R, interventions = sequential(settings, tasks, data, shift, log)
            entry[label] = {"R": R, **metrics(R), "interventions": interventions}
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                m = metrics(R)
                plot_matrix(R, tasks, out / f"lifelong_{['two', 'ten'][k]}_{label}.png",
                            f"{protocol}, {label}: ACC {m['ACC']:.2f}, BWT {m['BWT']:+.2f}")
        results[protocol] = entry
    return results


def table(results) -> str:
    lines = ["| protocol | learning | ACC | BWT | forgetting | joint ACC |", "|---|---|---|---|---|---|"]
    for protocol, entry in results.items():
        for label in mechanisms(0):
            if label in entry:
                e = entry[label]
                lines.append(f"| {protocol} | {label} | {e['ACC']:.3f} | {e['BWT']:+.3f} | "
                             f"{e['forgetting']:.3f} | {entry['joint_ACC']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 neurons per class, 2 passes")
    parser.add_argument("--committed-shift", type=int, default=3,
                        help="the 'slower' mechanism: committed classes learn 2**shift slower (1 .. 15)")
    parser.add_argument("--out", type=Path, default=digits.ROOT / "build" / "lifelong")
    args = parser.parse_args(argv)
    settings = replace(digits.QUICK, train_limit=None) if args.quick else replace(digits.Settings(), lr_shifts=(13, 14, 15))
    if not 1 <= args.committed_shift <= digits.LR_SHIFT_MAX:
        print(f"error: --committed-shift {args.committed_shift} must be in [1, {digits.LR_SHIFT_MAX}]", file=sys.stderr)
        return 2
    results = run(settings, args.committed_shift, args.out)
    print(table(results))
    for protocol, entry in results.items():
        for label in mechanisms(0):
            if label in entry:
                print(f"{protocol}, {label}: R =\n{np.array2string(entry[label]['R'], precision=2)}")
                print(f"  host interventions: {entry[label]['interventions']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
