"""A raw TCP client of the wire protocol, for the tests that send frames a host never would
(the device emulator, the simulated board)."""

import socket
import threading
import time

from firmware import protocol as P


class RawClient:
    """A bare TCP client that speaks frames, reading in a thread so that neither side blocks."""

    def __init__(self, url):
        host, port = url[len("socket://"):].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.seq = 0

    def _read(self):
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            self.received += data

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send(self, op, payload=b"", version=P.PROTOCOL_VERSION):
        self.sock.sendall(P.encode_frame(op, self.seq, payload, version))
        self.seq = (self.seq + 1) % 256
        return (self.seq - 1) % 256

    def frames(self, count, timeout=10.0):
        """Wait until `count` complete frames arrived; return them all decoded."""
        deadline = time.monotonic() + timeout
        while True:
            n = bytes(self.received).count(b"\0")
            if n >= count or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        dec = P.FrameDecoder()
        return dec.feed(bytes(self.received))

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
