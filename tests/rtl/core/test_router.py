"""rtl.core.router.Router alone: compiled networks with several projections, every delay, two target
windows (300 neurons, 8-bit weights) and plastic projections; accumulators and LTD weights
against a direct computation from the decoded tables (spec §2 phase 3 and §6.2 LTD) and against
the GoldenModel's own tick."""

import numpy as np
import pytest

from firmware import (AllToAll, CoreConfig, FixedProbability, FromList, Network, STDPRule,
                      compile_network)
from firmware import formats as fmt
from firmware.tables import decode
from rtl.core.plasticity import WRITE_DELAY
from rtl.core.router import Router
from sim import GoldenModel
from sim import lfsr as golden_lfsr
from sim.neuron import stochastic_round, trace_decay, wrap_signed
from tests.support.engine_harness import Harness, pulse, read_memory
from tests.support.fifo_compare import compare_fifos

# The networks here drive the 16-bit accumulator to its wrap on purpose (spec §4), so the
# compiler's InputWrapWarning is expected.
pytestmark = pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning")

CONFIG = CoreConfig(n_neurons=300, n_inputs=20, n_synapses=4096, n_segments=1024, n_reverse=2048,
                    n_profiles=4, n_projections=8, weight_bits=8, max_delay=4)
A_SIZE = 270          # population a: neurons 0..269 (window 0 in full, and window 1); b: 270..299


