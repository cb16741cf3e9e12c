"""Progress on a terminal: one line on stderr, redrawn at most a few times a second.

    with Progress(total=ticks, quiet=args.quiet) as progress:    # runs: count, rate, ETA
        for block in dev.stream(inputs):
            progress.advance(block.ticks)    # tick 1,234 / 10,000 (12%), 2,345 ticks/s, ETA 0:00:04

    with Elapsed("place and route", quiet=args.quiet):           # stages without a count
        run_tool(...)                        # place and route ... 42 s

Both draw only when their stream (sys.stderr unless given) is a terminal and `quiet` is false:
piped or redirected output, logs and CI stay clean. They redraw at most every REFRESH_S
seconds, and clear their line when they end (normally or by an exception such as Ctrl-C), so
what is printed next starts on a clean line.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time

REFRESH_S = 0.25          # at most four redraws a second
_CLEAR = "\x1b[K"         # erase to the end of the line (every terminal since the VT100)


def is_terminal(stream) -> bool:
    """True if `stream` is an open terminal (a pipe, a file, a closed stream: False)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def duration(seconds: float) -> str:
    """H:MM:SS."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _Line:
    """The one line both indicators draw on."""

    def __init__(self, stream, quiet: bool, clock, refresh: float | None):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = not quiet and is_terminal(self.stream)
        self.clock, self.refresh = clock, REFRESH_S if refresh is None else refresh
        self.started = clock()
        self._drawn = False

    def draw(self, text: str) -> None:
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)   # never wrap
        self.stream.write("\r" + text[:width] + _CLEAR)
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        if self._drawn:
            self.stream.write("\r" + _CLEAR)
            self.stream.flush()
            self._drawn = False


class Progress(_Line):
    """A count towards `total` (None: open-ended): `tick N / TOTAL (P%), R ticks/s, ETA H:MM:SS`.
    The rate is the average since the start. `what` names the unit ("tick")."""

    def __init__(self, total: int | None = None, what: str = "tick", stream=None, quiet: bool = False,
                 clock=time.monotonic, refresh: float | None = None):
        super().__init__(stream, quiet, clock, refresh)
        self.total, self.what, self.done = total, what, 0
        self._last = self.started

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.clear()

    def advance(self, n: int) -> None:
        self.update(self.done + n)

    def update(self, done: int) -> None:
        """`done` of `total` are done; redraws if REFRESH_S have passed since the last draw
        (the first draw comes REFRESH_S after the start: a short job shows nothing)."""
        self.done = done
        if not self.enabled:
            return
        now = self.clock()
        if now - self._last >= self.refresh:
            self._last = now
            self.draw(self.text(now))

    def text(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        count = f"{self.what} {self.done:,}"
        if self.total:
            count += f" / {self.total:,} ({self.done / self.total:.0%})"
        parts = [count, f"{rate:,.0f} {self.what}s/s"]
        if self.total and rate > 0:
            parts.append(f"ETA {duration((self.total - self.done) / rate)}")
        else:
            parts.append(f"{duration(elapsed)} elapsed")
        return ", ".join(parts)


class Elapsed(_Line):
    """`label ... N s` for a stage that gives no count, redrawn by a thread while the `with`
    block runs (the block may wait on a subprocess or compute: the thread draws either way)."""

    def __init__(self, label: str, stream=None, quiet: bool = False, clock=time.monotonic,
                 refresh: float | None = None):
        super().__init__(stream, quiet, clock, refresh)
        self.label = label
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def text(self) -> str:
        return f"{self.label} ... {self.clock() - self.started:.0f} s"

    def _run(self) -> None:
        while not self._stop.wait(self.refresh):
            self.draw(self.text())

    def __enter__(self) -> "Elapsed":
        self.started = self.clock()
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="axonite-elapsed", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self.clear()
