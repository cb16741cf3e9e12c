"""The Link's command executor: a checked frame's command on the core's ports.

One command at a time: while a command executes (or a tick runs, or a reply is sent)
`rx.ready` is 0, so the byte layer in front needs a FIFO of at least one frame (DeviceTop has
it). HELLO announces `window` (default 1): the host keeps at most that many commands without
their reply.

READ / WRITE go through the core's access port a word at a time (a WRITE's words are checked
against the region's width first), on a device of several cores to the core SELECT_CORE chose; INPUT pushes its entries into the core's input queue; a
STEP queues its ticks in the ring of buf's variables (at most STEP_QUEUE wait; a further STEP
then gets BUSY); FREERUN times a tick every `period` cycles itself (overruns counted by the
Link); STOP / RESET end the runs. The ticks themselves are rtl.link.spikes'.

States: DISPATCH, ACK, WRITE_CHECK, WRITE_START, WRITE_WORD, IN_SHIFT, IN_PUSH; RESET_WAIT.
"""

from __future__ import annotations

from amaranth.hdl import Array, Const, Mux, Signal, unsigned
from amaranth.lib import data

from firmware import formats as fmt
from firmware import protocol as P

from ..lib.compare import greater_than
from . import templates as T
from .buffer import A_PAYLOAD, A_WORDS, P_FIXED, P_INC, RING_SLOTS
from .datapath import OP_END_RUNS, OP_FREERUN, OP_INPUT_DROPPED, OP_STEP_PENDING

STEP_QUEUE = 4                      # STEPs that may wait behind the running one

# One register, two roles: FREERUN's period (READ, WRITE and COUNTERS, the only users of the
# region's table entry, are refused with BUSY while free-running)
REGION_ENTRY = data.FlexibleLayout(32, {       # as the region table holds it (rtl.link.buffer)
    "depth": data.Field(unsigned(16), 0), "word_bytes": data.Field(unsigned(4), 16),
    "width": data.Field(unsigned(7), 24)})
TABLE_OR_PERIOD = data.UnionLayout({"entry": REGION_ENTRY, "period": unsigned(32)})
# One bit, two roles in a WRITE
WRITE_FLAG = data.UnionLayout({"bad_value": unsigned(1),       # WRITE_CHECK: a top byte above the width
                               "word_complete": unsigned(1)})  # WRITE_WORD: a word to write


