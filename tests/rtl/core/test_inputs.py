"""rtl.core.inputs.InputStage alone, fed by a FIFO model: the tick's ascending axons are appended,
descending, repeated and out-of-range ones are dropped and counted; it stops after the tick-end
marker (consumed) or when the FIFO is empty (spec §5.1, docs/rtl.md PREPARE)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from firmware import CoreConfig
from firmware import formats as fmt
from rtl.core.inputs import InputStage

END = "end"


def config(n_inputs):
    return CoreConfig(n_neurons=8, n_inputs=n_inputs, n_synapses=8, n_segments=4, n_reverse=4,
                      n_profiles=2, max_delay=2)


def reference(queue, n_inputs):
    """One group: (appended, dropped, entries consumed)."""
    appended, dropped, previous = [], 0, 0
    for k, entry in enumerate(queue):
        if entry == END:
            return appended, dropped, k + 1
        if entry < n_inputs and entry >= previous:
            appended.append(entry)
            previous = entry + 1
        else:
            dropped += 1
    return appended, dropped, len(queue)


def run_groups(n_inputs, queue, groups, idle_gap=3):
    """Start the stage `groups` times on a FIFO model holding `queue` (axons, END for a tick-end
    entry whose axon field is 0). Returns per start (appended, dropped, popped) and whether the
    stage ever read the FIFO while idle."""
    dut = InputStage(config(n_inputs))
    queue = list(queue)
    results = []
    idle_reads = []

    async def bench(ctx):
        def present():
            ctx.set(dut.fifo_rdy, int(bool(queue)))
            head = queue[0] if queue else 0
            ctx.set(dut.fifo_axon, 0 if head == END else head)
            ctx.set(dut.fifo_tick_end, int(head == END))

        for _ in range(groups):
            for _ in range(idle_gap):
                present()
                if ctx.get(dut.fifo_en) and queue:
                    idle_reads.append(queue[0])
                await ctx.tick()
            present()
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            appended, dropped, popped, done = [], 0, 0, 0
            for _ in range(len(queue) + 10):
                present()
                if ctx.get(dut.done):
                    done += 1
                    break
                if ctx.get(dut.append_valid):
                    appended.append(ctx.get(dut.append_axon))
                dropped += ctx.get(dut.dropped)
                assert not (ctx.get(dut.append_valid) and ctx.get(dut.dropped))
                pop = ctx.get(dut.fifo_en) and queue
                await ctx.tick()
                if pop:
                    queue.pop(0)
                    popped += 1
            assert done == 1, "no done pulse"
            results.append((appended, dropped, popped))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return results, idle_reads


def check(n_inputs, queue, groups):
    results, idle_reads = run_groups(n_inputs, queue, groups)
    assert not idle_reads, f"the stage read {idle_reads} from the FIFO while idle"
    rest = list(queue)
    for k, (appended, dropped, popped) in enumerate(results):
        want_appended, want_dropped, consumed = reference(rest, n_inputs)
        assert (appended, dropped, popped) == (want_appended, want_dropped, consumed), (
            f"group {k} of {rest}: rtl appended {appended}, dropped {dropped}, popped {popped}; "
            f"expected {want_appended}, {want_dropped}, {consumed}")
        rest = rest[consumed:]
    return results


def test_ascending_axons_then_tick_end():
    results = check(6, [0, 2, 5, END, 1, END], 2)
    assert results == [([0, 2, 5], 0, 4), ([1], 0, 2)]


def test_descending_repeated_and_out_of_range_are_dropped_and_counted():
    # 6 inputs: axon fields are 3 bits, so 6 and 7 are representable but out of range
    results = check(6, [3, 1, 3, 7, 4, 6, 5, 5, END, 0, END], 2)
    assert results[0] == ([3, 4, 5], 5, 9)
    assert results[1] == ([0], 0, 2)      # the next group starts again from axon 0


def test_stops_when_the_fifo_is_empty():
    """A group without its tick-end marker yet: the axons present are taken, then the stage stops;
    an empty FIFO gives a tick without inputs."""
    results = check(20, [4, 9, 19], 2)
    assert results == [([4, 9, 19], 0, 3), ([], 0, 0)]


def test_empty_group_and_lone_markers():
    results = check(20, [END, END, 3, END], 3)
    assert results == [([], 0, 1), ([], 0, 1), ([3], 0, 2)]


@pytest.mark.parametrize("n_inputs", [5, 20, 32])
def test_random_groups(n_inputs):
    rng = np.random.default_rng(n_inputs)
    top = 1 << fmt.bits_for(n_inputs)
    queue = []
    for _ in range(12):
        size = int(rng.integers(0, 12))
        if rng.random() < 0.5:
            group = sorted(rng.choice(n_inputs, min(size, n_inputs), replace=False).tolist())
        else:
            group = rng.integers(0, top, size).tolist()      # anything, incl. out of range
        queue += group + [END]
    queue += rng.integers(0, n_inputs, 3).tolist()          # a last group without its marker
    results = check(n_inputs, queue, 14)
    assert sum(d for _, d, _ in results) > 5 and sum(len(a) for a, _, _ in results) > 20
