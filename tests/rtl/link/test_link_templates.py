"""The Link's reply templates (rtl/link/templates.py) in plain Python, no simulator: each
template, walked by templates.render as the transmitter walks it, gives the frame that
firmware.protocol's packers give for the same fields (every ERROR of the checks, HELLO_REPLY,
ACK, every REPORT, READ_REPLY, COUNTERS_REPLY, SPIKES), at max_payload 2048 (the protocol's
largest), 1024, 256 and 64."""

import numpy as np
import pytest

from firmware import formats as fmt
from firmware import protocol as P
from firmware.config import CoreConfig
from rtl.link import templates as T
from rtl.link.buffer import RAM_DROPPED, RAM_OVERRUNS, RAM_PENDING, RAM_UNREPORTED, TABLE_AT, BufLayout

CONFIG = CoreConfig(n_neurons=12, n_inputs=6, n_synapses=64, n_segments=32, n_reverse=16,
                    n_profiles=4, n_projections=4, max_delay=2)
DEPTH, CLOCK_HZ, WINDOW = 32, 12_000_000, 1
SEQ, REF_SEQ = 0x5A, 0xC3
REGIONS = fmt.memory_map(CONFIG)
E = P.ErrorCode
PAYLOADS = [2048, 1024, 256, P.MIN_MAX_PAYLOAD]
assert P.MAX_PAYLOAD == PAYLOADS[0]


def assembled(max_payload):
    layout = BufLayout(max_payload)
    image, where = T.assemble(CONFIG, layout, input_depth=DEPTH, max_payload=max_payload,
                              clock_hz=CLOCK_HZ, window=WINDOW)
    return layout, image, where


def frame_of(opcode, payload=b"", version=P.PROTOCOL_VERSION):
    """A decoded frame as the Link holds it in buf (header, payload, CRC)."""
    body = P.HEADER.pack(version, REF_SEQ, opcode, len(payload)) + payload
    return body + P.crc16(body).to_bytes(2, "big")


def reply(opcode, payload):
    return P.HEADER.pack(P.PROTOCOL_VERSION, SEQ, int(opcode), len(payload)) + payload


def values(**given):
    out = dict.fromkeys(range(15), 0)
    out[T.S_HEADER] = P.PROTOCOL_VERSION | SEQ << 8
    out.update({getattr(T, f"S_{name.upper()}"): value for name, value in given.items()})
    return out


def put(image, at, value, n):
    image[at:at + n] = list(value.to_bytes(n, "little"))


