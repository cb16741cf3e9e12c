"""The Link's receiver: a frame into buf, then its checks in the protocol's order.

`rx_byte` is a one-cycle pulse per non-0x00 byte the COBS decoder takes (DeviceTop drives
it); the receiver counts these to find the encoded length (OVERSIZE, detail max_payload, above
max_encoded(max_payload): such a frame's bytes beyond the frame area are not stored; FRAMING's
detail). At the end beat the frame is checked one check a cycle (the transmitter's `reason`
counts them; the number of the check that fails selects its ERROR's template), and every bad
frame gets exactly one ERROR. Once the size, COBS and length checks pass, one pass over the
frame (a cycle a byte, at least 13) computes its CRC and takes the opcode, the length and
payload bytes 0..7 into registers; a READ / WRITE then reads its region's table entry (4
cycles) and multiplies out its size (a cycle per word byte).

States: DONE (ready for the next frame), IDLE (a frame's bytes in; between frames the next
tick starts here), CHECK, PASS, TABLE, MULTIPLY.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Mux, Signal, unsigned
from amaranth.lib import data

from firmware import protocol as P

from ..lib.compare import greater_than, less_than
from . import templates as T
from .buffer import A_FRAME, P_FIXED, P_INC, P_TABLE
from .datapath import B_ZERO, CRC_INIT
from .execute import STEP_QUEUE

# One register, three roles: what the template field S_DETAIL sends
DETAIL = data.UnionLayout({
    "crc": unsigned(20),            # BAD_CRC: the CRC of the frame without its last 2 bytes
    "max_payload": unsigned(20),    # OVERSIZE on a device of a smaller max_payload: the limit
    "access_size": unsigned(20),    # READ_REPLY's payload size; the payload a WRITE must have
})
# READ's and WRITE's payload (firmware.protocol.REGION_ACCESS) in payload bytes 0..7
REQUEST = data.StructLayout({"region": unsigned(8), "word_bytes": unsigned(8), "addr": unsigned(32),
                             "count": unsigned(16)})
assert P.REGION_ACCESS.format == "<BBIH" and P.REGION_ACCESS.size == REQUEST.size // 8


class Receiver:
    """The frame's registers: its lengths, its header, payload bytes 0..7 (`word`)."""

    def __init__(self, link, buffer):
        lay = link.layout
        nw = (lay.frame_area + 1).bit_length()
        self.decoded = Signal(nw)           # decoded bytes of the frame (wraps only in refused frames)
        self.encoded = Signal(nw)           # encoded bytes (saturating)
        self.early = Signal()               # the next frame's first (code) byte came while a command ran
        self.in_command = Signal()          # a command is under way (not a tick's reports or SPIKES)
        self.framing_error = Signal()
        self.payload_size = Signal(nw)
        self.payload_end = Signal(nw)
        self.at_end = buffer.ptr == self.payload_end
        self.was_at_end = Signal()
        self.store = Signal()               # the frame's byte into buf
        # payload bytes 0..7; a word to write; an INPUT entry; a word read (READ / COUNTERS:
        # sent from its byte 0 as it shifts)
        self.word = Signal(64)
        self.shift_word = self.word.eq(Cat(self.word[8:], buffer.data))
        self.request = data.View(REQUEST, self.word)
        # the header's opcode; of its length only what the checks need (read in PASS, where
        # the frame's size payload_size is known)
        self.opcode = Signal(8)
        self.length_low_equal = Signal()    # the length's low byte equals payload_size's
        self.length_low_nonzero = Signal()
        self.length_equal = Signal()        # length == payload_size
        self.length_too_big = Signal()      # length > MAX_PAYLOAD
        self.version_ok = Signal()
        self.argument_nonzero = Signal()    # payload bytes 0..3 not all zero
        self.crc_fed = Signal()             # the CRC has taken the whole frame
        self.detail = Signal(DETAIL, name="detail")
        self.op_low, self.op_high_zero = self.opcode[:4], self.opcode[4:] == 0
        self.is_access = self.is_op(P.Op.READ, P.Op.WRITE)
        self.is_read, self.is_write = self.is_op(P.Op.READ), self.is_op(P.Op.WRITE)
        # the size a payload must have
        self.expected_size = Mux(self.is_op(P.Op.COUNTERS), P.COUNTERS_REQUEST.size,
                                 Mux(self.is_op(P.Op.STEP, P.Op.FREERUN, P.Op.SEED), 4,
                                     Mux(self.is_read, P.REGION_ACCESS.size, 0)))
        # the commands of this device (SELECT_CORE only on several cores)
        self.commands = [op for op in P.Op if op < 0x80 and (op != P.Op.SELECT_CORE or link.cores > 1)]
        if link.cores > 1:
            self.expected_size = Mux(self.is_op(P.Op.SELECT_CORE), P.SELECT_CORE.size, self.expected_size)
        assert P.REGION_ACCESS.size < 16 and P.COUNTERS_REQUEST.size == P.SELECT_CORE.size
        assert P.STEP.size == P.FREERUN.size == P.SEED.size == 4

    def bad_argument(self, link):
        """SEED 0; on several cores also SELECT_CORE of a core beyond them (its core, payload
        byte 0, is the request's region byte)."""
        seed_zero = self.is_op(P.Op.SEED) & ~self.argument_nonzero
        if link.cores == 1:
            return seed_zero
        return seed_zero | (self.is_op(P.Op.SELECT_CORE) & ~less_than(self.request.region, link.cores))

    def is_op(self, *ops):
        return self.op_high_zero & Cat(*(self.op_low == int(op) for op in ops)).any()

    def count(self, m, k):
        """The payload's size and end; the encoded bytes."""
        m.d.comb += [self.payload_size.eq(self.decoded - (P.HEADER_SIZE + P.CRC_SIZE)),
                     self.payload_end.eq(self.decoded - P.CRC_SIZE)]
        m.d.sync += self.was_at_end.eq(self.at_end)
        # While a command runs the COBS decoder takes at most the next frame's first byte (a
        # code byte; the next one yields a beat), so `encoded` holds still for FRAMING's detail.
        with m.If(k.link.rx_byte & self.in_command):
            m.d.sync += self.early.eq(1)
        with m.Elif(k.link.rx_byte & ~self.encoded.all()):
            m.d.sync += self.encoded.eq(self.encoded + 1)

    def checks(self, k):
        """reason: refused when (the checks in the protocol's order)."""
        link, lay, executor, request = k.link, k.link.layout, k.executor, self.request
        entry, npay = executor.table.entry, self.payload_size
        return {
            T.R_OVERSIZE_FRAME: greater_than(self.encoded, lay.frame_area),
            T.R_FRAMING: self.framing_error,
            T.R_TRUNCATED: less_than(self.decoded, P.HEADER_SIZE + P.CRC_SIZE),
            T.R_BAD_CRC: k.datapath.crc != 0,
            T.R_VERSION: ~self.version_ok,
            T.R_OVERSIZE: self.length_too_big | (self.length_equal & greater_than(npay, link.max_payload)),
            T.R_BAD_LENGTH: ~self.length_equal,
            T.R_UNKNOWN_OPCODE: ~self.is_op(*self.commands),
            T.R_SIZE: self.is_op(*(op for op in (P.Op.HELLO, P.Op.STOP, P.Op.RESET, P.Op.STEP, P.Op.FREERUN,
                                                 P.Op.SEED, P.Op.COUNTERS, P.Op.SELECT_CORE)
                                   if op in self.commands)) & (npay != self.expected_size),
            T.R_INPUT_ODD: self.is_op(P.Op.INPUT) & npay[0],
            T.R_BUSY: ((self.is_op(P.Op.READ, P.Op.WRITE, P.Op.FREERUN, P.Op.COUNTERS, P.Op.SEED) & executor.running)
                       | (self.is_op(P.Op.STEP) & (executor.freerun | ((executor.steps_waiting == STEP_QUEUE)
                                                                    & self.argument_nonzero)))),
            T.R_ACCESS_SIZE: Mux(self.is_read, npay != self.expected_size,
                                 self.is_write & less_than(npay, P.REGION_ACCESS.size)),
            T.R_BAD_ARGUMENT: self.bad_argument(link),
            T.R_BAD_REGION: self.is_access & ~less_than(request.region, len(link.regions)),
            T.R_WORD_SIZE: request.word_bytes != entry.word_bytes,
            T.R_OUT_OF_RANGE: (request.addr[16:] != 0) | (executor.access_end > entry.depth),
            T.R_READ_OVERSIZE: self.is_read & greater_than(self.detail.access_size, link.max_payload),
            T.R_WRITE_SIZE: self.is_write & (self.detail.access_size != npay),
            T.R_READ_ONLY: self.is_write & (request.region == link.regions["counters"].index),
        }

    def states(self, m, k):
        """DONE, IDLE, CHECK, PASS, TABLE, MULTIPLY."""
        link, lay, buffer, executor, datapath = k.link, k.link.layout, k.buffer, k.executor, k.datapath
        transmitter, spikes = k.transmitter, k.spikes
        reason, data, ptr, request = transmitter.reason, buffer.data, buffer.ptr, self.request
        checks = self.checks(k)
        refused = Array(checks.get(r, Const(0)) for r in range(32))[reason]

        with m.State("DONE"):
            m.d.sync += [self.decoded.eq(0), self.in_command.eq(0), self.encoded.eq(self.early | link.rx_byte),
                         self.early.eq(0)]
            m.next = "IDLE"

        with m.State("IDLE"):
            m.d.comb += [link.rx.ready.eq(1),
                         link.idle.eq(~executor.running & (self.decoded == 0) & ~link.rx.valid)]
            beat = link.rx.payload
            with m.If(link.rx.valid):
                with m.If(beat.last):
                    m.d.sync += [self.framing_error.eq(beat.error), reason.eq(T.FIRST_SLOT),
                                 self.in_command.eq(1)]
                    m.next = "CHECK"
                with m.Else():
                    # (decoded wraps beyond 2 ** len(decoded) - 1 bytes: such a frame is OVERSIZE anyway)
                    m.d.comb += self.store.eq(less_than(self.decoded, lay.frame_area))
                    m.d.sync += self.decoded.eq(self.decoded + 1)
            with m.Elif(~executor.step_running & (executor.steps_waiting != 0)):
                m.d.sync += [executor.step_running.eq(1), executor.ring_head.eq(executor.ring_head + 1),
                             executor.steps_waiting.eq(executor.steps_waiting - 1)]
            with m.Elif(executor.step_running):
                m.next = "TICK_START"
            with m.Elif(executor.freerun & (executor.first_tick_due | executor.period_reached)):
                m.d.sync += [executor.cycles_since_tick.eq(0), executor.first_tick_due.eq(0),
                             executor.period_passed.eq(0)]
                m.next = "TICK_START"
            with m.Elif(executor.freerun & (executor.pulses_since_spikes == link.flush_pulses)):
                spikes.flush(m)

        # --- frame and command checks: one a cycle; some need data first ---
        with m.State("CHECK"):
            m.d.sync += executor.region.eq(request.region[:5])
            # buf's next address follows the check, not its outcome (a refusal goes on to
            # T_START, which sets the address anew): `refused` stays off that path
            with m.Switch(reason):
                with m.Case(T.R_TRUNCATED):
                    buffer.go(m, P_FIXED, A_FRAME)
                with m.Case(T.R_BAD_REGION):
                    with m.If(self.is_access):
                        buffer.go(m, P_TABLE)
                with m.Case(T.R_OUT_OF_RANGE):    # payload size: WRITE's, READ_REPLY's (its
                    # ERROR does not show it, so `refused` stays off its enable too)
                    m.d.sync += [self.detail.access_size.eq(Mux(self.is_read, P.REPLY.size + P.REGION_ACCESS.size,
                                                                P.REGION_ACCESS.size)),
                                 datapath.bytes_left.eq(executor.table.entry.word_bytes)]
            with m.If(refused):
                if link.max_payload != P.MAX_PAYLOAD:
                    # (only OVERSIZE's: BAD_CRC's CRC and WRITE_SIZE's size share the register)
                    with m.If(reason == T.R_OVERSIZE):
                        m.d.sync += self.detail.max_payload.eq(Mux(self.length_too_big, P.MAX_PAYLOAD,
                                                                   link.max_payload))
                m.next = "T_START"          # the reason is the failing check
            with m.Else():
                m.d.sync += reason.eq(reason + 1)
                with m.Switch(reason):
                    with m.Case(T.R_TRUNCATED):       # the frame is worth reading: CRC, header
                        m.d.sync += [datapath.crc.eq(CRC_INIT), self.crc_fed.eq(0), self.argument_nonzero.eq(0),
                                     spikes.dropped.frame_axons.eq(0)]
                        datapath.adder_mode(m, 1, B_ZERO, 0)
                        m.next = "PASS"
                    with m.Case(T.R_BAD_REGION):      # a READ / WRITE: its region's table entry
                        with m.If(self.is_access):
                            m.d.sync += datapath.bytes_left.eq(3)
                            m.next = "TABLE"
                        with m.Else():
                            m.next = "DISPATCH"
                    with m.Case(T.R_OUT_OF_RANGE):    # access_size = the payload size + count * word bytes
                        m.next = "MULTIPLY"
                    with m.Case(T.R_READ_ONLY):
                        m.next = "DISPATCH"

        # one pass over the frame: its CRC (and, for BAD_CRC's detail, the CRC without the
        # last two bytes), the header's version, opcode and length, payload bytes 0..7
        with m.State("PASS"):
            buffer.go(m, P_INC)
            m.d.comb += datapath.crc_enable.eq(~self.crc_fed)
            with m.If(self.at_end):
                m.d.sync += self.detail.crc.eq(datapath.crc)
            with m.If(self.was_at_end):
                m.d.sync += self.crc_fed.eq(1)
            low = ptr[4:] == 0
            with m.If(low & (ptr[:4] < 13)):
                m.d.sync += self.shift_word
            with m.If(low & (ptr[:4] == 8)):
                m.d.sync += self.version_ok.eq(self.word[:8] == P.PROTOCOL_VERSION)
            # (word[:8] is the byte 8 before ptr: opcode, length low, length high at 10, 11, 12)
            npay = self.payload_size
            assert P.MAX_PAYLOAD % 256 == 0 and P.HEADER.size == 5 and len(npay) <= 16
            with m.If(low & (ptr[:4] == 10)):
                m.d.sync += self.opcode.eq(self.word[:8])
            with m.If(low & (ptr[:4] == 11)):
                m.d.sync += [self.length_low_equal.eq(self.word[:8] == npay[:8]),
                             self.length_low_nonzero.eq(self.word[:8].any())]
            with m.If(low & (ptr[:4] == 12)):
                m.d.sync += [self.length_equal.eq(self.length_low_equal & (self.word[:8] == (npay >> 8))),
                             self.length_too_big.eq((self.word[:8] > P.MAX_PAYLOAD >> 8)
                                                    | ((self.word[:8] == P.MAX_PAYLOAD >> 8)
                                                       & self.length_low_nonzero))]
            arg_byte = (ptr[:4] >= P.HEADER_SIZE) & (ptr[:4] < P.HEADER_SIZE + 4)
            with m.If(low & arg_byte & data.any()):
                m.d.sync += self.argument_nonzero.eq(1)
            # an INPUT's axons (entries with bit 15 clear), for INPUT_OVERFLOW
            with m.If(~ptr[0] & ~(low & (ptr[:4] < 6)) & ~self.crc_fed & ~self.was_at_end & ~data[7]):
                m.d.sync += spikes.dropped.frame_axons.eq(spikes.dropped.frame_axons + 1)
            with m.If((self.crc_fed | self.was_at_end) & ~(low & (ptr[:4] < 12))):
                m.next = "CHECK"

        with m.State("TABLE"):
            buffer.go(m, P_INC)
            table = executor.table.as_value()
            m.d.sync += [table.eq(Cat(table[8:], data)), datapath.bytes_left.eq(datapath.bytes_left - 1)]
            with m.If(datapath.bytes_left == 0):
                m.next = "CHECK"

        with m.State("MULTIPLY"):       # access_size = 10 (12 for a READ_REPLY) + count * word bytes
            with m.If(datapath.bytes_left == 0):
                m.next = "CHECK"
            with m.Else():
                m.d.sync += [self.detail.access_size.eq(self.detail.access_size + request.count),
                             datapath.bytes_left.eq(datapath.bytes_left - 1)]
