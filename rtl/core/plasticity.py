"""Plasticity (spec §6.2): the weight update shared by LTD and LTP, and the LTP engine.

LTD happens in the Router, on each plastic synapse as it is delivered; LTP is its own phase,
after ROUTE and before IMPULSE: for each neuron that fired this tick (ascending), each entry of
its reverse index (ascending synapse address) is updated with the pre-trace of its source.
The two run in different phases, so the core gives them one WeightUpdate (and its multiplier):
each engine drives the operands on its `updater` port and takes the new weight back.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt

from ..lib.compare import less_than
from ..lib.dsp import MultiplyAdd
from ..lib.layout import pack, unpack
from ..lib.ports import delayed, done_when_idle, read_port, write_port


def draw_bits(draw, shift):
    """draw mod 2**shift: the low `shift` bits of the LFSR draw (shift < 16)."""
    return draw[:16] & ((Const(1, 17) << shift) - 1)[:16]


def weight_update(weight, amplitude, trace, shift, w_min, w_max, draw):
    """clip(weight + ((amplitude * trace + (draw mod 2**shift)) >> shift), w_min, w_max)."""
    product = amplitude * trace                                 # signed 8 x unsigned 8
    rounded = (product + draw_bits(draw, shift)) >> shift       # arithmetic: product is signed
    total = weight + rounded
    return Mux(total < w_min, w_min, Mux(total > w_max, w_max, total))


def _field_shape(layout, name):
    field = layout.field(name)
    return signed(field.width) if field.signed else unsigned(field.width)


def updater_signature(config) -> wiring.Signature:
    """An engine's side of the shared WeightUpdate: the operands out, the new weight in."""
    lay = fmt.layouts(config)
    shape = _field_shape
    return wiring.Signature({
        "weight": Out(shape(lay["synapse"], "weight")), "amplitude": Out(signed(fmt.STDP_A_BITS)),
        "trace": Out(fmt.TRACE_BITS), "shift": Out(shape(lay["projection"], "lr_shift")),
        "w_min": Out(shape(lay["projection"], "w_min")), "w_max": Out(shape(lay["projection"], "w_max")),
        "new_weight": In(shape(lay["synapse"], "weight")),
    })


class WeightUpdate(wiring.Component):
    """`weight_update` of the operands on `rule` with `draw` (the LFSR's next value), as
    `rule.new_weight` in the same cycle.

        rule   In(updater_signature)   the operands (weight, amplitude, trace, shift, w_min,
                                       w_max) in, new_weight out
        draw   In                      the LFSR's draw
    """

    def __init__(self, config):
        super().__init__({"rule": In(updater_signature(config)), "draw": In(fmt.LFSR_BITS)})

    def elaborate(self, platform):
        m = Module()
        r = self.rule
        m.d.comb += r.new_weight.eq(weight_update(r.weight, r.amplitude, r.trace, r.shift, r.w_min, r.w_max,
                                                  self.draw))
        return m


class PipelinedWeightUpdate(wiring.Component):
    """`weight_update` of the operands on `rule`, with `draw` (the LFSR's next value) of the same
    cycle, as `rule.new_weight` `LATENCY` cycles later (from a register); an update can start
    every cycle.

    The operand cycle ends in registers: amplitude * trace + (draw mod 2**shift) in a
    `MultiplyAdd` (on an iCE40 the SB_MAC16's own adder and output register), the weight, the
    shift, the bounds, and the bounds relative to the weight, lo = w_min - weight and
    hi = w_max - weight. The next cycle shifts the sum right by `shift` (r) and clips: the
    result is w_min if r < lo (exactly when weight + r < w_min), else w_max if r > hi, else
    weight + r in weight bits (it lies in the bounds); so the add runs beside the comparisons,
    not after them. That is `weight_update` for every operand, w_min > w_max included; the
    result goes to a register.

        rule   In(updater_signature)   the operands in; new_weight out, LATENCY cycles later
        draw   In                      the LFSR's draw, with the operands
    """

    LATENCY = 2

    def __init__(self, config):
        super().__init__({"rule": In(updater_signature(config)), "draw": In(fmt.LFSR_BITS)})

    def elaborate(self, platform):
        m = Module()
        r = self.rule
        m.submodules.multiply_add = mac = MultiplyAdd(len(r.amplitude), len(r.trace), 16)
        m.d.comb += [mac.a.eq(r.amplitude), mac.b.eq(r.trace), mac.c.eq(draw_bits(self.draw, r.shift))]

        def held(value, name):
            register = Signal.like(value, name=name, reset_less=True)
            m.d.sync += register.eq(value)
            return register

        weight, shift = held(r.weight, "held_weight"), held(r.shift, "held_shift")
        w_min, w_max = held(r.w_min, "held_w_min"), held(r.w_max, "held_w_max")
        lo, hi = held(r.w_min - r.weight, "lo"), held(r.w_max - r.weight, "hi")    # exact: one bit wider
        rounded = mac.o >> shift                                 # arithmetic: the sum is signed
        result = held(Mux(rounded < lo, w_min, Mux(rounded > hi, w_max, (weight + rounded)[:len(r.weight)])),
                      "new_weight")
        m.d.comb += r.new_weight.eq(result)
        return m


