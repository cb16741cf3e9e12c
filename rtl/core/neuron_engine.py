"""Phase 1 and phase 2 of a tick (spec §2): every neuron, one per cycle, and every trace.

For row k (k < max(n_neurons, n_inputs)), as neuron k the pipeline reads its accumulator slot,
u, v, ref, neuron word, post-trace and its own pre-trace (as source n_inputs + k); looks up its
profile; runs LIFDatapath; writes the new state back; clears the accumulator slot; decays both
traces; and reports a spike with the neuron's output flag. As input axon k it decays the axon's
pre-trace, written back with the neuron's state (the core keeps the two in one memory word).
Stages (no stage copies the words read: each is used in the cycle it arrives):

    S0  read the state word (u, v, ref, neuron word, x_in) and the traces of row k
    S1  the state into LIFDatapath; read the profile named by the neuron word; the decayed
        neuron traces written back
    S2  the profile (parameters) into LIFDatapath; read the accumulator slot
    S3  the accumulator word into LIFDatapath (straight into its adder); the slot cleared
    S1 + LIFDatapath.LATENCY   state and input trace written back, spike reported
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt

from ..lib.compare import less_than
from ..lib.layout import unpack
from ..lib.ports import done_when_idle, read_port, write_port
from .neuron import LIFDatapath, bias_of
from .trace import trace_decay, trace_decay_pipeline

# Rows in flight behind the read (S0): the state read (1) and LIFDatapath.
LATENCY = 1 + LIFDatapath.LATENCY


class NeuronEngine(wiring.Component):
    """`start` (a pulse) runs all neurons of the tick whose accumulators start at `slot_base`,
    and decays the input axons' pre-traces (`x_in`); `done` pulses once every result is
    written. `spike_valid` pulses with `spike_neuron` and `spike_output` for every neuron that
    fires, in ascending order.

        start         In    pulse: run the tick's neurons
        done          Out   pulse: every result written
        busy          Out   at work
        slot_base     In    the tick's first accumulator (TickController.slot_base)
        pre_decay     In    the STDP rule's trace decays (stdp word) ...
        post_decay    In    ...
        acc_rd        Out   accumulators (read port) ...
        acc_wr        Out   ... (write port: the slot read is cleared)
        u_rd, u_wr    Out   state u (read and write ports)
        v_rd, v_wr    Out   state v
        ref_rd, ref_wr Out  the refractory counts
        neuron_rd     Out   neuron words (profile, output flag)
        profile_rd    Out   the profiles (read port)
        y_rd, y_wr    Out   post-traces
        x_rd, x_wr    Out   the neurons' pre-traces
        x_in_rd       Out   the input axons' pre-traces (row k: the address of u, v and ref too) ...
        x_in_wr       Out   ... (write port)
        spike_valid   Out   pulse: a neuron fired ...
        spike_neuron  Out   ... this one ...
        spike_output  Out   ... and it is an output neuron
    """

    def __init__(self, config):
        self.config = c = config
        self.lay = lay = fmt.layouts(config)
        nb, ib = fmt.bits_for(c.n_neurons), fmt.bits_for(max(c.n_neurons, c.n_inputs))
        acc_bits = fmt.bits_for(c.max_delay * c.n_neurons)
        super().__init__({
            "start": In(1), "done": Out(1), "busy": Out(1),
            "slot_base": In(acc_bits + 1),
            "pre_decay": In(fmt.DECAY_BITS), "post_decay": In(fmt.DECAY_BITS),
            "acc_rd": Out(read_port(acc_bits, fmt.A_IN_BITS)),
            "acc_wr": Out(write_port(acc_bits, fmt.A_IN_BITS)),
            "u_rd": Out(read_port(nb, lay["state_u"].width)), "u_wr": Out(write_port(nb, lay["state_u"].width)),
            "v_rd": Out(read_port(nb, lay["state_v"].width)), "v_wr": Out(write_port(nb, lay["state_v"].width)),
            "ref_rd": Out(read_port(nb, lay["state_ref"].width)),
            "ref_wr": Out(write_port(nb, lay["state_ref"].width)),
            "neuron_rd": Out(read_port(nb, lay["neuron"].width)),
            "profile_rd": Out(read_port(fmt.bits_for(c.n_profiles), lay["profile"].width)),
            "y_rd": Out(read_port(nb, fmt.TRACE_BITS)), "y_wr": Out(write_port(nb, fmt.TRACE_BITS)),
            "x_rd": Out(read_port(nb, fmt.TRACE_BITS)), "x_wr": Out(write_port(nb, fmt.TRACE_BITS)),
            # Row k's ports for u, v, ref and x_in have one address: k (the write a row's too).
            "x_in_rd": Out(read_port(ib, fmt.TRACE_BITS)), "x_in_wr": Out(write_port(ib, fmt.TRACE_BITS)),
            "spike_valid": Out(1), "spike_neuron": Out(nb), "spike_output": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        c, lay = self.config, self.lay
        N, NI = c.n_neurons, c.n_inputs
        rows = max(N, NI)
        ib = fmt.bits_for(rows)
        m.submodules.lif = lif = LIFDatapath(tag_width=1)      # the tag: the output flag

        issue = Signal(ib + 1, init=rows)        # next row to read; rows when idle
        # Each stage's row: valid (a row), neuron (row < N), input (row < NI), and its index.
        stages = [(Signal(name=f"s{k}_valid"), Signal(name=f"s{k}_neuron"), Signal(name=f"s{k}_input"),
                   Signal(ib, name=f"s{k}_n", reset_less=True)) for k in range(1, LATENCY + 1)]
        in_flight = Signal(range(LATENCY + 2))

        reading = less_than(issue, rows)
        with m.If(self.start):
            m.d.sync += issue.eq(0)
        with m.Elif(reading):
            m.d.sync += issue.eq(issue + 1)
        m.d.comb += self.busy.eq(reading | (in_flight != 0))

        # S0: read the state word and the traces of row `issue`.
        for port in (self.u_rd, self.v_rd, self.ref_rd, self.neuron_rd, self.y_rd, self.x_rd, self.x_in_rd):
            m.d.comb += port.addr.eq(issue)
        first = (reading, reading & less_than(issue, N), reading & less_than(issue, NI), issue)
        m.d.sync += [dst.eq(src) for dst, src in zip(stages[0], first)]
        for earlier, later in zip(stages, stages[1:]):
            m.d.sync += [dst.eq(src) for dst, src in zip(later, earlier)]
        (_, s1_neuron, _, s1_n), (_, _, _, s2_n), (_, s3_neuron, _, s3_n) = stages[:3]
        out_valid, _, out_input, out_n = stages[-1]

        # S1: the state into the datapath; read the profile named by the neuron word; the
        # neuron's traces decayed and written back.
        neuron = unpack(lay["neuron"], self.neuron_rd.data)
        i = lif.i.payload
        m.d.comb += [lif.i.valid.eq(s1_neuron), i.tag.eq(neuron["output"]), i.u.eq(self.u_rd.data.as_signed()),
                     i.v.eq(self.v_rd.data.as_signed()), i.ref.eq(self.ref_rd.data),
                     self.profile_rd.addr.eq(neuron["profile"])]
        s2_bias_mant = Signal.like(neuron["bias_mant"], name="s2_bias_mant", reset_less=True)
        m.d.sync += s2_bias_mant.eq(neuron["bias_mant"])
        for port, value, decay in ((self.y_wr, self.y_rd.data, self.post_decay),
                                   (self.x_wr, self.x_rd.data, self.pre_decay)):
            m.d.comb += [port.addr.eq(s1_n), port.data.eq(trace_decay(value, decay)), port.en.eq(s1_neuron)]

        # S2: the profile into the datapath; read the accumulator.
        profile = unpack(lay["profile"], self.profile_rd.data)
        p = lif.p
        m.d.comb += [
            p.du.eq(profile["du"]), p.dv.eq(profile["dv"]),
            p.vth.eq(profile["vth"]), p.bias.eq(bias_of(s2_bias_mant, profile["bias_exp"])),
            p.refractory.eq(profile["refractory"]),
            self.acc_rd.addr.eq(self.slot_base + s2_n),
        ]

        # S3: the accumulator word into the datapath; the word cleared.
        m.d.comb += [lif.a_in.eq(self.acc_rd.data.as_signed()),
                     self.acc_wr.addr.eq(self.slot_base + s3_n), self.acc_wr.data.eq(0),
                     self.acc_wr.en.eq(s3_neuron)]

        # The input axon's pre-trace, delayed beside the datapath to the write-back, then decayed.
        x_in = trace_decay_pipeline(m, self.x_in_rd.data, self.pre_decay, LIFDatapath.LATENCY)

        # S1 + LIFDatapath.LATENCY: write back the state and the input's trace; report a spike.
        o = lif.o.payload
        for port, value in ((self.u_wr, o.u), (self.v_wr, o.v), (self.ref_wr, o.ref)):
            m.d.comb += [port.addr.eq(out_n), port.data.eq(value), port.en.eq(lif.o.valid)]
        m.d.comb += [self.x_in_wr.addr.eq(out_n), self.x_in_wr.data.eq(x_in), self.x_in_wr.en.eq(out_input)]
        m.d.comb += [self.spike_valid.eq(lif.o.valid & o.spike), self.spike_neuron.eq(out_n),
                     self.spike_output.eq(o.tag)]

        # Rows still to come: issued this cycle (S0) until written back.
        m.d.sync += in_flight.eq(in_flight + reading.as_unsigned() - out_valid.as_unsigned())
        done_when_idle(m, self.busy, self.done)
        return m
