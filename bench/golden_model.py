"""Golden-model throughput: the numpy reference, the compiled path (sim.fast) and Brian2.

    python bench/golden_model.py                 # prints a markdown table
    python bench/golden_model.py --write         # and updates docs/benchmarks.md

The network: N CUBA-LIF neurons (default 10,000), each with a fixed fan-out of F random
distinct targets (default 100; FromList), the first 80 % excitatory (weight +6), the rest
inhibitory (weight -20), delay 1, du for tau_s = 5 ticks, dv for tau_m = 20 ticks, vth = 1000,
refractory 2, and a per-neuron bias drawn uniformly (the drive; no host input), which keeps
about 5 % of the neurons spiking per tick. The "STDP" variant makes the excitatory projection
plastic (a_plus 11, a_minus -9, lr_shift 10, weights 0..12, traces tau 20 ticks).

Each engine runs --ticks ticks from reset, repeated until --min-time seconds have been
spent (at least once); ticks/s is total ticks over total time. The compiled path's first call
(numba compile or cache load) is reported apart and not timed. Brian2 2.9 runs in its own
virtual environment (bench/brian2_env.py: build/brian2-venv, made on first use; Brian2 2.9 with
numpy 1.26) through bench/brian2_lif.py on the same connectivity, weights, biases and time
constants (floats, in units of the threshold), twice: the runtime device with the numpy target,
and the cpp_standalone device (a C++ program built with g++, the fast Brian2 a user would pick).
--brian2-python or BRIAN2_PYTHON give another Python with Brian2. If Brian2 cannot run, the
table says why and a plain-Python loop of the same network stands in.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware import (CoreConfig, FromList, Network, STDPRule, compile_network,  # noqa: E402
                      du_from_tau, dv_from_tau)
from bench import brian2_env  # noqa: E402
from bench.report import BenchError, commit, update_section  # noqa: E402
from sim import GoldenModel  # noqa: E402

BRIAN2_DEVICES = {"runtime": "numpy target", "cpp_standalone": "cpp_standalone"}
SECTION = "Golden model throughput"

# Network parameters (hardware units).
TAU_S, TAU_M, VTH, REFRACTORY = 5.0, 20.0, 1000, 2
W_EXC, W_INH, FRACTION_EXC = 6, -20, 0.8
BIAS_LO, BIAS_HI, BIAS_EXP = 1800, 2400, 1          # bias = mantissa << 1: 3600 .. 4798
STDP = STDPRule(a_plus=11, a_minus=-9, lr_shift=10, w_min=0, w_max=12,
                pre_decay=dv_from_tau(20.0), post_decay=dv_from_tau(20.0))


# --- the network -------------------------------------------------------------------------------


def connectivity(n: int, fanout: int, seed: int):
    """pre, post (fixed fan-out of distinct random targets, sorted) and the bias mantissas."""
    rng = np.random.default_rng(seed)
    post = np.empty((n, fanout), np.int64)
    for i in range(n):
        post[i] = rng.choice(n, fanout, replace=False)
    post.sort(axis=1)
    bias = rng.integers(BIAS_LO, BIAS_HI, n)
    return np.repeat(np.arange(n, dtype=np.int64), fanout), post.reshape(-1), bias


def build_image(n: int, fanout: int, seed: int, plastic: bool):
    pre, post, bias = connectivity(n, fanout, seed)
    net = Network("bench")
    pop = net.population("lif", n, du=du_from_tau(TAU_S), dv=dv_from_tau(TAU_M), vth=VTH,
                         refractory=REFRACTORY, bias_mant=bias, bias_exp=BIAS_EXP)
    exc = pre < int(FRACTION_EXC * n)
    for name, sel, w, rule in (("exc", exc, W_EXC, STDP if plastic else None),
                               ("inh", ~exc, W_INH, None)):
        rows = np.stack([pre[sel], post[sel], np.full(sel.sum(), w)], axis=1)
        net.connect(pop, pop, FromList(rows), stdp=rule, name=name)
    n_syn = pre.size
    config = CoreConfig(n_neurons=n, n_inputs=1, n_synapses=max(int(1.1 * n_syn), 1),
                        n_segments=max(n_syn, 1), n_reverse=max(int(1.1 * n_syn), 1),
                        max_delay=4)
    return compile_network(net, config)


# --- timing ------------------------------------------------------------------------------------


def time_engine(model, ticks: int, min_time: float) -> dict:
    """Runs of `ticks` ticks from reset until min_time has passed."""
    runs, counters = [], []
    while True:
        model.reset()
        t0 = time.perf_counter()
        model.run(ticks)
        runs.append(time.perf_counter() - t0)
        counters.append(dict(model.counters))
        if sum(runs) >= min_time:
            break
    total = sum(runs)
    c = counters[0]
    return {"ticks": ticks, "repeats": len(runs), "seconds": total,
            "ticks_per_s": ticks * len(runs) / total,
            "activity": c["spikes"] / (ticks * model.config.n_neurons),
            "syn_per_s": sum(k["synaptic_events"] for k in counters) / total,
            "neurons_per_s": ticks * len(runs) * model.config.n_neurons / total,
            "plastic_per_s": sum(k["plastic_updates"] for k in counters) / total,
            "counters": c}


def brian2_network_file(image, path: Path) -> None:
    """The network in Brian2's float units: voltage in units of the threshold, 1 tick = 1 ms."""
    from firmware.tables import decode
    t = decode(image)
    used = np.nonzero(t.syn_target >= 0)[0]
    scale = float(VTH << 6)                      # v units per threshold
    exp = t.proj["weight_exp"][t.syn_projection[used]]
    s = STDP
    keep = lambda d: -1.0 / math.log((4096 - d) / 4096)   # noqa: E731
    np.savez(path, pre=t.syn_source[used] - image.config.n_inputs, post=t.syn_target[used],
             delay=t.syn_delay[used], weight=(t.syn_weight[used] << exp) * 64 / scale,
             exc=t.syn_projection[used] == 0, bias=t.bias / scale,
             tau_m=keep(int(t.dv[0])), tau_s=keep(int(t.du[0]) + 1), refractory=REFRACTORY,
             tau_pre=keep(s.pre_decay), tau_post=keep(s.post_decay),
             a_plus=s.a_plus * s.pre_impulse / 2**s.lr_shift * 64 / scale,
             a_minus=s.a_minus * s.post_impulse / 2**s.lr_shift * 64 / scale,
             w_max=s.w_max * 64 / scale)


