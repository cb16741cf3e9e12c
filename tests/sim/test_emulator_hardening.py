"""The device emulator and its TCP server under bad input (issue 12): no frame and no option
crashes it, no earlier write poisons a later load, one client at a time with a clear refusal
for the next, and the messages the host shows for each."""

import re
import socket
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from firmware import (ConfigError, CoreConfig, FixedProbability, Image, ImageError, Network, STDPRule,
                      compile_network, formats)
from firmware import protocol as P
from firmware.tables import decode
from host import Device, DeviceBusyError, DeviceError, LinkError
from host.link_device import LinkDevice
from host.transport import LoopbackTransport, SerialTransport
from sim.device_emulator import DeviceEmulator, EmulatorServer, main as emulator_main
from sim import serving
from sim.serving import ServeError
from tests.support import ROOT
from tests.support.networks import plastic_network, relay_network
from tests.support.raw_client import RawClient

SMALL = CoreConfig(n_neurons=12, n_inputs=6, n_synapses=64, n_segments=32, n_reverse=16,
                   n_profiles=4, n_projections=4, max_delay=2)
ODD = CoreConfig(n_neurons=10, n_inputs=5, n_synapses=50, n_segments=20, n_reverse=15, n_profiles=3,
                 n_projections=3, max_delay=3)          # fields with values beyond the table's depth
MAX_U32 = 2**32 - 1


def tiny_plastic_network(n_in):
    """Two STDP projections (one delayed by 2) on 7 neurons: fits SMALL and ODD."""
    net = Network("tiny_plastic")
    inp = net.inputs("in", n_in)
    exc = net.population("exc", 4, du=400, dv=200, vth=30, refractory=1)
    out = net.population("out", 3, du=1000, dv=100, vth=20, bias_mant=3)
    net.connect(inp, exc, FixedProbability(0.4, seed=1), weight=60, stdp=STDPRule(), name="in_exc")
    net.connect(exc, out, FixedProbability(0.4, seed=2), weight=25, delay=2,
                stdp=STDPRule(a_plus=40, a_minus=-50, w_min=-10, w_max=90), name="exc_out")
    net.record(exc)
    net.record(out)
    return net


def exchange(emu, op, payload=b"", seq=0):
    """One command into the in-process emulator, its ticks run; the frames it answered."""
    emu.receive(P.encode_frame(op, seq, payload))
    while emu.service():
        pass
    return P.FrameDecoder().feed(emu.take_output())


def access(region, addr, count, words=None):
    payload = P.REGION_ACCESS.pack(region.index, P.word_bytes(region), addr, count)
    if words is not None:
        payload += P.pack_words(words, P.word_bytes(region))
    return payload


def error_of(frame):
    assert frame.opcode == P.Op.ERROR, frame
    ref_seq, ref_op, code, valid, detail = P.ERROR.unpack_from(frame.payload)
    return P.ErrorCode(code), detail, frame.payload[P.ERROR.size:].decode()


def snapshot(emu):
    return {name: emu.read_region(name).copy() for name in emu.regions}


def loaded_emulator(config=SMALL, network=None):
    emu = DeviceEmulator(config)
    dev = LinkDevice(LoopbackTransport(emu), timeout=2.0)
    dev.load(network or relay_network(config.n_inputs))
    return emu, dev


# --- finding 1: zero-count READ / WRITE, as the gateware (rtl/link/controller.py) does them -----------------


def test_zero_count_write_and_read_of_every_region_change_nothing():
    """rtl/link/controller.py: a WRITE of 0 words is range-checked (address <= depth), then ACKed without
    a write; a READ of 0 words gets a READ_REPLY with no words. The emulator does the same for
    every region (it raised IndexError for lfsr_state and died)."""
    emu, dev = loaded_emulator()
    dev.run(5, {0: [1], 2: [3]})
    before = snapshot(emu)
    for region in emu.regions.values():
        for addr in (0, region.depth):
            (reply,) = exchange(emu, P.Op.WRITE, access(region, addr, 0, []))
            if region.name == "counters":
                assert error_of(reply)[0] == P.ErrorCode.READ_ONLY
            else:
                assert reply.opcode == P.Op.ACK, (region.name, error_of(reply))
            (reply,) = exchange(emu, P.Op.READ, access(region, addr, 0))
            assert reply.opcode == P.Op.READ_REPLY, region.name
            assert reply.payload == P.REPLY.pack(0, P.Op.READ) + access(region, addr, 0)
        for op in (P.Op.WRITE, P.Op.READ):
            (reply,) = exchange(emu, op, access(region, region.depth + 1, 0, [] if op == P.Op.WRITE else None))
            assert error_of(reply)[:2] == (P.ErrorCode.OUT_OF_RANGE, region.depth), region.name
    after = snapshot(emu)
    for name in before:
        assert np.array_equal(before[name], after[name]), name
    # and it still runs, continuing where it was
    dev.link.rx_seq = None                          # the frames above went to exchange(), not to dev
    with Device.open("model", config=SMALL) as model:
        model.load(relay_network(SMALL.n_inputs))
        model.run(5, {0: [1], 2: [3]})
        assert np.array_equal(dev.run(4, {1: [2]}).spikes, model.run(4, {1: [2]}).spikes)


