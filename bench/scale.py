"""Scale of the golden model: FastModel's kernel at 10^6 neurons and 10^8 synapses, ticks/s and
memory, and what the whole FastModel (compiler, image, numpy reference arrays) costs per
synapse, for planning partitions larger than any set of boards.

    python bench/scale.py [--neurons 1000000] [--fanout 100] [--ticks 60] [--write]

The network is bench/golden_model.py's at another size: N CUBA-LIF neurons, each projecting to
F distinct random targets (one in each block of N / F neurons), the first 80 % excitatory
(weight +6), the rest inhibitory (-20), delay 1, random bias drive (a few percent fire per
tick), no plasticity.

Two measurements:
1. The full path (Network -> compile_network -> Image -> FastModel) at a size that fits
   easily (--full-neurons, default 20,000 with the same fan-out): peak memory and memory kept
   per synapse (resident set size, not just array sizes), ticks/s.
2. The kernel of sim/fast.py (the same compiled function FastModel calls) at N and N * F
   synapses, fed the arrays FastModel would build for that network, built here directly
   (int8 weights, int32 targets, one fan-out run per source), so that the compiler's and the
   numpy reference's per-synapse arrays are not allocated. At a small size the direct path is
   checked to give FastModel's spikes exactly.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware import formats as fmt                                   # noqa: E402
from firmware import CoreConfig, FromList, Network, compile_network   # noqa: E402
from bench.golden_model import (BIAS_EXP, BIAS_HI, BIAS_LO, FRACTION_EXC, REFRACTORY, TAU_M,  # noqa: E402
                                TAU_S, VTH, W_EXC, W_INH)
from firmware.network import du_from_tau, dv_from_tau                 # noqa: E402

SECTION = "Golden model at scale"
MAX_DELAY = 4


def rss_mb() -> float:
    """The resident set size now, in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def targets(n: int, fanout: int, seed: int) -> np.ndarray:
    """[n, fanout] distinct ascending targets: one random neuron in each of `fanout` blocks."""
    rng = np.random.default_rng(seed)
    block = n // fanout
    out = np.empty((n, fanout), np.int32)
    for at in range(0, n, 1 << 16):            # in chunks: no n x fanout int64 array
        rows = min(1 << 16, n - at)
        out[at:at + rows] = (np.arange(fanout, dtype=np.int64) * block
                             + rng.integers(0, block, (rows, fanout))).astype(np.int32)
    return out


def bias_of(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed + 1).integers(BIAS_LO, BIAS_HI, n)


def full_path(n: int, fanout: int, ticks: int, seed: int = 0) -> dict:
    """compile_network + FastModel: memory and speed, and the spikes for the check."""
    from sim.fast import FastModel
    gc.collect()
    before = rss_mb()
    post = targets(n, fanout, seed).astype(np.int64).reshape(-1)
    pre = np.repeat(np.arange(n, dtype=np.int64), fanout)
    net = Network("scale")
    pop = net.population("lif", n, du=du_from_tau(TAU_S), dv=dv_from_tau(TAU_M), vth=VTH,
                         refractory=REFRACTORY, bias_mant=bias_of(n, seed), bias_exp=BIAS_EXP)
    exc = pre < int(FRACTION_EXC * n)
    for name, sel, w in (("exc", exc, W_EXC), ("inh", ~exc, W_INH)):
        net.connect(pop, pop, FromList(np.stack([pre[sel], post[sel], np.full(sel.sum(), w)], axis=1)), name=name)
    n_syn = pre.size
    config = CoreConfig(n_neurons=n, n_inputs=1, n_synapses=n_syn, n_segments=n_syn, n_reverse=1,
                        max_delay=MAX_DELAY)
    t0 = time.perf_counter()
    image = compile_network(net, config)
    compile_s = time.perf_counter() - t0
    del net, pre, post, exc
    model = FastModel(image)
    gc.collect()
    kept = rss_mb() - before
    model.run(FastModel.COMPACT_MIN_TICKS)      # compile or load the kernel (the int8-weight one)
    model.reset()
    t0 = time.perf_counter()
    result = model.run(ticks, record_all=True)
    wall = time.perf_counter() - t0
    return {"neurons": n, "synapses": n_syn, "compile_s": compile_s, "kept_mb": kept,
            "kept_bytes_per_synapse": kept * 1e6 / n_syn, "ticks_per_s": ticks / wall,
            "activity": result.all_times.size / (ticks * n),
            "syn_events_per_s": model.counters["synaptic_events"] / wall,
            "spikes": (result.all_times, result.all_neurons)}