def network(seed, config=CONFIG):
    rng = np.random.default_rng(seed)
    D = config.max_delay
    net = Network(f"router-{seed}")
    dense_in = net.inputs("dense", 2)
    inp = net.inputs("in", config.n_inputs - 2)
    a = net.population("a", A_SIZE, du=2000, dv=300, vth=40, bias_mant=rng.integers(-20, 60, A_SIZE),
                       bias_exp=2)
    b = net.population("b", config.n_neurons - A_SIZE, du=4095, dv=100, vth=20)
    common = dict(pre_decay=150, post_decay=250, pre_impulse=100, post_impulse=80)
    r1 = STDPRule(a_plus=40, a_minus=-90, lr_shift=3, w_min=-20, w_max=100, **common)
    r2 = STDPRule(a_plus=-3, a_minus=77, lr_shift=0, w_min=-128, w_max=0, **common)
    r3 = STDPRule(a_plus=127, a_minus=-128, lr_shift=15, w_min=-128, w_max=127, **common)

    def delays(shape):
        return rng.integers(1, D + 1, shape)

    def inside(rule, shape):
        w = rng.integers(rule.w_min, rule.w_max + 1, shape)
        return np.where(rng.random(shape) < 0.2, rule.w_max, w)

    # 256-synapse segments (window 0 of a) at the largest exponent: deliveries of +-2^15.
    net.connect(dense_in, a, AllToAll(), weight=np.where(rng.random((2, A_SIZE)) < 0.5, -128, 127),
                weight_exp=fmt.max_weight_exp(config.weight_bits), delay=int(rng.integers(1, D + 1)),
                name="dense")
    net.connect(inp, a, FixedProbability(0.15, seed=seed), weight=rng.integers(-128, 128, (18, A_SIZE)),
                weight_exp=3, delay=delays((18, A_SIZE)), name="in-a")
    net.connect(inp, b, AllToAll(), weight=inside(r1, (18, 30)), weight_exp=2, delay=delays((18, 30)),
                stdp=r1, name="in-b plastic")
    net.connect(a, b, FixedProbability(0.05, seed=seed + 1), weight=rng.integers(-128, 128, (A_SIZE, 30)),
                delay=delays((A_SIZE, 30)), name="a-b")
    net.connect(b, a, FixedProbability(0.1, seed=seed + 2), weight=inside(r2, (30, A_SIZE)), weight_exp=5,
                delay=delays((30, A_SIZE)), stdp=r2, name="b-a plastic")
    net.connect(a, a, FixedProbability(0.004, seed=seed + 3), weight=inside(r3, (A_SIZE, A_SIZE)),
                delay=delays((A_SIZE, A_SIZE)), stdp=r3, weight_exp=1, name="a-a plastic")
    # Two projections with one synapse each from the same input onto the same neuron with the
    # same delay: two consecutive segments update one accumulator back to back.
    twins = [(k, (37 * k) % A_SIZE, int(rng.integers(-128, 128)), 1 + k % D) for k in range(18)]
    net.connect(inp, a, FromList(twins), name="twin 1")
    net.connect(inp, a, FromList([(k, n, -w // 2, d) for k, n, w, d in twins]), weight_exp=4, name="twin 2")
    net.record(a)
    return compile_network(net, config, lfsr_seed=int(rng.integers(1, 1 << 32)))


def padded(image, name):
    region = fmt.memory_map(image.config)[name]
    words = np.zeros(region.depth, np.uint64)
    words[:image.tables[name].size] = image.tables[name]
    return words


def run_router(image, events, slot, acc, y, lfsr_state, weights=None, spram=True):
    """Route `events` for the tick of `slot` with the accumulators `acc` ([max_delay, n]),
    post-traces `y`, synapse weights `weights` (default: the image's) and an LFSR at
    `lfsr_state` (a Python LFSR whose draw its WeightUpdate takes, stepped by `step`)."""
    c = image.config
    lay = fmt.layouts(c)
    router = Router(c)
    h = Harness(router)
    updater = h.add_updater(c)
    ev = np.zeros(c.n_sources, np.int64)
    ev[:len(events)] = events
    h.add("events", fmt.bits_for(c.n_sources), c.n_sources, ev, rd="events_rd")
    for name in ("axon", "segment", "projection"):
        h.add(name, lay[name].width, len(padded(image, name)), padded(image, name), rd=f"{name}_rd")
    words = padded(image, "synapse")
    if weights is not None:
        n = len(weights)
        fields = lay["synapse"].unpack(words[:n])
        words[:n] = lay["synapse"].pack(weight=np.asarray(weights, np.int64), target=fields["target"])
    synapse = h.add("synapse", lay["synapse"].width, c.n_synapses, words, rd="synapse_rd",
                    wr="synapse_wr", single_port=spram, write_delay=WRITE_DELAY)
    acc_words = np.asarray(acc, np.int64).reshape(-1) & 0xFFFF
    accumulator = h.add("acc", fmt.A_IN_BITS, c.max_delay * c.n_neurons, acc_words, rd="acc_rd",
                        wr="acc_wr", transparent=True)
    h.add("y", fmt.TRACE_BITS, c.n_neurons, y, rd="y_rd")
    out = {"synaptic_event": 0, "update": 0, "step": 0, "done": 0, "write_cycles": [], "event_cycles": []}

    async def bench(ctx):
        state = lfsr_state
        ctx.set(router.n_events, len(events))
        ctx.set(router.slot, slot)
        ctx.set(updater.draw, golden_lfsr.step(state))
        await pulse(ctx, router.start)
        for cycle in range(40000):
            ctx.set(updater.draw, golden_lfsr.step(state))
            if ctx.get(router.step):
                state = golden_lfsr.step(state)
                out["step"] += 1
            out["update"] += ctx.get(router.update)
            if ctx.get(router.synaptic_event):
                out["synaptic_event"] += 1
                out["event_cycles"].append(cycle)
            if ctx.get(router.synapse_wr.en):
                out["write_cycles"].append(cycle)
            if ctx.get(router.done):      # every write is committed before done
                out["done"] += 1
                out["cycles"] = cycle
                assert not ctx.get(router.acc_wr.en) and not ctx.get(router.synapse_wr.en)
                break
            await ctx.tick()
        for _ in range(4):
            await ctx.tick()
            out["done"] += ctx.get(router.done)
            assert not ctx.get(router.busy) and not ctx.get(router.acc_wr.en)
            assert not ctx.get(router.synapse_wr.en) and not ctx.get(router.step)
        out["acc"] = wrap_signed(np.array(read_memory(ctx, accumulator), np.int64), fmt.A_IN_BITS
                                 ).reshape(c.max_delay, c.n_neurons)
        out["weights"] = lay["synapse"].unpack(
            np.array(read_memory(ctx, synapse, image.tables["synapse"].size), np.uint64))["weight"]
        out["targets_after"] = lay["synapse"].unpack(
            np.array(read_memory(ctx, synapse, image.tables["synapse"].size), np.uint64))["target"]
        out["lfsr"] = state

    h.run(bench)
    return out


def expected_route(t, config, events, slot, acc, y, lfsr_state, weights=None):
    """Spec phase 3 and LTD from the decoded tables: each event's fan-out in table order.
    Returns (accumulators, weights, deliveries, LTD updates, LFSR state, unwrapped sums,
    the delays and target windows delivered)."""
    D = config.max_delay
    p = t.proj
    w0 = t.syn_weight.copy() if weights is None else np.asarray(weights, np.int64).copy()
    w = w0.copy()
    total = np.asarray(acc, np.int64).copy()
    deliveries = updates = 0
    state = lfsr_state
    seen = {"delays": set(), "windows": set()}
    for s in events:
        for syn in t.fanout[t.fan_ptr[s]:t.fan_ptr[s + 1]]:
            q, target = t.syn_projection[syn], t.syn_target[syn]
            arrival = (slot + t.syn_delay[syn]) % D
            total[arrival, target] += int(w0[syn]) << int(p["weight_exp"][q])
            deliveries += 1
            seen["delays"].add(int(t.syn_delay[syn]))
            seen["windows"].add(int(target) >> config.target_bits)
            if p["plastic"][q]:
                state = golden_lfsr.step(state)
                dw = stochastic_round(np.int64(p["a_minus"][q] * y[target]), p["lr_shift"][q], state)
                w[syn] = np.clip(w[syn] + dw, p["w_min"][q], p["w_max"][q])
                updates += 1
    return wrap_signed(total, fmt.A_IN_BITS), w, deliveries, updates, state, total, seen


def random_events(rng, config, n_in, n_neurons):
    inputs = np.sort(rng.choice(config.n_inputs, n_in, replace=False))
    neurons = np.sort(rng.choice(config.n_neurons, n_neurons, replace=False))
    return np.concatenate([inputs, config.n_inputs + neurons]).astype(np.int64)


def check(out, want, what):
    acc, w, deliveries, updates, state, _, _ = want
    bad = np.argwhere(out["acc"] != acc)
    assert not bad.size, (f"{what}: {len(bad)} accumulators differ; first [slot, neuron] {bad[0].tolist()}: "
                          f"rtl {out['acc'][tuple(bad[0])]}, model {acc[tuple(bad[0])]}")
    bad = np.nonzero(out["weights"] != w)[0]
    assert not bad.size, (f"{what}: {bad.size} weights differ; first synapse {bad[0]}: "
                          f"rtl {out['weights'][bad[0]]}, model {w[bad[0]]}")
    assert out["synaptic_event"] == deliveries, what
    assert out["update"] == out["step"] == updates == len(out["write_cycles"]), what
    assert out["lfsr"] == state, what
    assert out["done"] == 1, what


@pytest.mark.parametrize("seed", [11, 12])
def test_router_equals_direct_computation(seed):
    image = network(seed)
    c = image.config
    t = decode(image)
    rng = np.random.default_rng(seed)
    coverage = {"delays": set(), "windows": set(), "wrapped": 0, "plastic": 0, "long segment": False}
    seg = image.table("segment")
    for case in range(4):
        events = random_events(rng, c, int(rng.integers(1, 8)), int(rng.integers(1, 30)))
        if case == 0:
            events = np.concatenate([[0, 1], events[events > 1]])      # both 256-word sources
        slot = case % c.max_delay
        acc = rng.integers(-32768, 32768, (c.max_delay, c.n_neurons))
        acc[rng.random(acc.shape) < 0.3] = 32767
        acc[rng.random(acc.shape) < 0.1] = -32768
        y = rng.integers(0, 256, c.n_neurons)
        y[rng.random(c.n_neurons) < 0.1] = 255
        lfsr_state = int(rng.integers(1, 1 << 32))
        out = run_router(image, events, slot, acc, y, lfsr_state)
        want = expected_route(t, c, events, slot, acc, y, lfsr_state)
        check(out, want, f"seed {seed} case {case} (slot {slot}, events {events.tolist()})")
        assert np.array_equal(out["targets_after"], image.table("synapse")["target"])
        total = want[5]
        coverage["wrapped"] += int(np.count_nonzero((total < -32768) | (total > 32767)))
        coverage["delays"] |= want[6]["delays"]
        coverage["windows"] |= want[6]["windows"]
        coverage["plastic"] += want[3]
        # a weight write-back happened while synapse words were still being read
        if out["write_cycles"]:
            coverage["interleaved"] = coverage.get("interleaved", 0) + int(
                out["write_cycles"][0] < out["event_cycles"][-1])
    coverage["long segment"] = bool(np.any(seg["syn_count"] == c.window_size))
    assert coverage["delays"] == set(range(1, c.max_delay + 1)), coverage
    assert coverage["windows"] == {0, 1}, coverage
    assert coverage["wrapped"] > 10 and coverage["plastic"] > 20 and coverage["long segment"], coverage
    assert coverage.get("interleaved", 0) >= 1, coverage


def test_router_without_events_changes_nothing():
    image = network(13)
    c = image.config
    rng = np.random.default_rng(0)
    acc = rng.integers(-32768, 32768, (c.max_delay, c.n_neurons))
    out = run_router(image, np.zeros(0, np.int64), 2, acc, np.zeros(c.n_neurons, np.int64), 99)
    assert np.array_equal(out["acc"], acc)
    assert out["synaptic_event"] == out["update"] == out["step"] == 0 and out["done"] == 1


def test_router_every_source_at_once_dual_and_single_port_synapse_memory():
    """Every source of the network is an event (the whole synapse table streams, with all the
    FIFO back-pressure that causes); the result is the same with a single-port synapse memory
    (a read in a write cycle returns garbage) as with a two-port one."""
    image = network(14)
    c = image.config
    t = decode(image)
    rng = np.random.default_rng(1)
    events = np.arange(c.n_sources)
    acc = rng.integers(-32768, 32768, (c.max_delay, c.n_neurons))
    y = rng.integers(0, 256, c.n_neurons)
    want = expected_route(t, c, events, 3, acc, y, 0xACE1ACE1)
    assert want[2] == image.symbols["usage"]["synapses"]
    for spram in (True, False):
        out = run_router(image, events, 3, acc, y, 0xACE1ACE1, spram=spram)
        check(out, want, f"all sources, single-port {spram}")


def test_router_equals_the_golden_models_tick():
    """Run the GoldenModel; for some ticks give the router the model's state at the start of
    phase 3 (accumulators with the tick's slot cleared, decayed post-traces, weights, LFSR) and
    the tick's events (inputs, then the neurons that fired): the accumulators must equal the
    model's after the tick, the weights too wherever LTP did not act, and the deliveries and
    LTD updates the model's counts."""
    image = network(15)
    c = image.config
    t = decode(image)
    model = GoldenModel(image)
    rng = np.random.default_rng(2)
    checked = fired_total = ltd_total = 0
    for tick in range(14):
        axons = np.sort(rng.choice(c.n_inputs, int(rng.integers(0, 10)), replace=False))
        before = model.state()
        counters = dict(model.counters)
        fired = model.step(axons)
        fired_total += fired.size
        if tick < 6 or tick % 2:
            continue
        slot = tick % c.max_delay
        acc = before["acc"].copy()
        acc[slot] = 0
        y = trace_decay(before["y"], t.stdp["post_decay"])
        events = np.concatenate([axons, c.n_inputs + fired])
        out = run_router(image, events, slot, acc, y, before["lfsr"], weights=before["weights"])
        after = model.state()
        assert np.array_equal(out["acc"], after["acc"]), f"tick {tick}: accumulators"
        ltp_syn = np.concatenate([t.rev_syn[t.rev_ptr[j]:t.rev_ptr[j + 1]] for j in fired] + [[]]).astype(int)
        untouched = np.ones(t.syn_weight.size, bool)
        untouched[ltp_syn] = False
        assert np.array_equal(out["weights"][untouched], after["weights"][untouched]), f"tick {tick}: weights"
        assert out["synaptic_event"] == model.counters["synaptic_events"] - counters["synaptic_events"]
        assert out["update"] == model.counters["plastic_updates"] - counters["plastic_updates"] - ltp_syn.size
        if not ltp_syn.size:
            assert out["lfsr"] == after["lfsr"]
        checked += 1
        ltd_total += out["update"]
    assert checked == 4 and fired_total > 20 and ltd_total > 20, (checked, fired_total, ltd_total)


def test_router_streams_consecutive_segments_without_bubbles():
    """docs/rtl.md: the streamer loads the next descriptor in the cycle of the last word, so
    consecutive segments (here 256 + 14 words of each of the two dense inputs, static) stream one
    synapse per cycle without a gap."""
    image = network(16)
    c = image.config
    t = decode(image)
    acc = np.zeros((c.max_delay, c.n_neurons), np.int64)
    y = np.zeros(c.n_neurons, np.int64)
    out = run_router(image, np.array([0, 1]), 1, acc, y, 5)
    check(out, expected_route(t, c, [0, 1], 1, acc, y, 5), "dense inputs")
    cycles = np.array(out["event_cycles"])
    assert cycles.size == 2 * A_SIZE
    assert np.all(np.diff(cycles) == 1), f"gaps after deliveries {np.nonzero(np.diff(cycles) != 1)[0].tolist()}"


def small_network(config, seed):
    """Inputs and two populations splitting the neurons, for any weight_bits / max_delay: a
    static projection at the largest exponent, a plastic one, a recurrent one."""
    rng = np.random.default_rng(seed)
    lo, hi = fmt.signed_range(config.weight_bits)
    D = config.max_delay
    net = Network(f"small-{seed}")
    inp = net.inputs("in", config.n_inputs)
    half = config.n_neurons // 2
    a = net.population("a", half, vth=10)
    b = net.population("b", config.n_neurons - half, vth=10)
    rule = STDPRule(a_plus=10, a_minus=-100, lr_shift=5, w_min=lo // 2, w_max=hi)
    net.connect(inp, a, FixedProbability(0.4, seed=seed), weight=rng.integers(lo, hi + 1, (inp.size, a.size)),
                weight_exp=fmt.max_weight_exp(config.weight_bits), delay=rng.integers(1, D + 1, (inp.size, a.size)))
    net.connect(inp, b, FixedProbability(0.4, seed=seed + 1), stdp=rule, weight_exp=1,
                weight=rng.integers(rule.w_min, rule.w_max + 1, (inp.size, b.size)),
                delay=rng.integers(1, D + 1, (inp.size, b.size)))
    net.connect(a, b, FixedProbability(min(0.05, 500 / (a.size * b.size)), seed=seed + 2), weight=rng.integers(lo, hi + 1, (a.size, b.size)),
                delay=rng.integers(1, D + 1, (a.size, b.size)))
    return compile_network(net, config)


@pytest.mark.parametrize("config", [
    CoreConfig(n_neurons=100, n_inputs=7, n_synapses=1024, n_segments=512, n_reverse=512, n_profiles=2,
               n_projections=4, weight_bits=4, max_delay=1),
    CoreConfig(n_neurons=520, n_inputs=9, n_synapses=4096, n_segments=1024, n_reverse=2048, n_profiles=2,
               n_projections=4, weight_bits=8, max_delay=3),
    CoreConfig(n_neurons=700, n_inputs=5, n_synapses=4096, n_segments=1024, n_reverse=2048, n_profiles=2,
               n_projections=4, weight_bits=7, max_delay=5),
], ids=["w4-d1", "w8-d3-3windows", "w7-d5-2windows"])
def test_router_other_configurations(config):
    image = small_network(config, 3)
    t = decode(image)
    rng = np.random.default_rng(4)
    events = random_events(rng, config, config.n_inputs - 2, 25)
    acc = rng.integers(-32768, 32768, (config.max_delay, config.n_neurons))
    y = rng.integers(0, 256, config.n_neurons)
    windows = -(-config.n_neurons // config.window_size)
    for slot in sorted({0, config.max_delay - 1}):
        want = expected_route(t, config, events, slot, acc, y, 77)
        check(run_router(image, events, slot, acc, y, 77), want, f"slot {slot}")
        assert want[6]["windows"] == set(range(windows)) and want[3] > 0
        assert want[6]["delays"] == set(range(1, config.max_delay + 1))


@pytest.mark.parametrize("depth", [1, 2, 4, 5])
def test_shift_fifo_behaves_as_sync_fifo(depth):
    """rtl.lib.fifo.ShiftFIFO (the descriptor FIFO) against amaranth's SyncFIFO, cycle by cycle,
    under random writes and reads."""
    from amaranth.lib.fifo import SyncFIFO

    from rtl.lib.fifo import ShiftFIFO

    seen = compare_fifos(ShiftFIFO(width=8, depth=depth), SyncFIFO(width=8, depth=depth), depth)
    assert seen["full"] > 20 and seen["read"] > 200
    assert depth == 1 or seen["both"] > 20
