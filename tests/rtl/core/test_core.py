"""Amaranth-simulator tests of the core's ports: access, stepping, free-run, drops, clear."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from firmware import AllToAll, CoreConfig, FromList, Network, STDPRule, compile_network
from firmware import formats as fmt
from rtl.core.core import Core
from rtl.lib.memory import ICE40Memories
from sim import GoldenModel
from sim.cosim.core_driver import AmaranthAdapter, CoreDriver
from tests.support.board_server import BOARD_CONFIG
from tests.support.fifo_compare import compare_fifos
from tests.support.networks import relay_network

# The simulated board's core (12 neurons, 6 inputs), as test_link.py's.
CONFIG = CoreConfig(**BOARD_CONFIG)


def simulate(testbench, config=CONFIG, **core_args):
    dut = Core(config, **core_args)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    out = {}

    async def bench(ctx):
        await testbench(CoreDriver(AmaranthAdapter(ctx, dut), config), out)

    sim.add_testbench(bench)
    sim.run()
    return out


def relay_image():
    """Input k drives neuron k (weight 100 over threshold 20): one spike per input spike."""
    return compile_network(relay_network(6, weight=100, vth=20), CONFIG)


def burst_network():
    """One input axon drives all 12 neurons: a burst of 12 output spikes per input spike."""
    net = Network("burst")
    inputs = net.inputs("in", 1)
    pop = net.population("p", 12, du=4095, dv=4095, vth=20)
    net.connect(inputs, pop, AllToAll(), weight=100)
    net.record(pop)
    return compile_network(net, CONFIG)


def test_access_port_round_trip_every_region():
    rng = np.random.default_rng(0)
    regions = fmt.memory_map(CONFIG)
    written = {name: rng.integers(0, 1 << r.layout.width, r.depth, dtype=np.uint64)
               for name, r in regions.items() if name != "counters"}

    async def bench(d, out):
        for name, words in written.items():
            await d.write(name, words)
        out.update({name: await d.read(name) for name in written})

    out = simulate(bench)
    for name, words in written.items():
        assert np.array_equal(out[name], words), name


def test_step_several_ticks_with_queued_inputs():
    image = relay_image()
    inputs = {0: [0, 2], 1: [5], 3: [1, 2, 3]}

    async def bench(d, out):
        await d.load(image)
        await d.queue_inputs(5, inputs)
        d.io.set("step_ticks", 5)
        d.io.set("step", 1)
        await d.io.clock()
        d.io.set("step", 0)
        await d.idle()
        out["spikes"] = await d.drain_output()
        out["state"] = await d.state()

    out = simulate(bench)
    model = GoldenModel(image)
    result = model.run(5, inputs)
    assert out["spikes"] == list(zip(result.times.tolist(), result.neurons.tolist()))
    assert out["state"]["counters"] == model.counters
    assert out["state"]["counters"]["ticks"] == 5


def test_inputs_out_of_order_or_out_of_range_are_dropped_and_counted():
    image = relay_image()

    async def bench(d, out):
        await d.load(image)
        for axon in (3, 1, 3, 7, 4):      # 1: descending, 3: repeat, 7: no such axon (6 inputs)
            await d._push_input(axon, 0)
        await d._push_input(0, 1)
        d.io.set("step_ticks", 1)
        d.io.set("step", 1)
        await d.io.clock()
        d.io.set("step", 0)
        await d.idle()
        out["spikes"] = await d.drain_output()
        out["counters"] = (await d.state())["counters"]

    out = simulate(bench)
    assert out["counters"]["dropped"] == 3
    assert out["counters"]["input_events"] == 2
    assert out["spikes"] == []                        # the relay fires one tick later
    model = GoldenModel(image)
    model.run(1, {0: [3, 4]})
    assert {k: v for k, v in out["counters"].items() if k != "dropped"} == \
        {k: v for k, v in model.counters.items() if k != "dropped"}


@pytest.mark.parametrize("period, overrun", [(4, True), (400, False)])
def test_free_run_counts_overruns(period, overrun):
    image = relay_image()

    async def bench(d, out):
        await d.load(image)
        d.io.set("period", period)
        d.io.set("freerun", 1)
        for _ in range(6 * max(period, 60)):
            await d.io.clock()
        d.io.set("freerun", 0)
        await d.idle()
        out["counters"] = (await d.state())["counters"]

    counters = simulate(bench)["counters"]
    assert counters["ticks"] >= 3
    if overrun:
        assert counters["overruns"] >= counters["ticks"] - 1 > 0
    else:
        assert counters["overruns"] == 0


def test_full_output_fifo_counts_every_lost_spike():
    image = burst_network()

    async def bench(d, out):
        await d.load(image)
        spikes, _ = await d.run(2, {0: [0]})     # run() drains only after each tick
        out["spikes"] = spikes
        out["counters"] = (await d.state())["counters"]

    out = simulate(bench, output_depth=4)
    assert out["counters"]["output_spikes"] == 12
    assert out["counters"]["dropped"] > 0
    assert len(out["spikes"]) + out["counters"]["dropped"] == 12


def test_ice40_mapped_memories_behave_the_same():
    """The synapse memory in (modelled) SB_SPRAM256KA, single-port: same spikes, state and
    weights, with STDP on (weight write-backs share the port with synapse reads)."""
    config = CoreConfig(n_neurons=12, n_inputs=6, n_synapses=20000, n_segments=32, n_reverse=128,
                        n_profiles=4, n_projections=4, max_delay=2)
    net = Network("mapped")
    inputs = net.inputs("in", 6)
    pop = net.population("p", 12, du=300, dv=100, vth=30, refractory=1)
    rule = STDPRule(a_plus=90, a_minus=-70, lr_shift=4, w_min=-20, w_max=60, pre_decay=300,
                    post_decay=300, pre_impulse=100, post_impulse=100)
    net.connect(inputs, pop, AllToAll(), weight=np.arange(72).reshape(6, 12) - 20, stdp=rule)
    net.connect(pop, pop, FromList([(0, 1, -50, 1), (3, 4, 90, 2), (11, 0, 60, 1)]))
    net.record(pop)
    image = compile_network(net, config)
    inputs = np.random.default_rng(3).random((15, 6)) < 0.4

    async def bench(d, out):
        await d.load(image)
        out["spikes"], _ = await d.run(15, inputs)
        out["state"] = await d.state()
        out["weights"] = await d.weights(image.tables["synapse"].size)

    out = simulate(bench, config, memories=ICE40Memories(behavioural=True))
    model = GoldenModel(image)
    result = model.run(15, inputs)
    assert out["spikes"].tolist() == np.stack([result.times, result.neurons], 1).tolist()
    for key in ("u", "v", "ref", "x", "y", "acc"):
        assert np.array_equal(out["state"][key], model.state()[key]), key
    assert np.array_equal(out["weights"], model.weights)
    assert out["state"]["counters"] == model.counters
    assert model.counters["plastic_updates"] > 100
    assert not np.array_equal(model.weights, image.table("synapse")["weight"])   # learning happened


def test_clear_zeroes_state_and_counters():
    image = relay_image()

    async def bench(d, out):
        await d.load(image)
        await d.run(3, {0: [0, 1], 1: [2]})
        out["before"] = await d.state()
        await d.clear()
        out["after"] = await d.state()

    out = simulate(bench)
    assert out["before"]["counters"]["ticks"] == 3
    for key in ("u", "v", "ref", "x", "y", "acc"):
        assert not np.any(out["after"][key]), key
    assert all(v == 0 for v in out["after"]["counters"].values())


def test_ice40_mapping_instantiates_spram_banks():
    from amaranth.back import verilog

    config = CoreConfig(n_neurons=16, n_inputs=8, n_synapses=40000, n_segments=64, n_reverse=16)
    text = verilog.convert(Core(config, memories=ICE40Memories()), name="core", emit_src=False)
    assert text.count("SB_SPRAM256KA ") == 3      # 40,000 words need three 16K banks
    # The reverse index (28-bit entries: two lanes) goes to SPRAM when two are left, else EBR.
    config = CoreConfig(n_neurons=256, n_inputs=256, n_synapses=32768, n_segments=64, n_reverse=16384)
    text = verilog.convert(Core(config, memories=ICE40Memories()), name="core", emit_src=False)
    assert text.count("SB_SPRAM256KA ") == 4
    config = CoreConfig(n_neurons=256, n_inputs=256, n_synapses=49152, n_segments=64, n_reverse=1024)
    text = verilog.convert(Core(config, memories=ICE40Memories()), name="core", emit_src=False)
    assert text.count("SB_SPRAM256KA ") == 3


def test_impossible_configuration_fails_at_elaboration_with_the_limit():
    from amaranth.back import verilog

    from firmware.errors import ConfigError

    config = CoreConfig(n_neurons=16, n_inputs=8, n_synapses=70000, n_segments=64, n_reverse=16)
    with pytest.raises(ConfigError, match=r"synapse: 70000 words need 5 SB_SPRAM256KA; the part has 4 \(65536 words of 16 bits\)"):
        verilog.convert(Core(config, memories=ICE40Memories()), name="core")
    with pytest.raises(ConfigError, match="Core needs a CoreConfig"):
        Core({"n_neurons": 16})


async def _step_counting(d, ticks, pulses=("in_dropped", "out_lost")):
    """Step `ticks` ticks, clocking by hand; return how often each pulse port was high."""
    seen = dict.fromkeys(pulses, 0)
    d.io.set("step_ticks", ticks)
    d.io.set("step", 1)
    await d.io.clock()
    d.io.set("step", 0)
    while d.io.get("busy"):
        for name in pulses:
            seen[name] += d.io.get(name)
        await d.io.clock()
    return seen


def test_repeated_tick_end_credits_and_flush():
    """One tick-end entry with repeat k ends k + 1 ticks and is consumed at the last of them;
    `consumed` counts popped and flushed entries; `in_level` the queued ones."""
    image = relay_image()

    async def bench(d, out):
        await d.load(image)
        d.io.set("in_repeat", 2)
        await d._push_input(0, 1)                  # ticks 0, 1, 2: no input
        d.io.set("in_repeat", 0)
        for axon in (0, 2):
            await d._push_input(axon, 0)
        await d._push_input(0, 1)                  # tick 3: axons 0 and 2
        await d.io.clock()
        out["level"] = d.io.get("in_level")
        out["consumed_before"] = d.io.get("consumed")
        await _step_counting(d, 2)
        out["consumed_mid"] = d.io.get("consumed")  # the repeated entry is still at the head
        await _step_counting(d, 3)
        out["consumed_after"], out["level_after"] = d.io.get("consumed"), d.io.get("in_level")
        out["spikes"] = await d.drain_output()
        for axon in (1, 3, 5):
            await d._push_input(axon, 0)
        await d.io.clock()
        d.io.set("flush_inputs", 1)
        await d.io.clock()
        d.io.set("flush_inputs", 0)
        await d.io.clock()
        out["flushed"] = (d.io.get("in_level"), d.io.get("consumed"))

    out = simulate(bench)
    model = GoldenModel(image)
    result = model.run(5, {3: [0, 2]})
    assert out["spikes"] == list(zip(result.times.tolist(), result.neurons.tolist()))
    assert (out["level"], out["consumed_before"]) == (4, 0)
    assert out["consumed_mid"] == 0
    assert (out["consumed_after"], out["level_after"]) == (4, 0)
    assert out["flushed"] == (0, 7)


def test_clear_counters_keeps_the_state_and_pulses_name_what_was_lost():
    image = burst_network()

    async def bench(d, out):
        await d.load(image)
        for axon in (0, 0, 7):                     # a repeat and an axon out of range: 2 drops
            await d._push_input(axon, 0)
        await d._push_input(0, 1)
        out["pulses"] = await _step_counting(d, 2)
        before = await d.state()
        d.io.set("clear_counters", 1)
        await d.io.clock()
        d.io.set("clear_counters", 0)
        out["before"], out["after"] = before, await d.state()

    out = simulate(bench, output_depth=4)
    before, after = out["before"], out["after"]
    assert out["pulses"]["in_dropped"] == 2
    assert out["pulses"]["out_lost"] == before["counters"]["dropped"] - 2 > 0
    assert all(v == 0 for v in after["counters"].values())
    for key in ("u", "v", "ref", "x", "y", "acc"):
        assert np.array_equal(before[key], after[key]), key


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 8, 13])
def test_buffered_fifo_behaves_as_sync_fifo_buffered(depth):
    """rtl.lib.fifo.BufferedFIFO against amaranth's SyncFIFOBuffered, cycle by cycle, under random
    writes, reads and resets (the input FIFO's flush)."""
    from amaranth.hdl import ResetInserter, Signal
    from amaranth.lib.fifo import SyncFIFOBuffered

    from rtl.lib.fifo import BufferedFIFO

    reset = Signal()
    seen = compare_fifos(ResetInserter(reset)(BufferedFIFO(width=8, depth=depth)),
                         ResetInserter(reset)(SyncFIFOBuffered(width=8, depth=depth)), depth, reset)
    assert seen["full"] > 20 and seen["both"] > 20


class _Colliding:
    """A memory whose read returns the complement of the word when a write of the same address
    happened in the same cycle: what an iCE40 EBR leaves undefined (rtl.lib.memory.NO_COLLISIONS)."""

    def __init__(self, memory, write, read):
        from amaranth.hdl import Module, Mux, Signal

        self.write = write
        self.read = type("ReadPort", (), {})()
        self.read.addr, self.read.data = read.addr, Signal.like(read.data)
        self.memory = m = Module()
        m.submodules.memory = memory
        collided = Signal()
        m.d.sync += collided.eq(write.en.any() & (write.addr == read.addr))
        m.d.comb += self.read.data.eq(Mux(collided, ~read.data, read.data))


def test_no_read_that_meets_a_write_of_its_word_is_used():
    """Every memory of the core except the accumulators (transparent) returns garbage for a read
    of the word written in the same cycle: the core still equals the golden model (plastic,
    recurrent, with outputs), so no engine uses such a read."""
    import rtl.core.core
    from rtl.lib.memory import SimulationMemories

    class CollidingMemories(SimulationMemories):
        def make(self, name, width, depth, transparent=False):
            memory = super().make(name, width, depth, transparent)
            return memory if transparent else _Colliding(memory.memory, memory.write, memory.read)

    class CollidingPacked(rtl.core.core.Packed):
        def __init__(self, widths, depth):
            super().__init__(widths, depth)
            wrapped = _Colliding(self.memory, self.write, self.read)
            self.memory, self.read = wrapped.memory, wrapped.read

    config = CoreConfig(n_neurons=12, n_inputs=6, n_synapses=256, n_segments=32, n_reverse=128,
                        n_profiles=4, n_projections=4, max_delay=2)
    net = Network("colliding")
    inputs = net.inputs("in", 6)
    pop = net.population("p", 12, du=300, dv=100, vth=30, refractory=1)
    rule = STDPRule(a_plus=90, a_minus=-70, lr_shift=4, w_min=-20, w_max=60, pre_decay=300,
                    post_decay=300, pre_impulse=100, post_impulse=100)
    net.connect(inputs, pop, AllToAll(), weight=np.arange(72).reshape(6, 12) - 20, stdp=rule)
    net.connect(pop, pop, FromList([(0, 1, -15, 1), (3, 4, 50, 2), (11, 0, 60, 1), (5, 5, 40, 1)]),
                stdp=rule)
    net.record(pop)
    image = compile_network(net, config)
    inputs = np.random.default_rng(4).random((15, 6)) < 0.4

    async def bench(d, out):
        await d.load(image)
        out["spikes"], _ = await d.run(15, inputs)
        out["state"] = await d.state()
        out["weights"] = await d.weights(image.tables["synapse"].size)

    packed = rtl.core.core.Packed
    rtl.core.core.Packed = CollidingPacked
    try:
        out = simulate(bench, config, memories=CollidingMemories())
    finally:
        rtl.core.core.Packed = packed
    model = GoldenModel(image)
    result = model.run(15, inputs)
    assert out["spikes"].tolist() == np.stack([result.times, result.neurons], 1).tolist()
    for key in ("u", "v", "ref", "x", "y", "acc"):
        assert np.array_equal(out["state"][key], model.state()[key]), key
    assert np.array_equal(out["weights"], model.weights)
    assert out["state"]["counters"] == model.counters
    assert model.counters["plastic_updates"] > 100 and model.counters["spikes"] > 20
