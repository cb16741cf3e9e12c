"""The device emulator (sim/emulator.py) served on TCP, and its command line.

    python -m sim.device_emulator --port 5555     (then socket://127.0.0.1:5555; --cores 4: of 4 cores)
    with EmulatorServer(port=0) as server: server.url

One client at a time, 127.0.0.1 unless told otherwise (sim/serving.py). DeviceEmulator and its
option checks are importable from here too.
"""

from __future__ import annotations

import argparse
import inspect
import selectors
import signal
import socket
import sys
import threading

from firmware import protocol as P
from firmware.config import CoreConfig
from firmware.errors import AxoniteError, ConfigError

from .emulator import DeviceEmulator
from .serving import DEFAULT_HOST, Refusals, ServeError, configure_client, holder_gone, listen


class EmulatorServer:
    """Serves one DeviceEmulator on a TCP port (127.0.0.1 unless `host` says otherwise, with a
    warning: sim/serving.py). One host at a time: a connection while another holds the device
    is refused with ERROR BUSY and closed; a host that closed its connection makes way."""

    def __init__(self, emulator: DeviceEmulator | None = None, host: str = DEFAULT_HOST, port: int = 0,
                 **emulator_options):
        self.emulator = emulator or DeviceEmulator(**emulator_options)
        self._listen = listen(host, port, "device emulator")
        self._listen.setblocking(False)
        self.host, self.port = self._listen.getsockname()[:2]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: socket.socket | None = None
        self._refusals = Refusals()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def start(self) -> "EmulatorServer":
        self._thread = threading.Thread(target=self.serve, name=f"axonite-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"emulator server on port {self.port} did not stop within {timeout} s")
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _drop_client(self, selector):
        if self._client is not None:
            selector.unregister(self._client)
            self._client.close()
            self._client = None

    def _accept(self, selector):
        try:
            conn, _ = self._listen.accept()
        except (BlockingIOError, InterruptedError):
            return
        emu = self.emulator
        if self._client is not None and not holder_gone(self._client, emu.receive):
            self._refusals.refuse(conn)
            return
        self._drop_client(selector)
        configure_client(conn)
        conn.settimeout(10.0)
        self._client = conn
        selector.register(conn, selectors.EVENT_READ)
        emu.take_output()                # what the previous host was sent and did not read
        emu.connection_reset()

    def serve(self) -> None:
        emu = self.emulator
        selector = selectors.DefaultSelector()
        selector.register(self._listen, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(0 if emu.busy else 0.05):
                    if key.fileobj is self._listen:
                        self._accept(selector)
                    elif key.fileobj is self._client:
                        try:
                            data = self._client.recv(65536)
                        except OSError:
                            data = b""
                        if not data:
                            self._drop_client(selector)
                        else:
                            emu.receive(data)
                self._refusals.poll()
                emu.service()
                out = emu.take_output()
                if out and self._client is not None:
                    try:
                        self._client.sendall(out)
                    except OSError:          # the host went away or stopped reading
                        self._drop_client(selector)
        finally:
            self._drop_client(selector)
            self._refusals.close()
            selector.close()
            self._listen.close()


PROG = "python -m sim.device_emulator"


def _options(args) -> dict:
    """The emulator's options from the command line, each checked against its range; the
    configuration from --config (a JSON object of CoreConfig fields)."""
    options = {name: P.check_device_option(name, getattr(args, name), "--" + name.replace("_", "-"))
               for name in ("input_depth", "window", "clock_hz", "max_payload")}
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port = {args.port} must be an integer in [0, 65535]")
    try:
        config = CoreConfig() if args.config is None else CoreConfig.from_json(args.config)
    except ConfigError as error:
        raise ConfigError(f"--config: {error}") from None
    try:
        cores = P.check_cores(config, args.cores)
    except ConfigError as error:
        raise ConfigError(f"--cores: {error}") from None
    return {"config": config, "cores": cores, **options}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Serve the golden model as an axonite device over TCP.")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port, printed)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to bind (default {DEFAULT_HOST}; any other is reachable from other "
                             f"machines, with no authentication: a warning says so)")
    parser.add_argument("--config", default=None,
                        help='core configuration as JSON, e.g. \'{"n_neurons": 512}\' (default CoreConfig())')
    parser.add_argument("--cores", type=int, default=1,
                        help=f"cores of the device (1 .. {P.MAX_CORES}; default 1): SELECT_CORE, device axons "
                             f"and neurons (docs/protocol.md)")
    defaults = inspect.signature(DeviceEmulator).parameters
    for name, what in (("input_depth", "input-queue entries (credits)"),
                       ("window", "frames the device buffers (HELLO's window)"),
                       ("clock_hz", "the core clock FREERUN periods count"),
                       ("max_payload", "largest payload of a frame, announced in HELLO")):
        lo, hi = P.DEVICE_OPTIONS[name]
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=defaults[name].default,
                            help=f"{what}: {lo} .. {hi} (default {defaults[name].default})")
    args = parser.parse_args(argv)
    try:
        server = EmulatorServer(host=args.host, port=args.port, **_options(args))
    except (AxoniteError, ServeError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr, flush=True)
        return 2
    stop = lambda *_: server._stop.set()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"axonite device emulator listening on {server.url}", flush=True)
    server.serve()
    print("axonite device emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
