"""The link under faults: timeouts, corrupt frames both ways, versions, configurations,
refused commands, overflows, and 10,000 random and mutated frames into the emulator."""

import time

import numpy as np
import pytest

from firmware import ConfigError, CoreConfig, compile_network, formats
from firmware import protocol as P
from host import (ConfigMismatchError, Device, DeviceError, DeviceNotFoundError, DeviceTimeoutError,
                  FrameError, ProtocolVersionError, SpikesLostError)
from host.transport import LoopbackTransport
from host.link_device import LinkDevice
from sim.device_emulator import DeviceEmulator, EmulatorServer
from tests.support.networks import plastic_network, relay_network
from tests.support.raw_client import RawClient


# --- timeouts ----------------------------------------------------------------------------------


def test_open_times_out_on_a_socket_that_never_answers(silent_server):
    t0 = time.monotonic()
    with pytest.raises(DeviceTimeoutError, match=r"no answer within 0.3 s while waiting for the reply to HELLO"):
        Device.open(silent_server, timeout=0.3)
    assert time.monotonic() - t0 < 3


def test_run_times_out_when_the_device_stops_making_progress():
    class Stalled(DeviceEmulator):
        def service(self, budget_s=0.0):      # accepts STEP, never runs a tick
            time.sleep(0.001)
            return self.busy
    dev = LinkDevice(LoopbackTransport(Stalled()), timeout=0.3)
    dev.load(relay_network(8))
    t0 = time.monotonic()
    with pytest.raises(DeviceTimeoutError, match="progress of the run"):
        dev.run(10, {0: [1]})
    assert time.monotonic() - t0 < 3


def test_connection_refused_says_how_to_start_the_emulator():
    srv = EmulatorServer(port=0)
    url = srv.url
    srv._listen.close()                       # a port nobody listens on
    with pytest.raises(DeviceNotFoundError, match="python -m sim.device_emulator"):
        Device.open(url, timeout=0.5)


# --- corrupt frames ------------------------------------------------------------------------------


class CorruptingTransport(LoopbackTransport):
    """Flips one bit in the n-th read from, or the n-th write to, the in-process emulator."""

    def __init__(self, emulator, corrupt_read=None, corrupt_write=None):
        super().__init__(emulator)
        self.reads = self.writes = 0
        self.corrupt_read, self.corrupt_write = corrupt_read, corrupt_write

    def read_some(self, timeout):
        data = super().read_some(timeout)
        if data:
            self.reads += 1
            if self.reads == self.corrupt_read and len(data) > 4:
                data = bytearray(data)
                data[3] ^= 0x10 if data[3] not in (0x00, 0x10) else 0x01
                data = bytes(data)
        return data

    def write(self, data):
        self.writes += 1
        if self.writes == self.corrupt_write:
            data = bytearray(data)
            data[2] ^= 0x04 if data[2] not in (0x00, 0x04) else 0x01
            data = bytes(data)
        super().write(data)


def test_open_after_garbage_in_the_device_answers_hello():
    """Found by tests/properties/test_sim_device_emulator.py: the 0x00 a host sends first ends
    the garbage a device holds, the device refuses that as a frame it cannot read, and open()
    took the refusal for its own."""
    emulator = DeviceEmulator(CoreConfig(n_neurons=8, n_inputs=8, n_synapses=64, n_segments=64, n_reverse=64))
    emulator.receive(b"\x01\x02")                 # no delimiter: a partial frame
    with LinkDevice(LoopbackTransport(emulator), timeout=2) as dev:
        assert dev.info["version"] == P.PROTOCOL_VERSION
        dev.load(relay_network(8))
        assert dev.run(3, {0: [2]}).neurons.tolist() == [2]


def test_open_ignores_the_refusal_of_an_earlier_sessions_command():
    """The ERROR answering a WRITE (seq 0) of an earlier session, still on the line (raw frames
    to the board in tests/properties leave such answers), was taken for the refusal of this
    session's HELLO (seq 0)."""
    emulator = DeviceEmulator(CoreConfig(n_neurons=8, n_inputs=8, n_synapses=64, n_segments=64, n_reverse=64))
    emulator.receive(P.encode_frame(P.Op.WRITE, 0, P.REGION_ACCESS.pack(99, 2, 0, 0)))   # no region 99
    with LinkDevice(LoopbackTransport(emulator), timeout=2) as dev:
        dev.load(relay_network(8))
        assert dev.run(3, {0: [2]}).neurons.tolist() == [2]


