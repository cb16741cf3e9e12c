"""Phase 3 of a tick (spec §2, §5): route the tick's events into the accumulators.

Two decoupled halves joined by a small FIFO of segment descriptors:

- the *fetcher* walks the event list: event -> axon entry (first segment, count) -> each
  segment (synapse range, window, delay, projection) -> the projection's weight exponent, and
  pushes (first synapse, count, accumulator base, exponent) per segment;
- the *streamer* issues one synapse read per cycle from the descriptor at its head, and loads
  the next descriptor in the cycle it issues the last synapse of the current one, so
  consecutive segments stream without a bubble while the fetcher works ahead.

Each synapse word then goes through a two-stage read-modify-write of its 16-bit accumulator
(a transparent read port makes back-to-back updates of one accumulator exact):

    P1  synapse word in; read accumulator base + target offset
    P2  accumulator + (weight << exponent), wrapped to 16 bits, written back
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt

from .layout import unpack
from .ports import done_when_idle, read_port, write_port

DESCRIPTOR_FIFO_DEPTH = 4


class Router(wiring.Component):
    """`start` routes events 0 .. n_events-1 of the event list for the tick whose slot is
    `slot`; `done` pulses when every accumulator update is written. `synaptic_event` pulses
    once per synapse delivered."""

    def __init__(self, config):
        self.config = c = config
        self.lay = lay = fmt.layouts(c)
        sb = fmt.bits_for(c.n_sources)
        acc_bits = fmt.bits_for(c.max_delay * c.n_neurons)
        super().__init__({
            "start": In(1), "done": Out(1), "busy": Out(1),
            "n_events": In(sb + 1), "slot": In(fmt.bits_for(c.max_delay)),
            "events_rd": Out(read_port(sb, sb)),
            "axon_rd": Out(read_port(sb, lay["axon"].width)),
            "segment_rd": Out(read_port(fmt.bits_for(c.n_segments), lay["segment"].width)),
            "projection_rd": Out(read_port(fmt.bits_for(c.n_projections), lay["projection"].width)),
            "synapse_rd": Out(read_port(fmt.bits_for(c.n_synapses), lay["synapse"].width)),
            "acc_rd": Out(read_port(acc_bits, fmt.A_IN_BITS)),
            "acc_wr": Out(write_port(acc_bits, fmt.A_IN_BITS)),
            "synaptic_event": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        c, lay = self.config, self.lay
        N, D = c.n_neurons, c.max_delay
        sb = fmt.bits_for(c.n_sources)
        acc_range = range(D * N + 1)
        syn_ptr_bits = lay["segment"].field("syn_ptr").width
        count_bits = lay["segment"].field("syn_count").width

        # --- fetcher ---------------------------------------------------------------------------
        m.submodules.descriptors = fifo = SyncFIFO(
            width=syn_ptr_bits + count_bits + len(Signal(acc_range)) + 4, depth=DESCRIPTOR_FIFO_DEPTH)
        index = Signal(sb + 1)
        seg_cur = Signal(lay["axon"].field("seg_ptr").width)
        seg_left = Signal(lay["axon"].field("seg_count").width)
        proj = Signal(lay["segment"].field("projection").width)
        syn_ptr, syn_count = Signal(syn_ptr_bits), Signal(count_bits)
        base = Signal(acc_range)
        fetching = Signal()
        axon = unpack(lay["axon"], self.axon_rd.data)
        segment = unpack(lay["segment"], self.segment_rd.data)
        projection = unpack(lay["projection"], self.projection_rd.data)
        m.d.comb += [self.events_rd.addr.eq(index), self.axon_rd.addr.eq(self.events_rd.data),
                     self.segment_rd.addr.eq(seg_cur), self.projection_rd.addr.eq(proj)]
        # (in PROJECTION the address comes straight from the segment word, see below)

        with m.FSM(name="fetch"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += index.eq(0)
                    m.next = "EVENT"
            with m.State("EVENT"):        # event list read issued for `index`
                m.d.comb += fetching.eq(1)
                with m.If(index == self.n_events):
                    m.next = "FLUSH"
                with m.Else():
                    m.next = "AXON"
            with m.State("AXON"):         # axon read issued for the event's source
                m.d.comb += fetching.eq(1)
                m.d.sync += index.eq(index + 1)
                m.next = "SEGMENTS"
            with m.State("SEGMENTS"):
                m.d.comb += fetching.eq(1)
                m.d.sync += [seg_cur.eq(axon["seg_ptr"]), seg_left.eq(axon["seg_count"])]
                m.next = "SEGMENT"
            with m.State("SEGMENT"):      # segment read issued for seg_cur
                m.d.comb += fetching.eq(1)
                with m.If(seg_left == 0):
                    m.next = "EVENT"
                with m.Else():
                    m.next = "PROJECTION"
            with m.State("PROJECTION"):   # segment word in: read its projection
                m.d.comb += [fetching.eq(1), self.projection_rd.addr.eq(segment["projection"])]
                arrival = Signal(fmt.bits_for(2 * D + 1))
                m.d.comb += arrival.eq(self.slot + segment["delay_m1"] + 1)
                slot_d = Mux(arrival >= D, arrival - D, arrival)
                m.d.sync += [proj.eq(segment["projection"]), syn_ptr.eq(segment["syn_ptr"]),
                             syn_count.eq(segment["syn_count"]),
                             base.eq(slot_d * N + (segment["window"] << c.target_bits)),
                             seg_cur.eq(seg_cur + 1), seg_left.eq(seg_left - 1)]
                m.next = "PUSH"
            with m.State("PUSH"):         # projection word in: push the descriptor
                m.d.comb += [fetching.eq(1), fifo.w_en.eq(1),
                             fifo.w_data.eq(Cat(syn_ptr, syn_count, base, projection["weight_exp"]))]
                with m.If(fifo.w_rdy):
                    m.next = "SEGMENT"
            with m.State("FLUSH"):
                with m.If(~self.busy):
                    m.next = "IDLE"

        # --- streamer ----------------------------------------------------------------------------
        head = fifo.r_data
        head_ptr, head_count = head[:syn_ptr_bits], head[syn_ptr_bits:syn_ptr_bits + count_bits]
        head_base = head[syn_ptr_bits + count_bits:syn_ptr_bits + count_bits + len(base)]
        head_exp = head[-4:]
        syn_cur, syn_left = Signal(syn_ptr_bits), Signal(count_bits)
        cur_base, cur_exp = Signal(acc_range), Signal(4)
        p1_valid, p1_base, p1_exp = Signal(), Signal(acc_range), Signal(4)
        issuing = syn_left != 0
        m.d.comb += self.synapse_rd.addr.eq(syn_cur)
        m.d.sync += [p1_valid.eq(issuing), p1_base.eq(cur_base), p1_exp.eq(cur_exp)]
        with m.If(issuing):
            m.d.sync += [syn_cur.eq(syn_cur + 1), syn_left.eq(syn_left - 1)]
        with m.If(fifo.r_rdy & (~issuing | (syn_left == 1))):
            m.d.comb += fifo.r_en.eq(1)
            m.d.sync += [syn_cur.eq(head_ptr), syn_left.eq(head_count), cur_base.eq(head_base),
                         cur_exp.eq(head_exp)]

        # --- accumulator read-modify-write -------------------------------------------------------
        synapse = unpack(lay["synapse"], self.synapse_rd.data)
        p2_valid, p2_addr = Signal(), Signal(acc_range)
        p2_value = Signal(signed(fmt.A_IN_BITS))
        addr = p1_base + synapse["target"]
        m.d.comb += self.acc_rd.addr.eq(addr)
        m.d.sync += [p2_valid.eq(p1_valid), p2_addr.eq(addr),
                     p2_value.eq((synapse["weight"] << p1_exp)[:fmt.A_IN_BITS])]
        m.d.comb += [self.acc_wr.addr.eq(p2_addr),
                     self.acc_wr.data.eq(self.acc_rd.data.as_signed() + p2_value),
                     self.acc_wr.en.eq(p2_valid), self.synaptic_event.eq(p2_valid)]

        m.d.comb += self.busy.eq(fetching | fifo.r_rdy | issuing | p1_valid | p2_valid)
        done_when_idle(m, self.busy, self.done)
        return m
