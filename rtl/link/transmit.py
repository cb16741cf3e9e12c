"""The Link's transmitter: a reply's template (rtl.link.templates) out, a byte a cycle.

The template of slot `reason` (an ERROR's: first the common header of slot R_ERROR) goes out
field by field: a code byte (T_CODE), for some an address byte (T_ADDR), then its bytes
(T_BYTES) through the byte adder, a byte a cycle plus a cycle or two per field; the words of a
READ / COUNTERS come from the core's access port (T_READ, T_RWAIT); the CRC goes out last, most
significant byte first, and the frame's end beat (T_LAST), after which the Link goes where the
reply and the command lead.

States: T_START, T_CODE, T_ADDR, T_BYTES, T_READ, T_RWAIT, T_LAST.
"""

from __future__ import annotations

from amaranth.hdl import Mux, Signal

from firmware import protocol as P

from ..lib.compare import greater_than, less_than
from . import templates as T
from .buffer import A_EXTRA, A_ONES, A_SPIKES, P_DATA, P_FIXED, P_HIGH, P_HOLD, P_INC, P_RET, P_SLOT, P_TABLE
from .datapath import B_VALUE, CRC_INIT, OP_ZERO_COUNTERS

# byte_mode: where T_BYTES goes after a field's bytes (bit 2: a one-byte value, lane 0)
M_LIT, M_RET, M_SPIKES, M_CRC, M_WORDS = 0, 1, 4, 5, 6


