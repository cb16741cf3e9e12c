"""The Link's reply templates: assembled in Python at elaboration into buf's initial contents.

A reply is a template: a list of fields, each a code byte (type << 5 | argument) and for some
an address byte. The transmitter (rtl.link.transmit) walks it a field at a time and sends a
byte a cycle; `render` here is the same walk in Python, the reference the templates are
tested with against firmware.protocol's packers (tests/rtl/link/test_link_templates.py).

    F_LIT n           n literal bytes follow
    F_ECHO n, a       n bytes of the frame from byte a (zeros when the frame's header is not
                      readable: ref_valid 0)
    F_HIGH n, a       n bytes of the high page from a; n = 0: the template goes on at a
    F_TABLE n, k      n bytes of the region's table entry from its byte k
    F_VALUE           bits 4..1 a value (S_*), bit 0: 4 bytes of it, else 2
    F_VALUE_PLUS a    the same plus the high page's bytes from a (a constant)
    F_CTRL            C_END: the CRC and the frame's end; C_JUMP: on at slot `reason`;
                      C_WORDS: the words of a READ / COUNTERS; C_SPIKES: the spike records

Slot r (8 bytes in buf) holds the template of reason r: the checks in the protocol's order (a
check's number is its ERROR's slot), then the other replies. An ERROR begins with the common
header of slot R_ERROR, which jumps to the check's slot for its code, flag and detail.
"""

from __future__ import annotations

import struct

from firmware import formats as fmt
from firmware import protocol as P

from .buffer import (FIRST_SLOT, RAM_DROPPED, RAM_END, RAM_OVERRUNS, RAM_PENDING, RAM_UNREPORTED, RAM_ZERO,
                     TABLE_AT)

# Reasons: the checks in order (a check's number is its ERROR's template slot), then the other
# replies. Frames refused by the first four have no readable header (ref_valid = 0).
(R_OVERSIZE_FRAME, R_FRAMING, R_TRUNCATED, R_BAD_CRC, R_VERSION, R_OVERSIZE, R_BAD_LENGTH,
 R_UNKNOWN_OPCODE, R_SIZE, R_INPUT_ODD, R_BUSY, R_ACCESS_SIZE, R_BAD_ARGUMENT, R_BAD_REGION,
 R_WORD_SIZE, R_OUT_OF_RANGE, R_READ_OVERSIZE, R_WRITE_SIZE, R_READ_ONLY, R_BAD_VALUE,
 R_ERROR, R_HELLO, R_ACK) = range(FIRST_SLOT, FIRST_SLOT + 23)
R_REPORT = R_ACK                    # REPORT of kind k (1..4): slot R_REPORT + k
R_READ, R_COUNTERS, R_SPIKES = R_REPORT + 5, R_REPORT + 6, R_REPORT + 7
assert R_SPIKES == 31 and len(P.ReportKind) == 4
FIRST_REF_VALID = R_VERSION

# Field types, and F_CTRL's arguments
F_LIT, F_ECHO, F_HIGH, F_TABLE, F_VALUE, F_VALUE_PLUS, F_CTRL = range(7)
C_END, C_JUMP, C_WORDS, C_SPIKES = range(4)
# The values a field sends (rtl.link.datapath holds them in its byte lanes):
(S_HEADER,          # version, the reply's sequence number
 S_TICK,            # the core's tick (tick - 1 while the Link reports the tick just run)
 S_CONSUMED,        # input entries consumed
 S_QUEUED,          # input entries queued
 S_DETAIL,          # BAD_CRC's and OVERSIZE's detail, READ_REPLY's and WRITE's payload size
 S_STATUS,          # HELLO's status
 S_ARGUMENT,        # a command's u32 argument (STEP's ticks)
 S_READ_BYTE,       # the word read, its byte 0 (it shifts as it is sent)
 S_DECODED,         # the frame's decoded bytes (TRUNCATED's detail)
 S_ENCODED,         # the frame's encoded bytes (FRAMING's detail)
 S_EXPECTED,        # the payload size a command must have; a READ: the words it may have
 S_REPORT_COUNT,    # a REPORT's count
 S_SPIKES_LENGTH,   # the SPIKES payload's length
 S_CRC,             # the CRC's high byte (the CRC register shifts left by 8 as it is sent)
 S_RECORD_INFO,     # a spike record's info (read at byte 4, 5: the record header's tail)
 S_ARG_ERROR,       # a device of several cores: the refused argument's code, 1, detail u16
 ) = range(16)
