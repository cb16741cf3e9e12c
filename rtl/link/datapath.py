"""The Link's shared datapath: one byte adder, the value lanes it reads, the CRC, and the
operations on the variables in buf (RAM_* in rtl.link.buffer).

The adder: buf's byte (`add_buf`) + a value's byte (`add_value`; else 0xFF with `add_ones`,
or 0) + `carry`. It updates the variables a byte a cycle (a few cycles each: per tick, pending
- 1 and the running STEP's ticks - 1), adds the Link's counters to the core's as they are
sent, and forms tick - 1 and the lengths of replies. Values (tick, consumed, counts, ...) are
not copied: a reply picks their bytes as it sends them, byte `byte_index` of value `source`
(S_* of rtl.link.templates) through four byte lanes.

An operation on the variables (OP_*, the table `OPS`): RAM_SETUP points buf at the variable
and sets the adder; RAM adds a byte a cycle and writes it back, then goes where the operation
leads.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Mux, Signal

from firmware import protocol as P

from . import templates as T
from .buffer import (A_DROPPED, A_HEAD, A_NEW, A_OVERRUNS, A_PENDING, A_UNREPORTED, P_FIXED, P_INC,
                     RAM_DROPPED, RAM_END, RAM_OVERRUNS, RAM_PENDING, RAM_UNREPORTED)
from .crc import crc16_update

CRC_INIT = P.crc16(b"")
B_ZERO, B_VALUE, B_ONES = range(3)     # the adder's second operand: 0, a value's byte, 0xFF

# Operations on the variables (read, add, write back a byte a cycle)
(OP_INPUT_DROPPED, OP_STEP_PENDING, OP_STEP_SLOT, OP_FREERUN, OP_END_RUNS, OP_ZERO_COUNTERS,
 OP_OVERRUNS, OP_UNREPORTED, OP_PENDING_DEC, OP_HEAD_DEC) = range(10)
assert RAM_UNREPORTED == RAM_OVERRUNS + 8 and RAM_OVERRUNS == RAM_DROPPED + 8
assert (OP_STEP_SLOT, OP_UNREPORTED, OP_HEAD_DEC) == (OP_STEP_PENDING + 1, OP_OVERRUNS + 1, OP_PENDING_DEC + 1)

READ_AS = T.READ_AS


class Datapath:
    """The adder's operands and result, the CRC, the variables' operation and a byte count."""

    def __init__(self):
        self.crc = Signal(16, init=CRC_INIT)
        self.out_byte = Signal(8)           # the adder's byte: what the transmitter sends
        self.crc_enable = Signal()          # the CRC takes out_byte
        self.nonzero = Signal()             # the variable operated on is not zero
        self.ram_write = Signal()
        self.ram_op = Signal(4)
        self.bytes_left = Signal(6)         # of a field, a variable, a table entry, a word; the multiply's steps
        self.add_buf = Signal()             # a: buf's byte, else 0
        self.add_value = Signal()           # b: the value's byte, else add_ones ? 0xFF : 0
        self.add_ones = Signal()
        self.carry = Signal()
        self.source = Signal(4)             # the value (S_*)
        self.byte_index = Signal(3)         # its byte
        self.value_byte = Signal(8)
        self.adder = Signal(9)              # the sum, and the carry out in bit 8

    @staticmethod
    def ops(k):
        """op: (address, bytes, a, b, carry in, the value for b)"""
        return {
            OP_INPUT_DROPPED: (A_DROPPED, 8, 1, B_VALUE, 0, T.S_REPORT_COUNT),  # dropped += axons
            OP_STEP_PENDING: (A_PENDING, 4, 1, B_VALUE, 0, T.S_ARGUMENT),      # pending += ticks
            OP_STEP_SLOT: (A_NEW, 4, 1, B_VALUE, 0, T.S_ARGUMENT),             # free slot (0) += ticks
            OP_FREERUN: (A_PENDING, 4, 0, B_ONES, 0, T.S_ARGUMENT),            # BUSY's detail: 0xFFFFFFFF
            OP_END_RUNS: (A_PENDING, RAM_END - RAM_PENDING, 0, B_ZERO, 0, T.S_ARGUMENT),   # pending, ring: 0
            OP_ZERO_COUNTERS: (A_DROPPED, 16, 0, B_ZERO, 0, T.S_ARGUMENT),     # dropped, overruns: 0
            OP_OVERRUNS: (A_OVERRUNS, 8, 1, B_ZERO, 1, T.S_ARGUMENT),          # overruns += 1
            # unreported: + 1, or 1
            OP_UNREPORTED: (A_UNREPORTED, 4, k.executor.overrun_unreported, B_ZERO, 1, T.S_ARGUMENT),
            OP_PENDING_DEC: (A_PENDING, 4, 1, B_ONES, 0, T.S_ARGUMENT),        # pending -= 1
            OP_HEAD_DEC: (A_HEAD, 4, 1, B_ONES, 0, T.S_ARGUMENT),              # the running STEP's ticks -= 1
        }

    def crc_update(self, m):
        with m.If(self.crc_enable):
            m.d.sync += self.crc.eq(crc16_update(self.crc, self.out_byte))

    def lanes(self, m, k):
        """The value bytes (lane j holds byte j of the value `source`; byte_index picks the
        lane) and the adder."""
        link, receiver, executor, spikes = k.link, k.receiver, k.executor, k.spikes
        core, entry = link.core, executor.table.entry
        # (as wide as the most words of a byte: 2,038 at max_payload 2,048)
        most_width = P.max_words(1, link.max_payload).bit_length()
        most = Array(Const(P.max_words(max(1, b), link.max_payload), most_width) for b in range(16))[entry.word_bytes]
        values = {
            T.S_HEADER: Cat(Const(P.PROTOCOL_VERSION, 8), k.transmitter.sequence), T.S_TICK: core.control.tick,
            T.S_RECORD_INFO: spikes.record_info[:16],
            T.S_CONSUMED: core.control.consumed, T.S_QUEUED: core.inputs.level,
            T.S_DETAIL: receiver.detail.as_value(),
            T.S_STATUS: Cat(executor.running & ~executor.freerun, executor.freerun),
            T.S_ARGUMENT: receiver.word[:32], T.S_READ_BYTE: receiver.word[:8], T.S_DECODED: receiver.decoded,
            T.S_ENCODED: receiver.encoded,
            # READ: the words it may have, else the payload's size
            T.S_EXPECTED: Mux(receiver.is_read, most, receiver.expected_size),
            # REPORT's count: a tick's dropped inputs are reported (and cleared) before its lost outputs
            T.S_REPORT_COUNT: Mux(spikes.dropped.tick_inputs != 0, spikes.dropped.tick_inputs, spikes.lost),
            # the CRC: its high byte, twice (a CRC register given its own high byte shifts left by 8)
            T.S_SPIKES_LENGTH: spikes.length, T.S_CRC: self.crc[8:],
        }
        assert (int(P.Status.STEPPING), int(P.Status.FREERUN)) == (1, 2)
        if link.cores > 1:
            # HELLO's status goes out as a u16 with n_cores' low byte; SELECT_CORE's refusal
            # shares R_BAD_ARGUMENT with SEED's: code, ref_valid 1, detail (rtl.link.templates)
            values[T.S_STATUS] = Cat(values[T.S_STATUS], Const(0, 6), Const(link.cores & 0xFF, 8))

            def argument_error(code, detail):
                return Const(int(code) | 1 << 8 | detail << 16, 32)
            values[T.S_ARG_ERROR] = Mux(receiver.is_op(P.Op.SELECT_CORE),
                                        argument_error(P.ErrorCode.BAD_CORE, link.cores),
                                        argument_error(P.ErrorCode.BAD_ARGUMENT, 1))
        lanes = []
        for j in range(8):
            lane = Signal(8, name=f"lane{j}")
            with m.Switch(self.source):
                for sv, v in values.items():
                    if j < READ_AS.get(sv, 4) and 8 * j < len(v):
                        with m.Case(sv):
                            m.d.comb += lane.eq(Cat(v, Const(0, 8))[8 * j:8 * j + 8])
            lanes.append(lane)
        # values have at most 4 bytes: bytes 4..7 are 0 (S_REPORT_COUNT's, added to the 64-bit
        # `dropped`), but for S_RECORD_INFO, read at byte_index 4, 5
        assert all(j >= READ_AS.get(sv, 4) or 8 * j >= len(v) for sv, v in values.items() for j in range(4, 8))
        m.d.comb += self.value_byte.eq(Mux(self.byte_index[2] & (self.source != T.S_RECORD_INFO), 0,
                                           Array(lanes[:4])[self.byte_index[:2]]))
        m.d.comb += self.adder.eq(Mux(self.add_buf, k.buffer.data, 0)
                                  + Mux(self.add_value, self.value_byte, Mux(self.add_ones, 0xFF, 0)) + self.carry)

    def adder_mode(self, m, a, b, carry, source=None):
        """The adder's inputs from the next cycle on: buf's byte if `a`; b: 0, the value
        `source` from its byte 0, or 0xFF (B_*); the carry in."""
        m.d.sync += [self.add_buf.eq(a), self.add_value.eq(b == B_VALUE), self.add_ones.eq(b == B_ONES),
                     self.carry.eq(carry), self.byte_index.eq(0)]
        if source is not None:
            m.d.sync += self.source.eq(source)

    def ram(self, m, op):
        """Go and run operation `op` on the variables."""
        m.d.sync += self.ram_op.eq(op)
        m.next = "RAM_SETUP"

    def states(self, m, k):
        """RAM_SETUP, RAM."""
        buffer, executor, receiver = k.buffer, k.executor, k.receiver
        with m.State("RAM_SETUP"):
            buffer.go(m, P_FIXED)
            m.d.sync += self.nonzero.eq(0)
            with m.Switch(self.ram_op):
                for op, (addr, length, a, b, carry, source) in self.ops(k).items():
                    with m.Case(op):
                        m.d.comb += buffer.fixed_index.eq(addr)
                        m.d.sync += self.bytes_left.eq(length - 1)
                        self.adder_mode(m, a, b, carry, source)
            m.next = "RAM"
        with m.State("RAM"):
            buffer.go(m, P_INC)
            m.d.comb += self.ram_write.eq(1)
            m.d.sync += [self.carry.eq(self.adder[8]), self.nonzero.eq(self.nonzero | self.adder[:8].any()),
                         self.bytes_left.eq(self.bytes_left - 1), self.byte_index.eq(self.byte_index + 1)]
            with m.If(self.bytes_left == 0):
                with m.Switch(self.ram_op):
                    with m.Case(OP_INPUT_DROPPED):
                        k.transmitter.send(m, T.R_REPORT + P.ReportKind.INPUT_OVERFLOW)
                    with m.Case(OP_STEP_PENDING, OP_OVERRUNS, OP_PENDING_DEC):
                        self.ram(m, self.ram_op + 1)
                    with m.Case(OP_STEP_SLOT):
                        m.d.sync += executor.steps_waiting.eq(executor.steps_waiting + 1)
                        m.next = "ACK"
                    with m.Case(OP_FREERUN):
                        m.next = "ACK"
                    with m.Case(OP_END_RUNS):
                        k.spikes.flush(m)
                    with m.Case(OP_ZERO_COUNTERS):
                        with m.If(receiver.op_low == int(P.Op.RESET)):
                            m.next = "RESET_WAIT"
                        with m.Else():
                            m.next = "DONE"
                    with m.Case(OP_UNREPORTED):
                        m.d.sync += executor.overrun_unreported.eq(1)
                        m.next = "IDLE"
                    with m.Case(OP_HEAD_DEC):
                        with m.If(self.nonzero):
                            m.next = "IDLE"
                        with m.Else():      # the STEP's ticks are done
                            m.d.sync += executor.step_running.eq(0)
                            k.spikes.flush(m)

