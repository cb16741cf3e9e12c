"""The Link's ticks and their spike records.

The Link runs the core one tick at a time (`step` with `step_ticks` = 1), counts the tick's
output spikes as they enter the core's output FIFO (`outputs.push`; the FIFO, as deep as the
neurons, is the tick's list), then takes them out of it into one spike record (list or
bitmap, the smaller) in the SPIKES payload in buf. It sends SPIKES when a STEP's ticks are
done, when the next record does not fit, at STOP / RESET, for STEP 0, and in free-run when no
tick is due and `flush_pulses` pulses of `slow_tick` came since the last SPIKES. REPORT
INPUT_DROPPED / OUTPUT_OVERFLOW after a tick that dropped inputs / lost outputs; OVERRUN before
the next SPIKES.

States: TICK_START, TICK_RUN, TICK_END, REC_START, REC_HEAD, LIST, BITMAP, TICK_DONE; FLUSH.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Shape, Signal
from amaranth.lib import data

from firmware import formats as fmt
from firmware import protocol as P

from ..lib.compare import greater_than
from . import templates as T
from .buffer import A_ONES, P_FIXED, P_INC
from .datapath import B_VALUE, OP_OVERRUNS, OP_PENDING_DEC


class SpikeRecords:
    """The tick's spike count, drops and losses; the SPIKES payload's length; the record being
    made."""

    def __init__(self, link):
        c, max_pl = link.config, link.max_payload
        nb = len(link.core.outputs.neuron)                  # a neuron's (device) number
        n = c.n_neurons * link.cores                        # the device's neurons
        self.length = Signal(range(max_pl + 1), init=P.SPIKES.size)    # the SPIKES payload's bytes
        self.count = Signal(range(n + 1))                   # the tick's output spikes
        self.last_neuron = Signal(nb)
        count_width = Shape.cast(range(max(link.input_depth, max_pl // 2) + 1))
        # One register, two roles:
        self.dropped = Signal(data.UnionLayout({
            "frame_axons": count_width,     # an INPUT frame's axons (dropped if it does not fit)
            "tick_inputs": count_width,     # the tick's dropped inputs (REPORT INPUT_DROPPED)
        }), name="dropped")
        self.lost = Signal(range(n + 1))                    # the tick's lost outputs
        self.taken = Signal(range(n + 1))                   # spikes of the list taken from the output FIFO
        self.bitmap_byte = Signal(nb)                       # the bitmap's byte being made ...
        self.bitmap_bits = Signal(8)                        # ... and its bits so far
        self.previous_tick = Signal()           # S_TICK is tick - 1 (the tick just run)
        self.through_previous = Signal()        # the SPIKES to send is through tick - 1 (a record did not fit)
        # the record of the tick: list or bitmap, whichever is smaller
        self.bitmap_length = Signal(nb + 1)
        self.use_bitmap = Signal()
        self.record_length = Signal(max(12, (P.SPIKE_RECORD.size + (1 << nb) // 8).bit_length()))
        self.record_info = Mux(self.use_bitmap, P.SPIKE_BITMAP | self.bitmap_length, self.count)

    def record_size(self, m):
        # registered (off the paths into the byte adder): count and last_neuron last change at
        # an outputs.push, in the tick's neuron phase, cycles before the core's busy falls
        bitmap_bytes = (self.last_neuron >> 3) + 1
        bitmap_wins = bitmap_bytes < (self.count << 1)
        m.d.sync += [self.bitmap_length.eq(bitmap_bytes), self.use_bitmap.eq(bitmap_wins),
                     self.record_length.eq(P.SPIKE_RECORD.size + Mux(bitmap_wins, bitmap_bytes, self.count << 1))]

    @staticmethod
    def flush(m):
        """Go and send SPIKES (after a REPORT OVERRUN if one is due)."""
        m.next = "FLUSH"

    def states(self, m, k):
        """TICK_START .. TICK_DONE, FLUSH."""
        link, buffer, datapath, executor, transmitter = k.link, k.buffer, k.datapath, k.executor, k.transmitter
        core, sw = link.core, buffer.spikes_write
        with m.State("TICK_START"):
            m.d.comb += [core.control.step.eq(1), core.control.step_ticks.eq(1)]
            m.d.sync += [self.count.eq(0), self.dropped.tick_inputs.eq(0), self.lost.eq(0)]
            m.next = "TICK_RUN"
        with m.State("TICK_RUN"):      # the spikes stay in the output FIFO: it is the list
            if link.cores == 1:
                with m.If(core.outputs.push):
                    m.d.sync += [self.count.eq(self.count + 1), self.last_neuron.eq(core.outputs.push_neuron)]
                with m.If(core.inputs.dropped):
                    m.d.sync += self.dropped.tick_inputs.eq(self.dropped.tick_inputs + 1)
                with m.If(core.outputs.lost):
                    m.d.sync += self.lost.eq(self.lost + 1)
            else:       # several cores push, drop and lose at once: counts (push_neuron: the largest)
                with m.If(core.outputs.push != 0):
                    m.d.sync += [self.count.eq(self.count + core.outputs.push),
                                 self.last_neuron.eq(core.outputs.push_neuron)]
                m.d.sync += [self.dropped.tick_inputs.eq(self.dropped.tick_inputs + core.inputs.dropped),
                             self.lost.eq(self.lost + core.outputs.lost)]
            with m.If(~core.control.busy):
                m.next = "TICK_END"
        with m.State("TICK_END"):       # REPORTs (each clears its count when sent), the record
            with m.If(self.dropped.tick_inputs != 0):
                m.d.sync += self.previous_tick.eq(1)
                transmitter.send(m, T.R_REPORT + P.ReportKind.INPUT_DROPPED)
            with m.Elif(self.lost != 0):
                m.d.sync += self.previous_tick.eq(1)
                transmitter.send(m, T.R_REPORT + P.ReportKind.OUTPUT_OVERFLOW)
            with m.Elif(self.count == 0):
                m.next = "TICK_DONE"
            with m.Elif(greater_than(self.length + self.record_length, link.max_payload)):
                m.d.sync += self.through_previous.eq(1)
                self.flush(m)
            with m.Else():
                m.next = "REC_START"
        with m.State("REC_START"):      # the record header: tick - 1 (4 bytes), info
            buffer.go(m, P_FIXED, A_ONES)
            datapath.adder_mode(m, 1, B_VALUE, 0, T.S_TICK)
            m.next = "REC_HEAD"
        with m.State("REC_HEAD"):
            byte_index = datapath.byte_index
            buffer.go(m, P_INC)
            m.d.comb += [sw.data.eq(datapath.adder[:8]), sw.en.eq(1)]
            m.d.sync += [self.length.eq(self.length + 1), byte_index.eq(byte_index + 1),
                         datapath.carry.eq(datapath.adder[8] & (byte_index != 3))]
            with m.If(byte_index == 3):
                m.d.sync += datapath.source.eq(T.S_RECORD_INFO)
            with m.If(byte_index == P.SPIKE_RECORD.size - 1):
                m.d.sync += self.taken.eq(0)
                m.d.sync += [self.bitmap_byte.eq(0), self.bitmap_bits.eq(0)]
                with m.If(self.use_bitmap):
                    m.next = "BITMAP"
                with m.Else():
                    m.next = "LIST"
        with m.State("LIST"):           # byte_index[0]: the high byte
            byte_index = datapath.byte_index
            m.d.comb += [sw.data.eq(Cat(core.outputs.neuron, Const(0, 16)).word_select(byte_index[0], 8)),
                         sw.en.eq(1)]
            m.d.sync += [self.length.eq(self.length + 1), byte_index.eq(~byte_index[0])]
            with m.If(byte_index[0]):
                m.d.comb += core.outputs.ready.eq(1)
                m.d.sync += self.taken.eq(self.taken + 1)
                with m.If(self.taken + 1 == self.count):
                    m.next = "TICK_DONE"
        with m.State("BITMAP"):
            neuron = core.outputs.neuron
            with m.If((self.taken != self.count) & ((neuron >> 3) == self.bitmap_byte)):
                m.d.comb += core.outputs.ready.eq(1)
                m.d.sync += [self.taken.eq(self.taken + 1),
                             self.bitmap_bits.eq(self.bitmap_bits | (Const(1, 8) << neuron[:3]))]
            with m.Else():
                m.d.comb += [sw.data.eq(self.bitmap_bits), sw.en.eq(1)]
                m.d.sync += [self.length.eq(self.length + 1), self.bitmap_bits.eq(0),
                             self.bitmap_byte.eq(self.bitmap_byte + 1)]
                with m.If(self.bitmap_byte == (self.last_neuron >> 3)):
                    m.next = "TICK_DONE"
        with m.State("TICK_DONE"):
            with m.If(executor.freerun):
                with m.If(executor.period_nonzero & executor.period_passed):
                    datapath.ram(m, OP_OVERRUNS)
                with m.Else():
                    m.next = "IDLE"
            with m.Else():
                datapath.ram(m, OP_PENDING_DEC)

        # --- SPIKES (after a REPORT OVERRUN if any) ---
        with m.State("FLUSH"):
            with m.If(executor.overrun_unreported):
                m.d.sync += executor.overrun_unreported.eq(0)
                transmitter.send(m, T.R_REPORT + P.ReportKind.OVERRUN)
            with m.Else():
                m.d.sync += [executor.pulses_since_spikes.eq(0), self.previous_tick.eq(self.through_previous),
                             self.through_previous.eq(0)]
                transmitter.send(m, T.R_SPIKES)

