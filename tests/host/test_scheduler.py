"""The run scheduler (host/scheduler.py) against a fake link: a device in this process that runs
a STEP's ticks when pumped and answers each tick's input axons a with output neurons OUT + a.
The fake checks what a device would: the credits are never exceeded, every INPUT frame fits the
payload, and a tick's group arrives before the STEP that runs it."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from firmware import protocol as P
from firmware.run import InputError
from host.errors import DeviceTimeoutError, FrameError, SpikesLostError
from host.scheduler import LOOKAHEAD_TICKS, STEP_CHUNK, Scheduler

OUT = 100                        # input axon a makes output neuron OUT + a fire in its tick
N_AXONS = 40
OUTPUT_IDS = np.arange(OUT, OUT + N_AXONS)


class FakeLink:
    """The LinkClient interface over a device that keeps its input queue as the protocol says."""

    def __init__(self, input_depth=16, max_payload=64, start_tick=0, stall=False):
        self.input_depth, self.max_payload, self.timeout = input_depth, max_payload, 0.01
        self.device_tick = self.start = start_tick
        self.stall = stall               # never runs a tick: a device that stopped answering
        self.queue: collections.deque[int] = collections.deque()
        self.sent = self.consumed = 0
        self.steps: collections.deque[tuple[int, int]] = collections.deque()   # (seq, ticks) to run
        self.seq = 0
        self.answers: set[int] = set()
        self.progress = None
        self.reports: list = []
        self.spikes: list[tuple[int, int]] = []
        self.frames: list[list[int]] = []        # every INPUT frame's entries
        self.step_sizes: list[int] = []
        self.most_ahead = 0                      # the most ticks queued beyond those completed
        self.extra_spike = None                  # (tick, neuron) the device reports once, unasked
        self.to_report: list = []                # REPORTs the device sends at its next STEP

    # --- the interface --------------------------------------------------------------------------

    def credits(self, unsent=0):
        return P.credits_free(self.input_depth, self.sent + unsent, self.consumed)

    def send_input(self, entries):
        assert len(entries) * P.INPUT_ENTRY.size <= self.max_payload, "an INPUT frame over max_payload"
        assert len(entries) <= self.credits(), "input sent beyond the credits"
        self.frames.append(list(entries))
        self.queue.extend(entries)
        self.sent += len(entries)
        return self._seq()

    def send(self, op, payload=b""):
        assert op == P.Op.STEP
        (ticks,) = P.STEP.unpack(payload)
        self.step_sizes.append(ticks)
        seq = self._seq()
        self.steps.append((seq, ticks))
        self.most_ahead = max(self.most_ahead, sum(t for _, t in self.steps))
        return seq

    def answered(self, seq):
        return seq in self.answers

    def forget(self, seq):
        self.answers.discard(seq)

    def pump(self, timeout):
        """Run the oldest STEP's ticks, then report their spikes (one SPIKES frame)."""
        if self.stall or not self.steps:
            return False
        seq, ticks = self.steps.popleft()
        for _ in range(ticks):
            for axon in self._pop_group():
                self.spikes.append((self.device_tick, OUT + axon))
            self.device_tick += 1
        if self.extra_spike is not None:
            self.spikes.append(self.extra_spike)
            self.extra_spike = None
        self.reports += self.to_report
        self.to_report = []
        self.answers.add(seq)
        self.progress = self.device_tick
        return True

    def drain(self):
        while self.steps and not self.stall:
            self.pump(0)

    def clear_spikes(self):
        self.spikes.clear()
        self.progress = None

    def take_spikes(self):
        times = np.array([t for t, _ in self.spikes], np.int64)
        neurons = np.array([n for _, n in self.spikes], np.int64)
        self.spikes.clear()
        return times, neurons

    def timeout_error(self, what):
        return DeviceTimeoutError(f"fake: no answer while waiting for {what}")

    # --- the device ------------------------------------------------------------------------------

    def _pop_group(self):
        """The next tick's axons: up to and including its end-of-tick entry, whose low bits count
        the empty ticks after it (docs/protocol.md); an empty queue is a tick without input."""
        axons = []
        while self.queue:
            entry = self.queue[0]
            if entry & P.TICK_END:
                if entry & P.MAX_EMPTY_REPEAT:
                    self.queue[0] = entry - 1
                else:
                    self.queue.popleft()
                    self.consumed += 1
                return axons
            axons.append(self.queue.popleft())
            self.consumed += 1
        return axons

    def _seq(self):
        self.seq += 1
        return self.seq


def groups_of(items):
    """Input groups from lists of axons; an exception among them is raised when reached."""
    for item in items:
        if isinstance(item, Exception):
            raise item
        yield np.array(item, np.int64)


def run(link, groups, total=None, **options):
    """Every block the scheduler yields for `groups` (see groups_of)."""
    return list(Scheduler(link, OUTPUT_IDS, "fake://", **options).run(groups_of(groups), total))


def spikes(blocks):
    return [(t, n) for b in blocks for t, n in zip(b.times.tolist(), b.neurons.tolist())]