def _structured_frames(rng, config, n):
    """Frames with valid headers and plausible payloads: every command, every region (state
    and weights more often than tables, so that the model runs on junk too), counts and
    addresses at the edges, words within and beyond their width."""
    regions = list(formats.memory_map(config).values())
    weight = np.array([3.0 if r.name not in formats.TABLE_REGIONS or r.name == "synapse" else 1.0
                       for r in regions])
    out = []
    for _ in range(n):
        op = P.Op(int(rng.choice(np.arange(1, 11), p=[.05, .25, .1, .15, .2, .03, .05, .05, .05, .07])))
        payload = b""
        if op in (P.Op.WRITE, P.Op.READ):
            r = regions[int(rng.choice(len(regions), p=weight / weight.sum()))]
            nb = P.word_bytes(r)
            count = min(int(rng.choice([0, 1, 2, r.depth, int(rng.integers(0, r.depth + 1))])), P.max_words(nb))
            addr = int(rng.choice([0, max(0, r.depth - count), r.depth, int(rng.integers(0, r.depth + 2))]))
            payload = P.REGION_ACCESS.pack(r.index, nb, addr, count)
            if op == P.Op.WRITE:
                words = rng.integers(0, 1 << min(r.layout.width + int(rng.random() < 0.05), 63), count,
                                     dtype=np.uint64)
                if rng.random() < 0.5:              # small values: pointers that land in range
                    words &= np.uint64(int(rng.integers(0, 16)))
                payload += P.pack_words(words, nb)
        elif op == P.Op.INPUT:
            payload = P.encode_input_entries(rng.integers(0, 1 << 16, int(rng.integers(0, 20))))
        elif op == P.Op.STEP:
            payload = P.STEP.pack(int(rng.integers(0, 6)))
        elif op in (P.Op.FREERUN, P.Op.SEED):
            payload = P.SEED.pack(int(rng.choice([0, 1, 3, int(rng.integers(0, 1 << 32))])))
        elif op == P.Op.COUNTERS:
            payload = bytes([int(rng.integers(0, 256))])
        out.append((op, payload))
    return out


def _upload_frames(image):
    """The WRITEs of Device.load (without its RESET), as raw frames."""
    frames = []
    for name in formats.TABLE_REGIONS:
        region = formats.memory_map(image.config)[name]
        words = image.tables[name]
        per = P.max_words(P.word_bytes(region))
        for at in range(0, words.size, per):
            frames.append(P.encode_frame(P.Op.WRITE, 255, access(region, at, words[at:at + per].size,
                                                                 words[at:at + per])))
    return b"".join(frames)


