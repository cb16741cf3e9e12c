"""The device-emulator fixtures of the host's and the emulator's tests (their conftest.py files
import them): `server`, a device emulator on 127.0.0.1, and `silent_server`, a TCP server that
never answers."""

import socket
import threading

import pytest

from sim.device_emulator import EmulatorServer


@pytest.fixture
def server():
    """A device emulator on 127.0.0.1 (default CoreConfig), stopped at the end of the test."""
    srv = EmulatorServer(host="127.0.0.1", port=0).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def silent_server():
    """A TCP server on 127.0.0.1 that accepts and reads but never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.1)
    stop = threading.Event()
    conns = []

    def run():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                conn.settimeout(0.1)
                conns.append(conn)
            except OSError:
                pass
            for c in conns:
                try:
                    c.recv(4096)
                except OSError:
                    pass
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"socket://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for c in conns:
            c.close()
        listener.close()
        assert not thread.is_alive()