def kernel_arrays(n: int, fanout: int, seed: int = 0) -> dict:
    """The static arrays FastModel builds for the network, built directly."""
    n_syn = n * fanout
    exc = np.arange(n) < int(FRACTION_EXC * n)
    fan_ptr = np.concatenate([[0, 0], np.arange(1, n + 1, dtype=np.int64) * fanout])   # input axon 0: none
    n_sources = n + 1
    bias = bias_of(n, seed) << BIAS_EXP
    du, dv = du_from_tau(TAU_S), dv_from_tau(TAU_M)
    return dict(
        fu=np.full(n, fmt.DECAY_UNITY - (du + fmt.DU_OFFSET), np.int32),
        fv=np.full(n, fmt.DECAY_UNITY - (dv + fmt.DV_OFFSET), np.int32),
        vth64=np.full(n, VTH << fmt.VTH_SHIFT, np.int32), bias=bias.astype(np.int32),
        refractory=np.full(n, REFRACTORY, np.int32), output=np.zeros(n, np.bool_), n_outputs=0,
        spiking=np.zeros(n, np.bool_), fan_ptr=fan_ptr, identity=True, fan_syn=np.zeros(1, np.int32),
        fan_target=targets(n, fanout, seed).reshape(-1),
        src_run=np.concatenate([[0], np.arange(n_sources, dtype=np.int64)]),     # one run per neuron
        run_ptr=fan_ptr[1:].copy(), run_proj=np.where(exc, 0, 1).astype(np.int32),
        run_delay=np.ones(n, np.int32),
        p_exp=np.zeros(2, np.int64), p_plastic=np.zeros(2, np.bool_), p_a_plus=np.zeros(2, np.int64),
        p_a_minus=np.zeros(2, np.int64), p_shift=np.zeros(2, np.int64), p_wmin=np.zeros(2, np.int64),
        p_wmax=np.zeros(2, np.int64), rev_ptr=np.zeros(n + 1, np.int64), rev_syn=np.zeros(0, np.int32),
        rev_src=np.zeros(0, np.int32), rev_proj=np.zeros(0, np.int32),
        x_keep=fmt.DECAY_UNITY, y_keep=fmt.DECAY_UNITY, pre_impulse=0, post_impulse=0, nearest=False,
        n_inputs=1), np.repeat(np.where(exc, W_EXC, W_INH).astype(np.int8), fanout), n_syn


