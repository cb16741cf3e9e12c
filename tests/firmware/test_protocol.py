"""The wire format of firmware/protocol.py: CRC, COBS, frames, the streaming decoder, payloads."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import ConfigError, CoreConfig, formats
from firmware import protocol as P


def crc16_bitwise(data: bytes) -> int:
    """CRC-16/CCITT-FALSE written out bit by bit, as the RTL computes it."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def test_crc_check_value_and_bitwise_reference():
    assert P.crc16(b"123456789") == 0x29B1            # the catalogued check value
    rng = np.random.default_rng(1)
    for n in (0, 1, 7, 100, P.MAX_FRAME):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert P.crc16(data) == crc16_bitwise(data)


def test_crc_residue_is_zero_and_catches_every_single_bit_error():
    body = P.HEADER.pack(1, 7, P.Op.STEP, 4) + P.STEP.pack(1000)
    framed = body + P.crc16(body).to_bytes(2, "big")
    assert P.crc16(framed) == 0
    for bit in range(8 * len(framed)):
        bad = bytearray(framed)
        bad[bit // 8] ^= 1 << (bit % 8)
        assert P.crc16(bytes(bad)) != 0


def test_cobs_known_vectors():
    # The examples of Cheshire & Baker's paper (as listed in the COBS literature).
    assert P.cobs_encode(b"\x00") == b"\x01\x01"
    assert P.cobs_encode(b"\x00\x00") == b"\x01\x01\x01"
    assert P.cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert P.cobs_encode(b"\x11\x00\x00\x00") == b"\x02\x11\x01\x01\x01"
    block = bytes(range(1, 255))                          # 254 nonzero bytes
    assert P.cobs_encode(block)[:1] == b"\xff"
    assert P.cobs_decode(P.cobs_encode(block)) == block


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1200))
def test_cobs_round_trip_has_no_zero(data):
    enc = P.cobs_encode(data)
    assert b"\0" not in enc
    assert len(enc) <= len(data) + len(data) // 254 + 1
    assert P.cobs_decode(enc) == data


def test_cobs_refuses_a_block_past_the_end():
    with pytest.raises(P.CobsError, match="runs past"):
        P.cobs_decode(b"\x05\x11\x22")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(P.Op)), st.integers(0, 255), st.binary(max_size=P.MAX_PAYLOAD))
def test_frame_round_trip(op, seq, payload):
    wire = P.encode_frame(op, seq, payload)
    assert wire.endswith(b"\0") and wire.count(b"\0") == 1
    assert len(wire) <= P.MAX_ENCODED + 1
    (frame,) = P.FrameDecoder().feed(wire)
    assert frame == P.Frame(op, seq, payload)


def test_header_layout_is_fixed():
    body = P.cobs_decode(P.encode_frame(P.Op.STEP, 0x12, b"\x34\x12\x00\x00")[:-1])
    assert body[:5] == bytes([P.PROTOCOL_VERSION, 0x12, 0x05, 4, 0])     # version seq op len(LE)
    assert body[5:9] == b"\x34\x12\x00\x00"
    assert body[9:] == crc16_bitwise(body[:9]).to_bytes(2, "big")


def test_payload_limit():
    with pytest.raises(ValueError, match="MAX_PAYLOAD"):
        P.encode_frame(P.Op.WRITE, 0, bytes(P.MAX_PAYLOAD + 1))


def test_the_largest_payload_is_2048_bytes():
    """2,048 bytes (a tick's record of 8,192 device neurons, the ULX3S's 4 cores of 2,048, fits
    one frame): such a frame decodes at every max_payload it fits, one byte more is OVERSIZE
    (detail 2,048) with its header, and no device may announce more."""
    assert (P.MAX_PAYLOAD, P.MAX_FRAME, P.MAX_ENCODED) == (2048, 2055, 2064)
    payload = bytes(range(256)) * 8
    wire = P.encode_frame(P.Op.WRITE, 5, payload)
    assert len(wire) - 1 <= P.max_encoded(2048) == P.MAX_ENCODED
    assert P.FrameDecoder(max_payload=2048).feed(wire) == [P.Frame(P.Op.WRITE, 5, payload)]
    (bad,) = P.FrameDecoder(max_payload=1024).feed(wire)
    assert (bad.code, bad.detail, bad.header_valid) == (P.ErrorCode.OVERSIZE, 1024, False)
    (bad,) = P.FrameDecoder().feed(P.cobs_encode(_frame_body(length=2049, payload=bytes(2049))) + b"\0")
    assert (bad.code, bad.detail, bad.header_valid) == (P.ErrorCode.OVERSIZE, 2048, True)
    with pytest.raises(ValueError, match=r"max_payload = 2049 must be in \[64, 2048\]"):
        P.FrameDecoder(max_payload=2049)
    four_cores = CoreConfig(n_neurons=2048, n_inputs=512)
    P.check_spike_record(four_cores, 4, 2048)
    with pytest.raises(ConfigError, match="takes up to 1030 bytes; a SPIKES frame of max_payload = 1024"):
        P.check_spike_record(four_cores, 4, 1024)