# Cycles from an engine's `synapse_wr` (in the cycle of its operands on `updater`) to the write
# of the synapse word: the core's write-back registers, one per cycle of the pipelined update.
# The engines issue no synapse read in the write's cycle.
WRITE_DELAY = PipelinedWeightUpdate.LATENCY


class LTPEngine(wiring.Component):
    """`start` runs LTP for the spiking neurons, events `first` .. n_events-1 of the event list
    (the host inputs come first in the list; LTP does not look at them).
    Each update reads the reverse entry (Q0), then the synapse word, the source's pre-trace and
    the projection (Q1), starts the weight update with one LFSR draw (Q2, on `updater`) and
    puts the synapse word on `synapse_wr`; the core's write-back registers write it WRITE_DELAY
    cycles later, with the new weight in its weight field. No synapse read is issued in a cycle
    in which a write happens, so a single-port synapse memory (SPRAM) works: two cycles per
    update in a long run.

        start           In    pulse: run LTP
        done            Out   pulse: every update written
        busy            Out   at work
        first           In    the first neuron of the event list (after the tick's inputs)
        n_events        In    the event list's length
        events_rd       Out   the event list (read port)
        reverse_ptr_rd  Out   each neuron's reverse entries (first, count)
        reverse_rd      Out   the reverse entries (synapse, source, projection)
        projection_rd   Out   the projections (the STDP rule's a_plus, bounds, shift)
        synapse_rd      Out   the synapse words (read port) ...
        synapse_wr      Out   ... (to the core's write-back registers)
        x_in_rd         Out   the input axons' pre-traces
        x_n_rd          Out   the neurons' pre-traces
        updater         Out(updater_signature)   the shared weight update's operands
        step            Out   pulse: an update takes an LFSR draw ...
        update          Out   ... and is counted
    """

    def __init__(self, config):
        self.config = c = config
        self.lay = lay = fmt.layouts(c)
        sb, nb, ib = fmt.bits_for(c.n_sources), fmt.bits_for(c.n_neurons), fmt.bits_for(c.n_inputs)
        syn_bits = fmt.bits_for(c.n_synapses)
        super().__init__({
            "start": In(1), "done": Out(1), "busy": Out(1), "first": In(sb + 1), "n_events": In(sb + 1),
            "events_rd": Out(read_port(sb, sb)),
            "reverse_ptr_rd": Out(read_port(nb, lay["reverse_ptr"].width)),
            "reverse_rd": Out(read_port(fmt.bits_for(c.n_reverse), lay["reverse"].width)),
            "projection_rd": Out(read_port(fmt.bits_for(c.n_projections), lay["projection"].width)),
            "synapse_rd": Out(read_port(syn_bits, lay["synapse"].width)),
            "synapse_wr": Out(write_port(syn_bits, lay["synapse"].width)),
            "x_in_rd": Out(read_port(ib, fmt.TRACE_BITS)),
            "x_n_rd": Out(read_port(nb, fmt.TRACE_BITS)),
            "updater": Out(updater_signature(c)), "step": Out(1),
            "update": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        c, lay = self.config, self.lay
        NI = c.n_inputs
        sb = fmt.bits_for(c.n_sources)
        index = Signal(sb + 1)
        rev_cur = Signal(lay["reverse_ptr"].field("rev_ptr").width)
        rev_left = Signal(lay["reverse_ptr"].field("rev_count").width)
        walking = Signal()
        m.d.comb += [self.events_rd.addr.eq(index),
                     self.reverse_ptr_rd.addr.eq(self.events_rd.data - NI),
                     self.reverse_rd.addr.eq(rev_cur)]
        pointer = unpack(lay["reverse_ptr"], self.reverse_ptr_rd.data)

        q1_valid, q2_valid = Signal(), Signal()
        issue = Signal()
        # The write of a Q2 update happens WRITE_DELAY cycles later (the core's write-back).
        after_q2 = delayed(m, q2_valid, WRITE_DELAY, "after_q2")
        write_next = ([q2_valid] + after_q2)[WRITE_DELAY - 1]

        with m.FSM(name="ltp"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += index.eq(self.first)
                    m.next = "EVENT"
            with m.State("EVENT"):               # event list read issued for `index`
                m.d.comb += walking.eq(1)
                with m.If(index == self.n_events):
                    m.next = "FLUSH"
                with m.Else():
                    m.next = "POINTER"
            with m.State("POINTER"):             # source in: read its reverse pointer
                m.d.comb += walking.eq(1)
                m.d.sync += index.eq(index + 1)
                with m.If(less_than(self.events_rd.data, NI)):
                    m.next = "EVENT"             # an input axon: no LTP
                with m.Else():
                    m.next = "ENTRIES"
            with m.State("ENTRIES"):
                m.d.comb += walking.eq(1)
                m.d.sync += [rev_cur.eq(pointer["rev_ptr"]), rev_left.eq(pointer["rev_count"])]
                m.next = "STREAM"
            with m.State("STREAM"):              # Q0: one reverse entry per free cycle
                m.d.comb += walking.eq(1)
                with m.If(rev_left == 0):
                    m.next = "EVENT"
                with m.Elif(~write_next):        # a write next cycle would meet our Q1 read
                    m.d.comb += issue.eq(1)
                    m.d.sync += [rev_cur.eq(rev_cur + 1), rev_left.eq(rev_left - 1)]
            with m.State("FLUSH"):
                with m.If(~self.busy):
                    m.next = "IDLE"

        # Q1: reverse entry in -> read synapse word, pre-trace, projection.
        entry = unpack(lay["reverse"], self.reverse_rd.data)
        q2_addr, q2_input = Signal.like(entry["synapse"], reset_less=True), Signal(reset_less=True)
        m.d.sync += [q1_valid.eq(issue), q2_valid.eq(q1_valid), q2_addr.eq(entry["synapse"]),
                     q2_input.eq(less_than(entry["source"], NI))]
        m.d.comb += [self.synapse_rd.addr.eq(entry["synapse"]), self.x_in_rd.addr.eq(entry["source"]),
                     self.x_n_rd.addr.eq(entry["source"] - NI), self.projection_rd.addr.eq(entry["projection"])]

        # Q2: compute the new weight with one draw.
        synapse = unpack(lay["synapse"], self.synapse_rd.data)
        proj = unpack(lay["projection"], self.projection_rd.data)
        trace = Mux(q2_input, self.x_in_rd.data, self.x_n_rd.data)
        u = self.updater
        m.d.comb += [u.weight.eq(synapse["weight"]), u.amplitude.eq(proj["a_plus"]), u.trace.eq(trace),
                     u.shift.eq(proj["lr_shift"]), u.w_min.eq(proj["w_min"]), u.w_max.eq(proj["w_max"])]
        m.d.comb += [self.step.eq(q2_valid), self.update.eq(q2_valid)]

        # ... to the core's write-back registers (written WRITE_DELAY cycles later).
        m.d.comb += [self.synapse_wr.addr.eq(q2_addr),
                     self.synapse_wr.data.eq(pack(lay["synapse"], weight=u.new_weight, target=synapse["target"])),
                     self.synapse_wr.en.eq(q2_valid)]

        m.d.comb += self.busy.eq(walking | q1_valid | q2_valid | Cat(*after_q2).any())
        done_when_idle(m, self.busy, self.done)
        return m