@pytest.mark.parametrize("config", [SMALL, ODD], ids=["small", "odd-sizes"])
def test_2000_structured_frames_each_get_one_answer_and_never_an_exception(config):
    """Loaded and running, then frames that pass the CRC with random payloads of the right
    shape (zero counts, edge addresses, junk words that the model then runs or refuses; the
    image's tables rewritten every 100 frames): every command gets exactly one answer (its
    reply, ACK or ERROR), nothing raises; then a new host loads and runs as the golden model."""
    network = tiny_plastic_network(config.n_inputs)
    emu, dev = loaded_emulator(config, network)
    upload = _upload_frames(dev.image)
    replies = (P.Op.ACK, P.Op.ERROR, P.Op.HELLO_REPLY, P.Op.READ_REPLY, P.Op.COUNTERS_REPLY)
    ran = 0
    for k, (op, payload) in enumerate(_structured_frames(np.random.default_rng(3), config, 2000)):
        if k % 100 == 0:
            emu.receive(upload)
        seq = (2 * k) % 254
        data = P.encode_frame(op, seq, payload)
        if op == P.Op.FREERUN:                  # a free-run lasts until the STOP after it
            data += P.encode_frame(P.Op.STOP, seq + 1)
        emu.receive(data)
        while emu.service():
            pass
        answers = [f for f in P.FrameDecoder().feed(emu.take_output())
                   if f.opcode in replies and P.REPLY.unpack_from(f.payload)[0] == seq]
        assert len(answers) == 1, f"{op.name} {payload[:12].hex()}: {len(answers)} answers"
        ran += op == P.Op.STEP and answers[0].opcode == P.Op.ACK and P.STEP.unpack(payload)[0] > 0
    assert ran > 70                            # the model did run, on junk state and weights
    dev = LinkDevice(LoopbackTransport(emu), timeout=2.0)
    dev.load(network)
    with Device.open("model", config=config) as model:
        model.load(network)
        inputs = {t: [t % config.n_inputs] for t in range(30)}
        assert np.array_equal(dev.run(30, inputs).spikes, model.run(30, inputs).spikes)


# --- finding 1: options, checked against the protocol's fields ------------------------------------


@pytest.mark.parametrize("option,value,fragment", [
    ("input_depth", -1, r"input_depth = -1 must be an integer in \[1, 4294967295\]"),
    ("input_depth", 0, r"input_depth = 0 must be an integer in \[1, 4294967295\]"),
    ("input_depth", 2**32, r"input_depth = 4294967296 must be"),
    ("input_depth", 2.5, r"input_depth = 2.5 must be an integer"),
    ("window", 0, r"window = 0 must be an integer in \[1, 255\]"),
    ("window", 256, r"window = 256 must be an integer in \[1, 255\]"),
    ("clock_hz", 0, r"clock_hz = 0 must be an integer in \[1, 4294967295\]"),
    ("clock_hz", 2**32, r"clock_hz = 4294967296"),
    ("max_payload", 63, r"max_payload = 63 must be an integer in \[64, 2048\]"),
    ("max_payload", 2049, r"max_payload = 2049"),
    ("protocol_version", 256, r"protocol_version = 256 must be an integer in \[0, 255\]"),
    ("config", {"n_neurons": 8}, r"config must be a firmware.CoreConfig, not dict"),
    ("config", CoreConfig(n_inputs=40_000), r"at most 32768 input axons; the configuration has n_inputs = 40000"),
    ("config", CoreConfig(n_synapses=2**32), r"n_synapses = 4294967296.*\[1, 4294967295\]"),
])
def test_emulator_options_out_of_range_name_the_option_and_its_range(option, value, fragment):
    with pytest.raises(ConfigError, match=fragment):
        DeviceEmulator(**{option: value})


def test_emulator_options_at_their_limits_work():
    for options in (dict(input_depth=1, window=1, clock_hz=1, max_payload=64),
                    dict(input_depth=MAX_U32, window=255, clock_hz=MAX_U32, max_payload=2048)):
        (hello,) = exchange(DeviceEmulator(SMALL, **options), P.Op.HELLO)
        info = dict(zip(P.HELLO_FIELDS, P.HELLO_REPLY.unpack(hello.payload)))
        assert {key: info[key] for key in options} == options
    for version in (0, 255):
        emu = DeviceEmulator(SMALL, protocol_version=version)
        emu.receive(P.encode_frame(P.Op.HELLO, 0, b"", version))
        (hello,) = P.FrameDecoder(version).feed(emu.take_output())
        assert hello.opcode == P.Op.HELLO_REPLY and P.HELLO_REPLY.unpack(hello.payload)[2] == version


# --- finding 1 and 7: the emulator's command line ------------------------------------------------


