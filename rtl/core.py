"""The axonite core: the engines of a tick around the tables of spec §9.

    TickController   phases of a tick; step N, free-run with a period, overruns
    InputStage       PREPARE: the tick's host input axons into the event list
    NeuronEngine     NEURON: every neuron through LIFDatapath, one per cycle, and its traces;
    InputTraceDecay    in parallel: the input axons' pre-traces
    Router           ROUTE: event -> axon -> segments -> synapses -> 16-bit accumulators,
                       with LTD on plastic synapses
    LTPEngine        LTP: plastic synapses onto the neurons that fired, via the reverse index
    TraceImpulse     IMPULSE: trace impulses of the tick's events
    LFSR             one draw per weight update (ROUTE, then LTP)
    AccessPort       IDLE: every region readable and writable; counters readable

Each region lives in a memory from the memory factory (rtl.memory); in each phase the core
connects the ports of that phase's engines to the memories, so each memory has one read and
one write port, as an iCE40 EBR does. The pre-traces are two memories (input axons, neurons)
so that their decay runs in parallel; the access port sees them as the one region trace_pre.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt
from firmware.config import CoreConfig
from firmware.errors import ConfigError

from .access import REGISTER_REGIONS, AccessPort
from .inputs import InputStage
from .layout import unpack
from .memory import SimulationMemories
from .lfsr import LFSR
from .neuron_engine import NeuronEngine
from .plasticity import LTPEngine
from .router import Router
from .tick import Phase, TickController
from .trace import InputTraceDecay, TraceImpulse


class Core(wiring.Component):
    """One axonite core for a CoreConfig.

    Access port (only while `busy` is low): `access_we` writes `access_wdata` to word
    `access_addr` of region `access_region` (numbers of formats.memory_map); `access_re` reads,
    and `access_rdata` is valid with `access_rvalid` two cycles later.
    Input port: a stream of input axons for coming ticks, each tick's group closed by an entry
    with `in_tick_end` set (and `in_repeat` = k further empty ticks); axons of a group must
    ascend (others are dropped, counted, and pulse `in_dropped`). `in_level` entries are queued
    of `input_depth`; `consumed` counts the entries used since power-on (mod 2**32), flushed
    ones included (`flush_inputs` empties the queue). `clear_counters` zeroes the counters only.
    Control: `step` with `step_ticks` runs that many ticks; `freerun` runs a tick every
    `period` cycles and counts an overrun when a tick takes longer. `clear` zeroes the state.
    Output port: spikes of output neurons as (`out_tick`, `out_neuron`), a FIFO of
    `output_depth`; a spike that finds it full is counted in `dropped` and pulses `out_lost`.
    Memories come from `memories` (rtl.memory: SimulationMemories by default, ICE40Memories
    for the iCE40 mapping).
    """

    def __init__(self, config: CoreConfig, input_depth: int = 512, output_depth: int = 512,
                 memories=None):
        if not isinstance(config, CoreConfig):
            raise ConfigError(f"Core needs a CoreConfig, got {config!r}")
        self.config = config
        self.regions = fmt.memory_map(config)
        self.input_depth, self.output_depth = input_depth, output_depth
        self.memories = memories or SimulationMemories()
        region_width, addr_width, data_width = AccessPort.widths(config)
        super().__init__({
            "access_region": In(region_width),
            "access_addr": In(addr_width),
            "access_wdata": In(data_width),
            "access_we": In(1),
            "access_re": In(1),
            "access_rdata": Out(data_width),
            "access_rvalid": Out(1),
            "in_valid": In(1),
            "in_axon": In(15),                  # as the wire's entries: out-of-range axons stay out of range
            "in_tick_end": In(1),
            "in_repeat": In(15),
            "in_ready": Out(1),
            "in_level": Out(range(input_depth + 1)),
            "consumed": Out(32),
            "flush_inputs": In(1),
            "clear_counters": In(1),
            "in_dropped": Out(1),
            "out_lost": Out(1),
            "step": In(1),
            "step_ticks": In(32),
            "freerun": In(1),
            "period": In(32),
            "clear": In(1),
            "busy": Out(1),
            "tick": Out(32),
            "out_valid": Out(1),
            "out_neuron": Out(fmt.bits_for(config.n_neurons)),
            "out_tick": Out(32),
            "out_ready": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.config
        N, NI, S = c.n_neurons, c.n_inputs, c.n_sources
        nb, sb = fmt.bits_for(N), fmt.bits_for(S)

        # --- memories ----------------------------------------------------------------------------
        mem = {}
        for name, region in self.regions.items():
            if name not in REGISTER_REGIONS and name != "trace_pre":
                mem[name] = self.memories.make(name, region.layout.width, region.depth,
                                               transparent=(name == "accumulator"))
        mem["x_in"] = self.memories.make("x_in", fmt.TRACE_BITS, NI)
        mem["x_n"] = self.memories.make("x_n", fmt.TRACE_BITS, N)
        mem["events"] = self.memories.make("events", sb, S)
        for name, memory in mem.items():
            m.submodules[f"mem_{name}"] = memory.memory

        # --- engines -----------------------------------------------------------------------------
        m.submodules.tick = tick = TickController(c)
        m.submodules.access = access = AccessPort(c)
        m.submodules.inputs = inputs = InputStage(c)
        m.submodules.neurons = neurons = NeuronEngine(c)
        m.submodules.input_traces = input_traces = InputTraceDecay(c)
        m.submodules.router = router = Router(c)
        m.submodules.impulse = impulse = TraceImpulse(c)
        m.submodules.ltp = ltp = LTPEngine(c)
        m.submodules.lfsr = lfsr = LFSR()

        phase = tick.phase
        in_phase = {p: (phase == p) for p in Phase}
        m.d.comb += [
            tick.step.eq(self.step), tick.step_ticks.eq(self.step_ticks), tick.freerun.eq(self.freerun),
            tick.period.eq(self.period), tick.clear.eq(self.clear),
            self.busy.eq(tick.busy | self.step | self.clear), self.tick.eq(tick.tick),
        ]
        for p, engine in ((Phase.PREPARE, inputs), (Phase.NEURON, neurons), (Phase.NEURON, input_traces),
                          (Phase.ROUTE, router), (Phase.LTP, ltp), (Phase.IMPULSE, impulse)):
            m.d.comb += engine.start.eq(tick.start & in_phase[p])

        trace = unpack(fmt.layouts(c)["stdp"], access.stdp)
        m.d.comb += [
            neurons.slot_base.eq(tick.slot_base), neurons.pre_decay.eq(trace["pre_decay"]),
            neurons.post_decay.eq(trace["post_decay"]), input_traces.decay.eq(trace["pre_decay"]),
            router.slot.eq(tick.slot),
            impulse.pre_impulse.eq(trace["pre_impulse"]), impulse.post_impulse.eq(trace["post_impulse"]),
            impulse.nearest.eq(trace["mode"] == fmt.TRACE_MODE_NEAREST),
        ]

        # --- clearing the state --------------------------------------------------------------------
        clear_depth = max(self.regions[n].depth for n in fmt.STATE_REGIONS if n not in REGISTER_REGIONS)
        clear_addr = Signal(range(clear_depth + 1), init=clear_depth)
        clearing = clear_addr < clear_depth
        with m.If(tick.start & in_phase[Phase.CLEAR]):
            m.d.sync += clear_addr.eq(0)
        with m.Elif(clearing):
            m.d.sync += clear_addr.eq(clear_addr + 1)

        m.d.comb += tick.phase_busy.eq(Mux(in_phase[Phase.CLEAR], clearing, 0) | inputs.busy | neurons.busy |
                                       input_traces.busy | router.busy | ltp.busy | impulse.busy)

        # --- the LFSR: loaded with the seed by CLEAR, written through the access port --------------
        m.d.comb += [router.draw.eq(lfsr.draw), ltp.draw.eq(lfsr.draw), access.lfsr_state.eq(lfsr.state),
                     lfsr.step.eq(router.step | ltp.step),
                     lfsr.load.eq((tick.start & in_phase[Phase.CLEAR]) | access.lfsr_write),
                     lfsr.value.eq(Mux(access.lfsr_write, access.wdata, access.lfsr_seed))]

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
        m.d.comb += access.enable.eq(idle & ~self.step & ~self.clear)
        for name in ("profile", "neuron", "axon", "segment", "synapse", "projection", "reverse_ptr",
                     "reverse", "state_u", "state_v", "state_ref", "trace_post", "accumulator"):
            reads(mem[name], (idle, getattr(access, f"{name}_rd")))
            writes(mem[name], (idle, getattr(access, f"{name}_wr")))
        for name, short in (("state_u", "u"), ("state_v", "v"), ("state_ref", "ref"), ("trace_post", "y")):
            reads(mem[name], (neuron_p, getattr(neurons, f"{short}_rd")))
            writes(mem[name], (neuron_p, getattr(neurons, f"{short}_wr")))
        reads(mem["neuron"], (neuron_p, neurons.neuron_rd))
        reads(mem["profile"], (neuron_p, neurons.profile_rd))
        reads(mem["accumulator"], (neuron_p, neurons.acc_rd), (route_p, router.acc_rd))
        writes(mem["accumulator"], (neuron_p, neurons.acc_wr), (route_p, router.acc_wr))
        reads(mem["x_n"], (neuron_p, neurons.x_rd), (ltp_p, ltp.x_n_rd), (impulse_p, impulse.x_n_rd))
        writes(mem["x_n"], (neuron_p, neurons.x_wr), (impulse_p, impulse.x_n_wr))
        reads(mem["x_in"], (neuron_p, input_traces.x_rd), (ltp_p, ltp.x_in_rd), (impulse_p, impulse.x_in_rd))
        writes(mem["x_in"], (neuron_p, input_traces.x_wr), (impulse_p, impulse.x_in_wr))
        reads(mem["trace_post"], (route_p, router.y_rd), (impulse_p, impulse.y_rd))
        writes(mem["trace_post"], (impulse_p, impulse.y_wr))
        for name in ("axon", "segment", "projection", "synapse"):
            reads(mem[name], (route_p, getattr(router, f"{name}_rd")))
        for name in ("projection", "synapse", "reverse_ptr", "reverse"):
            reads(mem[name], (ltp_p, getattr(ltp, f"{name}_rd")))
        writes(mem["synapse"], (route_p, router.synapse_wr), (ltp_p, ltp.synapse_wr))
        reads(mem["events"], (route_p, router.events_rd), (ltp_p, ltp.events_rd), (impulse_p, impulse.events_rd))

        # The access port's trace_pre region spans both pre-trace memories.
        pre_rd, pre_wr = access.trace_pre_rd, access.trace_pre_wr
        neuron_half = Signal()
        m.d.sync += neuron_half.eq(pre_rd.addr >= NI)
        with m.If(idle):
            m.d.comb += [mem["x_in"].read.addr.eq(pre_rd.addr), mem["x_n"].read.addr.eq(pre_rd.addr - NI),
                         mem["x_in"].write.addr.eq(pre_wr.addr), mem["x_n"].write.addr.eq(pre_wr.addr - NI),
                         mem["x_in"].write.data.eq(pre_wr.data), mem["x_n"].write.data.eq(pre_wr.data),
                         mem["x_in"].write.en.eq(pre_wr.en & (pre_wr.addr < NI)),
                         mem["x_n"].write.en.eq(pre_wr.en & (pre_wr.addr >= NI))]
        m.d.comb += pre_rd.data.eq(Mux(neuron_half, mem["x_n"].read.data, mem["x_in"].read.data))

        # CLEAR zeroes every state memory.
        with m.If(in_phase[Phase.CLEAR]):
            for name in ("state_u", "state_v", "state_ref", "trace_post", "accumulator", "x_in", "x_n"):
                depth = {"x_in": NI, "x_n": N}.get(name) or self.regions[name].depth
                m.d.comb += [mem[name].write.addr.eq(clear_addr), mem[name].write.data.eq(0),
                             mem[name].write.en.eq(clearing & (clear_addr < depth))]

        # --- the event list: inputs (PREPARE), then spiking neurons (NEURON) -------------------------
        # One entry: an axon, or a tick end with its repeat count (the protocol's INPUT entry).
        entry_bits = max(len(self.in_axon), len(self.in_repeat))
        in_fifo = ResetInserter(self.flush_inputs)(SyncFIFOBuffered(width=entry_bits + 1, depth=self.input_depth))
        m.submodules.input_fifo = in_fifo
        m.d.comb += [in_fifo.w_en.eq(self.in_valid & ~self.flush_inputs),
                     in_fifo.w_data.eq(Cat(Mux(self.in_tick_end, self.in_repeat, self.in_axon)[:entry_bits],
                                           self.in_tick_end)),
                     self.in_ready.eq(in_fifo.w_rdy), self.in_level.eq(in_fifo.level),
                     inputs.fifo_axon.eq(in_fifo.r_data[:len(self.in_axon)]),
                     inputs.fifo_repeat.eq(in_fifo.r_data[:len(self.in_repeat)]),
                     inputs.fifo_tick_end.eq(in_fifo.r_data[-1]),
                     inputs.fifo_rdy.eq(in_fifo.r_rdy), in_fifo.r_en.eq(inputs.fifo_en)]
        with m.If(self.flush_inputs):
            m.d.sync += self.consumed.eq(self.consumed + in_fifo.level)
        with m.Elif(inputs.consumed):
            m.d.sync += self.consumed.eq(self.consumed + 1)
        m.d.comb += self.in_dropped.eq(inputs.dropped)
        n_events = Signal(sb + 1)
        with m.If(tick.start & in_phase[Phase.PREPARE]):
            m.d.sync += n_events.eq(0)
        append = Signal()
        m.d.comb += [append.eq(inputs.append_valid | neurons.spike_valid),
                     mem["events"].write.addr.eq(n_events),
                     mem["events"].write.data.eq(Mux(inputs.append_valid, inputs.append_axon,
                                                     NI + neurons.spike_neuron)),
                     mem["events"].write.en.eq(append)]
        with m.If(append):
            m.d.sync += n_events.eq(n_events + 1)
        n_input_events = Signal(sb + 1)         # where the neurons begin in the event list
        with m.If(tick.start & in_phase[Phase.NEURON]):
            m.d.sync += n_input_events.eq(n_events)
        m.d.comb += [router.n_events.eq(n_events), ltp.first.eq(n_input_events),
                     ltp.n_events.eq(n_events), impulse.n_events.eq(n_events)]

        # --- output spikes ---------------------------------------------------------------------------
        m.submodules.output_fifo = out_fifo = SyncFIFOBuffered(width=nb + 32, depth=self.output_depth)
        output_spike = neurons.spike_valid & neurons.spike_output
        m.d.comb += [out_fifo.w_en.eq(output_spike), out_fifo.w_data.eq(Cat(neurons.spike_neuron, tick.tick)),
                     self.out_lost.eq(output_spike & ~out_fifo.w_rdy),
                     self.out_valid.eq(out_fifo.r_rdy), Cat(self.out_neuron, self.out_tick).eq(out_fifo.r_data),
                     out_fifo.r_en.eq(self.out_ready)]

        # --- counters --------------------------------------------------------------------------------
        increments = {
            "ticks": tick.tick_end, "input_events": inputs.append_valid, "spikes": neurons.spike_valid,
            "output_spikes": output_spike, "synaptic_events": router.synaptic_event,
            "plastic_updates": router.update.as_unsigned() + ltp.update.as_unsigned(), "overruns": tick.overrun,
            "dropped": inputs.dropped.as_unsigned() + (output_spike & ~out_fifo.w_rdy).as_unsigned(),
        }
        counters = {name: Signal(fmt.COUNTER_BITS, name=f"count_{name}") for name in fmt.COUNTERS}
        for name, counter in counters.items():
            with m.If((tick.start & in_phase[Phase.CLEAR]) | self.clear_counters):
                m.d.sync += counter.eq(0)
            with m.Else():
                m.d.sync += counter.eq(counter + increments[name])
        with m.Switch(access.counter_index):
            for k, name in enumerate(fmt.COUNTERS):
                with m.Case(k):
                    m.d.comb += access.counter_value.eq(counters[name])

        # --- the external access port ------------------------------------------------------------------
        m.d.comb += [access.region.eq(self.access_region), access.addr.eq(self.access_addr),
                     access.wdata.eq(self.access_wdata), access.we.eq(self.access_we),
                     access.re.eq(self.access_re), self.access_rdata.eq(access.rdata),
                     self.access_rvalid.eq(access.rvalid)]
        return m
