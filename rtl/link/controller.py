"""The device side of the host link (docs/protocol.md): frame receiver, command executor and
reply transmitter between the byte layer (rtl/cobs.py) and the core (rtl/core.py).

    COBSDecoder.o --rx--> Link --tx--> COBSEncoder.i
                           |
                     core-facing members (the Core's ports, flipped; connect one to one)

`sim/device_emulator.py` is the reference: for the same commands the Link sends the same reply
frames (field for field; HELLO's device_kind / clock_hz / build differ, and ERROR frames carry
no explanatory text).

The Link is built small (the whole device has 5,280 LUT4s): most of its work goes a byte a
cycle through one memory, `buf` (one read and one write port; 1,024 bytes, two iCE40 EBRs, for
`max_payload` 256; BufLayout says where things are):

- bytes 0 .. frame_area - 1 hold the frame being received (a frame of at most
  max_encoded(max_payload) encoded bytes decodes to fewer, and the CRC check reads them all);
- then, as initial contents, the reply templates (8-byte slots, then bodies) and a table of
  the regions (depth, word bytes, width), and the Link's variables: its counters `dropped`
  and `overruns` (64 bits), the OVERRUN count not yet reported, the pending ticks (BUSY's
  detail) and a ring with the remaining ticks of the running and the waiting STEPs;
- last the SPIKES payload (max_payload bytes, records from byte 8 on).

One 8-bit adder with a carry register (`alu`: a byte of buf plus a byte of a value) updates the
variables (a few cycles each: per tick, pending - 1 and the running STEP's ticks - 1), adds the
Link's counters to the core's as they are sent, and forms tick - 1 and npay for replies. Values
(tick, consumed, counts, ...) are not copied: a reply picks their bytes as it sends them.

Receive: `rx_byte` is a one-cycle pulse per non-0x00 byte the COBS decoder takes (DeviceTop
drives it); the Link counts these to find the encoded length (OVERSIZE, detail max_payload,
above max_encoded(max_payload): such a frame's bytes beyond the frame area are not stored;
FRAMING's detail). At the end beat the frame is checked in the protocol's order, one check a
cycle (`reason` counts them; the number of the check that fails selects its ERROR's template),
and executed; every bad frame gets exactly one ERROR. Once the size, COBS and length checks
pass, one pass over the frame (a cycle a byte, at least 13) computes its CRC and takes the
opcode, the length and payload bytes 0..7 into registers; a READ / WRITE then reads its region's
table entry (4 cycles) and multiplies out its size (a cycle per word byte).

Transmit: a reply is a template: fields of literal bytes, bytes of the frame, of the region's
table entry or of a variable, a value's bytes, the words of a READ / COUNTERS (read from the
core's access port), the spike records. It goes out a byte a cycle, plus a cycle or two per
field; `reason` selects its slot (an ERROR begins with the common header, then its own slot).

One command at a time: while a command executes (or a tick runs, or a reply is sent) `rx.ready`
is 0, so the byte layer in front needs a FIFO of at least one frame (DeviceTop has it). HELLO
announces `window` (default 1): the host keeps at most that many commands without their reply.

Ticks: the Link runs the core one tick at a time (`step` with `step_ticks` = 1), counts the
tick's output spikes as they enter the core's output FIFO (`out_push`; the FIFO, as deep as the
neurons, is the tick's list), then takes them out of it into one spike record (list or bitmap,
the smaller) in the SPIKES buffer; it sends SPIKES when a STEP's ticks are done, when the next record
does not fit, at STOP / RESET, for STEP 0, and in free-run when no tick is due and `flush_pulses`
pulses of `slow_tick` (one every `slow_period` cycles, from DeviceTop's prescaler) came since
the last SPIKES: at most flush_pulses * slow_period <= 20 ms of `clock_hz` after it. Free-run is
timed by the Link (a tick every `period` cycles, overruns counted by the Link). REPORT INPUT_DROPPED / OUTPUT_OVERFLOW after a tick that dropped
inputs / lost outputs; INPUT_OVERFLOW for a refused INPUT frame; OVERRUN before the next SPIKES.

Counters: the core's, plus the Link's own `dropped` (axons of refused INPUT frames) and
`overruns` (free-run), added when read (COUNTERS or READ of the counters region), cleared
with them.

Not done: BAD_TABLES (STEP / FREERUN do not validate the tables); at most STEP_QUEUE STEPs may
wait (a further STEP while they wait gets BUSY).
"""

from __future__ import annotations

import struct

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt
from firmware import protocol as P
from firmware.config import CoreConfig
from firmware.errors import ConfigError

from ..lib.compare import greater_than, less_than
from ..core.interface import core_signature
from ..lib.memory import SimpleMemory
from .cobs import DECODED_BEAT, FRAME_BEAT
from .crc import crc16_update

BUILD = 1
LINK_STEP_BITS = 1                  # the Link steps the core one tick at a time (Core's step_bits)
STEP_QUEUE = 4
FREERUN_FLUSH_S = 0.02
CRC_INIT = P.crc16(b"")

# --- buf: frame, templates, region table, variables, SPIKES payload -----------------------
FIRST_SLOT = 2                      # template r begins at slot_base + 8 r, r = FIRST_SLOT .. 31
TABLE_AT = 128                      # region r's entry at HIGH + TABLE_AT + 4 r: depth u16, word bytes, width
# variables (high page); the READ of counter 7 / 6 adds the one at Cat(0, 0, 0, ~addr[0])
RAM_DROPPED, RAM_OVERRUNS, RAM_UNREPORTED, RAM_ZERO, RAM_PENDING, RAM_RING = 0, 8, 16, 20, 28, 32
RING_SLOTS = 8                      # 4 bytes each: the running STEP's ticks and those waiting
RAM_END = RAM_RING + 4 * RING_SLOTS

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

# Template fields: a code byte (type << 5 | argument), for some an address byte.
F_LIT, F_ECHO, F_HIGH, F_TABLE, F_VALUE, F_VALUE_PLUS, F_CTRL = range(7)
# F_LIT n: n literal bytes follow. F_ECHO n, a: n bytes of the frame from a (zeros when
# ref_valid is 0). F_HIGH n, a: n bytes of the high page from a; n = 0: the template goes on
# at a. F_TABLE n, k: n bytes of the region's table entry from byte k. F_VALUE: bits 4..1 a value
# (S_*), bit 0: 4 bytes of it, else 2. F_VALUE_PLUS, a: the same plus the high page's bytes
# from a (a constant). F_CTRL: the end (CRC, end beat), a jump to slot `reason`,
# the words of a READ / COUNTERS, the spike records.
C_END, C_JUMP, C_WORDS, C_SPIKES = range(4)
# values (S_TICK is tick - 1 while `tick_prev`)
(S_HEADER, S_TICK, S_CONSUMED, S_IN_LEVEL, S_DV, S_STATUS, S_WORD, S_RDATA, S_N, S_ENC, S_DETAIL,
 S_COUNT, S_SP_LEN, S_CRC, S_INFO) = range(15)
# the spike record's header: S_TICK (tick - 1) in bytes 0..3, then S_INFO (its bytes 0, 1 read
# at bidx 4, 5)


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
    return list(struct.pack("<I", v & 0xFFFFFFFF))


