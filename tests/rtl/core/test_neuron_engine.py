"""rtl.core.neuron_engine.NeuronEngine alone: random state, parameters, profiles and accumulators in
memories; after each pass u, v, ref, the neurons' trace decays, the input axons' pre-trace
decays, the cleared accumulator slot and the spikes equal sim.neuron.lif_step / trace_decay
(spec §2 phases 1 and 2, §3, §6.1)."""

import numpy as np
import pytest

from firmware import CoreConfig
from firmware import formats as fmt
from rtl.core.neuron_engine import NeuronEngine
from sim.neuron import lif_step, trace_decay, wrap_signed
from tests.support.engine_harness import Harness, pulse, read_memory

U_LIMIT, V_MAX = fmt.UV_LIMIT, fmt.V_MAX
WRITES = ("acc", "u", "v", "ref", "x", "y", "x_in")


def bias_of(mant, exp):
    """spec §3.1: mant << exp, or mant >> -exp (floor) for a negative exp."""
    return np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0))


def random_state(rng, config):
    c = config
    N, P = c.n_neurons, c.n_profiles

    def mix(n, *choices):
        pick = rng.integers(0, len(choices), n)
        return np.choose(pick, [np.broadcast_to(ch, n) for ch in choices])

    profiles = {
        "du": mix(P, rng.integers(0, 4096, P), 0, 4095),
        "dv": mix(P, rng.integers(0, 4096, P), 0, 4095),
        "vth": mix(P, rng.integers(0, 300, P), rng.integers(0, 1 << 17, P), 0, (1 << 17) - 1),
        "bias_exp": mix(P, rng.integers(-8, 8, P), -8, 7),
        "refractory": rng.integers(0, 16, P),
    }
    profiles["vth"][:2] = [0, 10][:P]               # profiles that fire often
    neurons = {
        "bias_mant": mix(N, rng.integers(-4096, 4096, N), rng.integers(-50, 200, N), -4096, 4095),
        "profile": rng.integers(0, P, N),
        "output": rng.integers(0, 2, N),
    }
    state = {
        "u": mix(N, rng.integers(-U_LIMIT + 1, U_LIMIT + 1, N), U_LIMIT, -U_LIMIT + 1,
                 rng.integers(-3000, 3000, N)),
        "v": mix(N, rng.integers(-V_MAX, V_MAX + 1, N), V_MAX, -V_MAX, rng.integers(-3000, 9000, N)),
        "ref": np.where(rng.random(N) < 0.3, rng.integers(1, 16, N), 0),
        "acc": mix(c.max_delay * N, rng.integers(-32768, 32768, c.max_delay * N), -32768, 32767,
                   rng.integers(-100, 400, c.max_delay * N)).reshape(c.max_delay, N),
        "x": mix(N, rng.integers(0, 256, N), 0, 255),
        "y": mix(N, rng.integers(0, 256, N), 0, 255),
        "x_in": mix(c.n_inputs, rng.integers(0, 256, c.n_inputs), 0, 255),
    }
    return profiles, neurons, state


def expected_pass(profiles, neurons, state, slot, pre_decay, post_decay):
    p = neurons["profile"]
    bias = bias_of(neurons["bias_mant"], profiles["bias_exp"][p])
    u, v, ref, spiked = lif_step(state["u"], state["v"], state["ref"], state["acc"][slot],
                                 profiles["du"][p], profiles["dv"][p], profiles["vth"][p], bias,
                                 profiles["refractory"][p])
    acc = state["acc"].copy()
    acc[slot] = 0
    return {"u": u, "v": v, "ref": ref, "acc": acc, "x": trace_decay(state["x"], pre_decay),
            "y": trace_decay(state["y"], post_decay), "x_in": trace_decay(state["x_in"], pre_decay)}, spiked


