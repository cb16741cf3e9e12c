"""Brian2 timing of the benchmark's CUBA-LIF network; prints one JSON object.

Run by bench/golden_model.py with the Python of Brian2's own virtual environment
(bench/brian2_env.py, build/brian2-venv: Brian2 2.9 with numpy 1.26):

    build/brian2-venv/bin/python bench/brian2_lif.py --net NET.npz --ticks 2000 [--stdp]
        [--device cpp_standalone]

NET.npz (written by golden_model.py) holds the network in threshold units, one tick = 1 ms:
pre, post, delay (ticks, >= 1), weight (jump of the current I per spike, in units of the
threshold), exc (bool per synapse: the plastic projection), bias (per neuron, threshold units
per tick), tau_m, tau_s, refractory (ticks), and with --stdp a_plus, a_minus, tau_pre,
tau_post, w_max (threshold units).

The model is the float counterpart of the core's CUBA-LIF: per tick the current decays with
tau_s and gets the synaptic jumps, the voltage leaks with tau_m and integrates current + bias,
spikes above 1, resets to 0 and is clamped during the refractory period. A core synapse of
delay d reaches the voltage d ticks after the spike; a Brian2 synapse with delay D executes
after the state update of step t + D and reaches the voltage at t + D + 1, so D = d - 1.

Timing, runtime device (numpy target): a warm-up run of --warmup ticks (code generation,
caches), then the state is stored and runs of --ticks ticks, each from the stored state, repeat
until --min-time seconds have passed. Wall time counts the whole Network.run call (Brian2's
per-run preparation included).

Timing, cpp_standalone device (the whole simulation as a C++ program, built with g++ once,
single-threaded): the program runs --ticks ticks from the start, again until --min-time
seconds have passed; the time is the program's own measure of its network run
(`device._last_run_time`), without loading the network; the build and the whole program's
wall time are reported apart.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", required=True)
    ap.add_argument("--ticks", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--min-time", type=float, default=5.0)
    ap.add_argument("--max-repeats", type=int, default=20)
    ap.add_argument("--stdp", action="store_true", help="pair STDP on the excitatory synapses")
    ap.add_argument("--device", choices=("runtime", "cpp_standalone"), default="runtime",
                    help="Brian2's runtime device with the numpy target (default) or cpp_standalone")
    args = ap.parse_args(argv)
    standalone = args.device == "cpp_standalone"

    t_import = time.perf_counter()
    import brian2 as b2
    from brian2 import NeuronGroup, Network, SpikeMonitor, Synapses, ms, prefs
    t_import = time.perf_counter() - t_import

    if standalone:
        import tempfile
        project = tempfile.mkdtemp(prefix="brian2-standalone-")
        b2.set_device("cpp_standalone", directory=project, build_on_run=False)
        prefs.devices.cpp_standalone.openmp_threads = 0
    else:
        prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 1 * ms
    b2.seed(1)
    d = np.load(args.net)
    n = d["bias"].size
    t_build = time.perf_counter()
    eqs = """
    dv/dt = -v / tau_m + (I + b) / ms : 1 (unless refractory)
    dI/dt = -I / tau_s : 1
    b : 1 (constant)
    """
    tau_m, tau_s = float(d["tau_m"]) * ms, float(d["tau_s"]) * ms
    group = NeuronGroup(n, eqs, threshold="v > 1", reset="v = 0",
                        refractory=int(d["refractory"]) * ms, method="exact",
                        namespace={"tau_m": tau_m, "tau_s": tau_s})
    group.b = d["bias"]
    exc = d["exc"]
    pre, post, weight, delay = d["pre"], d["post"], d["weight"], d["delay"]
    pathways = []
    for plastic_part, name in ((True, "exc"), (False, "inh")):
        sel = exc if plastic_part else ~exc
        if args.stdp and plastic_part:
            ns = {"tau_pre": float(d["tau_pre"]) * ms, "tau_post": float(d["tau_post"]) * ms,
                  "a_plus": float(d["a_plus"]), "a_minus": float(d["a_minus"]),
                  "w_max": float(d["w_max"])}
            syn = Synapses(group, group, """
                w : 1
                dapre/dt = -apre / tau_pre : 1 (event-driven)
                dapost/dt = -apost / tau_post : 1 (event-driven)
                """, on_pre="""
                I_post += w
                w = clip(w + apost, 0, w_max)
                apre += a_plus
                """, on_post="""
                w = clip(w + apre, 0, w_max)
                apost += a_minus
                """, namespace=ns, name=name)
        else:
            syn = Synapses(group, group, "w : 1", on_pre="I_post += w", name=name)
        syn.connect(i=pre[sel], j=post[sel])
        syn.w = weight[sel]
        syn.delay = (delay[sel] - 1) * ms
        pathways.append(syn)
    monitor = SpikeMonitor(group, record=False)
    net = Network(group, *pathways, monitor)
    t_build = time.perf_counter() - t_build

    runs, spikes, walls = [], [], []
    if standalone:
        net.run(args.ticks * ms)
        t0 = time.perf_counter()
        b2.device.build(directory=project, compile=True, run=False, with_output=False)
        t_warmup = time.perf_counter() - t0           # the C++ build
        while True:
            t0 = time.perf_counter()
            b2.device.run(with_output=False)
            walls.append(time.perf_counter() - t0)
            runs.append(float(b2.device._last_run_time))
            spikes.append(int(monitor.num_spikes))
            if sum(runs) >= args.min_time or len(runs) >= args.max_repeats:
                break
    else:
        t0 = time.perf_counter()
        net.run(args.warmup * ms)
        t_warmup = time.perf_counter() - t0
        net.store("start")
    while not standalone:
        net.restore("start")
        before = int(monitor.num_spikes)
        t0 = time.perf_counter()
        net.run(args.ticks * ms)
        runs.append(time.perf_counter() - t0)
        spikes.append(int(monitor.num_spikes) - before)
        if sum(runs) >= args.min_time or len(runs) >= args.max_repeats:
            break
    json.dump({
        "engine": "brian2", "version": b2.__version__, "numpy": np.__version__,
        "python": platform.python_version(),
        "target": "cpp_standalone" if standalone else prefs.codegen.target, "program_wall_s": walls,
        "stdp": args.stdp, "n_neurons": n, "n_synapses": int(pre.size), "ticks": args.ticks,
        "runs": runs, "spikes": spikes, "import_s": t_import, "build_s": t_build,
        "warmup_s": t_warmup,
    }, sys.stdout)
    print()
    if standalone:
        import shutil
        shutil.rmtree(project, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