def test_open_refuses_a_config_or_timeout_it_cannot_use():
    """A config that is no CoreConfig reached the emulator (AttributeError); timeout=nan waited
    forever on a silent device."""
    with pytest.raises(ConfigError, match="Device.open: config is a dict, not a CoreConfig"):
        Device.open("emulator://", config={"n_neurons": 8})
    for timeout in (float("nan"), 0, -1, float("inf"), "5", None):
        with pytest.raises(ValueError, match=f"Device.open: timeout = {timeout!r} must be a positive, finite"):
            Device.open("emulator://", timeout=timeout)


def test_corrupt_reply_from_the_device_raises_a_crc_error():
    with pytest.raises(FrameError, match="CRC"):
        LinkDevice(CorruptingTransport(DeviceEmulator(), corrupt_read=1), timeout=0.5)


def test_corrupt_frame_during_a_run_raises_then_the_link_recovers():
    emu = DeviceEmulator()
    transport = CorruptingTransport(emu)
    dev = LinkDevice(transport, timeout=1.0)
    dev.load(relay_network(32))
    transport.corrupt_read = transport.reads + 3
    inputs = {t: [t % 32] for t in range(600)}
    with pytest.raises(FrameError, match="CRC|lost"):
        dev.run(600, inputs)
    # The link resynchronizes: the next operations work and match a fresh model.
    dev.reset()
    result = dev.run(50, {t: [t % 32] for t in range(50)})
    model = Device.open("model")
    model.load(relay_network(32))
    assert np.array_equal(result.spikes, model.run(50, {t: [t % 32] for t in range(50)}).spikes)
    assert dev.counters()["ticks"] == 50


def test_corrupt_frame_to_the_device_is_refused_with_an_error_frame():
    emu = DeviceEmulator()
    transport = CorruptingTransport(emu)
    dev = LinkDevice(transport, timeout=1.0)
    transport.corrupt_write = transport.writes + 1
    with pytest.raises(DeviceError, match="could not read a frame from this host.*CRC"):
        dev.load(relay_network(8))
    assert emu.bad_frames == 1
    dev.load(relay_network(8))                 # and then it works
    assert dev.run(3, {0: [1]}).spikes.sum() == 1


# --- versions and configurations --------------------------------------------------------------------


def test_protocol_version_mismatch_names_both_versions():
    with EmulatorServer(protocol_version=2) as srv:
        with pytest.raises(ProtocolVersionError, match=r"speaks axonite link protocol version 2; this host speaks version 1") as info:
            Device.open(srv.url, timeout=1.0)
    assert (info.value.host_version, info.value.device_version) == (1, 2)


def test_device_answers_a_frame_of_another_version_with_its_own_version(server):
    client = RawClient(server.url)
    try:
        client.send(P.Op.HELLO, version=7)
        client.send(P.Op.HELLO)
        err, hello = client.frames(2)
    finally:
        client.close()
    ref_seq, ref_op, code, valid, detail = P.ERROR.unpack_from(err.payload)
    assert (code, valid, ref_seq, ref_op, detail) == (P.ErrorCode.VERSION, 1, 0, P.Op.HELLO, P.PROTOCOL_VERSION)
    assert hello.opcode == P.Op.HELLO_REPLY and P.REPLY.unpack_from(hello.payload) == (1, P.Op.HELLO)


def test_image_for_another_configuration_is_refused_naming_both(tmp_path):
    small = CoreConfig(n_neurons=128, n_inputs=64)
    path = tmp_path / "net.axi"
    compile_network(relay_network(8)).save(path)           # compiled for CoreConfig()
    with EmulatorServer(config=small) as srv, Device.open(srv.url, timeout=2) as dev:
        assert dev.config == small
        with pytest.raises(ConfigMismatchError) as info:
            dev.load(str(path))
        text = str(info.value)
        assert "net.axi" in text and srv.url in text
        assert "n_neurons: image 256, device 128" in text and "n_inputs: image 256, device 64" in text
        dev.load(relay_network(8))                          # a Network is compiled for the device
        assert dev.image.config == small
    with pytest.raises(ConfigMismatchError, match="n_neurons: image 256, device 128"):
        Device.open("model", config=small).load(compile_network(relay_network(8)))