# the bytes a value is read as (else 4; its further bytes are 0)
READ_AS = {S_HEADER: 2, S_STATUS: 2, S_SPIKES_LENGTH: 2, S_CRC: 1, S_READ_BYTE: 1, S_RECORD_INFO: 2}
BUILD = 1                           # HELLO_REPLY's build


def _lit(data):
    out = []
    for at in range(0, len(data), 31):
        chunk = list(data[at:at + 31])
        out += [F_LIT << 5 | len(chunk), *chunk]
    return out


def _echo(addr, n):
    return [F_ECHO << 5 | n, addr]


def _high(label, n):
    return [F_HIGH << 5 | n, label]       # label: a high-page offset or the name of a body


def _table(k, n):
    return [F_TABLE << 5 | n, k]


def _value(source, n, plus=None):
    assert n in (2, 4)
    code = source << 1 | (n == 4)
    return [F_VALUE << 5 | code] if plus is None else [F_VALUE_PLUS << 5 | code, plus]


def _ctrl(what):
    return [F_CTRL << 5 | what]


def _u32(v):
    return list(struct.pack("<I", fmt.wrap32(v)))


def assemble(config, layout, *, input_depth: int, max_payload: int, clock_hz: int, window: int, cores: int = 1):
    """buf's initial contents for a Link (a list of layout.depth bytes) of a device of `cores`
    cores: the templates and the region table; and `where`, the high-page offsets of the
    template bodies and constants. On several cores R_BAD_ARGUMENT serves SEED 0 and SELECT_CORE
    beyond the cores: its code and detail are the value S_ARG_ERROR."""
    regions = fmt.memory_map(config, cores)
    n_regions = len(regions)
    E = P.ErrorCode

    def error(code, detail):        # code, ref_valid 1, detail (an int: literal)
        if isinstance(detail, int):
            return _lit([int(code), 1] + _u32(detail)) + _ctrl(C_END)
        return _lit([int(code), 1]) + detail + _ctrl(C_END)

    def header(op, size):
        return _value(S_HEADER, 2) + _lit([int(op)] + list(struct.pack("<H", size)))

    slots = {
        R_OVERSIZE_FRAME: _lit([int(E.OVERSIZE), 0] + _u32(max_payload)) + _ctrl(C_END),
        R_FRAMING: _lit([int(E.FRAMING), 0]) + _value(S_ENCODED, 4) + _ctrl(C_END),
        R_TRUNCATED: _lit([int(E.TRUNCATED), 0]) + _value(S_DECODED, 4) + _ctrl(C_END),
        R_BAD_CRC: _lit([int(E.BAD_CRC), 0]) + _value(S_DETAIL, 4) + _ctrl(C_END),
        R_VERSION: error(E.VERSION, P.PROTOCOL_VERSION),
        R_OVERSIZE: error(E.OVERSIZE, P.MAX_PAYLOAD if max_payload == P.MAX_PAYLOAD else _value(S_DETAIL, 4)),
        R_BAD_LENGTH: error(E.BAD_LENGTH, _value(S_DECODED, 4, "minus7")),
        R_UNKNOWN_OPCODE: error(E.UNKNOWN_OPCODE, _echo(2, 1) + _high(RAM_ZERO, 3)),
        R_SIZE: error(E.BAD_PAYLOAD, _value(S_EXPECTED, 4)),
        R_INPUT_ODD: error(E.BAD_PAYLOAD, _value(S_DECODED, 4, "minus6")),
        R_BUSY: error(E.BUSY, _high(RAM_PENDING, 4)),
        R_ACCESS_SIZE: error(E.BAD_PAYLOAD, P.REGION_ACCESS.size),
        R_BAD_ARGUMENT: (error(E.BAD_ARGUMENT, 1) if cores == 1
                         else _value(S_ARG_ERROR, 4) + _lit([0, 0]) + _ctrl(C_END)),
        R_BAD_REGION: error(E.BAD_REGION, n_regions),
        R_WORD_SIZE: error(E.WORD_SIZE, _table(2, 1) + _high(RAM_ZERO, 3)),
        R_OUT_OF_RANGE: error(E.OUT_OF_RANGE, _table(0, 2) + _high(RAM_ZERO, 2)),
        R_READ_OVERSIZE: error(E.OVERSIZE, _value(S_EXPECTED, 4)),
        R_WRITE_SIZE: error(E.BAD_PAYLOAD, _value(S_DETAIL, 4)),
        R_READ_ONLY: error(E.READ_ONLY, regions["counters"].index),
        R_BAD_VALUE: error(E.BAD_VALUE, _table(3, 1) + _high(RAM_ZERO, 3)),
        R_ERROR: header(P.Op.ERROR, P.ERROR.size) + _echo(1, 2) + _ctrl(C_JUMP),
        R_HELLO: header(P.Op.HELLO_REPLY, P.HELLO_REPLY.size) + _high("hello", 0),
        R_ACK: header(P.Op.ACK, P.ACK.size) + _high("ack", 0),
        # READ_REPLY and SPIKES: the length is a value (the access size, the SPIKES length)
        R_READ: (_value(S_HEADER, 2) + _lit([int(P.Op.READ_REPLY)]) + _value(S_DETAIL, 2) + _echo(1, 2)
                 + _high("read", 0)),
        R_COUNTERS: (header(P.Op.COUNTERS_REPLY, P.COUNTERS_REPLY.size + len(fmt.COUNTERS) * P.COUNTER.size)
                     + _high("counters", 0)),
        R_SPIKES: (_value(S_HEADER, 2) + _lit([int(P.Op.SPIKES)]) + _value(S_SPIKES_LENGTH, 2)
                   + _value(S_TICK, 4) + _value(S_CONSUMED, 4) + _ctrl(C_SPIKES) + _ctrl(C_END)),
    }
    for kind in P.ReportKind:       # the header's literal field takes the kind too
        report = header(P.Op.REPORT, P.REPORT.size)
        assert report[1] == F_LIT << 5 | 3
        report[1] += 1
        slots[R_REPORT + kind] = (report + [int(kind)]
                                  + _high("overrun" if kind == P.ReportKind.OVERRUN else "report", 0))

    hello = P.hello_reply(
        config, cores, ref_seq=0, ref_opcode=0, version=P.PROTOCOL_VERSION, device_kind=P.DeviceKind.FPGA,
        capabilities=P.CAPABILITIES, max_payload=max_payload, window=window, status=0,
        input_depth=input_depth, clock_hz=fmt.wrap32(clock_hz), tick=0, consumed=0, queued=0, build=BUILD)
    at = {name: offset for name, (offset, _) in P.HELLO_LAYOUT.items()}
    bodies = {
        # ref, version .. window, status (sent as a u16 whose high byte is n_cores' first: a
        # constant of S_STATUS), the rest of n_cores .. clock_hz, tick, consumed, queued, the
        # configuration
        "hello": (_echo(1, 2) + _lit(hello[at["version"]:at["status"]]) + _value(S_STATUS, 2)
                  + _lit(hello[at["status"] + 2:at["tick"]])
                  + _value(S_TICK, 4) + _value(S_CONSUMED, 4) + _value(S_QUEUED, 4)
                  + _lit(hello[at["n_neurons"]:]) + _ctrl(C_END)),
        "ack": _echo(1, 2) + _lit([0, 0]) + _value(S_TICK, 4) + _value(S_CONSUMED, 4) + _ctrl(C_END),
        "report": _lit([0, 0, 0]) + _value(S_REPORT_COUNT, 4) + _value(S_TICK, 4) + _ctrl(C_END),
        "overrun": _lit([0, 0, 0]) + _high(RAM_UNREPORTED, 4) + _value(S_TICK, 4) + _ctrl(C_END),
        "read": _echo(P.HEADER_SIZE, P.REGION_ACCESS.size) + _ctrl(C_WORDS) + _ctrl(C_END),
        "counters": _echo(1, 2) + _lit([len(fmt.COUNTERS), 0]) + _ctrl(C_WORDS) + _ctrl(C_END),
        # constants for F_VALUE_PLUS: "ones" (tick - 1, and the record header: tick - 1, info)
        "minus7": _u32(-7) + [0xFF, 0, 0],
        "minus6": _u32(-6),
    }

    # bodies into the free parts of the high page
    free = [(RAM_END, TABLE_AT), (TABLE_AT + 4 * n_regions, 256)]
    where = {}
    for name, body in sorted(bodies.items(), key=lambda kv: -len(kv[1])):
        for k, (lo, hi) in enumerate(free):
            if hi - lo >= len(body):
                where[name] = lo
                free[k] = (lo + len(body), hi)
                break
        else:
            raise ValueError(f"the Link's templates do not fit buf (body {name})")
    where["ones"] = where["minus7"] + 1

    def resolve(seq):
        return [where[x] if isinstance(x, str) else x for x in seq]

    image = [0] * layout.depth
    for name, body in bodies.items():
        at = layout.high + where[name]
        image[at:at + len(body)] = resolve(body)
    assert sorted(slots) == list(range(FIRST_SLOT, 32)), sorted(slots)
    for r, code in slots.items():
        assert len(code) <= 8, (r, code)
        image[layout.slot_base + 8 * r:layout.slot_base + 8 * r + len(code)] = resolve(code)
    for region in regions.values():
        at = layout.high + TABLE_AT + 4 * region.index
        image[at:at + 4] = [region.depth & 0xFF, region.depth >> 8, P.word_bytes(region),
                            region.layout.width]
    assert len(image) == layout.depth
    return image, where


