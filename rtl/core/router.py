"""Phase 3 of a tick (spec §2, §5): route the tick's events into the accumulators.

Two decoupled halves joined by a small FIFO of segment descriptors:

- the *fetcher* walks the event list: event -> axon entry (first segment, count) -> each
  segment (synapse range, window, delay, projection), and pushes (first synapse, count,
  arrival slot, window, projection) per segment, straight from the segment word (2 cycles per
  segment, 3 per event);
- the *streamer* issues one synapse read per cycle from the descriptor at its head, and loads
  the next descriptor in the cycle it issues the last synapse of the current one, so
  consecutive segments stream without a bubble while the fetcher works ahead.

Each synapse word then goes through a read-modify-write of its 16-bit accumulator (a
transparent read port makes back-to-back updates of one accumulator exact) and, on a plastic
projection, the LTD update of spec §6.2:

    P1  synapse word in; read the accumulator of (arrival slot, target), the target's
        post-trace and the segment's projection
    P2  accumulator + (weight << exponent), wrapped to 16 bits, written back;
        plastic: new weight from a_minus * post-trace and one LFSR draw (on `updater`); the
        synapse word to the core's write-back registers
    P2 + WRITE_DELAY  plastic: the synapse word written with its new weight (no synapse read
        is issued in that cycle, so a single-port SPRAM works: a run of plastic synapses costs
        two cycles each)
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt

from ..lib.compare import less_than
from ..lib.fifo import ShiftFIFO
from ..lib.layout import pack, unpack
from ..lib.ports import delayed, done_when_idle, read_port, write_port
from .plasticity import WRITE_DELAY, updater_signature

DESCRIPTOR_FIFO_DEPTH = 2


class Router(wiring.Component):
    """`start` routes events 0 .. n_events-1 of the event list for the tick whose slot is
    `slot`; `done` pulses when every accumulator and weight update is written.
    `synaptic_event` pulses once per synapse delivered, `update` once per LTD update (with
    `step`: the shared weight update on `updater` takes one LFSR draw).

        start           In    pulse: route the tick's events
        done            Out   pulse: every accumulator and weight written
        busy            Out   at work
        n_events        In    the event list's length
        slot            In    the tick's accumulator slot
        events_rd       Out   the event list (read port)
        axon_rd         Out   the axons (first segment, count)
        segment_rd      Out   the segments (synapses, window, delay, projection)
        projection_rd   Out   the projections (weight exponent, plastic, LTD rule)
        synapse_rd      Out   the synapse words (read port) ...
        synapse_wr      Out   ... (to the core's write-back registers: LTD)
        acc_rd          Out   the accumulators (read port; transparent) ...
        acc_wr          Out   ... (write port)
        y_rd            Out   the targets' post-traces
        updater         Out(updater_signature)   the shared weight update's operands
        step            Out   pulse: an update takes an LFSR draw
        synaptic_event  Out   pulse: a synapse delivered (counted)
        update          Out   pulse: an LTD update (counted)
    """

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
            "synapse_wr": Out(write_port(fmt.bits_for(c.n_synapses), lay["synapse"].width)),
            "acc_rd": Out(read_port(acc_bits, fmt.A_IN_BITS)),
            "acc_wr": Out(write_port(acc_bits, fmt.A_IN_BITS)),
            "y_rd": Out(read_port(fmt.bits_for(c.n_neurons), fmt.TRACE_BITS)),
            "updater": Out(updater_signature(c)), "step": Out(1),
            "synaptic_event": Out(1), "update": Out(1),
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
        # A descriptor names its projection; the streamer reads the projection word itself.
        descriptor = data.StructLayout({
            "syn_ptr": unsigned(syn_ptr_bits), "syn_count": unsigned(count_bits),
            "slot": unsigned(fmt.bits_for(D)), "window": lay["segment"].field("window").width,
            "projection": lay["segment"].field("projection").width,
        })
        m.submodules.descriptors = fifo = ShiftFIFO(width=descriptor.size, depth=DESCRIPTOR_FIFO_DEPTH)
        pushed = data.View(descriptor, fifo.w_data)
        index = Signal(sb + 1)
        seg_cur = Signal(lay["axon"].field("seg_ptr").width)
        seg_left = Signal(lay["axon"].field("seg_count").width)
        fetching = Signal()
        axon = unpack(lay["axon"], self.axon_rd.data)
        segment = unpack(lay["segment"], self.segment_rd.data)
        m.d.comb += [self.events_rd.addr.eq(index), self.axon_rd.addr.eq(self.events_rd.data),
                     self.segment_rd.addr.eq(seg_cur)]

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
                    m.next = "DESCRIPTOR"
            with m.State("DESCRIPTOR"):   # segment word in: its descriptor into the FIFO
                m.d.comb += fetching.eq(1)
                arrival = Signal(fmt.bits_for(2 * D + 1))
                m.d.comb += [arrival.eq(self.slot + segment["delay_m1"] + 1), fifo.w_en.eq(1),
                             pushed.syn_ptr.eq(segment["syn_ptr"]), pushed.syn_count.eq(segment["syn_count"]),
                             pushed.slot.eq(Mux(~less_than(arrival, D), arrival - D, arrival)),
                             pushed.window.eq(segment["window"]), pushed.projection.eq(segment["projection"])]
                # A full FIFO: wait here; the segment word stays on the read port (same address).
                with m.If(fifo.w_rdy):
                    m.d.sync += [seg_cur.eq(seg_cur + 1), seg_left.eq(seg_left - 1)]
                    m.next = "SEGMENT"
            with m.State("FLUSH"):
                with m.If(~self.busy):
                    m.next = "IDLE"

        # --- streamer ----------------------------------------------------------------------------
        head = data.View(descriptor, fifo.r_data)
        current = Signal(descriptor, reset_less=True)
        syn_cur, syn_left = Signal(syn_ptr_bits), Signal(count_bits)
        write_back = Signal()                     # a weight write-back in this cycle
        issuing = (syn_left != 0) & ~write_back
        m.d.comb += self.synapse_rd.addr.eq(syn_cur)
        p1_valid, p1 = Signal(), Signal(descriptor, reset_less=True)
        p1_addr = Signal(syn_ptr_bits, reset_less=True)
        m.d.sync += [p1_valid.eq(issuing), p1.eq(current), p1_addr.eq(syn_cur)]
        with m.If(issuing):
            m.d.sync += [syn_cur.eq(syn_cur + 1), syn_left.eq(syn_left - 1)]
        with m.If(fifo.r_rdy & ((syn_left == 0) | ((syn_left == 1) & issuing))):
            m.d.comb += fifo.r_en.eq(1)
            m.d.sync += [syn_cur.eq(head.syn_ptr), syn_left.eq(head.syn_count), current.eq(head)]

        # --- P1: synapse word in; read its accumulator, its target's post-trace, its projection ---
        synapse = unpack(lay["synapse"], self.synapse_rd.data)
        assert len(synapse["target"]) == c.target_bits
        target = Cat(synapse["target"], p1.window)          # window << target_bits + offset
        addr = p1.slot * N + target
        m.d.comb += [self.acc_rd.addr.eq(addr), self.y_rd.addr.eq(target),
                     self.projection_rd.addr.eq(p1.projection)]
        p2_valid = Signal()
        p2_addr, p2_syn = Signal(acc_range, reset_less=True), Signal(syn_ptr_bits, reset_less=True)
        p2_weight = Signal.like(synapse["weight"], reset_less=True)
        p2_target = Signal.like(synapse["target"], reset_less=True)
        m.d.sync += [p2_valid.eq(p1_valid), p2_addr.eq(addr), p2_syn.eq(p1_addr),
                     p2_weight.eq(synapse["weight"]), p2_target.eq(synapse["target"])]

        # --- P2: accumulate; LTD ------------------------------------------------------------------
        projection = unpack(lay["projection"], self.projection_rd.data)
        value = (p2_weight << projection["weight_exp"])[:fmt.A_IN_BITS]
        m.d.comb += [self.acc_wr.addr.eq(p2_addr),
                     self.acc_wr.data.eq(self.acc_rd.data + value),
                     self.acc_wr.en.eq(p2_valid), self.synaptic_event.eq(p2_valid)]
        plastic = p2_valid & projection["plastic"]
        u = self.updater
        m.d.comb += [u.weight.eq(p2_weight), u.amplitude.eq(projection["a_minus"]), u.trace.eq(self.y_rd.data),
                     u.shift.eq(projection["lr_shift"]), u.w_min.eq(projection["w_min"]),
                     u.w_max.eq(projection["w_max"])]
        m.d.comb += [self.step.eq(plastic), self.update.eq(plastic)]
        # The synapse word goes to the core's write-back registers and is written WRITE_DELAY
        # cycles later, in a cycle in which no synapse read is issued.
        after_p2 = delayed(m, plastic, WRITE_DELAY, "after_p2")
        m.d.comb += write_back.eq(after_p2[-1])
        m.d.comb += [self.synapse_wr.addr.eq(p2_syn),
                     self.synapse_wr.data.eq(pack(lay["synapse"], weight=u.new_weight, target=p2_target)),
                     self.synapse_wr.en.eq(plastic)]

        m.d.comb += self.busy.eq(fetching | fifo.r_rdy | (syn_left != 0) | p1_valid | p2_valid |
                                 Cat(*after_p2).any())
        done_when_idle(m, self.busy, self.done)
        return m