def run_brian2(python: str, net_file: Path, ticks: int, min_time: float, stdp: bool,
               fanout: int, n: int, device: str = "runtime") -> dict:
    script = Path(__file__).with_name("brian2_lif.py")
    cmd = [python, str(script), "--net", str(net_file), "--ticks", str(ticks),
           "--min-time", str(min_time), "--device", device] + (["--stdp"] if stdp else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {out.returncode}: "
                           f"{out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ''}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    total, repeats = sum(r["runs"]), len(r["runs"])
    spikes = sum(r["spikes"])
    return {"ticks": ticks, "repeats": repeats, "seconds": total,
            "ticks_per_s": ticks * repeats / total,
            "activity": r["spikes"][0] / (ticks * n),
            "syn_per_s": spikes * fanout / total, "neurons_per_s": ticks * repeats * n / total,
            # estimate: 80 % of spikes are excitatory (LTD on their fan-out) and every spiking
            # neuron has 0.8 x fanout excitatory inputs on average (LTP)
            "plastic_per_s": 2 * 0.8 * spikes * fanout / total if stdp else 0.0,
            "version": r["version"], "numpy": r["numpy"], "warmup_s": r["warmup_s"],
            "device": device, "program_wall_s": sum(r.get("program_wall_s", []))}


def python_loop(image, ticks: int) -> dict:
    """The static network in plain Python (lists, integer arithmetic of the core, no plasticity):
    the stand-in when Brian2 cannot run."""
    from firmware.tables import decode
    t = decode(image)
    n, md = image.config.n_neurons, image.config.max_delay
    fu = [4096 - (int(d) + 1) for d in t.du]
    fv = [4096 - int(d) for d in t.dv]
    vth = [int(x) << 6 for x in t.vth]
    bias = [int(b) for b in t.bias]
    fan = [[(int(t.syn_target[s]), int(t.syn_weight[s]) << int(t.proj["weight_exp"][t.syn_projection[s]]),
             int(t.syn_delay[s])) for s in t.fanout[t.fan_ptr[image.config.n_inputs + i]:
                                                    t.fan_ptr[image.config.n_inputs + i + 1]]]
           for i in range(n)]
    u, v, ref = [0] * n, [0] * n, [0] * n
    acc = [[0] * n for _ in range(md)]
    spikes = 0
    t0 = time.perf_counter()
    for tick in range(ticks):
        row = acc[tick % md]
        fired = []
        for i in range(n):
            a = ((row[i] + 32768) & 65535) - 32768
            row[i] = 0
            x = u[i]
            x = (x * fu[i]) >> 12 if x >= 0 else -((-x * fu[i]) >> 12)
            x += a << 6
            x = x - (1 << 24) if x > (1 << 23) else x
            x = x + (1 << 24) if x <= -(1 << 23) else x
            u[i] = x
            y = v[i]
            y = (y * fv[i]) >> 12 if y >= 0 else -((-y * fv[i]) >> 12)
            y = min(max(y + x + bias[i], -(1 << 23) + 1), (1 << 23) - 1)
            if ref[i] > 0:
                v[i], ref[i] = 0, ref[i] - 1
            elif y > vth[i]:
                v[i], ref[i] = 0, REFRACTORY
                fired.append(i)
            else:
                v[i] = y
        for i in fired:
            for tgt, w, d in fan[i]:
                acc[(tick + d) % md][tgt] += w
        spikes += len(fired)
    total = time.perf_counter() - t0
    events = sum(len(f) for f in fan) / n * spikes
    return {"ticks": ticks, "repeats": 1, "seconds": total, "ticks_per_s": ticks / total,
            "activity": spikes / (ticks * n), "syn_per_s": events / total,
            "neurons_per_s": ticks * n / total, "plastic_per_s": 0.0}


# --- report ------------------------------------------------------------------------------------


def _si(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g}"


def table(rows: list[dict], brian2_ref: dict | None, fast_ref: dict | None = None) -> str:
    head = ("| engine | STDP | ticks x runs | time (s) | ticks/s | activity | synaptic events/s "
            "| neuron updates/s | plastic updates/s | ticks/s vs Brian2 numpy | vs Brian2 cpp_standalone |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        ratios = []
        for refs in (brian2_ref, fast_ref):
            ref = refs.get(r["stdp"]) if refs else None
            ratios.append(f"{r['ticks_per_s'] / ref['ticks_per_s']:.2f}x" if ref else "-")
        ratio = " | ".join(ratios)
        lines.append(f"| {r['engine']} | {'yes' if r['stdp'] else 'no'} | {r['ticks']} x {r['repeats']} "
                     f"| {r['seconds']:.2f} | {r['ticks_per_s']:,.0f} | {100 * r['activity']:.2f} % "
                     f"| {_si(r['syn_per_s'])} | {_si(r['neurons_per_s'])} "
                     f"| {_si(r['plastic_per_s']) if r['plastic_per_s'] else '-'} | {ratio} |")
    return "\n".join(lines)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, numpy {np.__version__}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Golden-model throughput vs Brian2")
    ap.add_argument("--neurons", type=int, default=10_000)
    ap.add_argument("--fanout", type=int, default=100)
    ap.add_argument("--ticks", type=int, default=2000)
    ap.add_argument("--min-time", type=float, default=5.0,
                    help="seconds each engine spends on repeated runs (default 5)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--engines", default="numpy,fast,brian2",
                    help="comma list of numpy, fast, brian2 (default all)")
    ap.add_argument("--no-stdp", action="store_true", help="skip the STDP variant")
    ap.add_argument("--brian2-stdp", action="store_true",
                    help="also time Brian2 with pair STDP on the excitatory synapses (slow)")
    ap.add_argument("--brian2-python", default=os.environ.get("BRIAN2_PYTHON"),
                    help="a Python with Brian2 (default: build/brian2-venv, made on first use)")
    ap.add_argument("--python-loop-ticks", type=int, default=200,
                    help="ticks of the plain-Python stand-in when Brian2 cannot run")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args(argv)
    engines = set(args.engines.split(","))
    say = lambda *a: print(*a, file=sys.stderr, flush=True)   # noqa: E731

    variants = [False] + ([] if args.no_stdp else [True])
    images = {}
    for plastic in variants:
        t0 = time.perf_counter()
        images[plastic] = build_image(args.neurons, args.fanout, args.seed, plastic)
        say(f"built {'plastic' if plastic else 'static'} image in {time.perf_counter() - t0:.1f} s: "
            f"{images[plastic].symbols['usage']}")

    rows, notes = [], []
    for plastic in variants:
        image = images[plastic]
        if "numpy" in engines:
            r = time_engine(GoldenModel(image), args.ticks, args.min_time)
            rows.append({"engine": "numpy GoldenModel", "stdp": plastic, **r})
            say(rows[-1]["engine"], plastic, f"{r['ticks_per_s']:.0f} ticks/s")
        if "fast" in engines:
            try:
                from sim.fast import FastModel
                t0 = time.perf_counter()
                model = FastModel(image)
                model.run(1)                              # both kernel specializations:
                model.run(FastModel.COMPACT_MIN_TICKS)    # int64 and int8 weights
                first = time.perf_counter() - t0
                r = time_engine(model, args.ticks, args.min_time)
                rows.append({"engine": "numba FastModel", "stdp": plastic, **r})
                notes.append(f"FastModel first call ({'STDP' if plastic else 'static'}: numba "
                             f"compile or cache load, not timed): {first:.2f} s")
                say(rows[-1]["engine"], plastic, f"{r['ticks_per_s']:.0f} ticks/s")
            except ImportError as error:
                notes.append(f"FastModel unavailable: {error}")

    brian2_ref, standalone_ref = {}, {}
    if "brian2" in engines:
        reason = None
        python = args.brian2_python
        if not python:
            try:
                python = str(brian2_env.ensure(say=say))
            except BenchError as error:
                reason = str(error)
        if python:
            with tempfile.TemporaryDirectory() as tmp:
                net_file = Path(tmp) / "net.npz"
                brian2_network_file(images[False], net_file)
                for device, stdp in [(d, s) for s in [False] + ([True] if args.brian2_stdp and not args.no_stdp else [])
                                     for d in BRIAN2_DEVICES]:
                    try:
                        r = run_brian2(python, net_file, args.ticks, args.min_time,
                                       stdp, args.fanout, args.neurons, device)
                    except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired) as error:
                        reason = f"Brian2 ({device}) could not run: {error}"
                        break
                    rows.append({"engine": f"Brian2 {r['version']} {BRIAN2_DEVICES[device]}", "stdp": stdp, **r})
                    (brian2_ref if device == "runtime" else standalone_ref)[stdp] = r
                    say(rows[-1]["engine"], stdp, f"{r['ticks_per_s']:.0f} ticks/s")
                    if stdp and device == "runtime":
                        notes.append("Brian2 STDP plastic updates/s is an estimate from its spike "
                                     "count (2 x 0.8 x spikes x fan-out)")
        if reason:
            notes.append(reason + "; a plain-Python loop of the static network stands in "
                                  f"({args.python_loop_ticks} ticks)")
            r = python_loop(images[False], args.python_loop_ticks)
            rows.append({"engine": "plain Python loop (stand-in)", "stdp": False, **r})
            brian2_ref[False] = r
        if brian2_ref:
            where = ("`--brian2-python`" if args.brian2_python else
                     f"build/brian2-venv ({', '.join(brian2_env.REQUIREMENTS[:2])})")
            notes.append(f"Brian2 {brian2_ref[False]['version']} with numpy "
                         f"{brian2_ref[False]['numpy']} from {where}; numpy target: warm-up run "
                         f"(code generation) {brian2_ref[False]['warmup_s']:.2f} s, not timed; "
                         "Brian2's synaptic events/s = spikes x fan-out")
        if standalone_ref:
            s = standalone_ref[False]
            notes.append(f"Brian2 cpp_standalone: one C++ program built by g++ in {s['warmup_s']:.1f} s "
                         f"(not timed), single-threaded (openmp_threads 0), run {s['repeats']} times; "
                         "time = the program's own measure of its network run, without loading the "
                         f"network ({s['program_wall_s']:.1f} s of whole-program wall time in all)")

    ratios = []
    by = {(r["engine"].split()[0], r["stdp"]): r for r in rows}
    ref_label = "Brian2 numpy" if any(r["engine"].startswith("Brian2") for r in rows) else "Python loop"
    for stdp in variants:
        fast, num = by.get(("numba", stdp)), by.get(("numpy", stdp))
        label = "STDP" if stdp else "LIF"
        for refs, name in ((brian2_ref, ref_label), (standalone_ref, "Brian2 cpp_standalone")):
            ref = refs.get(stdp)
            if fast and ref:
                ratios.append(f"{label}: FastModel / {name} = {fast['ticks_per_s'] / ref['ticks_per_s']:.2f}x")
            if num and ref:
                ratios.append(f"{label}: GoldenModel / {name} = {num['ticks_per_s'] / ref['ticks_per_s']:.2f}x")
        if fast and num:
            ratios.append(f"{label}: FastModel / GoldenModel = {fast['ticks_per_s'] / num['ticks_per_s']:.1f}x")

    command = "python bench/golden_model.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join([
        f"Command: `{command.strip()}`  ",
        f"Machine: {machine()}  ",
        f"Date: {_dt.date.today().isoformat()}, commit {commit()}  ",
        "Brian2 environment: made by the bench on first use, under the checkout "
        "(bench/brian2_env.py): `python -m venv build/brian2-venv` and `build/brian2-venv/bin/pip "
        f"install {' '.join(brian2_env.REQUIREMENTS)}` (Brian2 2.9.0 is the newest for Python 3.11; "
        "it runs with numpy 1.26, the project pins numpy 2); the bench runs `bench/brian2_lif.py` "
        "with that Python (another with `--brian2-python` or `BRIAN2_PYTHON`).", "",
        f"Network: {args.neurons:,} CUBA-LIF neurons, fixed fan-out of {args.fanout} random distinct "
        f"targets ({args.neurons * args.fanout:,} synapses; 80 % excitatory weight {W_EXC}, 20 % "
        f"inhibitory {W_INH}; delay 1), tau_s {TAU_S:g} and tau_m {TAU_M:g} ticks, vth {VTH}, "
        f"refractory {REFRACTORY}, uniform random bias (no host input). STDP: excitatory "
        f"projection plastic (a_plus {STDP.a_plus}, a_minus {STDP.a_minus}, lr_shift "
        f"{STDP.lr_shift}, w 0..{STDP.w_max}). Each engine: runs of {args.ticks} ticks from reset, "
        f"repeated until {args.min_time:g} s; ticks/s = total ticks / total time.", "",
        table(rows, brian2_ref, standalone_ref), "",
        *[f"- {r}" for r in ratios],
        *[f"- {nt}" for nt in notes],
        "- Brian2 runs the float counterpart of the network (bench/brian2_lif.py: same "
        "connectivity, weights, biases and time constants in units of the threshold, exact "
        "integration, dt = 1 tick), so its activity is close to, not equal to, the core's.",
        "- Engines run one after the other; on a shared machine their times vary between runs "
        "(up to ~2x seen here), so compare ratios from one run.",
    ])
    print(text)
    if args.write:
        update_section(SECTION, text)
        say(f"updated {ROOT / 'docs' / 'benchmarks.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
