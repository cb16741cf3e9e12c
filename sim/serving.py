"""The TCP side that the device servers share (sim.device_emulator, and the simulated board's
sim.cosim.board / sim.cosim.board_cocotb): where they listen, and one client at a time.
docs/protocol.md ("Serving a device over TCP") states the policy:

- `listen(host, port)` binds 127.0.0.1 unless told otherwise; any address that is not a
  loopback one gets a loud WARNING on stderr: the link has no authentication, and whoever
  connects may load networks and read and write all of the device's memory.
- One client holds the device. A connection that arrives meanwhile gets one ERROR frame
  (`firmware.protocol.busy_refusal()`: BUSY, ref_valid 0) and is closed; the holder is not
  disturbed. A holder that has closed its end makes way at once (`holder_gone`), and TCP
  keepalive (`configure_client`) drops one that vanished without closing within about
  KEEPALIVE_IDLE_S + KEEPALIVE_COUNT * KEEPALIVE_INTERVAL_S seconds.

Everything here is non-blocking and polled, so it runs as well in the emulator's selector loop
as on the simulator's thread.
"""

from __future__ import annotations

import errno
import ipaddress
import select
import socket
import sys
import time

from firmware import protocol as P
from firmware.errors import AxoniteError

DEFAULT_HOST = "127.0.0.1"
REFUSAL_DELAY_S = 0.5         # a refused connection that says nothing gets its refusal after this
REFUSED_LINGER_S = 2.0        # then it is read (and discarded) this long at most
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 10, 5, 3


class ServeError(AxoniteError, OSError):
    """A device server cannot listen: the port is in use, the address is not this machine's,
    the port is out of range."""


def listen(host: str, port: int, what: str) -> socket.socket:
    """A listening TCP socket on (host, port); `what` names the server in the warning printed
    when the address is not a loopback one. Raises ServeError naming the address."""
    where = f"{host}:{port}"
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ServeError(f"cannot listen on {where}: the port must be in [0, 65535]")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(4)
    except OSError as error:
        sock.close()
        reason = ("the port is in use (another server, or one still running?)"
                  if error.errno == errno.EADDRINUSE else error.strerror or str(error))
        raise ServeError(f"cannot listen on {where}: {reason}") from None
    address, bound = sock.getsockname()[:2]
    if not ipaddress.ip_address(address).is_loopback:
        print(f"WARNING: the axonite {what} listens on {address}:{bound}, which other machines can "
              f"reach. The link has no authentication: whoever connects can load networks and read "
              f"and write all of the device's memory. Serve on {DEFAULT_HOST} (the default) unless "
              f"this network is trusted.", file=sys.stderr, flush=True)
    return sock


def configure_client(conn: socket.socket) -> None:
    """Small frames go out at once; a client that vanished without closing is noticed."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", KEEPALIVE_IDLE_S), ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
                        ("TCP_KEEPCNT", KEEPALIVE_COUNT)):
        if hasattr(socket, name):            # Linux; elsewhere the system's defaults
            try:
                conn.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
            except OSError:
                pass


def holder_gone(conn: socket.socket, sink, limit: int | None = None) -> bool:
    """Without blocking, read what the holder has sent (each piece to `sink`; at most `limit`
    bytes, None: all) and say whether it has closed its end. Called when another client
    connects: a holder that closed just before makes way for it."""
    taken = 0
    while limit is None or taken < limit:
        try:
            ready, _, _ = select.select([conn], [], [], 0)
            if not ready:
                return False
            data = conn.recv(65536 if limit is None else min(65536, limit - taken))
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        if not data:
            return True
        taken += len(data)
        sink(data)
    return False


class Refusals:
    """Connections refused while another client holds the device. Each gets `P.busy_refusal()`
    once it has sent its first bytes (a host sends 0x00 or HELLO first; pyserial's socket://
    discards what arrives while it opens the port) or after REFUSAL_DELAY_S; then what it sends
    is read and discarded until it closes, or for REFUSED_LINGER_S at most, and only then is it
    closed: closing a socket with unread bytes sends a reset, and an end of stream right behind
    the frame makes pyserial drop the bytes of the read that meets it, so either could destroy
    the refusal before the client has read it."""

    def __init__(self):
        self._waiting: list[list] = []      # [socket, sent, deadline]

    def refuse(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        self._waiting.append([conn, False, time.monotonic() + REFUSAL_DELAY_S])

    def poll(self) -> None:
        now = time.monotonic()
        keep = []
        for entry in self._waiting:
            conn, sent, deadline = entry
            spoke = []
            gone = holder_gone(conn, spoke.append, limit=1 << 20)
            if not gone and not sent and (spoke or now >= deadline):
                try:
                    conn.settimeout(1.0)
                    conn.sendall(P.busy_refusal())
                    conn.setblocking(False)
                except OSError:
                    gone = True
                entry[1:] = True, now + REFUSED_LINGER_S
            elif sent and now >= deadline:
                gone = True
            if gone:
                close_socket(conn)
            else:
                keep.append(entry)
        self._waiting = keep

    def close(self) -> None:
        for conn, *_ in self._waiting:
            close_socket(conn)
        self._waiting = []


def close_socket(sock: socket.socket) -> None:
    """Shut down and close, whatever state the socket is in."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