def test_every_tick_runs_once_with_its_own_input_within_the_credits():
    rng = np.random.default_rng(3)
    groups = [sorted(rng.choice(N_AXONS, rng.integers(0, 9), replace=False).tolist()) for _ in range(300)]
    link = FakeLink(input_depth=16, max_payload=16, start_tick=7)   # 8 entries a frame, 16 credits
    blocks = run(link, groups, total=300)
    assert spikes(blocks) == [(7 + t, OUT + a) for t, g in enumerate(groups) for a in g]
    assert [b.start_tick for b in blocks] == [7] + [b.start_tick + b.ticks for b in blocks[:-1]]
    assert sum(b.ticks for b in blocks) == sum(link.step_sizes) == 300
    assert link.device_tick == 307 and not link.queue and link.consumed == link.sent
    # a group that fits a frame is never split across frames
    assert all(f[-1] & P.TICK_END for f in link.frames if len(f) < 8)


def test_empty_ticks_fold_into_the_end_of_tick_before_them_and_trailing_ones_need_no_entries():
    link = FakeLink(input_depth=64)              # one batch holds them all
    blocks = run(link, [[1], [], [], [2, 3]], total=10)
    assert link.frames == [[1, P.TICK_END | 2, 2, 3, P.TICK_END]]
    assert link.step_sizes == [10]
    assert spikes(blocks) == [(0, OUT + 1), (3, OUT + 2), (3, OUT + 3)]
    assert sum(b.ticks for b in blocks) == 10


def test_a_batch_is_a_quarter_of_the_queue_closed_by_steps_of_at_most_step_chunk():
    link = FakeLink(input_depth=64, max_payload=1024)
    run(link, [[k % N_AXONS] for k in range(200)], total=200)
    # 16 entries a batch (a quarter of 64): 8 ticks of one axon and its end-of-tick
    assert link.step_sizes[0] == 8 and all(size <= STEP_CHUNK for size in link.step_sizes)
    link = FakeLink(input_depth=64, max_payload=1024)
    run(link, [[]], total=3 * STEP_CHUNK + 5)
    assert link.step_sizes == [STEP_CHUNK] * 3 + [5]


def test_input_runs_at_most_the_look_ahead_beyond_the_ticks_completed():
    link = FakeLink(input_depth=1 << 20, max_payload=1024)
    run(link, [[]] * (3 * LOOKAHEAD_TICKS), total=3 * LOOKAHEAD_TICKS)
    assert LOOKAHEAD_TICKS // 2 < link.most_ahead <= LOOKAHEAD_TICKS


def test_a_refused_group_stops_the_run_after_the_ticks_before_it():
    link = FakeLink()
    done = []
    scheduler = Scheduler(link, OUTPUT_IDS, "fake://", on_running=done.append)
    out = []
    with pytest.raises(InputError, match="tick 3 is bad"):
        for block in scheduler.run(groups_of([[1], [2], [4], InputError("tick 3 is bad"), [5]]), None):
            out.append(block)
    assert spikes(out) == [(0, OUT + 1), (1, OUT + 2), (2, OUT + 4)] and link.device_tick == 3
    assert done == [True, False]       # every tick before it ran: the link is in step


def test_a_tick_the_queue_cannot_hold_is_refused_after_the_ticks_before_it():
    link = FakeLink(input_depth=8)
    with pytest.raises(InputError, match="tick 2 has 8 input spikes; the device's input queue holds 8"):
        run(link, [[0], [1], list(range(8)), [9]], total=4)
    assert link.device_tick == 2 and link.sent == 4


def test_lost_events_raise_with_the_spikes_that_arrived():
    link = FakeLink()
    link.reports.append((P.ReportKind.INPUT_DROPPED, 5, 0))      # from before the run: not this run's
    link.to_report = [(P.ReportKind.OVERRUN, 1, 0)]              # an overrun loses nothing
    assert spikes(run(link, [[1], [2]])) == [(0, OUT + 1), (1, OUT + 2)]
    link.to_report = [(P.ReportKind.INPUT_DROPPED, 3, 2)]
    with pytest.raises(SpikesLostError, match="INPUT_DROPPED: 3 at tick 2") as lost:
        run(link, [[1], [2]])
    assert spikes([lost.value.result]) == [(2, OUT + 1), (3, OUT + 2)]
    assert lost.value.reports == [(P.ReportKind.INPUT_DROPPED, 3, 2)]


def test_a_spike_outside_the_outputs_or_the_run_is_a_frame_error():
    for extra in ((0, 7), (50, OUT)):               # not an output neuron; not a tick of this run
        link = FakeLink()
        link.extra_spike = extra
        with pytest.raises(FrameError, match="not an output of the loaded image or not a tick of this run"):
            run(link, [[1], [2]])


def test_a_device_that_stops_answering_times_out_and_leaves_the_link_to_resync():
    link = FakeLink(stall=True)
    running = []
    with pytest.raises(DeviceTimeoutError, match=r"progress of the run \(tick 0 of 2 reached\)"):
        run(link, [[1], [2]], on_running=running.append)
    assert running == [True]
