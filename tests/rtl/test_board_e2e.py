"""End to end on the simulated board (sim/board.py: rtl.link.top.DeviceTop in Verilator behind
socket://), against the golden model: STDP runs, a 10,000-event stream, and 2,000 random and
mutated frames (10,000 with -m slow) followed by commands that must still work.

The board and its configuration come from the `device_board` fixture (tests/rtl/conftest.py,
module-scoped: one simulator for this module; the Verilator build is shared and cached).
"""

import time

import numpy as np
import pytest

from firmware import compile_network, formats
from firmware import protocol as P
from tests.support import ROOT
from tests.support.networks import plastic_network, relay_network
from tests.support.raw_client import RawClient

PROJECTIONS = ("in_exc", "exc_exc", "exc_out")


def small_plastic_network(seed=4):
    """plastic_network, shrunk to board_server.BOARD_CONFIG (12 neurons, 6 inputs, 16 reverse
    entries, max_delay 2): two STDP projections and an inhibitory delayed one."""
    return plastic_network(6, 6, seed, n_out=4, density=(0.3, 0.2, 0.2), out_delay=2,
                           recorded_out=(0, 2, 3), name="small_plastic")


def _session(dev, rng_seed, runs=((150, 0.25), (100, 0.4))):
    """Runs with STDP (each continues the one before); spikes, weights, counters after each."""
    rng = np.random.default_rng(rng_seed)
    dev.load(small_plastic_network())
    seen = []
    for ticks, p in runs:
        result = dev.run(ticks, rng.random((ticks, 6)) < p)
        seen.append({"spikes": result.spikes, "start": result.start_tick,
                     "weights": {name: dev.weights(name) for name in PROJECTIONS},
                     "counters": dev.counters(), "tick": dev.tick})
    return seen


def _assert_same_sessions(want, got):
    for k, (a, b) in enumerate(zip(want, got)):
        assert a["start"] == b["start"] and a["tick"] == b["tick"]
        assert a["spikes"].shape == b["spikes"].shape
        bad = np.nonzero((a["spikes"] != b["spikes"]).any(axis=1))[0]
        assert bad.size == 0, f"run {k}: spikes differ first at tick {a['start'] + bad[0]}"
        for name in PROJECTIONS:
            np.testing.assert_array_equal(a["weights"][name], b["weights"][name], err_msg=f"run {k}: {name}")
        assert a["counters"] == b["counters"], f"run {k}"


def test_stdp_run_matches_the_model_tick_for_tick(device_board):
    from host import Device

    board, config = device_board
    with Device.open("model", config=config) as model:
        want = _session(model, 21)
    with Device.open(board.url, timeout=30) as dev:
        got = _session(dev, 21)
    initial = compile_network(small_plastic_network(), config)
    _assert_same_sessions(want, got)
    # the runs really were busy and plastic
    assert want[0]["spikes"].sum() > 50 and want[-1]["counters"]["plastic_updates"] > 100
    from sim import GoldenModel
    before = GoldenModel(initial).projection_weights("in_exc")[2]
    assert not np.array_equal(want[0]["weights"]["in_exc"], before)


def test_junk_in_every_region_then_load_runs_as_the_model(device_board):
    """docs/protocol.md, "What a device checks": whatever was written before (random words in
    every word of every writable region), a load and a run give the golden model's result, as
    on the emulator (tests/sim/test_emulator_hardening.py)."""
    from host import Device

    board, config = device_board
    rng = np.random.default_rng(8)
    runs = ((60, 0.3),)
    with Device.open("model", config=config) as model:
        want = _session(model, 22, runs)
    with Device.open(board.url, timeout=30) as dev:
        for region in formats.memory_map(config).values():
            if region.name != "counters":
                dev.write_region(region.name, rng.integers(0, 1 << region.layout.width, region.depth,
                                                           dtype=np.uint64))
        got = _session(dev, 22, runs)
    assert want[0]["spikes"].sum() > 20 and want[0]["counters"]["plastic_updates"] > 20
    _assert_same_sessions(want, got)