# reason -> (the command frame, values, region, the ERROR's code, ref_valid, detail)
def error_cases(max_payload):
    region = REGIONS["neuron"]
    access = frame_of(P.Op.WRITE, P.REGION_ACCESS.pack(region.index, 3, 5, 2) + bytes(6))
    return {
        T.R_OVERSIZE_FRAME: (frame_of(P.Op.HELLO), values(), 0, E.OVERSIZE, 0, max_payload),
        T.R_FRAMING: (frame_of(P.Op.HELLO), values(encoded=77), 0, E.FRAMING, 0, 77),
        T.R_TRUNCATED: (frame_of(P.Op.HELLO)[:4], values(decoded=4), 0, E.TRUNCATED, 0, 4),
        T.R_BAD_CRC: (frame_of(P.Op.HELLO), values(detail=0xBEEF), 0, E.BAD_CRC, 0, 0xBEEF),
        T.R_VERSION: (frame_of(P.Op.HELLO, version=9), values(), 0, E.VERSION, 1, P.PROTOCOL_VERSION),
        T.R_OVERSIZE: (frame_of(P.Op.INPUT, bytes(2)), values(detail=max_payload), 0, E.OVERSIZE, 1,
                       max_payload),
        # the detail is the payload's size: decoded - header - CRC
        T.R_BAD_LENGTH: (frame_of(P.Op.STEP, bytes(6)), values(decoded=13), 0, E.BAD_LENGTH, 1, 6),
        T.R_UNKNOWN_OPCODE: (frame_of(0x3E), values(), 0, E.UNKNOWN_OPCODE, 1, 0x3E),
        T.R_SIZE: (frame_of(P.Op.STEP, bytes(3)), values(expected=4), 0, E.BAD_PAYLOAD, 1, 4),
        # an odd INPUT: its size plus one (decoded - 6 for a payload of decoded - 7 bytes)
        T.R_INPUT_ODD: (frame_of(P.Op.INPUT, bytes(5)), values(decoded=12), 0, E.BAD_PAYLOAD, 1, 6),
        T.R_BUSY: (frame_of(P.Op.READ, bytes(8)), values(), 0, E.BUSY, 1, 0x01020304),
        T.R_ACCESS_SIZE: (frame_of(P.Op.READ, bytes(7)), values(), 0, E.BAD_PAYLOAD, 1, P.REGION_ACCESS.size),
        T.R_BAD_ARGUMENT: (frame_of(P.Op.SEED, bytes(4)), values(), 0, E.BAD_ARGUMENT, 1, 1),
        T.R_BAD_REGION: (frame_of(P.Op.READ, bytes([99]) + bytes(7)), values(), 0, E.BAD_REGION, 1, len(REGIONS)),
        T.R_WORD_SIZE: (access, values(), region.index, E.WORD_SIZE, 1, P.word_bytes(region)),
        T.R_OUT_OF_RANGE: (access, values(), region.index, E.OUT_OF_RANGE, 1, region.depth),
        T.R_READ_OVERSIZE: (access, values(expected=P.max_words(2, max_payload)), region.index, E.OVERSIZE, 1,
                            P.max_words(2, max_payload)),
        T.R_WRITE_SIZE: (access, values(detail=16), region.index, E.BAD_PAYLOAD, 1, 16),
        T.R_READ_ONLY: (access, values(), REGIONS["counters"].index, E.READ_ONLY, 1, REGIONS["counters"].index),
        T.R_BAD_VALUE: (access, values(), region.index, E.BAD_VALUE, 1, region.layout.width),
    }


@pytest.mark.parametrize("max_payload", PAYLOADS)
def test_every_check_has_its_error_frame(max_payload):
    layout, image, _ = assembled(max_payload)
    put(image, layout.high + RAM_PENDING, 0x01020304, 4)           # BUSY's detail: the pending ticks
    cases = error_cases(max_payload)
    assert sorted(cases) == list(range(T.FIRST_SLOT, T.R_ERROR))    # every check
    for reason, (frame, given, region, code, ref_valid, detail) in cases.items():
        got = T.render(image, layout, reason, given, frame=frame, region=region)
        ref = (REF_SEQ, frame[2]) if ref_valid else (0, 0)
        assert got == reply(P.Op.ERROR, P.ERROR.pack(*ref, int(code), ref_valid, detail)), reason


@pytest.mark.parametrize("max_payload", PAYLOADS)
def test_hello_reply_ack_and_reports(max_payload):
    layout, image, _ = assembled(max_payload)
    hello = frame_of(P.Op.HELLO)
    given = values(status=int(P.Status.STEPPING), tick=1234567, consumed=0xFEDCBA98, queued=17)
    want = P.HELLO_REPLY.pack(
        REF_SEQ, int(P.Op.HELLO), P.PROTOCOL_VERSION, int(P.DeviceKind.FPGA),
        int(P.Capability.STDP | P.Capability.FREERUN | P.Capability.BITMAP_SPIKES | P.Capability.COUNTER_CLEAR),
        max_payload, WINDOW, int(P.Status.STEPPING), 0, DEPTH, CLOCK_HZ, 1234567, 0xFEDCBA98, 17,
        *(getattr(CONFIG, name) for name in P.CONFIG_FIELDS), len(REGIONS), len(fmt.COUNTERS), T.BUILD)
    assert T.render(image, layout, T.R_HELLO, given, frame=hello) == reply(P.Op.HELLO_REPLY, want)

    step = frame_of(P.Op.STEP, bytes(4))
    for previous, tick in ((False, 1000), (True, 999), (True, 0xFFFFFFFF)):
        got = T.render(image, layout, T.R_ACK, values(tick=(tick + previous) % 2**32, consumed=55), frame=step,
                       previous_tick=previous)
        assert got == reply(P.Op.ACK, P.ACK.pack(REF_SEQ, int(P.Op.STEP), 0, tick, 55)), (previous, tick)

    put(image, layout.high + RAM_UNREPORTED, 41, 4)                 # the overruns not yet reported
    for kind in P.ReportKind:
        got = T.render(image, layout, T.R_REPORT + kind, values(report_count=9, tick=300), previous_tick=True)
        count = 41 if kind == P.ReportKind.OVERRUN else 9
        assert got == reply(P.Op.REPORT, P.REPORT.pack(int(kind), 0, 0, count, 299)), kind


