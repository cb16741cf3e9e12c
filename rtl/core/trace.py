"""Traces (spec §6.1): their decay, and the impulses of phase 5.

Every trace decays inside the NeuronEngine (row k: neuron k's pre- and post-trace and input
axon k's pre-trace), with `trace_decay`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt

from ..lib.compare import greater_than, less_than
from ..lib.ports import done_when_idle, read_port, write_port


def trace_decay(x, decay):
    """(x * (4096 - decay)) >> 12 for an unsigned trace: floor, so a trace reaches 0."""
    return ((x * (fmt.DECAY_UNITY - decay)) >> fmt.DECAY_BITS)[:fmt.TRACE_BITS]


def trace_decay_pipeline(m, x, decay, delay: int) -> Value:
    """trace_decay(x, decay), `delay` cycles after x (delay >= 1): x through `delay` registers
    without reset, the last of which yosys puts into the SB_MAC16 as its input register, then
    the multiply. `decay` is a setting of the phase."""
    assert delay >= 1, delay
    for k in range(delay):
        held = Signal.like(x, name=f"decay_x_{k}", reset_less=True)
        m.d.sync += held.eq(x)
        x = held
    return trace_decay(x, decay)


def trace_impulse(x, impulse, nearest):
    """All-to-all: min(x + impulse, 255); nearest: impulse."""
    total = x + impulse
    return Mux(nearest, impulse, Mux(greater_than(total, fmt.TRACE_MAX), fmt.TRACE_MAX, total))[:fmt.TRACE_BITS]


class TraceImpulse(wiring.Component):
    """Phase 5: for each of the tick's `n_events` events (the event list), the pre-trace of its
    source gets the pre impulse and, for a neuron, the post-trace the post impulse.

        start          In    pulse: begin
        done           Out   pulse: every impulse written
        busy           Out   at work
        n_events       In    the tick's events
        pre_impulse    In    the STDP rule's impulses (stdp word) ...
        post_impulse   In
        nearest        In    ... nearest-spike traces: an impulse sets, not adds
        events_rd      Out   the event list (read port)
        x_in_rd        Out   input axons' pre-traces (read port) ...
        x_in_wr        Out   ... (write port)
        x_n_rd         Out   neurons' pre-traces (read port) ...
        x_n_wr         Out   ... (write port)
        y_rd           Out   neurons' post-traces (read port) ...
        y_wr           Out   ... (write port)
    """

    def __init__(self, config):
        self.config = c = config
        sb, nb, ib = fmt.bits_for(c.n_sources), fmt.bits_for(c.n_neurons), fmt.bits_for(c.n_inputs)
        super().__init__({
            "start": In(1), "done": Out(1), "busy": Out(1), "n_events": In(sb + 1),
            "pre_impulse": In(fmt.TRACE_BITS), "post_impulse": In(fmt.TRACE_BITS), "nearest": In(1),
            "events_rd": Out(read_port(sb, sb)),
            "x_in_rd": Out(read_port(ib, fmt.TRACE_BITS)), "x_in_wr": Out(write_port(ib, fmt.TRACE_BITS)),
            "x_n_rd": Out(read_port(nb, fmt.TRACE_BITS)), "x_n_wr": Out(write_port(nb, fmt.TRACE_BITS)),
            "y_rd": Out(read_port(nb, fmt.TRACE_BITS)), "y_wr": Out(write_port(nb, fmt.TRACE_BITS)),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.config
        NI = c.n_inputs
        sb = fmt.bits_for(c.n_sources)
        index = Signal(sb + 1)
        running = Signal()
        valid1, valid2 = Signal(), Signal()
        source = Signal(sb)
        with m.If(self.start):
            m.d.sync += [index.eq(0), running.eq(1)]
        with m.Elif(running):
            with m.If(index < self.n_events):
                m.d.sync += index.eq(index + 1)
            with m.Else():
                m.d.sync += running.eq(0)
        # E0: read the event list; E1: read the traces of its source; E2: write them back.
        m.d.comb += self.events_rd.addr.eq(index)
        m.d.sync += [valid1.eq(running & (index < self.n_events)), valid2.eq(valid1),
                     source.eq(self.events_rd.data)]
        read_src = self.events_rd.data
        m.d.comb += [self.x_in_rd.addr.eq(read_src), self.x_n_rd.addr.eq(read_src - NI),
                     self.y_rd.addr.eq(read_src - NI)]
        is_input = less_than(source, NI)
        m.d.comb += [
            self.x_in_wr.addr.eq(source), self.x_in_wr.en.eq(valid2 & is_input),
            self.x_in_wr.data.eq(trace_impulse(self.x_in_rd.data, self.pre_impulse, self.nearest)),
            self.x_n_wr.addr.eq(source - NI), self.x_n_wr.en.eq(valid2 & ~is_input),
            self.x_n_wr.data.eq(trace_impulse(self.x_n_rd.data, self.pre_impulse, self.nearest)),
            self.y_wr.addr.eq(source - NI), self.y_wr.en.eq(valid2 & ~is_input),
            self.y_wr.data.eq(trace_impulse(self.y_rd.data, self.post_impulse, self.nearest)),
            self.busy.eq(running | valid1 | valid2),
        ]
        done_when_idle(m, self.busy, self.done)
        return m