def test_a_second_client_is_refused_busy_and_the_first_keeps_the_board(device_board):
    """docs/protocol.md, "Serving a device over TCP": the same policy as the emulator's."""
    from host import Device, DeviceBusyError

    board, config = device_board
    with Device.open(board.url, timeout=30) as first:
        with pytest.raises(DeviceBusyError, match="another client holds the device"):
            Device.open(board.url, timeout=30)
        ticks = first.counters()["ticks"]
    with Device.open(board.url, timeout=30) as dev:          # the first has closed: it makes way
        assert dev.counters()["ticks"] == ticks


def test_stream_of_10000_input_events_loses_none(device_board):
    from host import Device
    from sim import GoldenModel

    board, config = device_board
    ticks, n, k = 2500, config.n_inputs, 4
    rng = np.random.default_rng(12)
    per_tick = [np.sort(rng.choice(n, k, replace=False)) for _ in range(ticks)]
    expected = GoldenModel(compile_network(relay_network(n), config)).run(ticks, per_tick)
    with Device.open(board.url, timeout=30) as dev:
        dev.load(relay_network(n))
        t0 = time.monotonic()
        blocks = list(dev.stream(iter(per_tick)))
        elapsed = time.monotonic() - t0
        counters = dev.counters()
    spikes = np.concatenate([b.spikes for b in blocks])
    assert len(blocks) > 1 and blocks[0].start_tick == 0
    assert all(b.start_tick + b.ticks == c.start_tick for b, c in zip(blocks, blocks[1:]))
    assert spikes.shape == (ticks, n)
    assert np.array_equal(spikes, expected.spikes)
    assert counters["input_events"] == k * ticks == 10_000
    assert counters["dropped"] == 0 and counters["ticks"] == ticks
    assert spikes.sum() == k * (ticks - 1)
    print(f"\nstream: 10,000 events in {ticks} ticks, {len(blocks)} blocks, {elapsed:.1f} s")


# --- fuzz ----------------------------------------------------------------------------------------

E = P.ErrorCode
OVERSIZE_EVERY = 1000          # a frame of max_encoded(max_payload) + 10 bytes: 0.05 s on the line at 256


def _body(op, seq, payload=b"", version=P.PROTOCOL_VERSION, length=None):
    head = P.HEADER.pack(version, seq, op, len(payload) if length is None else length) + payload
    return head + P.crc16(head).to_bytes(2, "big")