def _decode_one(encoded_body: bytes):
    items = P.FrameDecoder().feed(encoded_body + b"\0")
    assert len(items) == 1
    return items[0]


def _frame_body(version=P.PROTOCOL_VERSION, seq=0, op=P.Op.HELLO, length=None, payload=b""):
    body = P.HEADER.pack(version, seq, op, len(payload) if length is None else length) + payload
    return body + P.crc16(body).to_bytes(2, "big")


@pytest.mark.parametrize("body, code, header_valid", [
    (b"\x01\x02\x03", P.ErrorCode.TRUNCATED, False),
    (_frame_body()[:-1] + b"\x00", P.ErrorCode.BAD_CRC, False),
    (_frame_body(version=2), P.ErrorCode.VERSION, True),
    (_frame_body(length=3), P.ErrorCode.BAD_LENGTH, True),
    (_frame_body(length=P.MAX_PAYLOAD + 1), P.ErrorCode.OVERSIZE, True),
])
def test_each_bad_frame_has_its_reason(body, code, header_valid):
    bad = _decode_one(P.cobs_encode(body))
    assert isinstance(bad, P.BadFrame)
    assert bad.code == code and bad.header_valid == header_valid and bad.reason


def test_framing_error_and_oversize_stream():
    bad = _decode_one(b"\x09\x01\x02")                 # a COBS block longer than the frame
    assert bad.code == P.ErrorCode.FRAMING
    dec = P.FrameDecoder()
    assert dec.feed(b"\x01" * (P.MAX_ENCODED + 500)) == []
    assert dec.pending == P.MAX_ENCODED + 500          # counted, not stored
    items = dec.feed(b"\x01\x00" + P.encode_frame(P.Op.HELLO, 3))
    assert [type(i) for i in items] == [P.BadFrame, P.Frame]
    assert items[0].code == P.ErrorCode.OVERSIZE and items[1].seq == 3


def test_decoder_byte_by_byte_and_empty_frames():
    wire = b"\0\0" + P.encode_frame(P.Op.STEP, 1, P.STEP.pack(5)) + b"\0" + P.encode_frame(P.Op.STOP, 2)
    dec = P.FrameDecoder()
    items = [item for b in wire for item in dec.feed(bytes([b]))]
    assert [(f.opcode, f.seq) for f in items] == [(P.Op.STEP, 1), (P.Op.STOP, 2)]


def _mutations(rng, n):
    """n bad frames (bytes up to and including their delimiters) of every kind."""
    good = [P.encode_frame(op, int(rng.integers(256)), rng.integers(0, 256, int(rng.integers(0, 60)),
                                                                     dtype=np.uint8).tobytes())
            for op in P.Op for _ in range(3)]
    for k in range(n):
        kind = k % 6
        if kind == 0:                                  # random garbage, zeros included
            yield rng.integers(0, 256, int(rng.integers(1, 80)), dtype=np.uint8).tobytes() + b"\0"
            continue
        wire = bytearray(good[int(rng.integers(len(good)))][:-1])
        if kind == 1:                                  # flipped bits
            for _ in range(int(rng.integers(1, 4))):
                wire[int(rng.integers(len(wire)))] ^= 1 << int(rng.integers(8))
        elif kind == 2:                                # truncated
            wire = wire[:int(rng.integers(0, len(wire)))]
        elif kind == 3:                                # bytes inserted
            at = int(rng.integers(len(wire) + 1))
            wire[at:at] = rng.integers(1, 256, int(rng.integers(1, 5)), dtype=np.uint8).tobytes()
        elif kind == 4:                                # bytes deleted
            at = int(rng.integers(len(wire)))
            del wire[at:at + int(rng.integers(1, 4))]
        else:                                          # two frames run together
            wire += good[int(rng.integers(len(good)))][:-1]
        yield bytes(wire) + b"\0"


