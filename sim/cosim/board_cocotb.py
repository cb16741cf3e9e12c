"""The cocotb side of the simulated board (sim/cosim/board.py): serial bytes between a TCP client
and the BoardHarness's host_tx / host_rx ports. Imported only inside the simulator.

Everything runs on the simulator's thread: the sockets (the listening one inherited from
sim/cosim/board.py; one client at a time, a further one refused with ERROR BUSY as sim/serving.py
says; and the control socket, whose EOF means stop) are non-blocking and polled whenever the test wakes,
which is at least every AXONITE_BOARD_POLL_CYCLES cycles: no threads, no locks, no hand-off of
the GIL between the simulator's thread and a server thread. The coroutines wake per byte: a host_rx valid pulse; host_tx takes
one byte per clock while the harness FIFO has room, else the test sleeps half a FIFO of byte
times.
"""
from __future__ import annotations

import json
import os
import socket
import time

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge, Timer
from cocotb.utils import get_sim_time

from sim.serving import Refusals, close_socket, configure_client, holder_gone

CLOCK_PERIOD_NS = 10          # sim/cosim/verilator.wrapper_verilog: always #5 clk = ~clk
CHUNK = 65536
MAX_BUFFERED = 1 << 20      # host bytes held here before TCP pushes back


class SocketBridge:
    """The socket side of the simulated board: the TCP client (one at a time) and the control
    socket, polled from the simulator's thread at every wake (non-blocking)."""

    def __init__(self, listen: socket.socket, control: socket.socket):
        self.listen, self.control = listen, control
        listen.setblocking(False)
        control.setblocking(False)
        self.stop = False
        self.client: socket.socket | None = None
        self.refusals = Refusals()
        self.to_device = bytearray()         # from the host, not yet given to host_tx
        self.from_device = bytearray()       # from host_rx, not yet sent to the host
        self.bytes_in = self.bytes_out = 0

    def poll(self) -> None:
        try:
            if not self.control.recv(4096):
                self.stop = True             # sim/cosim/board.py asks us to stop, or is gone
        except BlockingIOError:
            pass
        except OSError:
            self.stop = True
        while True:
            try:
                conn, _ = self.listen.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.stop = True
                break
            if self.client is not None and not holder_gone(self.client, self.to_device.extend,
                                                           MAX_BUFFERED - len(self.to_device)):
                self.refusals.refuse(conn)
                continue
            conn.setblocking(False)
            configure_client(conn)
            self._drop()                     # the old host has gone: what it sent or was
            self.to_device.clear()           # answered is not for the new one
            self.from_device.clear()
            self.client = conn
        self.refusals.poll()
        conn = self.client
        if conn is None:
            return
        try:
            if len(self.to_device) < MAX_BUFFERED:      # else TCP pushes back on the host
                data = conn.recv(CHUNK)
                if not data:
                    self._drop()
                    return
                self.to_device += data
        except BlockingIOError:
            pass
        except OSError:              # the client went away: wait for the next one
            self._drop()
            return
        if self.from_device:
            try:
                sent = conn.send(self.from_device)
                del self.from_device[:sent]
            except BlockingIOError:
                pass
            except OSError:
                self._drop()

    def _drop(self):
        if self.client is not None:
            close_socket(self.client)
            self.client = None

    def close(self):
        self._drop()
        self.refusals.close()
        close_socket(self.listen)

    def send_stats(self, stats: dict):
        try:
            self.control.setblocking(True)
            self.control.sendall(("stats " + json.dumps(stats) + "\n").encode())
        except OSError:
            pass


async def _collect(dut, bridge: SocketBridge):
    """Every host_rx pulse is one byte from the top (no per-cycle wake)."""
    valid, payload = dut.host_rx__valid, dut.host_rx__payload
    while True:
        await RisingEdge(valid)
        bridge.bytes_out += 1
        if bridge.client is not None:           # with no host, bytes fall off the line
            bridge.from_device.append(int(payload.value))


@cocotb.test()
async def serve(dut):
    listen = socket.socket(fileno=int(os.environ["AXONITE_BOARD_LISTEN_FD"]))
    control = socket.socket(fileno=int(os.environ["AXONITE_BOARD_CONTROL_FD"]))
    divisor = int(os.environ["AXONITE_BOARD_DIVISOR"])
    poll_ns = int(os.environ["AXONITE_BOARD_POLL_CYCLES"]) * CLOCK_PERIOD_NS
    # when the FIFO is full, sleep until about half of it has gone out on the line
    refill_ns = max(1, int(os.environ["AXONITE_BOARD_TX_FIFO"]) // 2) * 10 * divisor * CLOCK_PERIOD_NS
    bridge = SocketBridge(listen, control)
    clk = dut.clk
    valid, ready, data = dut.host_tx__valid, dut.host_tx__ready, dut.host_tx__payload

    valid.value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(clk)
    dut.rst.value = 0
    await FallingEdge(clk)
    cocotb.start_soon(_collect(dut, bridge))
    start_ns, start_wall = get_sim_time("ns"), time.monotonic()
    control.sendall(b"ready\n")

    out = bridge.to_device
    while not bridge.stop:
        # at a falling edge: `ready` is settled for the next rising edge
        if out and int(ready.value):
            data.value = out[0]
            valid.value = 1
            del out[0]
            bridge.bytes_in += 1
            await FallingEdge(clk)            # taken at the rising edge in between
            continue
        valid.value = 0
        bridge.poll()                           # the socket: at most every poll / refill interval
        if out and int(ready.value):
            continue
        await Timer(refill_ns if out else poll_ns, unit="ns")
        await FallingEdge(clk)

    valid.value = 0
    bridge.poll()                               # the last bytes out, if the host still listens
    wall = time.monotonic() - start_wall
    cycles = round((get_sim_time("ns") - start_ns) / CLOCK_PERIOD_NS)
    bridge.send_stats({"cycles": cycles, "wall_s": wall, "cycles_per_s": cycles / wall if wall else 0.0,
                     "bytes_in": bridge.bytes_in, "bytes_out": bridge.bytes_out})
    bridge.close()
    close_socket(control)