def kernel_run(n: int, fanout: int, ticks: int, seed: int = 0, record: bool = False) -> dict:
    from sim.fast import _get_kernel
    gc.collect()
    before = rss_mb()
    static, weights, n_syn = kernel_arrays(n, fanout, seed)
    state = {name: np.zeros(n, np.int64) for name in ("u", "v", "ref", "y")}
    x = np.zeros(n + 1, np.int64)
    acc = np.zeros((MAX_DELAY, n), np.int64)
    arrays_mb = (sum(a.nbytes for a in static.values() if isinstance(a, np.ndarray)) + weights.nbytes
                 + x.nbytes + acc.nbytes + sum(a.nbytes for a in state.values())) / 1e6
    kernel = _get_kernel()
    empty = np.zeros(0, np.int64)
    events = ticks * n + 1 if record else 0      # every spike, for the check only
    all_t, all_n = np.zeros(events, np.int64), np.zeros(events, np.int64)
    counters = np.zeros(len(fmt.COUNTERS), np.int64)
    kept = rss_mb() - before

    def run(k):
        counters[:] = 0
        return kernel(k, 0, 0, 0, empty, np.zeros(1, np.int64), empty, state["u"], state["v"],
                      state["ref"], x, state["y"], acc, weights, fmt.LFSR_DEFAULT_SEED,
                      counters=counters, fired=np.zeros(n, np.int64), out_times=np.zeros(1, np.int64),
                      out_neurons=np.zeros(1, np.int64), n_events=0, record_all=record, all_times=all_t,
                      all_neurons=all_n, n_all=0, **static)
    t0 = time.perf_counter()
    out = run(ticks)
    wall = time.perf_counter() - t0
    n_all = out[-1]
    spikes = int(counters[fmt.COUNTERS.index("spikes")])
    return {"neurons": n, "synapses": n_syn, "arrays_mb": arrays_mb, "kept_mb": kept,
            "ticks_per_s": ticks / wall, "activity": spikes / (ticks * n),
            "syn_events_per_s": int(counters[fmt.COUNTERS.index("synaptic_events")]) / wall,
            "spikes": (all_t[:n_all].copy(), all_n[:n_all].copy()), "peak_mb": peak_mb()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1_000_000)
    parser.add_argument("--fanout", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=60)
    parser.add_argument("--full-neurons", type=int, default=20_000)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    # 1. the direct path equals FastModel (small), and the full path's memory per synapse
    full = full_path(args.full_neurons, args.fanout, args.ticks)
    check = kernel_run(args.full_neurons, args.fanout, args.ticks, record=True)
    if not full["spikes"][0].size or not all(np.array_equal(a, b) for a, b in zip(full["spikes"], check["spikes"])):
        print("bench/scale.py: the direct kernel path differs from FastModel", file=sys.stderr)
        return 1
    print({k: v for k, v in full.items() if k != "spikes"}, file=sys.stderr, flush=True)
    del check
    # 2. the kernel at scale
    big = kernel_run(args.neurons, args.fanout, args.ticks)
    print({k: v for k, v in big.items() if k != "spikes"}, file=sys.stderr, flush=True)
    per_syn = full["kept_bytes_per_synapse"]
    from bench.report import provenance
    body = (provenance(f"python bench/scale.py --neurons {args.neurons} --fanout {args.fanout} "
                       f"--ticks {args.ticks} --write",
                       f"bench/golden_model.py's network (fixed fan-out {args.fanout}, 80% excitatory, "
                       f"bias drive, delay 1, no plasticity) at {args.neurons:,} neurons")
            + "\n\n| path | neurons | synapses | memory | ticks/s | activity | synaptic events/s |\n"
              "|---|---:|---:|---:|---:|---:|---:|\n"
            + f"| FastModel (compile_network, Image, FastModel) | {full['neurons']:,} | {full['synapses']:,} | "
              f"{full['kept_mb']:,.0f} MB kept ({per_syn:.0f} bytes per synapse); compile {full['compile_s']:.1f} s | "
              f"{full['ticks_per_s']:,.1f} | {full['activity']:.1%} | {full['syn_events_per_s']:,.0f} |\n"
            + f"| FastModel's kernel, arrays built directly | {big['neurons']:,} | {big['synapses']:,} | "
              f"{big['arrays_mb']:,.0f} MB of arrays, {big['kept_mb']:,.0f} MB resident, peak {big['peak_mb']:,.0f} MB "
              f"(whole process) | {big['ticks_per_s']:,.2f} | {big['activity']:.1%} | {big['syn_events_per_s']:,.0f} |\n"
            + f"\nThe direct path gives FastModel's spikes exactly at {args.full_neurons:,} neurons (checked "
              f"by the command). The kernel's arrays are 5 bytes per synapse (int8 weight, int32 target) and "
              f"{(big['arrays_mb'] * 1e6 - 5 * big['synapses']) / big['neurons']:.0f} per neuron (state, "
              f"parameters, accumulators, fan-out pointers). The whole FastModel keeps "
              f"{per_syn:.0f} bytes per synapse: the image's 64-bit synapse words and the numpy reference's "
              f"per-synapse int64 arrays (decoded tables, projection parameters per synapse), which its "
              f"own step() and read-back use; the compiler's sort needs several times that while it "
              f"runs. At {big['synapses']:,} synapses that is "
              f"{per_syn * big['synapses'] / 1e9:,.0f} GB kept, so the full path does not fit this "
              f"24 GiB machine at 10^8 synapses; the kernel does, at the speed above. A FastModel "
              f"that dropped the reference arrays after building its own (and a compiler that "
              f"streamed) would hold 10^8 synapses in about {big['arrays_mb'] / 1e3:.1f} GB.\n")
    print(body)
    if args.write:
        from bench.report import ASSETS, update_section
        ASSETS.mkdir(parents=True, exist_ok=True)
        (ASSETS / "scale.json").write_text(json.dumps(
            {"full": {k: v for k, v in full.items() if k != "spikes"},
             "kernel": {k: v for k, v in big.items() if k != "spikes"}}, indent=1, default=float) + "\n")
        update_section(SECTION, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
