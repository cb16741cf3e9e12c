"""The axonite core: the engines of a tick around the tables of spec §9.

    TickController   phases of a tick; step N, free-run with a period, overruns
    InputStage       PREPARE: the tick's host input axons into the event list
    NeuronEngine     NEURON: every neuron through LIFDatapath, one per cycle, and its traces,
                       and beside them the input axons' pre-traces
    Router           ROUTE: event -> axon -> segments -> synapses -> 16-bit accumulators,
                       with LTD on plastic synapses
    LTPEngine        LTP: plastic synapses onto the neurons that fired, via the reverse index
    TraceImpulse     IMPULSE: trace impulses of the tick's events
    PipelinedWeightUpdate  the weight update of LTD (ROUTE) and of LTP, shared by the two phases
    LFSR             one draw per weight update (ROUTE, then LTP)
    AccessPort       IDLE: every region readable and writable; counters readable
    Counters         the 64-bit counters of spec §7, their high parts in one EBR

Each region lives in a memory, one read and one write port each, as an iCE40 EBR has; in each
phase the core connects the ports of that phase's engines to the memories. Most come from the
memory factory (rtl.lib.memory). To save EBR some regions share one: profiles and projections
(rows of `tables`), and side by side (`Packed`) the neuron state u, v, ref and neuron word with
the input axons' pre-traces x_in (row k: neuron k and input axon k, which the NeuronEngine
updates together), and the neuron traces y and x. The access port sees x_in and x as the one
region trace_pre. The event list stores a neuron without the n_inputs offset of its source
number: its place after the tick's inputs says it is a neuron.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, ResetInserter, Signal
from amaranth.lib import wiring

from firmware import formats as fmt
from firmware.config import CoreConfig
from firmware.errors import ConfigError

from ..lib.compare import less_than
from ..lib.fifo import BufferedFIFO
from ..lib.layout import pack, unpack
from ..lib.memory import SimpleMemory, SimulationMemories
from .access import REGISTER_REGIONS, AccessPort
from .counters import Counters
from .inputs import InputStage
from .interface import core_signature
from .lfsr import LFSR
from .neuron_engine import NeuronEngine
from .plasticity import WRITE_DELAY, LTPEngine, PipelinedWeightUpdate
from .router import Router
from .tick import Phase, TickController
from .trace import TraceImpulse


class Packed:
    """Regions of one depth side by side in the words of one memory with a write enable per
    bit, so that the access port writes one region and an engine several at once. Built here:
    the memory factory gives one enable per word; an iCE40 EBR has one per bit (MASK)."""

    def __init__(self, widths: dict[str, int], depth: int):
        self.widths, self.offsets, at = dict(widths), {}, 0
        for name, width in widths.items():
            self.offsets[name] = at
            at += width
        self.memory = SimpleMemory(at, depth, granularity=1)
        self.write, self.read = self.memory.write, self.memory.read

    def field(self, name: str, word):
        """The bits of region `name` in `word` (read data, write data or write enables)."""
        return word[self.offsets[name]:self.offsets[name] + self.widths[name]]

    def reads(self, m, *users):
        """Each user is (condition, address, {region: read port}): one address for its ports."""
        for condition, address, ports in users:
            with m.If(condition):
                m.d.comb += self.read.addr.eq(address)
            for name, port in ports.items():
                m.d.comb += port.data.eq(self.field(name, self.read.data))

    def writes(self, m, *users):
        """Each user is (condition, address, {region: write port}): one address for its ports."""
        for condition, address, ports in users:
            with m.If(condition):
                m.d.comb += self.write.addr.eq(address)
                for name, port in ports.items():
                    m.d.comb += [self.field(name, self.write.data).eq(port.data),
                                 self.field(name, self.write.en).eq(port.en.replicate(self.widths[name]))]


class Core(wiring.Component):
    """One axonite core for a CoreConfig; its signature is core_signature(config, input_depth,
    step_bits) (rtl.core.interface), seen from the core:

        access.region    In    region number (formats.memory_map) of a read or write
        access.addr      In    word address in the region
        access.wdata     In    the word to write
        access.we        In    write `wdata` to the word (only while `busy` is low)
        access.re        In    read the word (only while `busy` is low; not with `we`)
        access.rdata     Out   the word read, with `rvalid`
        access.rvalid    Out   two cycles after `re` (a counter: when its turn comes, up to 36
                               cycles with 8 counters, rtl.core.counters; wait for it before
                               the next read)
        inputs.valid     In    an entry for the input queue (`input_depth` entries)
        inputs.axon      In    its input axon; a tick's axons ascend (others are dropped)
        inputs.tick_end  In    the entry closes a tick's group ...
        inputs.repeat    In    ... and k further empty ticks
        inputs.ready     Out   the queue takes the entry
        inputs.level     Out   entries queued
        inputs.dropped   Out   pulse: an axon out of order or range dropped (and counted)
        outputs.valid    Out   an output spike at the head of the output FIFO (`output_depth`)
        outputs.neuron   Out   its neuron
        outputs.tick     Out   its tick (0 with `output_tick` False: the FIFO keeps no tick,
                               for a reader that knows it, like the Link)
        outputs.ready    In    take the head
        outputs.push     Out   pulse: a spike enters the FIFO (a reader can count a tick's
                               spikes before it takes them) ...
        outputs.push_neuron Out ... of this neuron
        outputs.lost     Out   pulse: a spike found the FIFO full (counted in `dropped`)
        control.step     In    run `step_ticks` ticks ...
        control.step_ticks In  ... up to 2**step_bits - 1 (a reader that steps one tick at a
                               time, like the Link, saves the 32-bit count with step_bits 1)
        control.freerun  In    while high, a tick every `period` cycles; a tick that takes
                               longer is an overrun (counted)
        control.period   In    cycles from tick start to tick start
        control.clear    In    zero the state, the counters and the tick (tables stay)
        control.clear_counters In  zero the counters only
        control.flush_inputs In    empty the input queue
        control.busy     Out   a tick or a clear is under way (the access port waits)
        control.tick     Out   ticks run since the last clear
        control.consumed Out   input entries used since power-on (mod 2**32), flushed ones
                               included

    Memories come from `memories` (rtl.lib.memory: SimulationMemories by default,
    ICE40Memories for the iCE40 mapping), except the `Packed` ones and the FIFOs', built here
    as EBR.
    """

    def __init__(self, config: CoreConfig, input_depth: int = 512, output_depth: int = 512,
                 memories=None, output_tick: bool = True, step_bits: int = 32):
        if not isinstance(config, CoreConfig):
            raise ConfigError(f"Core needs a CoreConfig, got {config!r}")
        self.config = config
        self.regions = fmt.memory_map(config)
        self.input_depth, self.output_depth, self.output_tick = input_depth, output_depth, output_tick
        self.step_bits = step_bits
        self.memories = memories or SimulationMemories()
        super().__init__(core_signature(config, input_depth, step_bits))
        # Every spike of a tick (not only the output neurons'), for a device of many cores
        # (rtl.multicore) that routes them to the others; not a port of the signature: a
        # one-core device leaves it unused.
        self.fired_valid = Signal()                             # pulse, in NEURON: a neuron fired ...
        self.fired_neuron = Signal(fmt.bits_for(config.n_neurons))  # ... this one

    def elaborate(self, platform):
        m = Module()
        c = self.config
        N, NI, S = c.n_neurons, c.n_inputs, c.n_sources
        nb, sb = fmt.bits_for(N), fmt.bits_for(S)

        # --- memories ----------------------------------------------------------------------------
        # Regions that share a memory (fewer EBR): the neuron state (u, v, ref, the neuron word,
        # and the input axons' x_in) and the neuron traces (y, x) each side by side in one word
        # (`Packed`); profiles and
        # projections, never read in the same phase, in the rows of one (`tables`), whose words
        # are a whole number of 16-bit EBR words: a profile's bits beyond them are registers.
        lay = fmt.layouts(c)
        rows = max(N, NI)
        state = Packed({"u": lay["state_u"].width, "v": lay["state_v"].width, "ref": lay["state_ref"].width,
                        "neuron": lay["neuron"].width, "x_in": fmt.TRACE_BITS}, rows)
        traces = Packed({"y": fmt.TRACE_BITS, "x": fmt.TRACE_BITS}, N)
        table_bits = max(fmt.bits_for(c.n_profiles), fmt.bits_for(c.n_projections))
        table_word = max(16 * (lay["profile"].width // 16), lay["projection"].width)
        mem = {"tables": self.memories.make("tables", table_word, 2 << table_bits)}
        profile_spill = [Signal(max(0, lay["profile"].width - table_word), name=f"profile_spill_{k}")
                         for k in range(c.n_profiles)]
        for name in ("axon", "segment", "synapse", "reverse_ptr", "reverse", "accumulator"):
            mem[name] = self.memories.make(name, lay[name].width, self.regions[name].depth,
                                           transparent=(name == "accumulator"))
        # An event is an input axon or a neuron: which, its place in the list says (neurons come
        # after the `n_input_events` inputs), so it is stored without the n_inputs offset.
        event_bits = max(fmt.bits_for(NI), nb)
        mem["events"] = self.memories.make("events", event_bits, S)
        for name, memory in mem.items():
            m.submodules[f"mem_{name}"] = memory.memory
        m.submodules.mem_state, m.submodules.mem_traces = state.memory, traces.memory

        # --- engines -----------------------------------------------------------------------------
        m.submodules.tick = tick = TickController(c, self.step_bits)
        m.submodules.access = access = AccessPort(c)
        m.submodules.inputs = inputs = InputStage(c)
        m.submodules.neurons = neurons = NeuronEngine(c)
        m.submodules.router = router = Router(c)
        m.submodules.impulse = impulse = TraceImpulse(c)
        m.submodules.ltp = ltp = LTPEngine(c)
        m.submodules.updater = updater = PipelinedWeightUpdate(c)
        m.submodules.lfsr = lfsr = LFSR()

        phase = tick.phase
        in_phase = {p: (phase == p) for p in Phase}
        control = self.control
        m.d.comb += [
            tick.step.eq(control.step), tick.step_ticks.eq(control.step_ticks), tick.freerun.eq(control.freerun),
            tick.period.eq(control.period), tick.clear.eq(control.clear),
            control.busy.eq(tick.busy | control.step | control.clear), control.tick.eq(tick.tick),
        ]
        for p, engine in ((Phase.PREPARE, inputs), (Phase.NEURON, neurons), (Phase.ROUTE, router),
                          (Phase.LTP, ltp), (Phase.IMPULSE, impulse)):
            m.d.comb += engine.start.eq(tick.start & in_phase[p])

        trace = unpack(fmt.layouts(c)["stdp"], access.stdp)
        m.d.comb += [
            neurons.slot_base.eq(tick.slot_base), neurons.pre_decay.eq(trace["pre_decay"]),
            neurons.post_decay.eq(trace["post_decay"]),
            router.slot.eq(tick.slot),
            impulse.pre_impulse.eq(trace["pre_impulse"]), impulse.post_impulse.eq(trace["post_impulse"]),
            impulse.nearest.eq(trace["mode"] == fmt.TRACE_MODE_NEAREST),
        ]

        # --- clearing the state --------------------------------------------------------------------
        clear_depth = max(self.regions[n].depth for n in fmt.STATE_REGIONS if n not in REGISTER_REGIONS)
        clear_addr = Signal(range(clear_depth + 1), init=clear_depth)
        clearing = less_than(clear_addr, clear_depth)
        with m.If(tick.start & in_phase[Phase.CLEAR]):
            m.d.sync += clear_addr.eq(0)
        with m.Elif(clearing):
            m.d.sync += clear_addr.eq(clear_addr + 1)

        m.d.comb += tick.phase_busy.eq(Mux(in_phase[Phase.CLEAR], clearing, 0) | inputs.busy | neurons.busy |
                                       router.busy | ltp.busy | impulse.busy)

        # --- the LFSR: loaded with the seed by CLEAR, written through the access port --------------
        m.d.comb += [updater.draw.eq(lfsr.draw), access.lfsr_state.eq(lfsr.state),
                     lfsr.step.eq(router.step | ltp.step),
                     lfsr.load.eq((tick.start & in_phase[Phase.CLEAR]) | access.lfsr_write),
                     lfsr.value.eq(Mux(access.lfsr_write, access.wdata, access.lfsr_seed))]

        # --- the weight update: the router's operands in ROUTE, the LTP engine's in LTP ---------------
        for name in ("weight", "amplitude", "trace", "shift", "w_min", "w_max"):
            m.d.comb += getattr(updater.rule, name).eq(Mux(in_phase[Phase.LTP], getattr(ltp.updater, name),
                                                           getattr(router.updater, name)))
        m.d.comb += [router.updater.new_weight.eq(updater.rule.new_weight),
                     ltp.updater.new_weight.eq(updater.rule.new_weight)]

        # --- connecting memory ports per phase -----------------------------------------------------
        def reads(memory, *users):
            for condition, port in users:
                with m.If(condition):
                    m.d.comb += memory.read.addr.eq(port.addr)
                m.d.comb += port.data.eq(memory.read.data)

        def writes(memory, *users):
            for condition, port in users:
                with m.If(condition):
                    m.d.comb += [memory.write.addr.eq(port.addr), memory.write.data.eq(port.data),
                                 memory.write.en.eq(port.en)]

        idle, neuron_p = in_phase[Phase.IDLE], in_phase[Phase.NEURON]
        route_p, ltp_p, impulse_p = in_phase[Phase.ROUTE], in_phase[Phase.LTP], in_phase[Phase.IMPULSE]
        clear_p = in_phase[Phase.CLEAR]
        m.d.comb += access.enable.eq(idle & ~control.step & ~control.clear)
        for name in ("axon", "segment", "synapse", "reverse_ptr", "reverse", "accumulator"):
            reads(mem[name], (idle, getattr(access, f"{name}_rd")))
            writes(mem[name], (idle, getattr(access, f"{name}_wr")))
        reads(mem["accumulator"], (neuron_p, neurons.acc_rd), (route_p, router.acc_rd))
        writes(mem["accumulator"], (neuron_p, neurons.acc_wr), (route_p, router.acc_wr))
        for name in ("axon", "segment", "synapse"):
            reads(mem[name], (route_p, getattr(router, f"{name}_rd")))
        for name in ("synapse", "reverse_ptr", "reverse"):
            reads(mem[name], (ltp_p, getattr(ltp, f"{name}_rd")))
        # The synapse words of ROUTE (LTD) and LTP reach the synapse memory through a chain of
        # WRITE_DELAY write-back registers after the phase multiplexer (address, word, enable;
        # loaded every cycle); the word is written from the last, with the pipelined update's new
        # weight (ready then) in its weight field. The engines issue no synapse read in that cycle.
        synapse_mem = mem["synapse"]
        wb_addr = Mux(ltp_p, ltp.synapse_wr.addr, router.synapse_wr.addr)
        wb_data = Mux(ltp_p, ltp.synapse_wr.data, router.synapse_wr.data)
        wb_en = (route_p & router.synapse_wr.en) | (ltp_p & ltp.synapse_wr.en)
        for stage in range(WRITE_DELAY):
            addr = Signal.like(synapse_mem.write.addr, name=f"synapse_wb_addr_{stage}", reset_less=True)
            word = Signal.like(synapse_mem.write.data, name=f"synapse_wb_data_{stage}", reset_less=True)
            en = Signal(name=f"synapse_wb_en_{stage}")
            m.d.sync += [addr.eq(wb_addr), word.eq(wb_data), en.eq(wb_en)]
            wb_addr, wb_data, wb_en = addr, word, en
        wb_word = unpack(lay["synapse"], wb_data)
        with m.If(~idle):
            m.d.comb += [synapse_mem.write.addr.eq(wb_addr),
                         synapse_mem.write.data.eq(pack(lay["synapse"], weight=updater.rule.new_weight,
                                                        target=wb_word["target"])),
                         synapse_mem.write.en.eq(wb_en)]

        # Profiles in the rows of the first half of `tables`, projections in the second.
        def profile_row(addr):
            return Cat(addr, Const(0, table_bits - len(addr)), 0)

        def projection_row(addr):
            return Cat(addr, Const(0, table_bits - len(addr)), 1)

        tables = mem["tables"]
        idle_projection = self.access.region == self.regions["projection"].index
        with m.If(idle):
            m.d.comb += [
                tables.read.addr.eq(Mux(idle_projection, projection_row(access.projection_rd.addr),
                                        profile_row(access.profile_rd.addr))),
                tables.write.addr.eq(Mux(access.projection_wr.en, projection_row(access.projection_wr.addr),
                                         profile_row(access.profile_wr.addr))),
                tables.write.data.eq(access.profile_wr.data[:table_word]),    # the access port's wdata
                tables.write.en.eq(access.profile_wr.en | access.projection_wr.en)]
        with m.If(neuron_p):
            m.d.comb += tables.read.addr.eq(profile_row(neurons.profile_rd.addr))
        with m.If(route_p):
            m.d.comb += tables.read.addr.eq(projection_row(router.projection_rd.addr))
        with m.If(ltp_p):
            m.d.comb += tables.read.addr.eq(projection_row(ltp.projection_rd.addr))
        spill_read = Signal.like(profile_spill[0])
        m.d.sync += spill_read.eq(Array(profile_spill)[Mux(idle, access.profile_rd.addr, neurons.profile_rd.addr)])
        for k, spill in enumerate(profile_spill):
            with m.If(access.profile_wr.en & (access.profile_wr.addr == k)):
                m.d.sync += spill.eq(access.profile_wr.data[table_word:])
        for port in (access.profile_rd, neurons.profile_rd):
            m.d.comb += port.data.eq(Cat(tables.read.data, spill_read))
        for port in (access.projection_rd, router.projection_rd, ltp.projection_rd):
            m.d.comb += port.data.eq(tables.read.data)

        # The neuron state and x_in: NEURON writes row k's u, v, ref and x_in together; the
        # access port one region. x (trace_pre from n_inputs on) and y are the neuron traces.
        # The access port's trace_pre region spans x_in and x: its address is the widest.
        pre_rd, pre_wr = access.trace_pre_rd, access.trace_pre_wr
        state.reads(m, (idle, pre_rd.addr, {"u": access.state_u_rd, "v": access.state_v_rd,
                                            "ref": access.state_ref_rd, "neuron": access.neuron_rd}),
                    (neuron_p, neurons.x_in_rd.addr, {"x_in": neurons.x_in_rd, "u": neurons.u_rd,
                                                      "v": neurons.v_rd, "ref": neurons.ref_rd,
                                                      "neuron": neurons.neuron_rd}),
                    (ltp_p, ltp.x_in_rd.addr, {"x_in": ltp.x_in_rd}),
                    (impulse_p, impulse.x_in_rd.addr, {"x_in": impulse.x_in_rd}))
        state.writes(m, (idle, pre_wr.addr, {"u": access.state_u_wr, "v": access.state_v_wr,
                                             "ref": access.state_ref_wr, "neuron": access.neuron_wr}),
                     (neuron_p, neurons.x_in_wr.addr, {"x_in": neurons.x_in_wr, "u": neurons.u_wr,
                                                       "v": neurons.v_wr, "ref": neurons.ref_wr}),
                     (impulse_p, impulse.x_in_wr.addr, {"x_in": impulse.x_in_wr}))
        traces.reads(m, (idle, Mux(self.access.region == self.regions["trace_pre"].index, pre_rd.addr - NI,
                                   pre_rd.addr), {"y": access.trace_post_rd}),
                     (neuron_p, neurons.y_rd.addr, {"y": neurons.y_rd, "x": neurons.x_rd}),
                     (route_p, router.y_rd.addr, {"y": router.y_rd}), (ltp_p, ltp.x_n_rd.addr, {"x": ltp.x_n_rd}),
                     (impulse_p, impulse.y_rd.addr, {"y": impulse.y_rd, "x": impulse.x_n_rd}))
        traces.writes(m, (idle, Mux(pre_wr.en, pre_wr.addr - NI, pre_wr.addr), {"y": access.trace_post_wr}),
                      (neuron_p, neurons.y_wr.addr, {"y": neurons.y_wr, "x": neurons.x_wr}),
                      (impulse_p, impulse.y_wr.addr, {"y": impulse.y_wr, "x": impulse.x_n_wr}))
        pre_wr_input = Signal()             # (a signal, replicated below)
        m.d.comb += pre_wr_input.eq(less_than(pre_wr.addr, NI))
        with m.If(idle & pre_wr.en):
            m.d.comb += [state.field("x_in", state.write.data).eq(pre_wr.data),
                         state.field("x_in", state.write.en).eq(pre_wr_input.replicate(fmt.TRACE_BITS)),
                         traces.field("x", traces.write.data).eq(pre_wr.data),
                         traces.field("x", traces.write.en).eq((~pre_wr_input).replicate(fmt.TRACE_BITS))]
        neuron_half = Signal()
        m.d.sync += neuron_half.eq(~less_than(pre_rd.addr, NI))
        m.d.comb += pre_rd.data.eq(Mux(neuron_half, traces.field("x", traces.read.data),
                                       state.field("x_in", state.read.data)))

        # CLEAR zeroes every state memory.
        with m.If(clear_p):
            accumulator = mem["accumulator"]
            m.d.comb += [accumulator.write.addr.eq(clear_addr), accumulator.write.data.eq(0),
                         accumulator.write.en.eq(clearing & less_than(clear_addr, self.regions["accumulator"].depth))]
            for memory, names, depth in ((state, ("u", "v", "ref", "x_in"), rows), (traces, ("y", "x"), N)):
                # (one signal, replicated: a replicated expression is emitted once per bit)
                in_memory = Signal(name=f"clear_in_{names[0]}")
                m.d.comb += [memory.write.addr.eq(clear_addr), memory.write.data.eq(0),
                             in_memory.eq(clearing & less_than(clear_addr, depth))]
                for name in names:
                    m.d.comb += memory.field(name, memory.write.en).eq(in_memory.replicate(memory.widths[name]))

        # --- the event list: inputs (PREPARE), then spiking neurons (NEURON) -------------------------
        # One entry: an axon, or a tick end with its repeat count (the protocol's INPUT entry).
        queue, flush = self.inputs, control.flush_inputs
        entry_bits = max(len(queue.axon), len(queue.repeat))
        in_fifo = ResetInserter(flush)(BufferedFIFO(width=entry_bits + 1, depth=self.input_depth))
        m.submodules.input_fifo = in_fifo
        m.d.comb += [in_fifo.w_en.eq(queue.valid & ~flush),
                     in_fifo.w_data.eq(Cat(Mux(queue.tick_end, queue.repeat, queue.axon)[:entry_bits],
                                           queue.tick_end)),
                     queue.ready.eq(in_fifo.w_rdy), queue.level.eq(in_fifo.level),
                     inputs.fifo_axon.eq(in_fifo.r_data[:len(queue.axon)]),
                     inputs.fifo_repeat.eq(in_fifo.r_data[:len(queue.repeat)]),
                     inputs.fifo_tick_end.eq(in_fifo.r_data[-1]),
                     inputs.fifo_rdy.eq(in_fifo.r_rdy), in_fifo.r_en.eq(inputs.fifo_en)]
        with m.If(flush | inputs.consumed):      # one adder for both
            m.d.sync += control.consumed.eq(control.consumed + Mux(flush, in_fifo.level, 1))
        m.d.comb += queue.dropped.eq(inputs.dropped)
        n_events = Signal(sb + 1)
        with m.If(tick.start & in_phase[Phase.PREPARE]):
            m.d.sync += n_events.eq(0)
        append = Signal()
        m.d.comb += [append.eq(inputs.append_valid | neurons.spike_valid),
                     mem["events"].write.addr.eq(n_events),
                     mem["events"].write.data.eq(Mux(inputs.append_valid, inputs.append_axon,
                                                     neurons.spike_neuron)),
                     mem["events"].write.en.eq(append)]
        with m.If(append):
            m.d.sync += n_events.eq(n_events + 1)
        n_input_events = Signal(sb + 1)         # where the neurons begin in the event list
        with m.If(tick.start & in_phase[Phase.NEURON]):
            m.d.sync += n_input_events.eq(n_events)
        m.d.comb += [router.n_events.eq(n_events), ltp.first.eq(n_input_events),
                     ltp.n_events.eq(n_events), impulse.n_events.eq(n_events)]
        events, neuron_event = mem["events"], Signal()
        for condition, port in ((route_p, router.events_rd), (ltp_p, ltp.events_rd), (impulse_p, impulse.events_rd)):
            with m.If(condition):
                m.d.comb += events.read.addr.eq(port.addr)
            m.d.comb += port.data.eq(Mux(neuron_event, events.read.data + NI, events.read.data))
        m.d.sync += neuron_event.eq(events.read.addr >= n_input_events)

        m.d.comb += [self.fired_valid.eq(neurons.spike_valid), self.fired_neuron.eq(neurons.spike_neuron)]

        # --- output spikes ---------------------------------------------------------------------------
        tick_bits = 32 if self.output_tick else 0
        m.submodules.output_fifo = out_fifo = BufferedFIFO(width=nb + tick_bits, depth=self.output_depth,
                                                           direct=False)
        output_spike, spikes = neurons.spike_valid & neurons.spike_output, self.outputs
        m.d.comb += [out_fifo.w_en.eq(output_spike),
                     out_fifo.w_data.eq(Cat(neurons.spike_neuron, tick.tick[:tick_bits])),
                     spikes.lost.eq(output_spike & ~out_fifo.w_rdy),
                     spikes.valid.eq(out_fifo.r_rdy),
                     Cat(spikes.neuron, spikes.tick[:tick_bits]).eq(out_fifo.r_data),
                     spikes.push.eq(output_spike & out_fifo.w_rdy), spikes.push_neuron.eq(neurons.spike_neuron),
                     out_fifo.r_en.eq(spikes.ready)]

        # --- counters --------------------------------------------------------------------------------
        increments = {
            "ticks": tick.tick_end, "input_events": inputs.append_valid, "spikes": neurons.spike_valid,
            "output_spikes": output_spike, "synaptic_events": router.synaptic_event,
            "plastic_updates": router.update.as_unsigned() + ltp.update.as_unsigned(), "overruns": tick.overrun,
            "dropped": inputs.dropped.as_unsigned() + (output_spike & ~out_fifo.w_rdy).as_unsigned(),
        }
        # 64-bit counters: small low parts in flip-flops, the rest in one block RAM that a
        # sequencer increments word by word (rtl.core.counters); a read waits for its counter's turn.
        m.submodules.counters = counters = Counters(len(fmt.COUNTERS), fmt.COUNTER_BITS)
        m.d.comb += [counters.increments[k].eq(increments[name]) for k, name in enumerate(fmt.COUNTERS)]
        m.d.comb += [counters.clear.eq((tick.start & in_phase[Phase.CLEAR]) | control.clear_counters),
                     counters.read.eq(access.counter_read), counters.index.eq(access.counter_index),
                     access.counter_value.eq(counters.word.replicate(len(counters.word_en))),
                     access.counter_load.eq(counters.word_en), access.counter_ready.eq(counters.ready)]

        # --- the external access port ------------------------------------------------------------------
        port = self.access
        m.d.comb += [access.region.eq(port.region), access.addr.eq(port.addr), access.wdata.eq(port.wdata),
                     access.we.eq(port.we), access.re.eq(port.re), port.rdata.eq(access.rdata),
                     port.rvalid.eq(access.rvalid)]
        return m