# --- refused commands: error frames with actionable messages ------------------------------------


def test_refused_commands_name_the_problem_and_the_limit(server):
    with Device.open(server.url, timeout=2) as dev:
        dev.load(relay_network(8))
        syn = formats.memory_map(dev.config)["synapse"]
        with pytest.raises(DeviceError, match=r"refused READ .*outside region synapse \(depth 32768\)"):
            dev.read_region("synapse", syn.depth - 2, 5)
        with pytest.raises(DeviceError, match="counters region is read-only"):
            dev.write_region("counters", [0])
        with pytest.raises(DeviceError, match="region 40 does not exist"):
            dev.link.request(P.Op.READ, P.REGION_ACCESS.pack(40, 1, 0, 1))
        with pytest.raises(DeviceError, match="2-byte words, the frame says 4"):
            dev.link.request(P.Op.READ, P.REGION_ACCESS.pack(syn.index, 4, 0, 1))
        with pytest.raises(DeviceError, match="at most 1019 words per READ"):     # max_payload 2048
            dev.link.request(P.Op.READ, P.REGION_ACCESS.pack(syn.index, 2, 0, 1100))
        with pytest.raises(DeviceError, match="STEP payload is 3 bytes; it must be 4"):
            dev.link.request(P.Op.STEP, b"\1\2\3")
        with pytest.raises(DeviceError, match="SPIKES is not a command"):
            dev.link.request(P.Op.SPIKES)
        with pytest.raises(DeviceError, match="LFSR seed 0"):
            dev.link.request(P.Op.SEED, P.SEED.pack(0))
        with pytest.raises(ValueError, match=r"\[1, 2\*\*32 - 1\]"):
            dev.seed(0)
        # and after all that, it still runs
        assert dev.run(3, {0: [2]}).neurons.tolist() == [2]


def test_busy_device_refuses_memory_access(server):
    with Device.open(server.url, timeout=2) as dev:
        dev.load(relay_network(8))
        dev.link.request(P.Op.STEP, P.STEP.pack(100_000))
        with pytest.raises(DeviceError, match=r"refused READ .*ticks pending"):
            dev.link.request(P.Op.READ, P.REGION_ACCESS.pack(10, 4, 0, 1))
        dev.link.request(P.Op.STOP)
        assert dev.counters()["ticks"] > 0


def test_tables_that_cannot_run_are_refused(server):
    with Device.open(server.url, timeout=2) as dev:
        with pytest.raises(DeviceError, match="BAD_TABLES|tables cannot run.*seed is 0"):
            dev.link.request(P.Op.STEP, P.STEP.pack(1))     # nothing loaded: seed 0


def test_input_beyond_credits_is_counted_and_reported(server):
    with Device.open(server.url, timeout=2) as dev:
        dev.load(relay_network(64))
        dev.link.input_depth = 100_000                      # a host that ignores its credits
        inputs = {t: list(range(64)) for t in range(40)}
        with pytest.raises(SpikesLostError, match="INPUT_OVERFLOW") as info:
            dev.run(40, inputs)
        dev.link.input_depth = dev.info["input_depth"]
        dropped = dev.counters()["dropped"]
        lost = sum(count for kind, count, _ in info.value.reports)
        assert dropped == lost > 0
        assert info.value.result is None or info.value.result.spikes.shape[1] == 64


# --- fuzz: 10,000 random and mutated frames, then valid commands ----------------------------------