def _fuzz_chunks(rng, n, config, max_payload=P.MAX_PAYLOAD):
    """n nonempty chunks (each ends in 0x00, none contains another 0x00), each with the ERROR
    code docs/protocol.md prescribes for a device of `max_payload` and whether its header is
    valid (ref_valid)."""
    regions = {r.index: r for r in formats.memory_map(config).values()}
    n_regions = len(regions)
    counters = formats.memory_map(config)["counters"]
    synapse = formats.memory_map(config)["synapse"]
    good = [_body(P.Op.HELLO, 1), _body(P.Op.STEP, 2, P.STEP.pack(3)), _body(P.Op.COUNTERS, 3, b"\0"),
            _body(P.Op.SEED, 4, P.SEED.pack(99)), _body(P.Op.STOP, 5), _body(P.Op.RESET, 6),
            _body(P.Op.READ, 7, P.REGION_ACCESS.pack(synapse.index, 2, 0, 4)),
            _body(P.Op.INPUT, 8, P.INPUT_ENTRY.pack(1) + P.INPUT_ENTRY.pack(P.TICK_END))]
    chunks = []                # (bytes without 0x00, code, ref_valid, seq or None)
    k = 0
    while len(chunks) < n:
        kind = k % 12
        k += 1
        seq = int(rng.integers(256))
        if k % OVERSIZE_EVERY == 0:
            size = P.max_encoded(max_payload) + 10
            chunks.append((rng.integers(1, 256, size, dtype=np.uint8).tobytes(), E.OVERSIZE, 0, None))
            continue
        if kind == 0:          # garbage
            data = rng.integers(1, 256, int(rng.integers(1, 12)), dtype=np.uint8).tobytes()
        elif kind in (1, 2, 3, 4):     # bit flip, truncation, inserted garbage, deleted byte
            wire = bytearray(P.cobs_encode(good[int(rng.integers(len(good)))]))
            if kind == 1:
                wire[int(rng.integers(len(wire)))] ^= 1 << int(rng.integers(8))
            elif kind == 2:
                wire = wire[:int(rng.integers(1, len(wire)))]
            elif kind == 3:
                at = int(rng.integers(len(wire) + 1))
                wire[at:at] = rng.integers(1, 256, int(rng.integers(1, 4)), dtype=np.uint8).tobytes()
            else:
                del wire[int(rng.integers(len(wire)))]
            data = bytes(wire)
        elif kind == 5:        # bad CRC
            body = bytearray(good[int(rng.integers(len(good)))])
            body[-1 - int(rng.integers(2))] ^= int(rng.integers(1, 256))
            data = P.cobs_encode(bytes(body))
        elif kind == 6:        # unknown opcode, or a device-to-host opcode
            op = int(rng.choice([0x00, 0x0B, 0x42, 0x7F, P.Op.ACK, P.Op.SPIKES, P.Op.ERROR, 0xFF]))
            chunks.append((P.cobs_encode(_body(op, seq)), E.UNKNOWN_OPCODE, 1, seq))
            continue
        elif kind == 7:        # announced length above the limit / different from the bytes
            if rng.integers(2):
                body, code = _body(P.Op.WRITE, seq, length=int(rng.integers(P.MAX_PAYLOAD + 1, 1 << 16))), E.OVERSIZE
            else:
                body, code = _body(P.Op.STEP, seq, P.STEP.pack(1), length=int(rng.choice([0, 3, 5, 9]))), E.BAD_LENGTH
            chunks.append((P.cobs_encode(body), code, 1, seq))
            continue
        elif kind == 8:        # other version
            body = _body(P.Op.HELLO, seq, version=int(rng.choice([0, 2, 7, 255])))
            chunks.append((P.cobs_encode(body), E.VERSION, 1, seq))
            continue
        elif kind == 9:        # region out of range, address out of range, wrong word size
            pick = int(rng.integers(3))
            if pick == 0:
                payload, code = P.REGION_ACCESS.pack(int(rng.integers(n_regions, 256)), 2, 0, 1), E.BAD_REGION
            elif pick == 1:
                payload, code = P.REGION_ACCESS.pack(synapse.index, 2, synapse.depth - 1 + int(rng.integers(1, 1000)), 2), E.OUT_OF_RANGE
            else:
                payload, code = P.REGION_ACCESS.pack(synapse.index, int(rng.choice([1, 3, 8])), 0, 1), E.WORD_SIZE
            chunks.append((P.cobs_encode(_body(P.Op.READ, seq, payload)), code, 1, seq))
            continue
        elif kind == 10:       # read-only region, zero seed, wrong payload size
            pick = int(rng.integers(3))
            if pick == 0:
                wb = P.word_bytes(counters)
                payload = P.REGION_ACCESS.pack(counters.index, wb, 0, 1) + bytes(wb)
                chunks.append((P.cobs_encode(_body(P.Op.WRITE, seq, payload)), E.READ_ONLY, 1, seq))
            elif pick == 1:
                chunks.append((P.cobs_encode(_body(P.Op.SEED, seq, P.SEED.pack(0))), E.BAD_ARGUMENT, 1, seq))
            else:
                op = int(rng.choice([P.Op.HELLO, P.Op.STEP, P.Op.SEED, P.Op.READ, P.Op.COUNTERS]))
                payload = bytes(int(rng.integers(1, 3)) if op == P.Op.HELLO else 1 + (op == P.Op.COUNTERS))
                chunks.append((P.cobs_encode(_body(op, seq, payload)), E.BAD_PAYLOAD, 1, seq))
            continue
        else:                  # shortest garbage: a byte or two
            data = rng.integers(1, 256, int(rng.integers(1, 3)), dtype=np.uint8).tobytes()
        # random and mutated bytes: the reference decoder says what they are; never a command
        parts = [part for part in data.split(b"\0") if part]
        for part in parts:
            item = P.decode_frame(part, max_payload=max_payload)
            if isinstance(item, P.Frame):
                continue       # a mutation that left a valid frame: not a fuzz case
            chunks.append((part, item.code, int(item.header_valid), item.seq if item.header_valid else None))
    return chunks[:n]