def test_decoder_survives_10000_bad_frames_each_followed_by_a_good_one():
    rng = np.random.default_rng(2024)
    dec = P.FrameDecoder()
    bad = 0
    for k, junk in enumerate(_mutations(rng, 10_000)):
        good = P.encode_frame(P.Op.READ, k % 256, P.REGION_ACCESS.pack(4, 2, k, 1))
        items = dec.feed(junk + good)
        assert isinstance(items[-1], P.Frame), f"mutation {k}: the good frame after it was lost"
        assert items[-1] == P.Frame(P.Op.READ, k % 256, P.REGION_ACCESS.pack(4, 2, k, 1))
        bad += sum(isinstance(i, P.BadFrame) for i in items[:-1])
        assert dec.pending == 0
    assert bad >= 9_900          # all but the rare mutation that produced a valid frame


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_decoder_never_raises_and_resynchronizes(junk):
    items = P.FrameDecoder().feed(junk + b"\0" + P.encode_frame(P.Op.HELLO, 9))
    assert items[-1] == P.Frame(P.Op.HELLO, 9)


def test_opcodes_are_split_by_direction_and_unique():
    values = [int(op) for op in P.Op]
    assert len(values) == len(set(values))
    assert all(op < 0x80 for op in P.HOST_OPCODES) and all(op >= 0x80 for op in P.DEVICE_OPCODES)
    assert P.HOST_OPCODES | P.DEVICE_OPCODES == set(P.Op)


def test_payload_sizes():
    assert P.HEADER_SIZE == 5
    assert P.HELLO_REPLY.size == 64 and len(P.HELLO_FIELDS) == len(P.HELLO_REPLY.unpack(bytes(64)))
    assert P.REGION_ACCESS.size == 8 and P.ACK.size == 12 and P.ERROR.size == 8
    assert P.SPIKES.size == 8 and P.SPIKE_RECORD.size == 6 and P.REPORT.size == 12


def test_regions_and_word_sizes_come_from_the_memory_map():
    config = CoreConfig()
    for name, region in formats.memory_map(config).items():
        assert P.region_by_index(config, region.index).name == name
        assert P.word_bytes(region) == (region.layout.width + 7) // 8
    assert P.region_by_index(config, 99) is None
    assert P.word_bytes(formats.memory_map(config)["state_u"]) == 4     # 25 bits
    assert P.word_bytes(formats.memory_map(config)["counters"]) == 8


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 8), st.data())
def test_words_round_trip(nbytes, data):
    words = data.draw(st.lists(st.integers(0, (1 << (8 * nbytes)) - 1), max_size=50))
    raw = P.pack_words(words, nbytes)
    assert len(raw) == nbytes * len(words)
    assert raw == b"".join(w.to_bytes(nbytes, "little") for w in words)
    assert P.unpack_words(raw, nbytes).tolist() == words


def test_max_words_fill_a_payload():
    for nbytes in range(1, 9):
        n = P.max_words(nbytes)
        assert P.REPLY.size + P.REGION_ACCESS.size + n * nbytes <= P.MAX_PAYLOAD
        assert P.REPLY.size + P.REGION_ACCESS.size + (n + 1) * nbytes > P.MAX_PAYLOAD


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 1023), unique=True, max_size=200), st.integers(0, 2**32 - 1))
def test_spike_record_is_the_smaller_encoding_and_round_trips(neurons, tick):
    neurons = sorted(neurons)
    record = P.encode_spike_record(tick, neurons)
    if not neurons:
        assert record == b""
        return
    list_size = P.SPIKE_RECORD.size + 2 * len(neurons)
    bitmap_size = P.SPIKE_RECORD.size + max(neurons) // 8 + 1
    assert len(record) == min(list_size, bitmap_size) == P.spike_record_size(neurons)
    _, info = P.SPIKE_RECORD.unpack_from(record)
    assert bool(info & P.SPIKE_BITMAP) == (bitmap_size < list_size)
    t_now, consumed, times, idx = P.decode_spikes(P.SPIKES.pack(77, 5) + record)
    assert (t_now, consumed) == (77, 5)
    assert idx.tolist() == neurons and set(times.tolist()) == {tick}


def test_spike_bitmap_bit_order():
    record = P.encode_spike_record(3, list(range(0, 64, 2)) + [9])
    _, info = P.SPIKE_RECORD.unpack_from(record)
    assert info == P.SPIKE_BITMAP | 8
    assert record[6] == 0b01010101 and record[7] == 0b01010111   # neuron 9 is bit 1 of byte 1


def test_malformed_spikes_payload_is_refused():
    with pytest.raises(ValueError, match="past the payload"):
        P.decode_spikes(P.SPIKES.pack(1, 0) + P.SPIKE_RECORD.pack(0, 5) + b"\x01\x00")


def test_input_entries_and_credits():
    entries = [3, 7, P.TICK_END | 2, 1, P.TICK_END]
    raw = P.encode_input_entries(entries)
    assert raw == struct.pack("<5H", *entries)
    assert P.decode_input_entries(raw).tolist() == entries
    assert P.credits_free(512, sent=100, consumed=40) == 452
    assert P.credits_free(512, sent=5, consumed=2**32 - 10) == 497    # counters wrap