class Executor:
    """The command's registers: the region and word of an access, the STEP queue, free-run."""

    def __init__(self, link, receiver):
        self.region = Signal(5)
        self.table = Signal(TABLE_OR_PERIOD, name="table")   # a READ / WRITE's region entry; FREERUN's period
        # a region's word address (up to its depth: the READ's end)
        addr_width = len(link.core.access.addr) + 1
        self.word_addr = Signal(addr_width)
        self.word_addr_next = Signal(addr_width)
        self.write_flag = Signal(WRITE_FLAG, name="write_flag")
        # a READ / WRITE: address + count (range check, READ's end); registered, off the checks'
        # path (the payload bytes in `word` hold still from PASS on, cycles before it is used)
        self.access_end = Signal(17)
        self.clear_counters_after = Signal()    # COUNTERS: clear them after the reply (flags bit 0)
        # the STEPs: the running one's remaining ticks in ring slot ring_head
        self.step_running = Signal()
        self.ring_head = Signal(range(RING_SLOTS))
        self.steps_waiting = Signal(range(STEP_QUEUE + 1))
        # free-run
        self.freerun = Signal()
        self.period_nonzero = Signal()
        self.cycles_since_tick = Signal(32)     # since the last free-run tick started
        self.first_tick_due = Signal()          # free-run just began: the first tick is due
        self.pulses_since_spikes = Signal(range(link.flush_pulses + 1))   # slow_tick pulses since the last SPIKES
        self.overrun_unreported = Signal()      # RAM_UNREPORTED holds a count not yet reported
        self.running = Signal()                 # STEPs or free-run under way
        # a device of several cores: SELECT_CORE's core, which the access port reaches
        self.core_select = Signal(range(link.cores), name="core_select") if link.cores > 1 else None
        # cycles_since_tick counts up by one from 0, so it passed `period` once it equalled it
        self.period_passed = Signal()           # cycles_since_tick > period
        self.period_reached = self.period_passed | (self.cycles_since_tick == self.table.period)

    def timers(self, m, k):
        """`running`; the free-run timer and the pulses since the last SPIKES."""
        m.d.comb += self.running.eq(self.step_running | (self.steps_waiting != 0) | self.freerun)
        with m.If(self.period_reached):
            m.d.sync += self.period_passed.eq(1)
        with m.If(self.freerun):
            m.d.sync += self.cycles_since_tick.eq(self.cycles_since_tick + 1)
            with m.If(k.link.slow_tick & (self.pulses_since_spikes != k.link.flush_pulses)):
                m.d.sync += self.pulses_since_spikes.eq(self.pulses_since_spikes + 1)

    def access_address(self, m, k):
        m.d.comb += self.word_addr_next.eq(self.word_addr)
        m.d.sync += self.word_addr.eq(self.word_addr_next)
        request = k.receiver.request
        m.d.sync += self.access_end.eq(request.addr[:16] + request.count)

    def core_defaults(self, m, k):
        """The core's data ports are driven always: only their strobes depend on the state."""
        core, word = k.link.core, k.receiver.word
        m.d.comb += [core.control.step_ticks.eq(1), core.control.period.eq(0), core.control.freerun.eq(0),
                     core.access.region.eq(self.region), core.access.addr.eq(self.word_addr),
                     core.access.wdata.eq(word)]
        if self.core_select is not None:
            m.d.comb += core.access.core.eq(self.core_select)
        entry = word[48:]               # an INPUT entry
        aw = len(core.inputs.axon)
        axon = entry[:15]
        if (1 << aw) > k.link.config.n_inputs and aw < 15:
            # out-of-range axons become a value the core drops as out of range
            m.d.comb += core.inputs.axon.eq(Mux(axon >= (1 << aw), (1 << aw) - 1, axon))
        else:
            m.d.comb += core.inputs.axon.eq(axon)
        m.d.comb += [core.inputs.tick_end.eq(entry[15]), core.inputs.repeat.eq(entry[:15])]

    def states(self, m, k):
        """DISPATCH, ACK, WRITE_CHECK, WRITE_START, WRITE_WORD, IN_SHIFT, IN_PUSH."""
        link, buffer, receiver, datapath, transmitter = k.link, k.buffer, k.receiver, k.datapath, k.transmitter
        core, request, entry, data_ = link.core, receiver.request, self.table.entry, buffer.data
        npay = receiver.payload_size
        overflow = greater_than((npay >> 1) + core.inputs.level, link.input_depth)     # an INPUT that does not fit

        with m.State("DISPATCH"):
            with m.Switch(receiver.opcode):
                with m.Case(P.Op.HELLO):
                    transmitter.send(m, T.R_HELLO)
                with m.Case(P.Op.READ):
                    m.d.comb += self.word_addr_next.eq(request.addr)
                    m.d.sync += entry.depth.eq(self.access_end)    # the READ's end (within the depth)
                    transmitter.send(m, T.R_READ)
                with m.Case(P.Op.WRITE):
                    buffer.go(m, P_FIXED, A_WORDS)
                    m.d.comb += self.word_addr_next.eq(request.addr)
                    m.d.sync += [datapath.bytes_left.eq(entry.word_bytes), self.write_flag.bad_value.eq(0)]
                    m.next = "WRITE_CHECK"
                with m.Case(P.Op.INPUT):
                    buffer.go(m, P_FIXED, A_PAYLOAD)
                    with m.If(npay == 0):
                        m.next = "ACK"
                    with m.Elif(overflow):
                        datapath.ram(m, OP_INPUT_DROPPED)
                    with m.Else():
                        m.d.sync += datapath.byte_index.eq(0)
                        m.next = "IN_SHIFT"
                with m.Case(P.Op.STEP):
                    with m.If(~receiver.argument_nonzero):
                        m.next = "ACK"      # then SPIKES
                    with m.Else():
                        datapath.ram(m, OP_STEP_PENDING)
                with m.Case(P.Op.FREERUN):
                    m.d.sync += [self.freerun.eq(1), self.table.period.eq(receiver.word[:32]),
                                 self.period_nonzero.eq(receiver.argument_nonzero), self.first_tick_due.eq(1),
                                 self.pulses_since_spikes.eq(0)]
                    datapath.ram(m, OP_FREERUN)
                with m.Case(P.Op.STOP, P.Op.RESET):
                    m.d.sync += [self.freerun.eq(0), self.step_running.eq(0), self.steps_waiting.eq(0)]
                    datapath.ram(m, OP_END_RUNS)
                with m.Case(P.Op.COUNTERS):
                    m.d.comb += self.word_addr_next.eq(0)
                    m.d.sync += [self.region.eq(link.regions["counters"].index), entry.depth.eq(len(fmt.COUNTERS)),
                                 entry.word_bytes.eq(P.COUNTER.size),
                                 self.clear_counters_after.eq(receiver.word[0] & P.COUNTERS_CLEAR)]
                    transmitter.send(m, T.R_COUNTERS)
                with m.Case(P.Op.SEED):
                    # (the LFSR state takes no address)
                    m.d.comb += [core.access.region.eq(link.regions["lfsr_state"].index), core.access.we.eq(1)]
                    m.next = "ACK"
                if self.core_select is not None:
                    with m.Case(P.Op.SELECT_CORE):
                        m.d.sync += self.core_select.eq(request.region)
                        m.next = "ACK"
        with m.State("ACK"):
            transmitter.send(m, T.R_ACK)

        # --- WRITE: every word's top byte within the region's width, then the words ---
        with m.State("WRITE_CHECK"):
            top = (entry.width - 1)[:3]           # the top byte's highest allowed bit
            illegal = (data_ & Array(Const(0xFF ^ ((2 << t) - 1), 8) for t in range(8))[top]).any()
            # (buf's read address does not depend on at_end: a read past the frame is harmless)
            buffer.go(m, P_INC)
            with m.If(receiver.at_end):
                with m.If(self.write_flag.bad_value):
                    m.next = "T_START"      # reason: R_BAD_VALUE
                with m.Else():
                    m.next = "WRITE_START"
            with m.Else():
                with m.If(datapath.bytes_left == 1):
                    m.d.sync += [datapath.bytes_left.eq(entry.word_bytes),
                                 self.write_flag.bad_value.eq(self.write_flag.bad_value | illegal)]
                with m.Else():
                    m.d.sync += datapath.bytes_left.eq(datapath.bytes_left - 1)
        with m.State("WRITE_START"):
            buffer.go(m, P_FIXED, A_WORDS)
            m.d.sync += [datapath.byte_index.eq(0), self.write_flag.word_complete.eq(0)]
            m.next = "WRITE_WORD"
        with m.State("WRITE_WORD"):     # 8 shifts: the word's bytes, then whatever follows
            word_complete, byte_index = self.write_flag.word_complete, datapath.byte_index
            with m.If(byte_index == 0):       # the word before (if any) is complete: write it
                m.d.comb += core.access.we.eq(word_complete)
                with m.If(word_complete):
                    m.d.comb += self.word_addr_next.eq(self.word_addr + 1)
            with m.If(byte_index < entry.word_bytes):       # (also at the end: ACK does not read buf)
                buffer.go(m, P_INC)
            with m.If((byte_index == 0) & receiver.at_end):
                m.next = "ACK"
            with m.Else():
                m.d.sync += [receiver.shift_word, byte_index.eq(byte_index + 1), word_complete.eq(1)]

        # --- INPUT ---
        with m.State("IN_SHIFT"):
            buffer.go(m, P_INC)
            m.d.sync += [receiver.shift_word, datapath.byte_index.eq(~datapath.byte_index[0])]
            with m.If(datapath.byte_index[0]):
                m.next = "IN_PUSH"
        with m.State("IN_PUSH"):
            m.d.comb += core.inputs.valid.eq(1)
            with m.If(core.inputs.ready):
                with m.If(receiver.at_end):
                    m.next = "ACK"
                with m.Else():
                    m.next = "IN_SHIFT"

    def reset_state(self, m, k):
        """RESET_WAIT: RESET's ACK once the core's clear is done."""
        with m.State("RESET_WAIT"):
            with m.If(~k.link.core.control.busy):
                m.next = "ACK"
