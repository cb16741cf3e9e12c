"""How the host runs ticks on a device behind the link: input with credits, STEP, look-ahead.

    scheduler = Scheduler(link, output_ids, url)
    for block in scheduler.run(groups, total):     # groups: one array of input axons per tick
        block.times, block.neurons                  # the output spikes of the ticks completed

The device's input queue holds `input_depth` entries (docs/protocol.md, "Credits"): each tick's
input axons and an end-of-tick entry, which also counts the empty ticks after it. The scheduler
queues input in batches of a quarter of the queue, each closed by STEPs of at most STEP_CHUNK
ticks, so that the device returns credits (a SPIKES frame after each STEP) while it still has
ticks to run; a batch starts only when a quarter of the queue is free (or the device idles),
and input runs at most LOOKAHEAD_TICKS ahead of the ticks the device has completed.

`link` is a host.link.LinkClient, or anything with its interface (tests/host/test_scheduler.py
drives a fake one): input_depth, max_payload, credits(unsent), send_input(entries),
send(op, payload), answered(seq), forget(seq), progress, device_tick, take_spikes(), reports,
pump(timeout), timeout, timeout_error(what), drain(), clear_spikes().
"""

from __future__ import annotations

import collections
from typing import Callable, Iterator

import numpy as np

from firmware import formats
from firmware import protocol as P
from firmware.run import InputError, RunResult

from .errors import FrameError, SpikesLostError

STEP_CHUNK = 256          # ticks per STEP command: the device reports progress and credits after each
LOOKAHEAD_TICKS = 4096    # how far input may run ahead of the ticks the device has completed


def next_group(groups: Iterator[np.ndarray]) -> tuple[np.ndarray | None, InputError | None]:
    """(the next group or None at the end, or None and the InputError that refused it)."""
    try:
        return next(groups, None), None
    except InputError as error:
        return None, error


def device_result(start: int, ticks: int, output_ids: np.ndarray, rel: np.ndarray,
                  neurons: np.ndarray) -> RunResult:
    """A RunResult from spikes a device reported (ticks relative to `start`, in any order; a
    spike reported twice is one spike)."""
    order = np.lexsort((neurons, rel))
    rel, neurons = rel[order], neurons[order]
    once = np.ones(rel.size, bool)
    once[1:] = (rel[1:] != rel[:-1]) | (neurons[1:] != neurons[:-1])
    return RunResult(start_tick=start, ticks=ticks, output_ids=output_ids,
                     times=rel[once].astype(np.int64) + start, neurons=neurons[once].astype(np.int64))


def group_refusal(size: int, tick: int, depth: int) -> InputError | None:
    """The refusal of tick `tick` with `size` input spikes, if an input queue of `depth` entries
    cannot hold it (with its end-of-tick entry)."""
    if size + 1 > depth:
        return InputError(f"tick {tick} has {size} input spikes; the device's input queue holds "
                          f"{depth} entries, one of them the end-of-tick marker: spread the spikes "
                          f"over more ticks")
    return None


def check_queue(times: np.ndarray, start: int, depth: int) -> None:
    """InputError, before anything is sent, if the busiest tick of input spikes at `times`
    (relative to tick `start`) does not fit an input queue of `depth` entries."""
    in_ticks, counts = np.unique(times, return_counts=True)
    if counts.size:
        k = int(np.argmax(counts))
        refused = group_refusal(int(counts[k]), start + int(in_ticks[k]), depth)
        if refused is not None:
            raise refused