def render(image, layout, reason: int, values: dict, *, frame: bytes = b"", region: int = 0,
           words=(), word_bytes: int = 0, first_word: int = 0, counters: bool = False,
           records: bytes = b"", previous_tick: bool = False) -> bytes:
    """The frame the transmitter sends for `reason` (header and payload, without the CRC that
    C_END adds), from buf's contents `image` (assemble's), walked as the gateware walks it:
    `values` of the S_* sources (as integers), the `frame` received (F_ECHO; zeros for the
    reasons without a readable header), the access's `region` (F_TABLE), the `words` of a
    READ / COUNTERS from word `first_word` on (`word_bytes` each; of the counters region,
    `counters`, words 6 and 7 plus the Link's own overruns and dropped from the high page),
    the spike `records` and `previous_tick` (S_TICK is then tick - 1)."""
    high = layout.high
    out = bytearray()
    ptr = layout.slot_base + 8 * (R_ERROR if reason < R_ERROR else reason)

    def value(source, n):
        v = values[source] & ((1 << 8 * READ_AS.get(source, 4)) - 1)
        if previous_tick and source == S_TICK:
            v -= 1
        return (v % (1 << 8 * n)).to_bytes(n, "little")

    for _ in range(10_000):
        code = image[ptr]
        ftype, arg = code >> 5, code & 31
        if ftype == F_LIT:
            out += bytes(image[ptr + 1:ptr + 1 + arg])
            ptr += 1 + arg
        elif ftype in (F_VALUE, F_VALUE_PLUS):
            n, source = (4 if arg & 1 else 2), arg >> 1
            v = int.from_bytes(value(source, n), "little")
            if ftype == F_VALUE_PLUS:
                at = high + image[ptr + 1]
                v += int.from_bytes(bytes(image[at:at + n]), "little")
            out += (v % (1 << 8 * n)).to_bytes(n, "little")
            ptr += 1 + (ftype == F_VALUE_PLUS)
        elif ftype in (F_ECHO, F_HIGH, F_TABLE):
            a = image[ptr + 1]
            if ftype == F_ECHO:
                out += frame[a:a + arg] if reason >= FIRST_REF_VALID else bytes(arg)
            elif ftype == F_TABLE:
                at = high + TABLE_AT + 4 * region + a
                out += bytes(image[at:at + arg])
            elif arg == 0:
                ptr = high + a
                continue
            else:
                out += bytes(image[high + a:high + a + arg])
            ptr += 2
        elif ftype == F_CTRL and arg == C_END:
            return bytes(out)
        elif ftype == F_CTRL and arg == C_JUMP:
            ptr = layout.slot_base + 8 * reason
        elif ftype == F_CTRL and arg == C_WORDS:
            for addr, word in enumerate(words, first_word):
                if counters and addr in (6, 7):
                    at = high + (RAM_DROPPED if addr == 7 else RAM_OVERRUNS)
                    word += int.from_bytes(bytes(image[at:at + 8]), "little")
                out += (word % (1 << 8 * word_bytes)).to_bytes(word_bytes, "little")
            ptr += 1
        elif ftype == F_CTRL and arg == C_SPIKES:
            out += records
            ptr += 1
        else:
            raise ValueError(f"template of reason {reason}: bad field code {code:#04x} at {ptr}")
    raise ValueError(f"template of reason {reason} does not end")