def _send_paced(client, chunks, limit, timeout=180.0):
    """Send the chunks, keeping at most `limit` unanswered bytes in flight: the board's UART
    has no flow control, and its RX FIFO (DeviceTop.rx_fifo_depth bytes) must not overflow
    while the link sends replies. Returns the reply frames."""
    sizes = [len(c) + 1 for c, *_ in chunks]
    answered = scanned = sent = in_flight = 0
    deadline = time.monotonic() + timeout
    while answered < len(chunks):
        while sent < len(chunks) and (in_flight + sizes[sent] <= limit or sent == answered):
            batch = []
            while sent < len(chunks) and (in_flight + sizes[sent] <= limit or not batch and sent == answered):
                batch.append(chunks[sent][0] + b"\0")
                in_flight += sizes[sent]
                sent += 1
            client.send_raw(b"".join(batch))
        received = client.received
        new = bytes(received[scanned:]).count(b"\0")
        scanned = len(received)
        for _ in range(new):
            in_flight -= sizes[answered] if answered < len(sizes) else 0
            answered += 1
        if not new:
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)
    return P.FrameDecoder().feed(bytes(client.received))


# 2,000 frames in CI (every error code among them); the 10,000 of the slow run cost 112 s.
@pytest.mark.parametrize("frames", [2_000, pytest.param(10_000, marks=pytest.mark.slow)])
def test_random_and_mutated_frames_then_a_valid_command_still_works(device_board, frames):
    from host import Device

    board, config = device_board
    chunks = _fuzz_chunks(np.random.default_rng(17), frames, config, board.device_options["max_payload"])
    assert len(chunks) == frames
    client = RawClient(board.url)
    t0 = time.monotonic()
    try:
        client.send_raw(b"\0")
        _send_paced(client, chunks, board.top.rx_fifo_depth)
        seq = client.send(P.Op.HELLO)
        replies = client.frames(len(chunks) + 1, timeout=30)
    finally:
        client.close()
    elapsed = time.monotonic() - t0
    codes = {code for _, code, _, _ in chunks}
    print(f"\nfuzz: {len(chunks)} frames, {sum(len(c) + 1 for c, *_ in chunks)} bytes, "
          f"{len(client.received)} bytes of replies, {elapsed:.1f} s; codes {sorted(c.name for c in codes)}")
    assert all(isinstance(r, P.Frame) for r in replies), "the board sent a frame the host cannot decode"
    assert len(replies) == len(chunks) + 1, f"{len(replies)} replies to {len(chunks) + 1} frames"
    assert all(r.opcode == P.Op.ERROR for r in replies[:-1])
    assert replies[-1].opcode == P.Op.HELLO_REPLY and replies[-1].payload[0] == seq
    mismatches = []
    for k, ((raw, code, ref_valid, ref_seq), reply) in enumerate(zip(chunks, replies)):
        r_seq, _, r_code, r_valid, _ = P.ERROR.unpack_from(reply.payload)
        if r_code != code or r_valid != ref_valid or (ref_seq is not None and r_seq != ref_seq):
            mismatches.append((k, raw[:24].hex(), code.name, ref_valid, E(r_code).name if r_code in E._value2member_map_ else r_code, r_valid))
    assert not mismatches, f"{len(mismatches)} answers differ from docs/protocol.md, first: {mismatches[:5]}"
    for code in (E.OVERSIZE, E.FRAMING, E.TRUNCATED, E.BAD_CRC, E.VERSION, E.BAD_LENGTH, E.UNKNOWN_OPCODE,
                 E.BAD_PAYLOAD, E.BAD_REGION, E.OUT_OF_RANGE, E.READ_ONLY, E.WORD_SIZE, E.BAD_ARGUMENT):
        assert code in codes, f"no {code.name} case"
    # and the board still works: HELLO (Device.open), load, a short run equal to the model's
    inputs = {0: [0, 2], 1: [5], 3: [1, 2, 3], 6: [4]}
    with Device.open(board.url, timeout=30) as dev, Device.open("model", config=config) as model:
        assert dev.config == config
        for d in (dev, model):
            d.load(relay_network(config.n_inputs))
        got, want = dev.run(10, inputs), model.run(10, inputs)
        assert np.array_equal(got.spikes, want.spikes) and got.spikes.sum() == 7
        assert dev.counters() == model.counters()