@pytest.mark.parametrize("max_payload", PAYLOADS)
def test_read_counters_and_spikes_replies(max_payload):
    layout, image, _ = assembled(max_payload)
    region = REGIONS["synapse"]
    nbytes = P.word_bytes(region)
    request = P.REGION_ACCESS.pack(region.index, nbytes, 3, 4)
    words = [0x1234, 0xFFFF, 0, 0x0102]
    size = P.REPLY.size + len(request) + len(words) * nbytes
    got = T.render(image, layout, T.R_READ, values(detail=size), frame=frame_of(P.Op.READ, request),
                   region=region.index, words=words, word_bytes=nbytes, first_word=3)
    assert got == reply(P.Op.READ_REPLY, P.REPLY.pack(REF_SEQ, int(P.Op.READ)) + request + P.pack_words(words, nbytes))

    # COUNTERS: the Link's own dropped and overruns added to counters 7 and 6
    put(image, layout.high + RAM_DROPPED, 2**40 + 3, 8)
    put(image, layout.high + RAM_OVERRUNS, 5, 8)
    counts = [10 * k + 1 for k in range(len(fmt.COUNTERS))]
    want = list(counts)
    want[fmt.COUNTERS.index("dropped")] += 2**40 + 3
    want[fmt.COUNTERS.index("overruns")] += 5
    got = T.render(image, layout, T.R_COUNTERS, values(), frame=frame_of(P.Op.COUNTERS, bytes(1)),
                   region=REGIONS["counters"].index, words=counts, word_bytes=P.COUNTER.size, counters=True)
    assert got == reply(P.Op.COUNTERS_REPLY, P.COUNTERS_REPLY.pack(REF_SEQ, int(P.Op.COUNTERS), len(counts), 0)
                        + b"".join(P.COUNTER.pack(c) for c in want))

    records = P.encode_spike_record(7, np.array([0, 3, 11])) + P.encode_spike_record(8, np.arange(12))
    length = P.SPIKES.size + len(records)
    got = T.render(image, layout, T.R_SPIKES, values(spikes_length=length, tick=9, consumed=4), records=records)
    assert got == reply(P.Op.SPIKES, P.SPIKES.pack(9, 4) + records)
    # a SPIKES payload of max_payload bytes: one record, its bitmap filling the frame
    records = P.encode_spike_record(5, np.arange(8 * (max_payload - P.SPIKES.size - P.SPIKE_RECORD.size)))
    length = P.SPIKES.size + len(records)
    assert length == max_payload
    got = T.render(image, layout, T.R_SPIKES, values(spikes_length=length, tick=6, consumed=1), records=records)
    assert got == reply(P.Op.SPIKES, P.SPIKES.pack(6, 1) + records)
    got = T.render(image, layout, T.R_SPIKES, values(spikes_length=P.SPIKES.size, tick=9, consumed=4))
    assert got == reply(P.Op.SPIKES, P.SPIKES.pack(9, 4))


def test_the_region_table_is_each_regions_depth_word_bytes_and_width():
    layout, image, _ = assembled(256)
    for region in REGIONS.values():
        at = layout.high + TABLE_AT + 4 * region.index
        assert image[at:at + 4] == [region.depth & 0xFF, region.depth >> 8, P.word_bytes(region),
                                    region.layout.width], region.name