class Scheduler:
    """One run (or stream) of ticks on the device behind `link`, whose loaded image's output
    neurons are `output_ids`; `url` names the device in errors. `on_running(True)` is called
    once the link is quiet and the run starts, `on_running(False)` once every tick has run and
    every reply has arrived: a run that stops in between leaves the link to be resynchronized."""

    def __init__(self, link, output_ids: np.ndarray, url: str,
                 on_running: Callable[[bool], None] = lambda running: None):
        self.link, self.output_ids, self.url, self.on_running = link, output_ids, url, on_running

    def run(self, groups: Iterator[np.ndarray], total: int | None) -> Iterator[RunResult]:
        """Send the input groups with credits, STEP the ticks whose groups are queued, yield the
        output spikes of the ticks that completed. `total`: ticks to run in all (the ticks after
        the last group need no entries); None: as many as there are groups. A bad group (an
        InputError from `groups`, or one the queue cannot hold) is raised once the ticks before
        it have run and been yielded; events the device counted as lost, as SpikesLostError."""
        link = self.link
        depth, self.per_frame = link.input_depth, link.max_payload // P.INPUT_ENTRY.size
        link.drain()
        link.clear_spikes()
        self.on_running(True)
        self.reports_before = len(link.reports)
        self.start = link.device_tick
        self.entries: list[int] = []
        self.marker = None            # index in `entries` of an end-of-tick that may absorb empty ticks
        self.sent_ticks = self.stepped = self.reported = 0
        self.steps = collections.deque()   # seqs of the STEPs sent, until their ACKs arrive
        self.since_step = 0           # entries sent since the last STEP
        self.exhausted = False
        self.refused = None           # the InputError of a bad group: raised once the ticks before it ran
        self.look = None              # the next group, taken from `groups` and not yet queued
        while True:
            # Queue input in batches of a quarter of the queue, each closed by a STEP, so that
            # the device returns credits (SPIKES after each STEP) while it still has ticks to
            # run; a batch starts only when a quarter of the queue is free (or the device idles).
            quarter = max(1, depth // 4)
            if link.credits() >= quarter or self.sent_ticks == self._done():
                self._queue(groups, quarter)
            self._flush()
            if self.exhausted and total is not None and self.refused is None:
                self.sent_ticks = max(self.sent_ticks, total)
            progressed = self._step()
            while self.steps and link.answered(self.steps[0]):   # forget the ACK (memory would
                link.forget(self.steps.popleft())                 # grow with the ticks)
            done = self._done()
            if done > self.reported:
                block = self._collect(done)
                self._lost_check(block)
                yield block
                continue
            if self.exhausted and self.stepped == self.sent_ticks and done >= self.sent_ticks:
                link.drain()
                self.on_running(False)
                self._lost_check(None)
                if self.refused is not None:
                    raise self.refused
                return
            if not progressed and not link.pump(link.timeout):
                raise link.timeout_error(f"progress of the run (tick {self.start + done} of "
                                         f"{self.start + self.sent_ticks} reached)")

    def _done(self) -> int:
        """Ticks of this run the device has completed (and sent every spike of)."""
        progress = self.link.progress
        return 0 if progress is None else formats.wrap32(progress - self.start)

    def _queue(self, groups: Iterator[np.ndarray], quarter: int) -> None:
        """Take groups into `entries` while the credits, the look-ahead and the batch allow."""
        link = self.link
        while (not self.exhausted and self.sent_ticks - self._done() < LOOKAHEAD_TICKS
               and self.since_step < quarter):
            if self.look is None:
                self.look, self.refused = next_group(groups)
                if self.look is None:
                    self.exhausted = True
                    break
            look, entries = self.look, self.entries
            if (look.size == 0 and self.marker is not None
                    and entries[self.marker] & P.MAX_EMPTY_REPEAT < P.MAX_EMPTY_REPEAT):
                entries[self.marker] += 1
                self.sent_ticks += 1
                self.look = None
                continue
            need = look.size + 1
            self.refused = group_refusal(look.size, self.start + self.sent_ticks, link.input_depth)
            if self.refused is not None:
                self.exhausted, self.look = True, None
                break
            if need > link.credits(len(entries)):
                break
            if entries and len(entries) + need > self.per_frame:
                self._flush()                 # keep groups whole within a frame where they fit
            entries.extend(look.tolist())
            entries.append(P.TICK_END)
            self.marker = len(entries) - 1
            self.sent_ticks += 1
            self.since_step += need
            self.look = None

    def _flush(self) -> None:
        """Send the queued entries, a frame at a time (a large group spans frames)."""
        entries = self.entries
        for at in range(0, len(entries), self.per_frame):
            self.link.send_input(entries[at:at + self.per_frame])
        entries.clear()
        self.marker = None

    def _step(self) -> bool:
        """STEP the ticks whose input is queued; whether any STEP went out."""
        progressed = False
        while self.stepped < self.sent_ticks:
            n = min(self.sent_ticks - self.stepped, STEP_CHUNK)
            self.steps.append(self.link.send(P.Op.STEP, P.STEP.pack(n)))
            self.stepped += n
            self.since_step = 0
            progressed = True
        return progressed

    def _collect(self, done: int) -> RunResult:
        """The output spikes of the ticks completed since the last block."""
        times, neurons = self.link.take_spikes()
        rel = formats.wrap32(times - self.start) - self.reported
        bad = ~np.isin(neurons, self.output_ids) | (rel < 0) | (rel >= done - self.reported)
        if np.any(bad):
            k = np.nonzero(bad)[0][0]
            raise FrameError(f"{self.url}: the device reported a spike of neuron {neurons[k]} at "
                             f"tick {times[k]}, which is not an output of the loaded image or "
                             f"not a tick of this run: the device's tables differ from the image")
        block = device_result(self.start + self.reported, done - self.reported, self.output_ids, rel, neurons)
        self.reported = done
        return block

    def _lost_check(self, result: RunResult | None) -> None:
        lost = [r for r in self.link.reports[self.reports_before:] if r[0] != P.ReportKind.OVERRUN]
        if lost:
            text = "; ".join(f"{kind.name}: {count} at tick {tick}" for kind, count, tick in lost)
            raise SpikesLostError(f"{self.url}: the device counted lost events ({text}); they are "
                                  f"in counters()['dropped']. The received spikes are in .result.",
                                  result, lost)
