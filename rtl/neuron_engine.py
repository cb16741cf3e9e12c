"""Phase 1 and phase 2 of a tick (spec §2): every neuron, one per cycle, and every trace.

For row k (k < max(n_neurons, n_inputs)), as neuron k the pipeline reads its accumulator slot,
u, v, ref, neuron word, post-trace and its own pre-trace (as source n_inputs + k); looks up its
profile; runs LIFDatapath; writes the new state back; clears the accumulator slot; decays both
traces; and reports a spike with the neuron's output flag. As input axon k it decays the axon's
pre-trace, written back with the neuron's state (the core keeps the two in one memory word).
Stages:

    S0  read everything indexed by k
    S1  clear the accumulator word just read; read the profile named by the neuron word
    S2  datapath input; decayed neuron traces written back; the input's trace decayed
    S2 + LIFDatapath.LATENCY   state and input trace written back, spike reported
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt

from .layout import unpack
from .neuron import LIFDatapath, bias_of
from .ports import done_when_idle, read_port, write_port
from .trace import trace_decay


class NeuronEngine(wiring.Component):
    """`start` (a pulse) runs all neurons of the tick whose accumulators start at `slot_base`,
    and decays the input axons' pre-traces (`x_in`); `done` pulses once every result is
    written. `spike_valid` pulses with `spike_neuron` and `spike_output` for every neuron that
    fires, in ascending order."""

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
        s1_valid, s1_neuron, s1_input, s1_n = Signal(), Signal(), Signal(), Signal(ib)
        s2_valid, s2_neuron, s2_input, s2_n = Signal(), Signal(), Signal(), Signal(ib)
        s2 = {name: Signal(width, name=f"s2_{name}") for name, width in (
            ("acc", fmt.A_IN_BITS), ("u", lay["state_u"].width), ("v", lay["state_v"].width),
            ("ref", fmt.REFRACTORY_BITS), ("neuron", lay["neuron"].width),
            ("y", fmt.TRACE_BITS), ("x", fmt.TRACE_BITS), ("x_in", fmt.TRACE_BITS))}
        in_flight = Signal(range(LIFDatapath.LATENCY + 4))

        reading = issue < rows
        with m.If(self.start):
            m.d.sync += issue.eq(0)
        with m.Elif(reading):
            m.d.sync += issue.eq(issue + 1)
        m.d.comb += self.busy.eq(reading | (in_flight != 0))

        # S0
        for port in (self.u_rd, self.v_rd, self.ref_rd, self.neuron_rd, self.y_rd, self.x_rd, self.x_in_rd):
            m.d.comb += port.addr.eq(issue)
        m.d.comb += self.acc_rd.addr.eq(self.slot_base + issue)
        m.d.sync += [s1_valid.eq(reading), s1_neuron.eq(reading & (issue < N)),
                     s1_input.eq(reading & (issue < NI)), s1_n.eq(issue)]

        # S1
        neuron = unpack(lay["neuron"], self.neuron_rd.data)
        m.d.comb += [self.profile_rd.addr.eq(neuron["profile"]),
                     self.acc_wr.addr.eq(self.slot_base + s1_n), self.acc_wr.data.eq(0),
                     self.acc_wr.en.eq(s1_neuron)]
        m.d.sync += [s2_valid.eq(s1_valid), s2_neuron.eq(s1_neuron), s2_input.eq(s1_input), s2_n.eq(s1_n)]
        for name, port in (("acc", self.acc_rd), ("u", self.u_rd), ("v", self.v_rd), ("ref", self.ref_rd),
                           ("neuron", self.neuron_rd), ("y", self.y_rd), ("x", self.x_rd),
                           ("x_in", self.x_in_rd)):
            m.d.sync += s2[name].eq(port.data)

        # S2
        profile = unpack(lay["profile"], self.profile_rd.data)
        fields = unpack(lay["neuron"], s2["neuron"])
        i = lif.i.payload
        m.d.comb += [
            lif.i.valid.eq(s2_neuron), i.tag.eq(fields["output"]),
            i.u.eq(s2["u"].as_signed()), i.v.eq(s2["v"].as_signed()), i.ref.eq(s2["ref"]),
            i.a_in.eq(s2["acc"].as_signed()), i.du.eq(profile["du"]), i.dv.eq(profile["dv"]),
            i.vth.eq(profile["vth"]), i.bias.eq(bias_of(fields["bias_mant"], profile["bias_exp"])),
            i.refractory.eq(profile["refractory"]),
        ]
        for port, value, decay in ((self.y_wr, s2["y"], self.post_decay), (self.x_wr, s2["x"], self.pre_decay)):
            m.d.comb += [port.addr.eq(s2_n), port.data.eq(trace_decay(value, decay)), port.en.eq(s2_neuron)]

        # The row, and its input's decayed trace, beside the datapath until its result is out.
        row = [(s2_valid, s2_input, s2_n, trace_decay(s2["x_in"], self.pre_decay))]
        for stage in range(LIFDatapath.LATENCY):
            later = (Signal(name=f"s{stage + 3}_valid"), Signal(name=f"s{stage + 3}_input"),
                     Signal(ib, name=f"s{stage + 3}_n"), Signal(fmt.TRACE_BITS, name=f"s{stage + 3}_x_in"))
            m.d.sync += [dst.eq(src) for dst, src in zip(later, row[-1])]
            row.append(later)
        out_valid, out_input, out_n, out_x_in = row[-1]

        # Write back
        o = lif.o.payload
        for port, value in ((self.u_wr, o.u), (self.v_wr, o.v), (self.ref_wr, o.ref)):
            m.d.comb += [port.addr.eq(out_n), port.data.eq(value), port.en.eq(lif.o.valid)]
        m.d.comb += [self.x_in_wr.addr.eq(out_n), self.x_in_wr.data.eq(out_x_in), self.x_in_wr.en.eq(out_input)]
        m.d.comb += [self.spike_valid.eq(lif.o.valid & o.spike), self.spike_neuron.eq(out_n),
                     self.spike_output.eq(o.tag)]

        # Rows still to come: issued this cycle (S0) until written back.
        m.d.sync += in_flight.eq(in_flight + reading.as_unsigned() - out_valid.as_unsigned())
        done_when_idle(m, self.busy, self.done)
        return m
