"""Faults on the line between a host and a device, for the doctor's tests.

    with FaultyLine(device_url, to_device=..., to_host=...) as line:    # a TCP proxy
        doctor(line.url)

A transform takes the bytes of one read and returns what the other end receives:
`BaudMismatch(sender_baud, receiver_baud)` is a UART receiver at another baud rate than its
sender (8N1, the bytes of one read sent back to back, the line idle between reads);
`ByteFlips(every, after)` flips the low bit of every `every`-th byte once `after` bytes have
passed.

    with PtyBoard(baud=3_000_000) as board:      # the device emulator behind a pseudo-terminal
        doctor(board.port)                       # a serial port that pyserial opens natively

A host that opens the PtyBoard at another baud rate than the board's gets what a UART would.
"""

from __future__ import annotations

import errno
import math
import os
import select
import socket
import termios
import threading
import tty

from firmware import protocol as P
from sim.device_emulator import DeviceEmulator


def uart_receive(data: bytes, ratio: float) -> bytes:
    """What a UART receiver with bit time `ratio` (in the sender's bit times) reads from `data`
    sent back to back, 8N1, on a line idle (high) before and after. A start bit is a 0 where the
    line was high; each bit is sampled at its middle; a 0 stop bit is a framing error (the byte
    is dropped, and the receiver waits for the line to go high again)."""
    bits = []
    for byte in data:
        bits += [0] + [(byte >> k) & 1 for k in range(8)] + [1]
    n = len(bits)

    def level(t: float) -> int:
        return bits[int(t)] if 0 <= t < n else 1

    out = bytearray()
    t = 0.0
    while t < n:
        if level(t):                    # idle: the next falling edge is at a sender bit boundary
            j = math.floor(t) + 1
            while j < n and bits[j]:
                j += 1
            if j >= n:
                break
            t = float(j)
        start = t
        if level(start + 0.5 * ratio):  # a glitch, not a start bit
            t = start + 0.5 * ratio
            continue
        value = sum(level(start + (k + 1.5) * ratio) << k for k in range(8))
        stop = start + 9.5 * ratio
        if level(stop):
            out.append(value)
            t = stop
        else:                           # framing error: wait for the line to go high
            t = stop
            while t < n and not level(t):
                t = math.floor(t) + 1.0
    return bytes(out)


class BaudMismatch:
    """The receiving end runs at `receiver_baud`, the sending end at `sender_baud`."""

    def __init__(self, sender_baud: int, receiver_baud: int):
        self.ratio = sender_baud / receiver_baud

    def __call__(self, data: bytes) -> bytes:
        return uart_receive(data, self.ratio)


class ByteFlips:
    def __init__(self, every: int, after: int = 0):
        self.every, self.after, self.seen, self.flipped = every, after, 0, 0

    def __call__(self, data: bytes) -> bytes:
        out = bytearray(data)
        for k in range(len(out)):
            self.seen += 1
            if self.seen > self.after and (self.seen - self.after) % self.every == 0:
                out[k] ^= 0x01
                self.flipped += 1
        return bytes(out)


class FaultyLine:
    """A TCP proxy on 127.0.0.1 in front of `target` (socket://HOST:PORT); one client at a time,
    each connected to the target afresh."""

    def __init__(self, target: str, to_device=None, to_host=None):
        host, port = target[len("socket://"):].rsplit(":", 1)
        self.target = (host, int(port))
        self.to_device, self.to_host = to_device or (lambda d: d), to_host or (lambda d: d)
        self._listen = socket.socket()
        self._listen.bind(("127.0.0.1", 0))
        self._listen.listen(1)
        self._listen.settimeout(0.1)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self._listen.getsockname()[1]}"

    def _pump(self, src, dst, transform):
        src.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            try:
                dst.sendall(transform(data))
            except OSError:
                break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _serve(self):
        while not self._stop.is_set():
            try:
                client, _ = self._listen.accept()
            except OSError:
                continue
            device = socket.create_connection(self.target, timeout=5)
            self._sockets += [client, device]
            for src, dst, transform in ((client, device, self.to_device), (device, client, self.to_host)):
                thread = threading.Thread(target=self._pump, args=(src, dst, transform), daemon=True)
                thread.start()
                self._threads.append(thread)

    def __enter__(self):
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        for s in self._sockets:
            s.close()
        self._listen.close()
        assert not any(t.is_alive() for t in self._threads)


_SPEEDS = {getattr(termios, name): int(name[1:]) for name in dir(termios)
           if name.startswith("B") and name[1:].isdigit()}


class PtyBoard:
    """A DeviceEmulator (`emulator`, or one made with `emulator_options`) behind a
    pseudo-terminal (`port`, /dev/pts/N) that runs at `baud`: the baud rate the host sets on the
    port (termios) decides whether bytes pass as they are or as a UART at `baud` would read them."""

    def __init__(self, baud: int = P.DEFAULT_BAUD, emulator: DeviceEmulator | None = None, **emulator_options):
        self.baud = baud
        self.emulator = emulator or DeviceEmulator(**emulator_options)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.host_bauds: list[int | None] = []

    def host_baud(self) -> int | None:
        return _SPEEDS.get(termios.tcgetattr(self._slave)[4])

    def _serve(self):
        emulator, pending = self.emulator, b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0 if emulator.busy else 0.01)
            host = self.host_baud()
            if ready:
                try:
                    data = os.read(self._master, 65536)
                except OSError as error:       # EIO: no program has the port open
                    if error.errno != errno.EIO:
                        raise
                    data = b""
                if data:
                    self.host_bauds.append(host)
                    emulator.receive(data if host == self.baud else BaudMismatch(host or 1, self.baud)(data))
            emulator.service()
            out = emulator.take_output()
            if out:
                pending += out if host == self.baud else BaudMismatch(self.baud, host or 1)(out)
            if pending:
                try:
                    pending = pending[os.write(self._master, pending):]
                except BlockingIOError:
                    pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        os.close(self._master)
        os.close(self._slave)
        assert not self._thread.is_alive()