@pytest.mark.parametrize("argv,fragment", [
    (["--input-depth", "-1"], r"--input-depth = -1 must be an integer in \[1, 4294967295\]"),
    (["--window", "300"], r"--window = 300 must be an integer in \[1, 255\]"),
    (["--clock-hz", "0"], r"--clock-hz = 0 must be an integer in \[1, 4294967295\]"),
    (["--max-payload", "32"], r"--max-payload = 32 must be an integer in \[64, 2048\]"),
    (["--max-payload", "2049"], r"--max-payload = 2049 must be an integer in \[64, 2048\]"),
    (["--port", "70000"], r"--port = 70000 must be an integer in \[0, 65535\]"),
    (["--config", "{not json"], r"--config: core configuration '\{not json' is not valid JSON"),
    (["--config", "[1, 2]"], r"--config: .* must be a JSON object of CoreConfig fields"),
    (["--config", '{"n_cores": 2}'], r"unknown fields \['n_cores'\]"),
    (["--config", '{"n_neurons": -3}'], r"n_neurons = -3 must be an integer >= 1"),
    (["--config", '{"weight_bits": "8"}'], r"weight_bits = '8' must be an integer"),
    (["--config", '{"n_inputs": 40000}'], r"n_inputs = 40000"),
    (["--host", "192.0.2.1"], r"cannot listen on 192.0.2.1:0: .*address"),
])
def test_cli_refuses_bad_options_with_one_line_and_exit_code_2(argv, fragment, capsys, monkeypatch):
    def serve(self):
        self._listen.close()
        raise AssertionError(f"{argv} was accepted: the emulator started serving")
    monkeypatch.setattr(EmulatorServer, "serve", serve)
    assert emulator_main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("python -m sim.device_emulator: error: ")
    assert re.search(fragment, err), err