class Transmitter:
    """The reply's reason and sequence number, and where its template is."""

    def __init__(self, link):
        self.reason = Signal(5)             # the check under way; the reply's template slot
        self.sequence = Signal(8)           # the reply's seq
        self.resume = Signal(link.layout.ptr_bits)     # where the template goes on after a field
        self.field_type = Signal(3)         # the field's type (F_*) in T_ADDR
        self.byte_mode = Signal(3)          # M_*
        self.error_slot = Signal()          # P_SLOT: the ERRORs' common beginning, not the reason's slot
        self.ref_valid = ~less_than(self.reason, T.FIRST_REF_VALID)
        self.is_error = less_than(self.reason, T.R_ERROR)

    def slot(self):
        """The template slot P_SLOT points buf at."""
        return Mux(self.error_slot, T.R_ERROR, self.reason)

    def send(self, m, reason):
        """Go and send the reply of `reason`."""
        m.d.sync += self.reason.eq(reason)
        m.next = "T_START"

    def byte_out(self, m, k):
        """The adder's byte is the byte sent."""
        m.d.comb += [k.datapath.out_byte.eq(k.datapath.adder[:8]), k.link.tx.payload.data.eq(k.datapath.out_byte)]

    def states(self, m, k):
        """T_START .. T_LAST."""
        link, buffer, datapath, executor, receiver, spikes = (k.link, k.buffer, k.datapath, k.executor,
                                                              k.receiver, k.spikes)
        core, lay, data, reason = link.core, link.layout, buffer.data, self.reason
        bytes_left, byte_index, mode = datapath.bytes_left, datapath.byte_index, self.byte_mode
        tx_go = link.tx.valid & link.tx.ready

        with m.State("T_START"):
            buffer.go(m, P_SLOT)
            is_report = greater_than(reason, T.R_REPORT) & less_than(reason, T.R_READ)
            m.d.comb += [self.error_slot.eq(self.is_error), link.error.eq(self.is_error | is_report)]
            m.d.sync += datapath.crc.eq(CRC_INIT)
            m.next = "T_CODE"
        with m.State("T_CODE"):
            ftype = data[5:]
            buffer.go(m, P_INC)
            m.d.sync += [bytes_left.eq(Mux(ftype[2], Mux(data[0], 4, 2), data[:5])), self.field_type.eq(ftype),
                         datapath.source.eq(data[1:5]), self.resume.eq(buffer.ptr_inc), byte_index.eq(0),
                         datapath.carry.eq(0), datapath.add_ones.eq(0), mode.eq(M_RET)]
            with m.Switch(ftype):
                with m.Case(T.F_LIT):
                    m.d.sync += [mode.eq(M_LIT), datapath.add_buf.eq(1), datapath.add_value.eq(0)]
                    m.next = "T_BYTES"
                with m.Case(T.F_ECHO, T.F_HIGH, T.F_TABLE, T.F_VALUE_PLUS):
                    m.next = "T_ADDR"
                with m.Case(T.F_VALUE):       # tick - 1: + 0xFFFFFFFF
                    buffer.go(m, P_FIXED, A_ONES)
                    m.d.sync += [datapath.add_buf.eq(spikes.previous_tick & (data[1:5] == T.S_TICK)),
                                 datapath.add_value.eq(1)]
                    m.next = "T_BYTES"
                with m.Case(T.F_CTRL):
                    with m.Switch(data[:2]):
                        with m.Case(T.C_END):     # the CRC, most significant byte first
                            m.d.sync += [datapath.source.eq(T.S_CRC), bytes_left.eq(2), mode.eq(M_CRC),
                                         datapath.add_buf.eq(0), datapath.add_value.eq(1)]
                            m.next = "T_BYTES"
                        with m.Case(T.C_JUMP):
                            buffer.go(m, P_SLOT)
                        with m.Case(T.C_WORDS):
                            buffer.go(m, P_HOLD)
                            m.next = "T_READ"
                        with m.Case(T.C_SPIKES):
                            with m.If(spikes.length != P.SPIKES.size):     # the records, from buf
                                buffer.go(m, P_FIXED, A_SPIKES)
                                m.d.sync += [mode.eq(M_SPIKES), datapath.add_buf.eq(1), datapath.add_value.eq(0)]
                                m.next = "T_BYTES"
        with m.State("T_ADDR"):         # the field's address byte
            m.d.sync += [self.resume.eq(buffer.ptr_inc),
                         datapath.add_buf.eq((self.field_type != T.F_ECHO) | self.ref_valid),
                         datapath.add_value.eq(self.field_type == T.F_VALUE_PLUS)]
            m.d.comb += buffer.table_byte.eq(data[:2])
            with m.Switch(self.field_type):
                with m.Case(T.F_ECHO):
                    buffer.go(m, P_DATA)
                with m.Case(T.F_HIGH, T.F_VALUE_PLUS):
                    buffer.go(m, P_HIGH)
                with m.Case(T.F_TABLE):
                    buffer.go(m, P_TABLE)
            with m.If(bytes_left == 0):       # F_HIGH with n = 0: the template goes on there
                m.next = "T_CODE"
            with m.Else():
                m.next = "T_BYTES"
        with m.State("T_BYTES"):
            m.d.comb += [link.tx.valid.eq(1), datapath.crc_enable.eq(tx_go)]
            with m.If(link.tx.ready):
                buffer.go(m, P_INC)
                m.d.sync += [datapath.carry.eq(datapath.adder[8]), bytes_left.eq(bytes_left - 1),
                             byte_index.eq(byte_index + 1)]
                with m.If(mode[2]):
                    m.d.sync += byte_index.eq(0)
                with m.If(mode == M_WORDS):             # a word's next byte into word[:8]
                    m.d.sync += receiver.shift_word
                with m.If(mode == M_SPIKES):            # the spike records: to the SPIKES length
                    with m.If(buffer.ptr[:lay.spk_bits] + 1 == spikes.length):
                        buffer.go(m, P_RET)
                        m.d.sync += spikes.length.eq(P.SPIKES.size)
                        m.next = "T_CODE"
                with m.Elif(bytes_left == 1):
                    with m.Switch(mode):
                        with m.Case(M_LIT):
                            m.next = "T_CODE"
                        with m.Case(M_RET):
                            buffer.go(m, P_RET)
                            m.next = "T_CODE"
                        with m.Case(M_WORDS):
                            m.d.comb += executor.word_addr_next.eq(executor.word_addr + 1)
                            m.next = "T_READ"
                        with m.Case(M_CRC):
                            m.next = "T_LAST"
        with m.State("T_READ"):         # the next word, if any
            with m.If(executor.word_addr == executor.table.entry.depth):   # (the READ's end, or the counters')
                buffer.go(m, P_RET)
                m.next = "T_CODE"
            with m.Else():
                m.d.comb += core.access.re.eq(1)
                m.next = "T_RWAIT"
        with m.State("T_RWAIT"):
            with m.If(core.access.rvalid):
                # the Link's own counters: dropped (7) and overruns (6) are added as sent
                counters = link.regions["counters"].index
                extra = (executor.region == counters) & executor.word_addr[1] & executor.word_addr[2]
                if executor.core_select is not None:        # (the device's own counts are core 0's)
                    extra = extra & (executor.core_select == 0)
                buffer.go(m, P_FIXED, A_EXTRA)
                # the word into `word` (idle while words are read), sent from its byte 0 as it
                # shifts (byte_index stays 0 in M_WORDS)
                m.d.sync += [bytes_left.eq(executor.table.entry.word_bytes), mode.eq(M_WORDS),
                             receiver.word.eq(core.access.rdata)]
                datapath.adder_mode(m, extra, B_VALUE, 0, T.S_READ_BYTE)
                m.next = "T_BYTES"
        with m.State("T_LAST"):         # what follows a reply depends on the reply and the command
            m.d.comb += [link.tx.valid.eq(1), link.tx.payload.last.eq(1)]
            with m.If(link.tx.ready):
                m.d.sync += [self.sequence.eq(self.sequence + 1), spikes.previous_tick.eq(0)]
                with m.Switch(reason):
                    with m.Case(T.R_ACK):
                        with m.If(receiver.is_op(P.Op.STEP) & ~receiver.argument_nonzero):
                            spikes.flush(m)        # STEP 0: SPIKES after its ACK
                        with m.Else():
                            m.next = "DONE"
                    with m.Case(T.R_COUNTERS):
                        with m.If(executor.clear_counters_after):
                            m.d.comb += core.control.clear_counters.eq(1)
                            datapath.ram(m, OP_ZERO_COUNTERS)
                        with m.Else():
                            m.next = "DONE"
                    with m.Case(T.R_REPORT + P.ReportKind.INPUT_OVERFLOW):
                        m.next = "ACK"
                    with m.Case(T.R_REPORT + P.ReportKind.INPUT_DROPPED):
                        m.d.sync += spikes.dropped.tick_inputs.eq(0)
                        m.next = "TICK_END"
                    with m.Case(T.R_REPORT + P.ReportKind.OUTPUT_OVERFLOW):
                        m.d.sync += spikes.lost.eq(0)
                        m.next = "TICK_END"
                    with m.Case(T.R_REPORT + P.ReportKind.OVERRUN):
                        m.next = "FLUSH"
                    with m.Case(T.R_SPIKES):
                        with m.If(~receiver.in_command):     # a tick's: the STEP's end, free-run, a full buffer
                            with m.If(spikes.previous_tick):
                                m.next = "REC_START"
                            with m.Else():
                                m.next = "IDLE"
                        with m.Elif(receiver.op_low == int(P.Op.STOP)):
                            m.next = "ACK"
                        with m.Elif(receiver.op_low == int(P.Op.RESET)):
                            m.d.comb += [core.control.clear.eq(1), core.control.flush_inputs.eq(1)]
                            m.d.sync += executor.overrun_unreported.eq(0)
                            datapath.ram(m, OP_ZERO_COUNTERS)
                        with m.Else():          # STEP 0
                            m.next = "DONE"
                    with m.Default():       # ERROR, HELLO_REPLY, READ_REPLY
                        m.next = "DONE"