def run_passes(config, profiles, neurons, state, passes):
    """passes: list of (slot, pre_decay, post_decay). Returns per pass the memories afterwards,
    the spikes (neuron, output flag) in order, the done count and the cycles."""
    c = config
    lay = fmt.layouts(c)
    N = c.n_neurons
    engine = NeuronEngine(c)
    h = Harness(engine)
    mems = {
        "acc": h.add("acc", fmt.A_IN_BITS, c.max_delay * N, state["acc"].reshape(-1) & 0xFFFF,
                     rd="acc_rd", wr="acc_wr"),
        "u": h.add("u", lay["state_u"].width, N, lay["state_u"].pack(u=state["u"]), rd="u_rd", wr="u_wr"),
        "v": h.add("v", lay["state_v"].width, N, lay["state_v"].pack(v=state["v"]), rd="v_rd", wr="v_wr"),
        "ref": h.add("ref", lay["state_ref"].width, N, state["ref"], rd="ref_rd", wr="ref_wr"),
        "y": h.add("y", fmt.TRACE_BITS, N, state["y"], rd="y_rd", wr="y_wr"),
        "x": h.add("x", fmt.TRACE_BITS, N, state["x"], rd="x_rd", wr="x_wr"),
        # as in the core, a row for every neuron and every input axon
        "x_in": h.add("x_in", fmt.TRACE_BITS, max(N, c.n_inputs), state["x_in"], rd="x_in_rd", wr="x_in_wr"),
    }
    h.add("neuron", lay["neuron"].width, N, lay["neuron"].pack(**neurons), rd="neuron_rd")
    h.add("profile", lay["profile"].width, c.n_profiles, lay["profile"].pack(**profiles), rd="profile_rd")
    results = []

    async def bench(ctx):
        for slot, pre_decay, post_decay in passes:
            ctx.set(engine.slot_base, slot * N)
            ctx.set(engine.pre_decay, pre_decay)
            ctx.set(engine.post_decay, post_decay)
            res = {"spikes": [], "done": 0, "busy_low_early": False}
            await pulse(ctx, engine.start)
            for cycle in range(max(N, c.n_inputs) + 100):
                if ctx.get(engine.spike_valid):
                    res["spikes"].append((ctx.get(engine.spike_neuron), ctx.get(engine.spike_output)))
                writing = [ctx.get(getattr(engine, f"{n}_wr").en) for n in WRITES]
                if ctx.get(engine.done):     # every write is committed before done
                    res["done"] += 1
                    res["cycles"] = cycle
                    assert not any(writing) and not ctx.get(engine.spike_valid)
                    break
                res["busy_low_early"] |= not ctx.get(engine.busy)
                await ctx.tick()
            for _ in range(3):
                await ctx.tick()
                res["done"] += ctx.get(engine.done)
                assert not ctx.get(engine.spike_valid) and not ctx.get(engine.busy)
                assert not any(ctx.get(getattr(engine, f"{n}_wr").en) for n in WRITES)
            words = {name: np.array(read_memory(ctx, mem), np.uint64) for name, mem in mems.items()}
            res["u"] = lay["state_u"].unpack(words["u"])["u"]
            res["v"] = lay["state_v"].unpack(words["v"])["v"]
            res["ref"] = words["ref"].astype(np.int64)
            res["x"], res["y"] = words["x"].astype(np.int64), words["y"].astype(np.int64)
            res["x_in"] = words["x_in"][:c.n_inputs].astype(np.int64)
            res["acc"] = wrap_signed(words["acc"].astype(np.int64), fmt.A_IN_BITS).reshape(c.max_delay, N)
            results.append(res)

    h.run(bench)
    return results