def test_cli_port_in_use_is_one_line_and_exit_code_2():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        proc = subprocess.run([sys.executable, "-m", "sim.device_emulator", "--port", str(port)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    finally:
        holder.close()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"python -m sim.device_emulator: error: cannot listen on 127.0.0.1:{port}: "
                                   f"the port is in use (another server, or one still running?)")


# --- finding 2: what load leaves behind ----------------------------------------------------------


def _junk_everywhere(dev, rng):
    """Random words, within their width, in every word of every writable region."""
    for region in formats.memory_map(dev.config).values():
        if region.name == "counters":
            continue
        words = rng.integers(0, 1 << region.layout.width, region.depth, dtype=np.uint64)
        dev.write_region(region.name, words)


def _same_session(dev, image, config):
    inputs = {t: [t % config.n_inputs, (t * 5 + 1) % config.n_inputs] for t in range(0, 80, 2)}
    with Device.open("model", config=config) as model:
        model.load(image)
        dev.load(image)
        want, got = model.run(80, inputs), dev.run(80, inputs)
        assert np.array_equal(got.spikes, want.spikes)
        for name in ("in_exc", "exc_out"):
            np.testing.assert_array_equal(dev.weights(name), model.weights(name))
        assert dev.counters() == model.counters()
        assert want.spikes.sum() > 10


def test_junk_in_every_region_then_load_runs_as_the_model():
    """Spec §9: a load leaves nothing of earlier writes reachable, so the device must not
    refuse what it cannot reach (the emulator validated whole regions and stayed poisoned)."""
    config = CoreConfig(n_neurons=64, n_inputs=32, n_synapses=2048, n_segments=256, n_reverse=1024)
    image = compile_network(plastic_network(n_in=16, n_exc=24), config)
    emu = DeviceEmulator(config)
    dev = LinkDevice(LoopbackTransport(emu), timeout=5.0)
    _junk_everywhere(dev, np.random.default_rng(5))
    _same_session(dev, image, config)
    _junk_everywhere(dev, np.random.default_rng(6))
    dev.close()
    _same_session(LinkDevice(LoopbackTransport(emu), timeout=5.0), image, config)   # a new host


def test_the_issue_case_segment_4000_past_the_synapses_then_load(server):
    """Issue 12, finding 2, as reported: WRITE segment word 4000 with a pointer past the table's
    end, then Device.load(valid image), run(): the golden model's result, on a new Device too."""
    config = CoreConfig()
    seg = formats.memory_map(config)["segment"]
    junk = seg.layout.pack(syn_ptr=[32700], syn_count=[200], window=[0], delay_m1=[0], projection=[0])
    image = compile_network(plastic_network(), config)
    inputs = {t: [t % 16] for t in range(40)}
    want = Device.open("model")
    want.load(image)
    want = want.run(40, inputs)
    with Device.open(server.url, timeout=5) as dev:
        dev.write_region("segment", junk, 4000)
        dev.load(image)
        assert np.array_equal(dev.run(40, inputs).spikes, want.spikes)
        dev.reset()
        assert np.array_equal(dev.run(40, inputs).spikes, want.spikes)
    with Device.open(server.url, timeout=5) as dev:
        dev.load(image)
        assert np.array_equal(dev.run(40, inputs).spikes, want.spikes)


def test_reachable_junk_is_refused_clearly_and_the_next_load_clears_it():
    emu, dev = loaded_emulator()
    axon = formats.memory_map(SMALL)["axon"]
    dev.write_region("axon", axon.layout.pack(seg_ptr=[30], seg_count=[5]), 2)     # past 32 segments
    with pytest.raises(DeviceError, match=r"cannot run: source 2 points at segments 30\.\.34, but the "
                                          r"table holds 32.*load an image") as info:
        dev.run(3, {0: [1]})
    assert info.value.code == P.ErrorCode.BAD_TABLES
    dev.load(relay_network(SMALL.n_inputs))
    assert dev.run(3, {0: [1]}).neurons.tolist() == [1]


def test_decode_checks_only_the_words_the_tables_reach():
    """The one reading of the tables (firmware.tables.decode) follows the pointers from the
    per-source and per-neuron tables, as the gateware does: a word nothing points at may hold
    anything; a word that is reached and points outside its table is an ImageError."""
    image = compile_network(plastic_network(), CoreConfig())
    clean = decode(image)
    tables = {name: np.zeros(r.depth, np.uint64) for name, r in formats.memory_map(image.config).items()
              if name in formats.TABLE_REGIONS}
    seg = formats.memory_map(image.config)["segment"]
    for name, words in image.tables.items():
        tables[name][:words.size] = words
    tables["segment"][4000] = seg.layout.pack(syn_ptr=[32700], syn_count=[200], window=[1],
                                             delay_m1=[3], projection=[15])[0]
    tables["profile"][15] = np.uint64((1 << 49) - 1)
    full = decode(Image(image.config, tables, {}))
    n = clean.syn_weight.size
    for field in ("fanout", "fan_ptr", "rev_ptr", "rev_syn", "rev_src", "du", "dv", "vth", "bias",
                  "refractory", "output", "syn_source", "syn_target", "syn_weight", "syn_projection",
                  "syn_delay"):
        assert np.array_equal(getattr(full, field)[:getattr(clean, field).size], getattr(clean, field)), field
    for field, none in (("syn_source", -1), ("syn_target", -1), ("syn_projection", -1), ("syn_delay", 0)):
        assert np.all(getattr(full, field)[n:] == none), field
    axon = formats.memory_map(image.config)["axon"]
    tables["axon"][0] = axon.layout.pack(seg_ptr=[4000], seg_count=[1])[0]        # now it is reached
    with pytest.raises(ImageError, match=r"segment 4000 points at synapses 32700\.\.32899"):
        decode(Image(image.config, tables, {}))


# --- finding 6: one client at a time, a loud warning off loopback --------------------------------


def test_a_second_client_is_refused_busy_and_the_first_keeps_the_device(server, monkeypatch):
    monkeypatch.setattr(serving, "REFUSED_LINGER_S", 0.3)
    with Device.open(server.url, timeout=2) as first:
        first.load(relay_network(8))
        t0 = time.monotonic()
        with pytest.raises(DeviceBusyError, match=r"another client holds the device") as info:
            Device.open(server.url, timeout=2)
        assert time.monotonic() - t0 < 1.5
        assert str(info.value).startswith(server.url)
        assert info.value.code == P.ErrorCode.BUSY
        raw = RawClient(server.url)                 # what the wire carries: one frame, then EOF
        try:
            raw.send_raw(b"\0")
            (frame,) = raw.frames(1, timeout=2)
            raw._thread.join(2)
            assert not raw._thread.is_alive()           # the server closed the connection
        finally:
            raw.close()
        assert frame.seq == 0 and error_of(frame)[:2] == (P.ErrorCode.BUSY, 0)
        assert P.ERROR.unpack_from(frame.payload)[3] == 0          # ref_valid 0: no command was read
        assert "another client holds the device" in error_of(frame)[2]
        assert first.run(3, {0: [2]}).neurons.tolist() == [2]     # undisturbed
    for _ in range(5):                              # a client that closed makes way at once
        with Device.open(server.url, timeout=2) as dev:
            assert dev.counters()["ticks"] == 3


def test_host_cli_says_another_client_holds_the_device(server, capsys):
    from host.__main__ import main as host_main
    with Device.open(server.url, timeout=2):
        assert host_main(["info", "--device", server.url, "--timeout", "2"]) == 1
    err = capsys.readouterr().err
    assert "another client holds the device" in err and server.url in err and "Traceback" not in err


def test_serving_on_a_non_loopback_address_warns_loudly(capfd):
    with EmulatorServer(host="127.0.0.1", port=0):
        pass
    assert capfd.readouterr().err == ""
    with EmulatorServer(host="0.0.0.0", port=0) as srv:
        pass
    err = capfd.readouterr().err
    assert f"WARNING: the axonite device emulator listens on 0.0.0.0:{srv.port}" in err
    assert "no authentication" in err and "127.0.0.1" in err


def test_board_server_takes_the_same_policy(capfd):
    from sim.cosim.board import BoardServer
    board = BoardServer(None, 4, host="0.0.0.0", port=0)
    try:
        err = capfd.readouterr().err
        assert f"WARNING: the axonite simulated board listens on 0.0.0.0:{board.port}" in err
        assert "no authentication" in err
    finally:
        board.stop()
    board = BoardServer(None, 4, port=0)
    board.stop()
    assert board.host == "127.0.0.1" and capfd.readouterr().err == ""


@pytest.mark.parametrize("argv,fragment", [
    (["--config", "{bad"], r"core configuration '\{bad' is not valid JSON"),
    (["--config", '{"n_cores": 1}'], r"unknown fields \['n_cores'\]"),
    (["--board", "nope"], r"unknown board 'nope'"),
    (["--host", "192.0.2.1"], r"cannot listen on 192.0.2.1:0: .*address"),
])
def test_board_cli_refuses_bad_options_with_one_line_and_exit_code_2(argv, fragment, capsys, monkeypatch):
    import signal

    import sim.board
    monkeypatch.setattr(sim.board.BoardServer, "prepare", lambda self: pytest.fail(f"{argv} was accepted"))
    monkeypatch.setattr(signal, "signal", lambda *args: None)      # main's handlers: not in pytest
    assert sim.board.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("python -m sim.board: error: "), err
    assert re.search(fragment, err), err


def test_server_errors_are_serve_errors():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        with pytest.raises(ServeError, match=r"cannot listen on 127.0.0.1:\d+: the port is in use"):
            EmulatorServer(port=holder.getsockname()[1])
    finally:
        holder.close()
    with pytest.raises(ServeError, match=r"cannot listen on 127.0.0.1:70000: the port must be in \[0, 65535\]"):
        EmulatorServer(port=70000)


# --- finding 10: messages and the region list --------------------------------------------------


def test_a_reset_connection_says_read_failed_once():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        transport = SerialTransport(f"socket://127.0.0.1:{listener.getsockname()[1]}")
        conn, _ = listener.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()                                # a reset, not an orderly close
        with pytest.raises(LinkError) as info:
            transport.read_some(2.0)
        transport.close()
    finally:
        listener.close()
    text = str(info.value)
    assert text.count("read failed") == 1, text
    assert text.endswith("the device disconnected")


def _doc_rows(path, header):
    text = (ROOT / path).read_text()
    start = text.index(header)
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_protocol_doc_lists_every_region_as_formats_defines_it():
    regions = formats.memory_map(CoreConfig())
    rows = _doc_rows("docs/protocol.md", "| # | region | words (default core) | bytes a word | written by |")
    assert [(int(r[0]), r[1]) for r in rows] == [(r.index, r.name) for r in regions.values()]
    for row, region in zip(rows, regions.values()):
        assert (int(row[2].replace(",", "")), int(row[3])) == (region.depth, P.word_bytes(region)), region.name
        if region.name in formats.TABLE_REGIONS:
            assert row[4].startswith("load"), region.name
        elif region.name == "counters":
            assert row[4].startswith("read-only")
        else:
            assert row[4].startswith("RESET"), region.name
    spec = _doc_rows("docs/spec.md", "| # | region | depth | fields (LSB first) |")
    assert [(int(r[0]), r[1]) for r in spec] == [(r.index, r.name) for r in regions.values()]
    text = (ROOT / "docs/protocol.md").read_text()
    assert re.search(rf"numbers 0-{len(regions) - 1}\b", text)
    assert not re.search(r"\b0-(1[0-6])\b", text.replace("0-9", "")), "a stale region range"
