"""Networks and raw-link helpers shared by the host tests."""

import socket
import threading
import time


from firmware import CoreConfig, FixedProbability, Network, OneToOne, STDPRule
from firmware import protocol as P

# A core just large enough for relay_network(8): 8 input axons, quick ticks.
SMALL_CORE = CoreConfig(n_neurons=8, n_inputs=8, n_synapses=64, n_segments=64, n_reverse=64)


def plastic_network(n_in=16, n_exc=24, seed=1):
    """Inputs -> exc with STDP, exc -> exc inhibitory with delay 2, exc -> out with another
    STDP rule (signed bounds) and delay 3; some of out recorded, all of exc."""
    net = Network("plastic")
    inp = net.inputs("in", n_in)
    exc = net.population("exc", n_exc, du=400, dv=200, vth=30, refractory=1)
    out = net.population("out", 8, du=1000, dv=100, vth=20, bias_mant=3)
    net.connect(inp, exc, FixedProbability(0.5, seed=seed), weight=60, stdp=STDPRule(), name="in_exc")
    net.connect(exc, exc, FixedProbability(0.2, seed=seed + 1), weight=-20, delay=2, name="exc_exc")
    net.connect(exc, out, FixedProbability(0.4, seed=seed + 2), weight=25, delay=3,
                stdp=STDPRule(a_plus=40, a_minus=-50, w_min=-10, w_max=90), name="exc_out")
    net.record(exc)
    net.record(out, [0, 2, 5])
    return net


def relay_network(n=64):
    """Input i -> neuron i, one spike in, one spike out a tick later; no plasticity (fast)."""
    net = Network("relay")
    inp = net.inputs("in", n)
    pop = net.population("relay", n, du=4095, dv=4095, vth=10)
    net.connect(inp, pop, OneToOne(), weight=127, name="in_relay")
    net.record(pop)
    return net


# A network file for `python -m host run` (relay_network(4)); tests append `inputs`, `config` ...
RELAY_FILE = '''
from firmware import Network, OneToOne
network = Network("relay")
inp = network.inputs("in", 4)
pop = network.population("relay", 4, du=4095, dv=4095, vth=10)
network.connect(inp, pop, OneToOne(), weight=127)
network.record(pop)
'''


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