# --- the CLI and free-run on the simulated board ------------------------------------------------

BIAS_NETWORK = """
from firmware import Network
network = Network("bias")
pop = network.population("p", 12, du=4095, dv=0, vth=50, bias_mant=[100 * (k + 1) for k in range(12)])
inp = network.inputs("in", 6)
network.record(pop)
inputs = {3: [0, 2], 9: [5]}
"""


def _bias_network():
    ns = {}
    exec(BIAS_NETWORK, ns)
    return ns


def test_cli_run_and_plot_against_the_simulated_board(device_board, tmp_path):
    import subprocess
    import sys

    from firmware import compile_network
    from sim import GoldenModel

    board, config = device_board
    net_file, out, png = tmp_path / "net.py", tmp_path / "raster.npz", tmp_path / "raster.png"
    net_file.write_text(BIAS_NETWORK)
    proc = subprocess.run([sys.executable, "-m", "host", "run", str(net_file), "--device", board.url,
                           "--ticks", "60", "--out", str(out), "--plot", str(png), "--timeout", "30"],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    ns = _bias_network()
    expected = GoldenModel(compile_network(ns["network"], config)).run(60, ns["inputs"])
    data = np.load(out)
    assert data["spikes"].sum() > 50
    assert np.array_equal(data["spikes"], expected.spikes)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_freerun_and_stop_on_the_board_match_the_model(device_board):
    from firmware import compile_network
    from host import Device, OverrunWarning
    from sim import GoldenModel

    board, config = device_board
    image = compile_network(_bias_network()["network"], config)
    with Device.open(board.url, timeout=30) as dev:
        dev.load(image)
        # cycles per tick: far more than a 12-neuron tick needs, and more than a full SPIKES frame
        # (max_payload 256: 266 bytes at 40 cycles a byte, 10,640 cycles) takes to send, which
        # holds the next tick up (the link does one thing at a time)
        dev.freerun(12_000)
        time.sleep(1.5)
        result = dev.stop()
        counters = dev.counters()
        assert result.ticks >= 5 and counters["ticks"] == result.ticks
        assert counters["overruns"] == 0
        expected = GoldenModel(image).run(result.ticks)
        assert np.array_equal(result.spikes, expected.spikes)

        dev.reset()
        with pytest.warns(OverrunWarning):
            dev.freerun(1)                # every tick longer than its period
            time.sleep(1.0)
            late = dev.stop()
        counters = dev.counters()
        assert late.ticks >= 5 and 0 < counters["overruns"] <= late.ticks
        assert np.array_equal(late.spikes, GoldenModel(image).run(late.ticks).spikes)