def _round_up(x, unit):
    return -(-x // unit) * unit


class BufLayout:
    """Where things are in buf for a device of `max_payload` (all bounds exclusive):

    frame       0 .. frame_area: the frame being received, at most max_encoded(max_payload)
                bytes (a frame that decodes to more is refused as OVERSIZE before it is read)
    slots       slot_base + 8 r, r = FIRST_SLOT .. 31: the reply templates (slot_base is a
                multiple of 256 at or after frame_area - 8 FIRST_SLOT: slots 0, 1 do not exist)
    high        high .. high + 256: variables, template bodies, the region table
    spikes      spk_base .. spk_base + max_payload: the SPIKES payload (its records from byte
                8 on); spk_base is a multiple of a power of two >= max_payload, so its address is
                spk_base | offset
    """

    def __init__(self, max_payload: int):
        self.frame_area = P.max_encoded(max_payload)
        self.slot_base = _round_up(self.frame_area - 8 * FIRST_SLOT, 256)
        self.high = self.slot_base + 256
        self.spk_bits = (max_payload - 1).bit_length()
        self.spk_base = _round_up(self.high + 256, 1 << self.spk_bits)
        self.depth = self.spk_base + max_payload
        self.ptr_bits = (self.depth - 1).bit_length()
        assert self.slot_base + 8 * FIRST_SLOT >= self.frame_area


def slow_period_for(clock_hz: int) -> int:
    """The period of the `slow_tick` pulse (a power of two, DeviceTop's prescaler) for a clock:
    about an eighth of the free-run SPIKES interval (FREERUN_FLUSH_S), at least 2 cycles."""
    return 1 << max(1, (int(clock_hz * FREERUN_FLUSH_S) // 8).bit_length() - 1)


class Link(wiring.Component):
    def __init__(self, config: CoreConfig, input_depth: int, max_payload: int = P.MAX_PAYLOAD,
                 clock_hz: int = 12_000_000, window: int = 1, slow_period: int | None = None):
        if not P.MIN_MAX_PAYLOAD <= max_payload <= P.MAX_PAYLOAD:
            raise ValueError(f"max_payload = {max_payload} must be in [{P.MIN_MAX_PAYLOAD}, {P.MAX_PAYLOAD}]")
        self.config = config
        self.input_depth, self.max_payload = input_depth, max_payload
        self.layout = BufLayout(max_payload)
        self.clock_hz, self.window = clock_hz, window
        self.flush_cycles = max(1, int(clock_hz * FREERUN_FLUSH_S))
        self.slow_period = slow_period_for(clock_hz) if slow_period is None else slow_period
        if not 1 <= self.slow_period <= self.flush_cycles:
            raise ValueError(f"slow_period = {self.slow_period} must be in [1, {self.flush_cycles}] "
                             f"(the free-run SPIKES interval, 20 ms of clock_hz = {clock_hz})")
        self.flush_pulses = self.flush_cycles // self.slow_period
        self.regions = fmt.memory_map(config)
        deepest = max(self.regions.values(), key=lambda r: r.depth)
        if len(self.regions) > 32 or deepest.depth > 0xFFFF:
            raise ConfigError(f"the Link's region table holds at most 32 regions of at most 65,535 words; "
                              f"region {deepest.name} has {deepest.depth}: lower the CoreConfig field "
                              f"that sets its depth")
        members = {
            "rx": In(stream.Signature(DECODED_BEAT)),
            "rx_byte": In(1),
            "slow_tick": In(1),     # a one-cycle pulse every slow_period cycles
            "tx": Out(stream.Signature(FRAME_BEAT)),
            "idle": Out(1),     # nothing to do: no frame, command, tick or reply under way
            "error": Out(1),    # pulse: an ERROR or REPORT frame starts (the board's error LED)
        }
        members["core"] = Out(core_signature(config, input_depth, LINK_STEP_BITS).flip())
        super().__init__(members)

    # --- the contents of buf ------------------------------------------------------------------

    def _image(self):
        """buf's initial contents, and the high-page offsets of the template bodies and
        constants."""
        c, regions, max_pl = self.config, self.regions, self.max_payload
        n_regions = len(regions)
        E = P.ErrorCode

        def error(code, detail):        # code, ref_valid 1, detail (an int: literal)
            if isinstance(detail, int):
                return _lit([int(code), 1] + _u32(detail)) + _ctrl(C_END)
            return _lit([int(code), 1]) + detail + _ctrl(C_END)

        def header(op, size):
            return _value(S_HEADER, 2) + _lit([int(op)] + list(struct.pack("<H", size)))

        slots = {
            R_OVERSIZE_FRAME: _lit([int(E.OVERSIZE), 0] + _u32(max_pl)) + _ctrl(C_END),
            R_FRAMING: _lit([int(E.FRAMING), 0]) + _value(S_ENC, 4) + _ctrl(C_END),
            R_TRUNCATED: _lit([int(E.TRUNCATED), 0]) + _value(S_N, 4) + _ctrl(C_END),
            R_BAD_CRC: _lit([int(E.BAD_CRC), 0]) + _value(S_DV, 4) + _ctrl(C_END),
            R_VERSION: error(E.VERSION, P.PROTOCOL_VERSION),
            R_OVERSIZE: error(E.OVERSIZE, P.MAX_PAYLOAD if max_pl == P.MAX_PAYLOAD else _value(S_DV, 4)),
            R_BAD_LENGTH: error(E.BAD_LENGTH, _value(S_N, 4, "minus7")),
            R_UNKNOWN_OPCODE: error(E.UNKNOWN_OPCODE, _echo(2, 1) + _high(RAM_ZERO, 3)),
            R_SIZE: error(E.BAD_PAYLOAD, _value(S_DETAIL, 4)),
            R_INPUT_ODD: error(E.BAD_PAYLOAD, _value(S_N, 4, "minus6")),
            R_BUSY: error(E.BUSY, _high(RAM_PENDING, 4)),
            R_ACCESS_SIZE: error(E.BAD_PAYLOAD, P.REGION_ACCESS.size),
            R_BAD_ARGUMENT: error(E.BAD_ARGUMENT, 1),
            R_BAD_REGION: error(E.BAD_REGION, n_regions),
            R_WORD_SIZE: error(E.WORD_SIZE, _table(2, 1) + _high(RAM_ZERO, 3)),
            R_OUT_OF_RANGE: error(E.OUT_OF_RANGE, _table(0, 2) + _high(RAM_ZERO, 2)),
            R_READ_OVERSIZE: error(E.OVERSIZE, _value(S_DETAIL, 4)),
            R_WRITE_SIZE: error(E.BAD_PAYLOAD, _value(S_DV, 4)),
            R_READ_ONLY: error(E.READ_ONLY, regions["counters"].index),
            R_BAD_VALUE: error(E.BAD_VALUE, _table(3, 1) + _high(RAM_ZERO, 3)),
            R_ERROR: header(P.Op.ERROR, P.ERROR.size) + _echo(1, 2) + _ctrl(C_JUMP),
            R_HELLO: header(P.Op.HELLO_REPLY, P.HELLO_REPLY.size) + _high("hello", 0),
            R_ACK: header(P.Op.ACK, P.ACK.size) + _high("ack", 0),
            # READ_REPLY and SPIKES: the length is a value (dv, sp_len)
            R_READ: (_value(S_HEADER, 2) + _lit([int(P.Op.READ_REPLY)]) + _value(S_DV, 2) + _echo(1, 2)
                     + _high("read", 0)),
            R_COUNTERS: (header(P.Op.COUNTERS_REPLY, P.COUNTERS_REPLY.size + len(fmt.COUNTERS) * P.COUNTER.size)
                         + _high("counters", 0)),
            R_SPIKES: (_value(S_HEADER, 2) + _lit([int(P.Op.SPIKES)]) + _value(S_SP_LEN, 2) + _value(S_TICK, 4)
                       + _value(S_CONSUMED, 4) + _ctrl(C_SPIKES) + _ctrl(C_END)),
        }
        for kind in P.ReportKind:       # the header's literal field takes the kind too
            report = header(P.Op.REPORT, P.REPORT.size)
            assert report[1] == F_LIT << 5 | 3
            report[1] += 1
            slots[R_REPORT + kind] = (report + [int(kind)]
                                      + _high("overrun" if kind == P.ReportKind.OVERRUN else "report", 0))

        caps = int(P.Capability.STDP | P.Capability.FREERUN | P.Capability.BITMAP_SPIKES
                   | P.Capability.COUNTER_CLEAR)
        hello = P.HELLO_REPLY.pack(
            0, 0, P.PROTOCOL_VERSION, int(P.DeviceKind.FPGA), caps, max_pl, self.window, 0, 0,
            self.input_depth, self.clock_hz & 0xFFFFFFFF, 0, 0, 0,
            c.n_neurons, c.n_inputs, c.n_synapses, c.n_segments, c.n_reverse, c.n_profiles,
            c.n_projections, c.weight_bits, c.max_delay, n_regions, len(fmt.COUNTERS), BUILD)
        assert len(hello) == 64 and struct.calcsize("<BBBBHHBB") == 10
        bodies = {
            # ref, version .. window, status, reserved, input_depth, clock_hz, tick, consumed,
            # queued, the configuration
            "hello": (_echo(1, 2) + _lit(hello[2:9]) + _value(S_STATUS, 2) + _lit(hello[11:20])
                      + _value(S_TICK, 4) + _value(S_CONSUMED, 4) + _value(S_IN_LEVEL, 4)
                      + _lit(hello[32:]) + _ctrl(C_END)),
            "ack": _echo(1, 2) + _lit([0, 0]) + _value(S_TICK, 4) + _value(S_CONSUMED, 4) + _ctrl(C_END),
            "report": _lit([0, 0, 0]) + _value(S_COUNT, 4) + _value(S_TICK, 4) + _ctrl(C_END),
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

        lay = self.layout
        image = [0] * lay.depth
        for name, body in bodies.items():
            at = lay.high + where[name]
            image[at:at + len(body)] = resolve(body)
        assert sorted(slots) == list(range(FIRST_SLOT, 32)), sorted(slots)
        for r, code in slots.items():
            assert len(code) <= 8, (r, code)
            image[lay.slot_base + 8 * r:lay.slot_base + 8 * r + len(code)] = resolve(code)
        for region in regions.values():
            at = lay.high + TABLE_AT + 4 * region.index
            image[at:at + 4] = [region.depth & 0xFF, region.depth >> 8, P.word_bytes(region),
                                region.layout.width]
        assert len(image) == lay.depth
        return image, where

    def elaborate(self, platform):
        m = Module()

        c, regions = self.config, self.regions
        n_regions = len(regions)
        counters_index = regions["counters"].index
        seed_index = regions["lfsr_state"].index
        assert (fmt.COUNTERS.index("overruns"), fmt.COUNTERS.index("dropped")) == (6, 7)
        max_pl = self.max_payload
        image, where = self._image()

        # --- memories -------------------------------------------------------------------------
        # No port reads an address in the cycle it is written: yosys need not emulate what the
        # read returns then (no_rw_check), which saves a comparator and a bypass per memory.
        lay = self.layout
        HIGH, SLOT_BASE, pw = lay.high, lay.slot_base, lay.ptr_bits
        m.submodules.buf = buf = SimpleMemory(8, lay.depth, init=image)
        bw, br = buf.write, buf.read
        # the SPIKES payload is written into buf (sw) while a tick's records are made: then buf's
        # write port is otherwise idle (frames are stored in IDLE, variables in RAM)
        sw = wiring.Signature({"en": Out(1), "data": Out(8)}).create()
        nb = len(self.core.outputs.neuron)

        # buf's read address is the pointer's next value, so br.data is always buf[ptr]; the
        # states choose the next value by a small code (pmode, and aidx for the fixed ones)
        ptr = Signal(pw)
        ptr_next = Signal(pw)
        m.d.comb += br.addr.eq(ptr_next)
        m.d.sync += ptr.eq(ptr_next)
        ptr_inc = ptr + 1
        data = br.data

        # --- receive state --------------------------------------------------------------------
        nw = (lay.frame_area + 1).bit_length()
        n = Signal(nw)                  # decoded bytes of the frame (wraps only in refused frames)
        enc = Signal(nw)                # encoded bytes (saturating)
        early = Signal()                # the next frame's first (code) byte came while a command ran
        in_cmd = Signal()               # a command is under way (not a tick's reports or SPIKES)
        ferr = Signal()
        npay = Signal(nw)
        pay_end = Signal(nw)
        m.d.comb += [npay.eq(n - (P.HEADER_SIZE + P.CRC_SIZE)), pay_end.eq(n - P.CRC_SIZE)]
        at_end = ptr == pay_end
        at_end_q = Signal()
        m.d.sync += at_end_q.eq(at_end)
        # While a command runs the COBS decoder takes at most the next frame's first byte (a
        # code byte; the next one yields a beat), so `enc` holds still for FRAMING's detail.
        with m.If(self.rx_byte & in_cmd):
            m.d.sync += early.eq(1)
        with m.Elif(self.rx_byte & ~enc.all()):
            m.d.sync += enc.eq(enc + 1)

        # payload bytes 0..7; a word to write; an INPUT entry; a word read (READ / COUNTERS: sent
        # from its byte 0 as it shifts)
        word = Signal(64)
        shift_word = word.eq(Cat(word[8:], data))
        # the header's opcode; of its length only what the checks need (read in PASS, where
        # the frame's size npay is known)
        h_op = Signal(8)
        len_lo_eq = Signal()            # the length's low byte equals npay's
        len_lo_nz = Signal()
        len_eq = Signal()               # length == npay
        len_big = Signal()              # length > MAX_PAYLOAD
        ver_ok = Signal()
        arg_nz = Signal()               # payload bytes 0..3 not all zero
        fed = Signal()
        crc = Signal(16, init=CRC_INIT)
        tx_byte = Signal(8)
        crc_en = Signal()
        with m.If(crc_en):
            m.d.sync += crc.eq(crc16_update(crc, tx_byte))

        op_lo, op_hi0 = h_op[:4], h_op[4:] == 0

        def is_op(*ops):
            return op_hi0 & Cat(*(op_lo == int(op) for op in ops)).any()

        is_access = is_op(P.Op.READ, P.Op.WRITE)
        is_read, is_write = is_op(P.Op.READ), is_op(P.Op.WRITE)

        # --- executor state ---------------------------------------------------------------------
        reason = Signal(5)              # the check under way; the reply's template slot
        dv = Signal(20)                 # the CRC without the last 2 bytes; READ_REPLY's, WRITE's size
        tick_prev = Signal()            # S_TICK is tick - 1 (the tick just run)
        through_prev = Signal()         # the SPIKES to send is through tick - 1 (a record did not fit)
        freerun = Signal()
        period_nz = Signal()
        cur_active = Signal()           # a STEP runs: its remaining ticks in ring slot q_head
        q_head = Signal(range(RING_SLOTS))
        waiting = Signal(range(STEP_QUEUE + 1))
        tab = Signal(32)                # a READ / WRITE's region table entry; FREERUN's period
        # FREERUN's period: kept in `tab` (READ / WRITE / COUNTERS, the only users of the region
        # table entry, are refused with BUSY while free-running)
        since_tick = Signal(32)         # cycles since the last free-run tick started
        due_now = Signal()              # free-run just began: the first tick is due
        since_flush = Signal(range(self.flush_pulses + 1))     # slow_tick pulses since the last SPIKES
        ovr_any = Signal()              # RAM_UNREPORTED holds a count not yet reported
        busy = Signal()
        m.d.comb += busy.eq(cur_active | (waiting != 0) | freerun)
        # since_tick counts up by one from 0, so it passed `period` once it equalled it
        tick_passed = Signal()          # since_tick > period
        tick_ge = tick_passed | (since_tick == tab)
        with m.If(tick_ge):
            m.d.sync += tick_passed.eq(1)
        with m.If(freerun):
            m.d.sync += since_tick.eq(since_tick + 1)
            with m.If(self.slow_tick & (since_flush != self.flush_pulses)):
                m.d.sync += since_flush.eq(since_flush + 1)

        # region of a READ / WRITE: its table entry, and the word loop
        depth, wbytes, width = tab[:16], tab[16:20], tab[24:31]
        region = Signal(5)
        # a region's word address (up to its depth: the READ's end)
        aaddr_width = len(self.core.access.addr) + 1
        aaddr = Signal(aaddr_width)
        aaddr_next = Signal(aaddr_width)
        m.d.comb += aaddr_next.eq(aaddr)
        m.d.sync += aaddr.eq(aaddr_next)
        bad = Signal()                  # WRITE: a top byte above the width; then: a word is complete
        p_region, p_wb, p_addr, p_count = word[:8], word[8:16], word[16:48], word[48:64]
        # a READ / WRITE: address + count (range check, READ's end); registered, off the checks'
        # path (the payload bytes in `word` hold still from PASS on, cycles before it is used)
        access_end = Signal(17)
        m.d.sync += access_end.eq(p_addr[:16] + p_count)

        # RAM operations
        nz = Signal()
        ram_write = Signal()
        ram_op = Signal(4)

        # spike records
        sp_len = Signal(range(max_pl + 1), init=P.SPIKES.size)
        ln = Signal(range(c.n_neurons + 1))
        last_neuron = Signal(nb)
        drop_cnt = Signal(range(max(self.input_depth, max_pl // 2) + 1))
        lost_cnt = Signal(range(c.n_neurons + 1))
        li = Signal(range(c.n_neurons + 1))     # spikes of the list taken from the output FIFO
        bj = Signal(nb)
        acc8 = Signal(8)

        # transmitter
        tx_seq = Signal(8)
        tp = Signal(pw)                 # where the template goes on after a field
        fcnt = Signal(6)                # a field's bytes; a variable's; a loop's
        fkind = Signal(3)               # the field type (T_ADDR)
        mode = Signal(3)
        M_LIT, M_RET, M_SPIKES, M_CRC, M_WORDS = 0, 1, 4, 5, 6     # bit 2: a one-byte value (lane 0)
        clear_after = Signal()          # COUNTERS: clear them after the reply (flags bit 0)

        # spike record of the tick: list or bitmap, whichever is smaller
        bm_bytes = Signal(nb + 1)
        use_bm = Signal()
        rec_len = Signal(12)
        # registered (off the paths into the byte adder): ln and last_neuron last change at an
        # out_push, in the tick's neuron phase, cycles before the core's busy falls
        bitmap_bytes = (last_neuron >> 3) + 1
        bitmap_wins = bitmap_bytes < (ln << 1)
        m.d.sync += [bm_bytes.eq(bitmap_bytes), use_bm.eq(bitmap_wins),
                     rec_len.eq(P.SPIKE_RECORD.size + Mux(bitmap_wins, bitmap_bytes, ln << 1))]

        # --- the byte adder: buf's byte (a) + a value's byte (b) + carry --------------------
        a_en = Signal()                 # a: buf's byte, else 0
        b_src = Signal()                # b: the value's byte, else b_ones ? 0xFF : 0
        b_ones = Signal()
        cy = Signal()
        src = Signal(4)                 # the value (S_*)
        bidx = Signal(3)                # its byte
        e_size = Mux(is_op(P.Op.COUNTERS), P.COUNTERS_REQUEST.size,
                     Mux(is_op(P.Op.STEP, P.Op.FREERUN, P.Op.SEED), 4,
                         Mux(is_read, P.REGION_ACCESS.size, 0)))   # the size a payload must have
        assert P.REGION_ACCESS.size < 16
        assert P.STEP.size == P.FREERUN.size == P.SEED.size == 4
        most = Array(Const(P.max_words(max(1, b), max_pl), 10) for b in range(16))[wbytes]
        info = Mux(use_bm, P.SPIKE_BITMAP | bm_bytes, ln)
        values = {
            S_HEADER: Cat(Const(P.PROTOCOL_VERSION, 8), tx_seq), S_TICK: self.core.control.tick, S_INFO: info[:16],
            S_CONSUMED: self.core.control.consumed, S_IN_LEVEL: self.core.inputs.level, S_DV: dv,
            S_STATUS: Cat(busy & ~freerun, freerun),
            S_WORD: word[:32], S_RDATA: word[:8], S_N: n, S_ENC: enc,
            S_DETAIL: Mux(is_read, most, e_size),   # READ: the words it may have, else the payload's size
            # REPORT's count: a tick's dropped inputs are reported (and cleared) before its lost outputs
            S_COUNT: Mux(drop_cnt != 0, drop_cnt, lost_cnt),
            # the CRC: its high byte, twice (a CRC register given its own high byte shifts left by 8)
            S_SP_LEN: sp_len, S_CRC: crc[8:],
        }
        assert (int(P.Status.STEPPING), int(P.Status.FREERUN)) == (1, 2)
        read_as = {S_HEADER: 2, S_STATUS: 2, S_SP_LEN: 2, S_CRC: 1,   # bytes (else 4)
                   S_RDATA: 1, S_INFO: 2}
        # byte lanes: lane j holds byte j of the value `src`; bidx picks the lane
        value_byte = Signal(8)
        lanes = []
        for j in range(8):
            lane = Signal(8, name=f"lane{j}")
            with m.Switch(src):
                for sv, v in values.items():
                    if j < read_as.get(sv, 4) and 8 * j < len(v):
                        with m.Case(sv):
                            m.d.comb += lane.eq(Cat(v, Const(0, 8))[8 * j:8 * j + 8])
            lanes.append(lane)
        # values have at most 4 bytes: bytes 4..7 are 0 (S_COUNT's, added to the 64-bit
        # `dropped`), but for S_INFO, read at bidx 4, 5
        assert all(j >= read_as.get(sv, 4) or 8 * j >= len(v) for sv, v in values.items() for j in range(4, 8))
        m.d.comb += value_byte.eq(Mux(bidx[2] & (src != S_INFO), 0, Array(lanes[:4])[bidx[:2]]))
        alu = Signal(9)
        m.d.comb += alu.eq(Mux(a_en, data, 0) + Mux(b_src, value_byte, Mux(b_ones, 0xFF, 0)) + cy)

        B_ZERO, B_VALUE, B_ONES = range(3)

        def alu_mode(a, b, carry, source=None):
            """The adder's inputs from the next cycle on: buf's byte if `a`; b: 0, the value
            `source` from its byte 0, or 0xFF; the carry in."""
            m.d.sync += [a_en.eq(a), b_src.eq(b == B_VALUE), b_ones.eq(b == B_ONES), cy.eq(carry),
                         bidx.eq(0)]
            if source is not None:
                m.d.sync += src.eq(source)

        # --- buf's write port: the frame, or a variable ----------------------------------------
        rx_store = Signal()
        # (the three writers never write in the same cycle)
        spk_addr = Cat(sp_len[:lay.spk_bits], Const(lay.spk_base >> lay.spk_bits, pw - lay.spk_bits))
        m.d.comb += [bw.addr.eq(Mux(ram_write, ptr, Mux(sw.en, spk_addr, n))),
                     bw.en.eq(ram_write | rx_store | sw.en),
                     bw.data.eq(Mux(ram_write, alu[:8], Mux(sw.en, sw.data, self.rx.payload.data)))]

        # --- core defaults ------------------------------------------------------------------
        # (data ports driven always: only their strobes depend on the state)
        m.d.comb += [self.core.control.step_ticks.eq(1), self.core.control.period.eq(0), self.core.control.freerun.eq(0),
                     self.core.access.region.eq(region), self.core.access.addr.eq(aaddr), self.core.access.wdata.eq(word)]
        entry = word[48:]               # an INPUT entry
        aw = len(self.core.inputs.axon)
        axon = entry[:15]
        if (1 << aw) > c.n_inputs and aw < 15:
            # out-of-range axons become a value the core drops as out of range
            m.d.comb += self.core.inputs.axon.eq(Mux(axon >= (1 << aw), (1 << aw) - 1, axon))
        else:
            m.d.comb += self.core.inputs.axon.eq(axon)
        m.d.comb += [self.core.inputs.tick_end.eq(entry[15]), self.core.inputs.repeat.eq(entry[:15])]

        # --- transmit byte ------------------------------------------------------------------
        m.d.comb += [tx_byte.eq(alu[:8]), self.tx.payload.data.eq(tx_byte)]
        tx_go = self.tx.valid & self.tx.ready

        ref_valid = ~less_than(reason, FIRST_REF_VALID)
        is_error = less_than(reason, R_ERROR)

        # --- buf's next read address --------------------------------------------------------
        P_HOLD, P_INC, P_RET, P_DATA, P_HIGH, P_TABLE, P_SLOT, P_FIXED = range(8)
        (A_FRAME, A_PAYLOAD, A_WORDS, A_ONES, A_PENDING, A_DROPPED, A_OVERRUNS, A_UNREPORTED, A_HEAD,
         A_NEW, A_EXTRA, A_SPIKES) = range(12)
        pmode = Signal(3)
        aidx = Signal(4)
        slot_err = Signal()             # the ERRORs' common beginning, not the reason's slot
        fixed = Array([
            Const(0, pw), Const(P.HEADER_SIZE, pw), Const(P.HEADER_SIZE + P.REGION_ACCESS.size, pw),
            Const(HIGH + where["ones"], pw), Const(HIGH + RAM_PENDING, pw), Const(HIGH + RAM_DROPPED, pw),
            Const(HIGH + RAM_OVERRUNS, pw), Const(HIGH + RAM_UNREPORTED, pw),
            # ring slots: the running STEP's, the next free one
            Cat(Const(0, 2), q_head, Const((HIGH + RAM_RING) >> 5, pw - 5)),
            Cat(Const(0, 2), (q_head + 1 + waiting)[:3], Const((HIGH + RAM_RING) >> 5, pw - 5)),
            # the Link's counter added to counter 7 (dropped) or 6 (overruns)
            Cat(Const(0, 3), ~aaddr[0], Const(HIGH >> 4, pw - 4)),
            # the SPIKES payload's first record
            Const(lay.spk_base + P.SPIKES.size, pw),
        ])[aidx]
        assert RAM_RING % 32 == 0 and HIGH % 256 == 0 and (HIGH + TABLE_AT) % 128 == 0 and len(q_head) == 3
        table_k = Signal(2)
        with m.Switch(pmode):
            with m.Case(P_HOLD):
                m.d.comb += ptr_next.eq(ptr)
            with m.Case(P_INC):
                m.d.comb += ptr_next.eq(ptr_inc)
            with m.Case(P_RET):
                m.d.comb += ptr_next.eq(tp)
            with m.Case(P_DATA):
                m.d.comb += ptr_next.eq(data)
            with m.Case(P_HIGH):
                m.d.comb += ptr_next.eq(Cat(data, Const(HIGH >> 8, pw - 8)))
            with m.Case(P_TABLE):
                m.d.comb += ptr_next.eq(Cat(table_k, region, Const((HIGH + TABLE_AT) >> 7, pw - 7)))
            with m.Case(P_SLOT):
                slot = Mux(slot_err, R_ERROR, reason)
                m.d.comb += ptr_next.eq(Cat(Const(0, 3), slot, Const(SLOT_BASE >> 8, pw - 8)))
            with m.Case(P_FIXED):
                m.d.comb += ptr_next.eq(fixed)

        def go(mode_, fixed_=None):
            m.d.comb += pmode.eq(mode_)
            if fixed_ is not None:
                m.d.comb += aidx.eq(fixed_)

        # --- operations on the variables (read, add, write back a byte a cycle) ----------------
        (OP_INPUT_DROPPED, OP_STEP_PENDING, OP_STEP_SLOT, OP_FREERUN, OP_END_RUNS, OP_ZERO_COUNTERS,
         OP_OVERRUNS, OP_UNREPORTED, OP_PENDING_DEC, OP_HEAD_DEC) = range(10)
        ops = {   # op: (address, bytes, a, b, carry in, the value for b)
            OP_INPUT_DROPPED: (A_DROPPED, 8, 1, B_VALUE, 0, S_COUNT),   # dropped += axons
            OP_STEP_PENDING: (A_PENDING, 4, 1, B_VALUE, 0, S_WORD),     # pending += ticks
            OP_STEP_SLOT: (A_NEW, 4, 1, B_VALUE, 0, S_WORD),            # free slot (0) += ticks
            OP_FREERUN: (A_PENDING, 4, 0, B_ONES, 0, S_WORD),           # BUSY's detail: 0xFFFFFFFF
            OP_END_RUNS: (A_PENDING, RAM_END - RAM_PENDING, 0, B_ZERO, 0, S_WORD),   # pending, ring: 0
            OP_ZERO_COUNTERS: (A_DROPPED, 16, 0, B_ZERO, 0, S_WORD),    # dropped, overruns: 0
            OP_OVERRUNS: (A_OVERRUNS, 8, 1, B_ZERO, 1, S_WORD),         # overruns += 1
            OP_UNREPORTED: (A_UNREPORTED, 4, ovr_any, B_ZERO, 1, S_WORD),   # unreported: + 1, or 1
            OP_PENDING_DEC: (A_PENDING, 4, 1, B_ONES, 0, S_WORD),       # pending -= 1
            OP_HEAD_DEC: (A_HEAD, 4, 1, B_ONES, 0, S_WORD),             # the running STEP's ticks -= 1
        }
        assert RAM_UNREPORTED == RAM_OVERRUNS + 8 and RAM_OVERRUNS == RAM_DROPPED + 8

        def ram(op):
            m.d.sync += ram_op.eq(op)
            m.next = "RAM_SETUP"

        def send(r):
            m.d.sync += reason.eq(r)
            m.next = "T_START"

        def flush():
            m.next = "FLUSH"

        overflow = greater_than((npay >> 1) + self.core.inputs.level, self.input_depth)     # an INPUT that does not fit

        # --- the checks, in the protocol's order -------------------------------------------------
        checks = {                      # reason: refused when
            R_OVERSIZE_FRAME: greater_than(enc, lay.frame_area),
            R_FRAMING: ferr,
            R_TRUNCATED: less_than(n, P.HEADER_SIZE + P.CRC_SIZE),
            R_BAD_CRC: crc != 0,
            R_VERSION: ~ver_ok,
            R_OVERSIZE: len_big | (len_eq & greater_than(npay, max_pl)),
            R_BAD_LENGTH: ~len_eq,
            R_UNKNOWN_OPCODE: ~is_op(*(op for op in P.Op if op < 0x80)),
            R_SIZE: is_op(P.Op.HELLO, P.Op.STOP, P.Op.RESET, P.Op.STEP, P.Op.FREERUN, P.Op.SEED,
                          P.Op.COUNTERS) & (npay != e_size),
            R_INPUT_ODD: is_op(P.Op.INPUT) & npay[0],
            R_BUSY: (is_op(P.Op.READ, P.Op.WRITE, P.Op.FREERUN, P.Op.COUNTERS, P.Op.SEED) & busy)
                    | (is_op(P.Op.STEP) & (freerun | ((waiting == STEP_QUEUE) & arg_nz))),
            R_ACCESS_SIZE: Mux(is_read, npay != e_size, is_write & less_than(npay, P.REGION_ACCESS.size)),
            R_BAD_ARGUMENT: is_op(P.Op.SEED) & ~arg_nz,
            R_BAD_REGION: is_access & ~less_than(p_region, n_regions),
            R_WORD_SIZE: p_wb != wbytes,
            R_OUT_OF_RANGE: (p_addr[16:] != 0) | (access_end > depth),
            R_READ_OVERSIZE: is_read & greater_than(dv, max_pl),
            R_WRITE_SIZE: is_write & (dv != npay),
            R_READ_ONLY: is_write & (p_region == counters_index),
        }
        refused = Array(checks.get(r, Const(0)) for r in range(32))[reason]

        # --- the FSM ----------------------------------------------------------------------------
        with m.FSM(name="link"):
            with m.State("DONE"):
                m.d.sync += [n.eq(0), in_cmd.eq(0), enc.eq(early | self.rx_byte), early.eq(0)]
                m.next = "IDLE"

            with m.State("IDLE"):
                m.d.comb += [self.rx.ready.eq(1), self.idle.eq(~busy & (n == 0) & ~self.rx.valid)]
                beat = self.rx.payload
                with m.If(self.rx.valid):
                    with m.If(beat.last):
                        m.d.sync += [ferr.eq(beat.error), reason.eq(FIRST_SLOT), in_cmd.eq(1)]
                        m.next = "CHECK"
                    with m.Else():
                        # (n may wrap beyond 2047 bytes: such a frame is OVERSIZE anyway)
                        m.d.comb += rx_store.eq(less_than(n, lay.frame_area))
                        m.d.sync += n.eq(n + 1)
                with m.Elif(~cur_active & (waiting != 0)):
                    m.d.sync += [cur_active.eq(1), q_head.eq(q_head + 1), waiting.eq(waiting - 1)]
                with m.Elif(cur_active):
                    m.next = "TICK_START"
                with m.Elif(freerun & (due_now | tick_ge)):
                    m.d.sync += [since_tick.eq(0), due_now.eq(0), tick_passed.eq(0)]
                    m.next = "TICK_START"
                with m.Elif(freerun & (since_flush == self.flush_pulses)):
                    flush()

            # --- frame and command checks: one a cycle; some need data first ---
            with m.State("CHECK"):
                m.d.sync += region.eq(p_region[:5])
                # buf's next address follows the check, not its outcome (a refusal goes on to
                # T_START, which sets the address anew): `refused` stays off that path
                with m.Switch(reason):
                    with m.Case(R_TRUNCATED):
                        go(P_FIXED, A_FRAME)
                    with m.Case(R_BAD_REGION):
                        with m.If(is_access):
                            go(P_TABLE)
                    with m.Case(R_OUT_OF_RANGE):    # payload size: WRITE's, READ_REPLY's (its
                        # ERROR does not show dv, so `refused` stays off dv's enable too)
                        m.d.sync += [dv.eq(Mux(is_read, P.REPLY.size + P.REGION_ACCESS.size,
                                               P.REGION_ACCESS.size)), fcnt.eq(wbytes)]
                with m.If(refused):
                    if max_pl != P.MAX_PAYLOAD:
                        m.d.sync += dv.eq(Mux(len_big, P.MAX_PAYLOAD, max_pl))
                    m.next = "T_START"          # the reason is the failing check
                with m.Else():
                    m.d.sync += reason.eq(reason + 1)
                    with m.Switch(reason):
                        with m.Case(R_TRUNCATED):       # the frame is worth reading: CRC, header
                            m.d.sync += [crc.eq(CRC_INIT), fed.eq(0), arg_nz.eq(0), drop_cnt.eq(0)]
                            alu_mode(1, B_ZERO, 0)
                            m.next = "PASS"
                        with m.Case(R_BAD_REGION):      # a READ / WRITE: its region's table entry
                            with m.If(is_access):
                                m.d.sync += fcnt.eq(3)
                                m.next = "TABLE"
                            with m.Else():
                                m.next = "DISPATCH"
                        with m.Case(R_OUT_OF_RANGE):    # dv = the payload size + count * word bytes
                            m.next = "MULTIPLY"
                        with m.Case(R_READ_ONLY):
                            m.next = "DISPATCH"

            # one pass over the frame: its CRC (and, for BAD_CRC's detail, the CRC without the
            # last two bytes), the header's version, opcode and length, payload bytes 0..7
            with m.State("PASS"):
                go(P_INC)
                m.d.comb += crc_en.eq(~fed)
                with m.If(at_end):
                    m.d.sync += dv.eq(crc)
                with m.If(at_end_q):
                    m.d.sync += fed.eq(1)
                low = ptr[4:] == 0
                with m.If(low & (ptr[:4] < 13)):
                    m.d.sync += shift_word
                with m.If(low & (ptr[:4] == 8)):
                    m.d.sync += ver_ok.eq(word[:8] == P.PROTOCOL_VERSION)
                # (word[:8] is the byte 8 before ptr: opcode, length low, length high at 10, 11, 12)
                assert P.MAX_PAYLOAD % 256 == 0 and (P.HEADER.size, len(npay)) == (5, nw) and nw <= 16
                with m.If(low & (ptr[:4] == 10)):
                    m.d.sync += h_op.eq(word[:8])
                with m.If(low & (ptr[:4] == 11)):
                    m.d.sync += [len_lo_eq.eq(word[:8] == npay[:8]), len_lo_nz.eq(word[:8].any())]
                with m.If(low & (ptr[:4] == 12)):
                    m.d.sync += [len_eq.eq(len_lo_eq & (word[:8] == (npay >> 8))),
                                 len_big.eq((word[:8] > P.MAX_PAYLOAD >> 8)
                                            | ((word[:8] == P.MAX_PAYLOAD >> 8) & len_lo_nz))]
                arg_byte = (ptr[:4] >= P.HEADER_SIZE) & (ptr[:4] < P.HEADER_SIZE + 4)
                with m.If(low & arg_byte & data.any()):
                    m.d.sync += arg_nz.eq(1)
                # an INPUT's axons (entries with bit 15 clear), for INPUT_OVERFLOW
                with m.If(~ptr[0] & ~(low & (ptr[:4] < 6)) & ~fed & ~at_end_q & ~data[7]):
                    m.d.sync += drop_cnt.eq(drop_cnt + 1)
                with m.If((fed | at_end_q) & ~(low & (ptr[:4] < 12))):
                    m.next = "CHECK"

            with m.State("TABLE"):
                go(P_INC)
                m.d.sync += [tab.eq(Cat(tab[8:], data)), fcnt.eq(fcnt - 1)]
                with m.If(fcnt == 0):
                    m.next = "CHECK"

            with m.State("MULTIPLY"):       # dv = 10 (12 for a READ_REPLY) + count * word bytes
                with m.If(fcnt == 0):
                    m.next = "CHECK"
                with m.Else():
                    m.d.sync += [dv.eq(dv + p_count), fcnt.eq(fcnt - 1)]

            with m.State("DISPATCH"):
                with m.Switch(h_op):
                    with m.Case(P.Op.HELLO):
                        send(R_HELLO)
                    with m.Case(P.Op.READ):
                        m.d.comb += aaddr_next.eq(p_addr)
                        m.d.sync += depth.eq(access_end)    # the READ's end (within the depth)
                        send(R_READ)
                    with m.Case(P.Op.WRITE):
                        go(P_FIXED, A_WORDS)
                        m.d.comb += aaddr_next.eq(p_addr)
                        m.d.sync += [fcnt.eq(wbytes), bad.eq(0)]
                        m.next = "WRITE_CHECK"
                    with m.Case(P.Op.INPUT):
                        go(P_FIXED, A_PAYLOAD)
                        with m.If(npay == 0):
                            m.next = "ACK"
                        with m.Elif(overflow):
                            ram(OP_INPUT_DROPPED)
                        with m.Else():
                            m.d.sync += bidx.eq(0)
                            m.next = "IN_SHIFT"
                    with m.Case(P.Op.STEP):
                        with m.If(~arg_nz):
                            m.next = "ACK"      # then SPIKES
                        with m.Else():
                            ram(OP_STEP_PENDING)
                    with m.Case(P.Op.FREERUN):
                        m.d.sync += [freerun.eq(1), tab.eq(word[:32]), period_nz.eq(arg_nz),
                                     due_now.eq(1), since_flush.eq(0)]
                        ram(OP_FREERUN)
                    with m.Case(P.Op.STOP, P.Op.RESET):
                        m.d.sync += [freerun.eq(0), cur_active.eq(0), waiting.eq(0)]
                        ram(OP_END_RUNS)
                    with m.Case(P.Op.COUNTERS):
                        m.d.comb += aaddr_next.eq(0)
                        m.d.sync += [region.eq(counters_index), depth.eq(len(fmt.COUNTERS)),
                                     wbytes.eq(P.COUNTER.size), clear_after.eq(word[0] & P.COUNTERS_CLEAR)]
                        send(R_COUNTERS)
                    with m.Case(P.Op.SEED):
                        # (the LFSR state takes no address)
                        m.d.comb += [self.core.access.region.eq(seed_index), self.core.access.we.eq(1)]
                        m.next = "ACK"
            with m.State("ACK"):
                send(R_ACK)

            # --- WRITE: every word's top byte within the region's width, then the words ---
            with m.State("WRITE_CHECK"):
                top = (width - 1)[:3]           # the top byte's highest allowed bit
                illegal = (data & Array(Const(0xFF ^ ((2 << t) - 1), 8) for t in range(8))[top]).any()
                # (buf's read address does not depend on at_end: a read past the frame is harmless)
                go(P_INC)
                with m.If(at_end):
                    with m.If(bad):
                        m.next = "T_START"      # reason: R_BAD_VALUE
                    with m.Else():
                        m.next = "WRITE_START"
                with m.Else():
                    with m.If(fcnt == 1):
                        m.d.sync += [fcnt.eq(wbytes), bad.eq(bad | illegal)]
                    with m.Else():
                        m.d.sync += fcnt.eq(fcnt - 1)
            with m.State("WRITE_START"):
                go(P_FIXED, A_WORDS)
                m.d.sync += [bidx.eq(0), bad.eq(0)]
                m.next = "WRITE_WORD"
            with m.State("WRITE_WORD"):     # 8 shifts: the word's bytes, then whatever follows
                word_done = bad
                with m.If(bidx == 0):       # the word before (if any) is complete: write it
                    m.d.comb += self.core.access.we.eq(word_done)
                    with m.If(word_done):
                        m.d.comb += aaddr_next.eq(aaddr + 1)
                with m.If(bidx < wbytes):       # (also at the end: ACK does not read buf)
                    go(P_INC)
                with m.If((bidx == 0) & at_end):
                    m.next = "ACK"
                with m.Else():
                    m.d.sync += [shift_word, bidx.eq(bidx + 1), word_done.eq(1)]

            # --- INPUT ---
            with m.State("IN_SHIFT"):
                go(P_INC)
                m.d.sync += [shift_word, bidx.eq(~bidx[0])]
                with m.If(bidx[0]):
                    m.next = "IN_PUSH"
            with m.State("IN_PUSH"):
                m.d.comb += self.core.inputs.valid.eq(1)
                with m.If(self.core.inputs.ready):
                    with m.If(at_end):
                        m.next = "ACK"
                    with m.Else():
                        m.next = "IN_SHIFT"

            # --- the variables in buf ---
            with m.State("RAM_SETUP"):
                go(P_FIXED)
                m.d.sync += nz.eq(0)
                with m.Switch(ram_op):
                    for op, (addr, length, a, b, carry, source) in ops.items():
                        with m.Case(op):
                            m.d.comb += aidx.eq(addr)
                            m.d.sync += fcnt.eq(length - 1)
                            alu_mode(a, b, carry, source)
                m.next = "RAM"
            with m.State("RAM"):
                go(P_INC)
                m.d.comb += ram_write.eq(1)
                m.d.sync += [cy.eq(alu[8]), nz.eq(nz | alu[:8].any()), fcnt.eq(fcnt - 1),
                             bidx.eq(bidx + 1)]
                with m.If(fcnt == 0):
                    with m.Switch(ram_op):
                        with m.Case(OP_INPUT_DROPPED):
                            send(R_REPORT + P.ReportKind.INPUT_OVERFLOW)
                        with m.Case(OP_STEP_PENDING, OP_OVERRUNS, OP_PENDING_DEC):
                            ram(ram_op + 1)
                        with m.Case(OP_STEP_SLOT):
                            m.d.sync += waiting.eq(waiting + 1)
                            m.next = "ACK"
                        with m.Case(OP_FREERUN):
                            m.next = "ACK"
                        with m.Case(OP_END_RUNS):
                            flush()
                        with m.Case(OP_ZERO_COUNTERS):
                            with m.If(op_lo == int(P.Op.RESET)):
                                m.next = "RESET_WAIT"
                            with m.Else():
                                m.next = "DONE"
                        with m.Case(OP_UNREPORTED):
                            m.d.sync += ovr_any.eq(1)
                            m.next = "IDLE"
                        with m.Case(OP_HEAD_DEC):
                            with m.If(nz):
                                m.next = "IDLE"
                            with m.Else():      # the STEP's ticks are done
                                m.d.sync += cur_active.eq(0)
                                flush()
            assert (OP_STEP_SLOT, OP_UNREPORTED, OP_HEAD_DEC) == (OP_STEP_PENDING + 1, OP_OVERRUNS + 1,
                                                                  OP_PENDING_DEC + 1)
            with m.State("RESET_WAIT"):
                with m.If(~self.core.control.busy):
                    m.next = "ACK"

            # --- a tick ---
            with m.State("TICK_START"):
                m.d.comb += [self.core.control.step.eq(1), self.core.control.step_ticks.eq(1)]
                m.d.sync += [ln.eq(0), drop_cnt.eq(0), lost_cnt.eq(0)]
                m.next = "TICK_RUN"
            with m.State("TICK_RUN"):      # the spikes stay in the output FIFO: it is the list
                with m.If(self.core.outputs.push):
                    m.d.sync += [ln.eq(ln + 1), last_neuron.eq(self.core.outputs.push_neuron)]
                with m.If(self.core.inputs.dropped):
                    m.d.sync += drop_cnt.eq(drop_cnt + 1)
                with m.If(self.core.outputs.lost):
                    m.d.sync += lost_cnt.eq(lost_cnt + 1)
                with m.If(~self.core.control.busy):
                    m.next = "TICK_END"
            with m.State("TICK_END"):       # REPORTs (each clears its count when sent), the record
                with m.If(drop_cnt != 0):
                    m.d.sync += tick_prev.eq(1)
                    send(R_REPORT + P.ReportKind.INPUT_DROPPED)
                with m.Elif(lost_cnt != 0):
                    m.d.sync += tick_prev.eq(1)
                    send(R_REPORT + P.ReportKind.OUTPUT_OVERFLOW)
                with m.Elif(ln == 0):
                    m.next = "TICK_DONE"
                with m.Elif(greater_than(sp_len + rec_len, max_pl)):
                    m.d.sync += through_prev.eq(1)
                    flush()
                with m.Else():
                    m.next = "TICK_3"
            with m.State("TICK_3"):         # the record header: tick - 1 (4 bytes), info
                go(P_FIXED, A_ONES)
                alu_mode(1, B_VALUE, 0, S_TICK)
                m.next = "REC_HEAD"
            with m.State("REC_HEAD"):
                go(P_INC)
                m.d.comb += [sw.data.eq(alu[:8]), sw.en.eq(1)]
                m.d.sync += [sp_len.eq(sp_len + 1), bidx.eq(bidx + 1), cy.eq(alu[8] & (bidx != 3))]
                with m.If(bidx == 3):
                    m.d.sync += src.eq(S_INFO)
                with m.If(bidx == P.SPIKE_RECORD.size - 1):
                    m.d.sync += li.eq(0)
                    m.d.sync += [bj.eq(0), acc8.eq(0)]
                    with m.If(use_bm):
                        m.next = "BITMAP"
                    with m.Else():
                        m.next = "LIST"
            with m.State("LIST"):           # bidx[0]: the high byte
                m.d.comb += [sw.data.eq(Cat(self.core.outputs.neuron, Const(0, 16)).word_select(bidx[0], 8)),
                             sw.en.eq(1)]
                m.d.sync += [sp_len.eq(sp_len + 1), bidx.eq(~bidx[0])]
                with m.If(bidx[0]):
                    m.d.comb += self.core.outputs.ready.eq(1)
                    m.d.sync += li.eq(li + 1)
                    with m.If(li + 1 == ln):
                        m.next = "TICK_DONE"
            with m.State("BITMAP"):
                with m.If((li != ln) & ((self.core.outputs.neuron >> 3) == bj)):
                    m.d.comb += self.core.outputs.ready.eq(1)
                    m.d.sync += [li.eq(li + 1), acc8.eq(acc8 | (Const(1, 8) << self.core.outputs.neuron[:3]))]
                with m.Else():
                    m.d.comb += [sw.data.eq(acc8), sw.en.eq(1)]
                    m.d.sync += [sp_len.eq(sp_len + 1), acc8.eq(0), bj.eq(bj + 1)]
                    with m.If(bj == (last_neuron >> 3)):
                        m.next = "TICK_DONE"
            with m.State("TICK_DONE"):
                with m.If(freerun):
                    with m.If(period_nz & tick_passed):
                        ram(OP_OVERRUNS)
                    with m.Else():
                        m.next = "IDLE"
                with m.Else():
                    ram(OP_PENDING_DEC)

            # --- SPIKES (after a REPORT OVERRUN if any) ---
            with m.State("FLUSH"):
                with m.If(ovr_any):
                    m.d.sync += ovr_any.eq(0)
                    send(R_REPORT + P.ReportKind.OVERRUN)
                with m.Else():
                    m.d.sync += [since_flush.eq(0), tick_prev.eq(through_prev), through_prev.eq(0)]
                    send(R_SPIKES)

            # --- the transmitter ---
            with m.State("T_START"):
                go(P_SLOT)
                is_report = greater_than(reason, R_REPORT) & less_than(reason, R_READ)
                m.d.comb += [slot_err.eq(is_error), self.error.eq(is_error | is_report)]
                m.d.sync += crc.eq(CRC_INIT)
                m.next = "T_CODE"
            with m.State("T_CODE"):
                ftype = data[5:]
                go(P_INC)
                m.d.sync += [fcnt.eq(Mux(ftype[2], Mux(data[0], 4, 2), data[:5])), fkind.eq(ftype),
                             src.eq(data[1:5]), tp.eq(ptr_inc), bidx.eq(0), cy.eq(0), b_ones.eq(0),
                             mode.eq(M_RET)]
                with m.Switch(ftype):
                    with m.Case(F_LIT):
                        m.d.sync += [mode.eq(M_LIT), a_en.eq(1), b_src.eq(0)]
                        m.next = "T_BYTES"
                    with m.Case(F_ECHO, F_HIGH, F_TABLE, F_VALUE_PLUS):
                        m.next = "T_ADDR"
                    with m.Case(F_VALUE):       # tick - 1: + 0xFFFFFFFF
                        go(P_FIXED, A_ONES)
                        m.d.sync += [a_en.eq(tick_prev & (data[1:5] == S_TICK)), b_src.eq(1)]
                        m.next = "T_BYTES"
                    with m.Case(F_CTRL):
                        with m.Switch(data[:2]):
                            with m.Case(C_END):     # the CRC, most significant byte first
                                m.d.sync += [src.eq(S_CRC), fcnt.eq(2), mode.eq(M_CRC), a_en.eq(0),
                                             b_src.eq(1)]
                                m.next = "T_BYTES"
                            with m.Case(C_JUMP):
                                go(P_SLOT)
                            with m.Case(C_WORDS):
                                go(P_HOLD)
                                m.next = "T_READ"
                            with m.Case(C_SPIKES):
                                with m.If(sp_len != P.SPIKES.size):     # the records, from buf
                                    go(P_FIXED, A_SPIKES)
                                    m.d.sync += [mode.eq(M_SPIKES), a_en.eq(1), b_src.eq(0)]
                                    m.next = "T_BYTES"
            with m.State("T_ADDR"):         # the field's address byte
                m.d.sync += [tp.eq(ptr_inc), a_en.eq((fkind != F_ECHO) | ref_valid),
                             b_src.eq(fkind == F_VALUE_PLUS)]
                m.d.comb += table_k.eq(data[:2])
                with m.Switch(fkind):
                    with m.Case(F_ECHO):
                        go(P_DATA)
                    with m.Case(F_HIGH, F_VALUE_PLUS):
                        go(P_HIGH)
                    with m.Case(F_TABLE):
                        go(P_TABLE)
                with m.If(fcnt == 0):       # F_HIGH with n = 0: the template goes on there
                    m.next = "T_CODE"
                with m.Else():
                    m.next = "T_BYTES"
            with m.State("T_BYTES"):
                m.d.comb += [self.tx.valid.eq(1), crc_en.eq(tx_go)]
                with m.If(self.tx.ready):
                    go(P_INC)
                    m.d.sync += [cy.eq(alu[8]), fcnt.eq(fcnt - 1), bidx.eq(bidx + 1)]
                    with m.If(mode[2]):
                        m.d.sync += bidx.eq(0)
                    with m.If(mode == M_WORDS):             # a word's next byte into word[:8]
                        m.d.sync += shift_word
                    with m.If(mode == M_SPIKES):            # the spike records: to sp_len
                        with m.If(ptr[:lay.spk_bits] + 1 == sp_len):
                            go(P_RET)
                            m.d.sync += sp_len.eq(P.SPIKES.size)
                            m.next = "T_CODE"
                    with m.Elif(fcnt == 1):
                        with m.Switch(mode):
                            with m.Case(M_LIT):
                                m.next = "T_CODE"
                            with m.Case(M_RET):
                                go(P_RET)
                                m.next = "T_CODE"
                            with m.Case(M_WORDS):
                                m.d.comb += aaddr_next.eq(aaddr + 1)
                                m.next = "T_READ"
                            with m.Case(M_CRC):
                                m.next = "T_LAST"
            with m.State("T_READ"):         # the next word, if any
                with m.If(aaddr == depth):   # (the READ's end, or the counters')
                    go(P_RET)
                    m.next = "T_CODE"
                with m.Else():
                    m.d.comb += self.core.access.re.eq(1)
                    m.next = "T_RWAIT"
            with m.State("T_RWAIT"):
                with m.If(self.core.access.rvalid):
                    # the Link's own counters: dropped (7) and overruns (6) are added as sent
                    extra = (region == counters_index) & aaddr[1] & aaddr[2]
                    go(P_FIXED, A_EXTRA)
                    # the word into `word` (idle while words are read), sent from its byte 0 as
                    # it shifts (bidx stays 0 in M_WORDS)
                    m.d.sync += [fcnt.eq(wbytes), mode.eq(M_WORDS), word.eq(self.core.access.rdata)]
                    alu_mode(extra, B_VALUE, 0, S_RDATA)
                    m.next = "T_BYTES"
            with m.State("T_LAST"):         # what follows a reply depends on the reply and the command
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.last.eq(1)]
                with m.If(self.tx.ready):
                    m.d.sync += [tx_seq.eq(tx_seq + 1), tick_prev.eq(0)]
                    with m.Switch(reason):
                        with m.Case(R_ACK):
                            with m.If(is_op(P.Op.STEP) & ~arg_nz):
                                flush()        # STEP 0: SPIKES after its ACK
                            with m.Else():
                                m.next = "DONE"
                        with m.Case(R_COUNTERS):
                            with m.If(clear_after):
                                m.d.comb += self.core.control.clear_counters.eq(1)
                                ram(OP_ZERO_COUNTERS)
                            with m.Else():
                                m.next = "DONE"
                        with m.Case(R_REPORT + P.ReportKind.INPUT_OVERFLOW):
                            m.next = "ACK"
                        with m.Case(R_REPORT + P.ReportKind.INPUT_DROPPED):
                            m.d.sync += drop_cnt.eq(0)
                            m.next = "TICK_END"
                        with m.Case(R_REPORT + P.ReportKind.OUTPUT_OVERFLOW):
                            m.d.sync += lost_cnt.eq(0)
                            m.next = "TICK_END"
                        with m.Case(R_REPORT + P.ReportKind.OVERRUN):
                            m.next = "FLUSH"
                        with m.Case(R_SPIKES):
                            with m.If(~in_cmd):     # a tick's: the STEP's end, free-run, a full buffer
                                with m.If(tick_prev):
                                    m.next = "TICK_3"
                                with m.Else():
                                    m.next = "IDLE"
                            with m.Elif(op_lo == int(P.Op.STOP)):
                                m.next = "ACK"
                            with m.Elif(op_lo == int(P.Op.RESET)):
                                m.d.comb += [self.core.control.clear.eq(1), self.core.control.flush_inputs.eq(1)]
                                m.d.sync += ovr_any.eq(0)
                                ram(OP_ZERO_COUNTERS)
                            with m.Else():          # STEP 0
                                m.next = "DONE"
                        with m.Default():       # ERROR, HELLO_REPLY, READ_REPLY
                            m.next = "DONE"
        return m