@pytest.mark.parametrize("config, seed", [
    (CoreConfig(n_neurons=61, n_inputs=5, n_synapses=64, n_segments=16, n_reverse=16, n_profiles=6,
                max_delay=3), 1),
    (CoreConfig(n_neurons=300, n_inputs=8, n_synapses=64, n_segments=16, n_reverse=16, n_profiles=16,
                max_delay=4), 2),
    (CoreConfig(n_neurons=7, n_inputs=3, n_synapses=8, n_segments=4, n_reverse=4, n_profiles=2,
                max_delay=1), 3),
    (CoreConfig(n_neurons=1, n_inputs=1, n_synapses=8, n_segments=4, n_reverse=4, n_profiles=1,
                max_delay=2), 4),
    (CoreConfig(n_neurons=9, n_inputs=40, n_synapses=8, n_segments=4, n_reverse=4, n_profiles=3,
                max_delay=2), 5),                  # more input axons than neurons
])
def test_neuron_engine_passes_equal_the_model(config, seed):
    rng = np.random.default_rng(seed)
    profiles, neurons, state = random_state(rng, config)
    D = config.max_delay
    passes = [(k % D, int(rng.integers(0, 4096)), int(rng.integers(0, 4096))) for k in range(D + 1)]
    passes[0] = (D - 1, 0, 4095)                   # last slot first; no decay / full decay
    results = run_passes(config, profiles, neurons, state, passes)
    spikes_total = 0
    for k, ((slot, pre, post), got) in enumerate(zip(passes, results)):
        want, spiked = expected_pass(profiles, neurons, state, slot, pre, post)
        for key in ("u", "v", "ref", "x", "y", "x_in", "acc"):
            bad = np.argwhere(got[key] != want[key])
            assert not bad.size, (f"pass {k} (slot {slot}): {len(bad)} mismatches of {key}; first at "
                                  f"{bad[0].tolist()}: rtl {got[key][tuple(bad[0])]}, "
                                  f"model {want[key][tuple(bad[0])]}")
        fired = np.nonzero(spiked)[0]
        assert got["spikes"] == [(int(n), int(neurons["output"][n])) for n in fired], f"pass {k}: spikes"
        assert got["done"] == 1 and not got["busy_low_early"], f"pass {k}"
        assert got["cycles"] <= max(config.n_neurons, config.n_inputs) + 10, f"pass {k}: {got['cycles']} cycles"
        spikes_total += fired.size
        state = want
    assert spikes_total >= 2 or config.n_neurons == 1


def test_neuron_engine_reports_spikes_with_output_flags_and_refractory():
    """A population where every other neuron fires (vth 0, positive bias); refractory neurons
    don't; the output flag comes with each spike."""
    c = CoreConfig(n_neurons=40, n_inputs=4, n_synapses=8, n_segments=4, n_reverse=4, n_profiles=2,
                   max_delay=2)
    N = c.n_neurons
    profiles = {"du": np.array([4095, 0]), "dv": np.array([0, 0]), "vth": np.array([0, 5]),
                "bias_exp": np.array([0, 0]), "refractory": np.array([3, 15])}
    neurons = {"bias_mant": np.where(np.arange(N) % 2, 0, 100), "profile": np.arange(N) % 2,
               "output": (np.arange(N) // 3) % 2}
    state = {"u": np.zeros(N, np.int64), "v": np.zeros(N, np.int64),
             "ref": np.where(np.arange(N) % 8 == 0, 2, 0), "acc": np.zeros((2, N), np.int64),
             "x": np.full(N, 255), "y": np.full(N, 1), "x_in": np.full(c.n_inputs, 128)}
    results = run_passes(c, profiles, neurons, state, [(0, 197, 197), (1, 197, 197), (0, 197, 197)])
    for k, got in enumerate(results):
        want, spiked = expected_pass(profiles, neurons, state, k % 2, 197, 197)
        fired = np.nonzero(spiked)[0]
        assert got["spikes"] == [(int(n), int(neurons["output"][n])) for n in fired]
        assert np.array_equal(got["ref"], want["ref"]) and np.array_equal(got["v"], want["v"])
        state = want
    assert len(results[0]["spikes"]) == 15          # even neurons, minus the 5 refractory ones
    assert {o for _, o in results[0]["spikes"]} == {0, 1}