def test_opcodes_and_error_codes_are_appended_never_renumbered():
    """Every number a device or host of an earlier version knows keeps its meaning; SELECT_CORE
    and BAD_CORE (devices of several cores) came after them."""
    assert {op.name: int(op) for op in P.Op} == {
        "HELLO": 0x01, "WRITE": 0x02, "READ": 0x03, "INPUT": 0x04, "STEP": 0x05, "FREERUN": 0x06,
        "STOP": 0x07, "COUNTERS": 0x08, "SEED": 0x09, "RESET": 0x0A, "SELECT_CORE": 0x0B,
        "ACK": 0x80, "HELLO_REPLY": 0x81, "READ_REPLY": 0x83, "COUNTERS_REPLY": 0x88, "SPIKES": 0x90,
        "REPORT": 0x91, "ERROR": 0xEE}
    assert [code.name for code in P.ErrorCode] == [
        "BAD_CRC", "TRUNCATED", "FRAMING", "VERSION", "UNKNOWN_OPCODE", "OVERSIZE", "BAD_LENGTH",
        "BAD_PAYLOAD", "BAD_REGION", "OUT_OF_RANGE", "READ_ONLY", "WORD_SIZE", "BUSY", "BAD_TABLES",
        "BAD_ARGUMENT", "BAD_VALUE", "BAD_CORE"]
    assert [int(code) for code in P.ErrorCode] == list(range(1, 18))
    assert set(P.ERROR_TEXT) == set(P.ErrorCode)
    assert P.SELECT_CORE.size == 1 and formats.memory_map(CoreConfig(), 2)["route"].index == 18


def _hello(**fields):
    values = dict(ref_seq=1, ref_opcode=1, version=1, device_kind=0, capabilities=15, max_payload=1024, window=8,
                  status=0, input_depth=512, clock_hz=12_000_000, tick=0, consumed=0, queued=0, build=1)
    return P.hello_reply(CoreConfig(), **(values | fields))


def test_hello_n_cores_one_core_sends_0_and_reads_1():
    at, size = P.HELLO_LAYOUT["n_cores"]
    assert (at, size) == (10, 2)                         # where `reserved` was: the bytes stay
    one = _hello()
    assert one[at:at + size] == b"\0\0" and P.parse_hello(one).n_cores == 1
    assert P.parse_hello(one).n_regions == 18
    four = _hello(cores=4)
    assert four[at:at + size] == b"\4\0"
    info = P.parse_hello(four)
    assert (info.n_cores, info.n_regions, info["n_cores"]) == (4, 19, 4)
    assert P.parse_hello(_hello(cores=256)).n_cores == 256
    with pytest.raises(ValueError, match="unknown fields \\['reserved'\\]"):
        _hello(reserved=0)


def test_device_numbers_of_axons_and_neurons():
    config = CoreConfig(n_neurons=100, n_inputs=20)          # 7 and 5 bits
    cores, axons = np.array([0, 1, 3]), np.array([0, 19, 7])
    device = P.device_axon(config, cores, axons)
    assert device.tolist() == [0, 32 + 19, 96 + 7]
    assert [a.tolist() for a in P.split_axon(config, device)] == [[0, 1, 3], [0, 19, 7]]
    neurons = P.device_neuron(config, cores, np.array([5, 99, 0]))
    assert neurons.tolist() == [5, 128 + 99, 384]
    assert [a.tolist() for a in P.split_neuron(config, neurons)] == [[0, 1, 3], [5, 99, 0]]


@pytest.mark.parametrize("cores, match", [
    (0, r"cores = 0 must be an integer in \[1, 256\]"), (257, r"in \[1, 256\]"), (True, "must be an integer"),
    (256, "need device axon numbers up to 65535; an INPUT entry carries at most 32767")])
def test_cores_the_wire_cannot_address_are_refused(cores, match):
    with pytest.raises(ConfigError, match=match):
        P.check_cores(CoreConfig(n_neurons=64, n_inputs=256), cores)
    assert P.check_cores(CoreConfig(n_neurons=64, n_inputs=256), 128) == 128


def test_a_ticks_spike_record_must_fit_a_frame():
    config = CoreConfig(n_neurons=256, n_inputs=64)
    P.check_spike_record(config, 1, 64)                       # one core: not this check's business
    P.check_spike_record(config, 4, 8 + 6 + 128)
    with pytest.raises(ConfigError, match="takes up to 134 bytes; a SPIKES frame of max_payload = 141 holds 133"):
        P.check_spike_record(config, 4, 8 + 6 + 127)
    with pytest.raises(ConfigError, match="a SPIKES record carries at most 65535"):
        P.check_device_config(CoreConfig(n_neurons=2**15, n_inputs=64), 4)