def _fuzz_stream(rng, n):
    """(bytes, number of delimited nonempty frames, indices of the good HELLOs among them)."""
    good = [P.encode_frame(op, int(rng.integers(256)), rng.integers(0, 256, int(rng.integers(0, 40)),
                                                                     dtype=np.uint8).tobytes())
            for op in P.Op for _ in range(2)]
    chunks = []
    for k in range(n):
        kind = k % 8
        if kind == 0:
            data = rng.integers(0, 256, int(rng.integers(1, 60)), dtype=np.uint8).tobytes()
        elif kind == 1:
            data = bytes(rng.integers(1, 256, P.MAX_ENCODED + 10, dtype=np.uint8))   # oversize
        elif kind == 6:            # valid CRC, payload announced above the limit
            body = P.HEADER.pack(1, 0, P.Op.WRITE, P.MAX_PAYLOAD + 1)
            data = P.cobs_encode(body + P.crc16(body).to_bytes(2, "big"))
        elif kind == 7:            # valid frame, unknown opcode, or device opcode
            data = P.encode_frame(int(rng.choice([0x00, 0x42, 0x7F, P.Op.ACK, P.Op.SPIKES])), 0)[:-1]
        else:
            wire = bytearray(good[int(rng.integers(len(good)))][:-1])
            if kind == 2:
                wire[int(rng.integers(len(wire)))] ^= 1 << int(rng.integers(8))
            elif kind == 3:
                wire = wire[:int(rng.integers(0, len(wire)))] or bytearray(b"\x01")
            elif kind == 4:
                at = int(rng.integers(len(wire) + 1))
                wire[at:at] = bytes(rng.integers(1, 256, 3, dtype=np.uint8))
            else:
                del wire[int(rng.integers(len(wire)))]
                wire = wire or bytearray(b"\x01")
            data = bytes(wire)
        chunks.append(data + b"\0")
    stream = b"".join(chunks)
    return stream, sum(1 for part in stream.split(b"\0") if part)


def test_10000_random_and_mutated_frames_then_a_valid_command_still_works(server):
    rng = np.random.default_rng(7)
    stream, frames = _fuzz_stream(rng, 10_000)
    client = RawClient(server.url)
    try:
        for at in range(0, len(stream), 8192):
            client.send_raw(stream[at:at + 8192])
        client.send(P.Op.HELLO)
        items = client.frames(frames + 1, timeout=20)
    finally:
        client.close()
    assert all(isinstance(i, P.Frame) for i in items), "the device sent a frame the host cannot decode"
    assert len(items) == frames + 1                  # one answer per frame, no more, no less
    assert items[-1].opcode == P.Op.HELLO_REPLY
    errors = [P.ERROR.unpack_from(i.payload)[2] for i in items if i.opcode == P.Op.ERROR]
    assert len(errors) >= frames - 20                # a mutation may happen to leave a frame valid
    for code in (P.ErrorCode.BAD_CRC, P.ErrorCode.FRAMING, P.ErrorCode.TRUNCATED, P.ErrorCode.OVERSIZE,
                 P.ErrorCode.UNKNOWN_OPCODE):
        assert code in errors, f"no {code.name} among the answers"
    # and the device still works: load, run, compare with the model
    with Device.open(server.url, timeout=5) as dev, Device.open("model") as model:
        for d in (dev, model):
            d.load(plastic_network())
        inputs = {t: [t % 16, (t * 7) % 16] if (t * 7) % 16 != t % 16 else [t % 16] for t in range(60)}
        assert np.array_equal(dev.run(60, inputs).spikes, model.run(60, inputs).spikes)


class TricklingTransport(LoopbackTransport):
    """Hands the host one byte per read, as a UART does, never a whole frame at once."""

    def __init__(self, emulator):
        super().__init__(emulator)
        self.pending = bytearray()

    def read_some(self, timeout):
        if not self.pending:
            self.pending += super().read_some(timeout)
        byte, self.pending = bytes(self.pending[:1]), self.pending[1:]
        return byte


def test_frames_arriving_a_byte_at_a_time_are_assembled():
    image = compile_network(relay_network(8), CoreConfig(n_neurons=8, n_inputs=8, n_synapses=64,
                                                         n_segments=32, n_reverse=8))
    inputs = {0: [0, 1], 3: [2], 7: [5]}
    with Device.open("model") as reference:
        reference.load(image)
        expected = reference.run(12, inputs)
    dev = LinkDevice(TricklingTransport(DeviceEmulator(image.config)), timeout=5.0)
    dev.load(image)
    result = dev.run(12, inputs)
    assert np.array_equal(result.spikes, expected.spikes)
    dev.close()
