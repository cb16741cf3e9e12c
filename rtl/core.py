"""The axonite core: neuron engine, router and tick control around the tables of spec §9.

One tick runs the phases of docs/spec.md §2 as states of one controller:

    PREPARE  drain this tick's host input axons from the input FIFO into the event list
    NEURON   update every neuron (one per cycle, pipelined through LIFDatapath), clear its
             accumulator slot, decay its post-trace; decay every pre-trace in parallel;
             append spiking neurons to the event list and output neurons to the output FIFO
    ROUTE    for each event: axon -> segments -> synapse words; one synaptic operation per
             cycle, read-modify-write of the 16-bit accumulator of tick t + delay
    IMPULSE  trace impulses for every event of the tick
    END      advance the tick; step again, free-run, or return to IDLE

Between ticks (IDLE) the access port reads and writes every region of the memory map and the
counters; CLEAR zeroes the state regions, the counters and the tick.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt
from firmware.config import CoreConfig
from firmware.errors import ConfigError

from .layout import pack, unpack
from .memory import SimulationMemories
from .neuron import LIFDatapath, bias_of

# Regions that are a single word live in registers, not memories.
_REGISTER_REGIONS = ("stdp", "lfsr_seed", "counters")


def _trace_decay(x, decay):
    """(x * (4096 - decay)) >> 12 for an unsigned trace (spec §6.1)."""
    return ((x * (fmt.DECAY_UNITY - decay)) >> fmt.DECAY_BITS)[:fmt.TRACE_BITS]


def _trace_impulse(x, impulse, nearest):
    total = x + impulse
    saturated = Mux(total > fmt.TRACE_MAX, fmt.TRACE_MAX, total)
    return Mux(nearest, impulse, saturated)[:fmt.TRACE_BITS]


class Core(wiring.Component):
    """One axonite core for a CoreConfig.

    Access port (only while `busy` is low): `access_we` writes `access_wdata` to word
    `access_addr` of region `access_region` (numbers of formats.memory_map); `access_re` reads,
    and `access_rdata` is valid with `access_rvalid` one or two cycles later.
    Input port: a stream of input axons for coming ticks, each tick's group closed by an entry
    with `in_tick_end` set; axons of a group must ascend (others are dropped and counted).
    Control: `step` with `step_ticks` runs that many ticks; `freerun` runs a tick every
    `period` cycles and counts an overrun when a tick takes longer. `clear` zeroes the state.
    Output port: spikes of output neurons as (`out_tick`, `out_neuron`), a FIFO of
    `output_depth`; a spike that finds it full is counted in `dropped`.
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
        self.addr_width = max(fmt.bits_for(r.depth) for r in self.regions.values())
        self.data_width = max(r.layout.width for r in self.regions.values())
        super().__init__({
            "access_region": In(fmt.bits_for(len(self.regions))),
            "access_addr": In(self.addr_width),
            "access_wdata": In(self.data_width),
            "access_we": In(1),
            "access_re": In(1),
            "access_rdata": Out(self.data_width),
            "access_rvalid": Out(1),
            "in_valid": In(1),
            "in_axon": In(fmt.bits_for(config.n_inputs)),
            "in_tick_end": In(1),
            "in_ready": Out(1),
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
        N, NI, S, D = c.n_neurons, c.n_inputs, c.n_sources, c.max_delay
        nb, sb = fmt.bits_for(N), fmt.bits_for(S)
        lay = {name: r.layout for name, r in self.regions.items()}

        mem = {}
        for name, region in self.regions.items():
            if name not in _REGISTER_REGIONS:
                mem[name] = self.memories.make(name, region.layout.width, region.depth,
                                               transparent=(name == "accumulator"))
                m.submodules[f"mem_{name}"] = mem[name].memory
        # The event list of the current tick: host inputs, then spiking neurons (as sources).
        events = self.memories.make("events", sb, S)
        m.submodules.mem_events = events.memory
        for port in [*mem.values(), events]:
            m.d.comb += port.write.en.eq(0)

        stdp = Signal(lay["stdp"].width)
        lfsr_seed = Signal(fmt.LFSR_BITS, init=fmt.LFSR_DEFAULT_SEED)
        trace = unpack(lay["stdp"], stdp)
        counters = {name: Signal(fmt.COUNTER_BITS, name=f"count_{name}") for name in fmt.COUNTERS}

        m.submodules.input_fifo = in_fifo = SyncFIFOBuffered(width=len(self.in_axon) + 1, depth=self.input_depth)
        m.submodules.output_fifo = out_fifo = SyncFIFOBuffered(width=nb + 32, depth=self.output_depth)
        m.d.comb += [
            in_fifo.w_en.eq(self.in_valid),
            in_fifo.w_data.eq(Cat(self.in_axon, self.in_tick_end)),
            self.in_ready.eq(in_fifo.w_rdy),
            self.out_valid.eq(out_fifo.r_rdy),
            Cat(self.out_neuron, self.out_tick).eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.out_ready),
        ]

        tick = Signal(32)
        slot = Signal(fmt.bits_for(D))             # tick mod max_delay
        remaining = Signal(32)
        since_start = Signal(32)                   # cycles since the current tick began
        n_events = Signal(sb + 1)
        last_input = Signal(len(self.in_axon) + 1)  # previous axon of the group + 1 (0: none)
        m.d.comb += self.tick.eq(tick)
        m.d.sync += since_start.eq(since_start + (since_start != 0xFFFFFFFF))

        # --- Neuron pipeline: S0 read state, S1 read profile, S2 datapath in, then write back ---
        m.submodules.lif = lif = LIFDatapath(tag_width=nb + 1)
        issue = Signal(nb + 1)                     # next neuron to issue
        issue_valid = Signal()
        s1_valid, s1_n = Signal(), Signal(nb)
        s2_valid, s2_n = Signal(), Signal(nb)
        s2_acc = Signal(signed(fmt.A_IN_BITS))
        s2_u = Signal(signed(fmt.UV_BITS + 1))
        s2_v = Signal(signed(fmt.UV_BITS))
        s2_ref = Signal(fmt.REFRACTORY_BITS)
        s2_neuron = Signal(lay["neuron"].width)
        s2_y = Signal(fmt.TRACE_BITS)
        drain = Signal(range(LIFDatapath.LATENCY + 8))
        x_issue = Signal(sb + 1)
        x_valid, x_addr = Signal(), Signal(sb)

        acc_base = Signal(range(D * N + 1))         # slot * N
        neuron_fields = unpack(lay["neuron"], mem["neuron"].read.data)
        profile = unpack(lay["profile"], mem["profile"].read.data)
        s2_fields = unpack(lay["neuron"], s2_neuron)

        # --- Router: sequencer and synaptic pipeline ---
        ev_index = Signal(sb + 1)
        source = Signal(sb)
        seg_cur, seg_left = Signal(fmt.bits_for(c.n_segments + 1)), Signal(fmt.bits_for(c.n_segments + 1))
        syn_cur, syn_left = Signal(fmt.bits_for(c.n_synapses + 1)), Signal(c.target_bits + 2)
        seg_window = Signal(fmt.bits_for(-(-N // c.window_size)))
        seg_delay_m1 = Signal(fmt.bits_for(D))
        weight_exp = Signal(4)
        p1_valid, p1_base, p1_exp = Signal(), Signal(range(D * N + 1)), Signal(4)
        p2_valid, p2_addr = Signal(), Signal(range(D * N + 1))
        p2_value = Signal(signed(fmt.A_IN_BITS))
        axon = unpack(lay["axon"], mem["axon"].read.data)
        segment = unpack(lay["segment"], mem["segment"].read.data)
        projection = unpack(lay["projection"], mem["projection"].read.data)
        synapse = unpack(lay["synapse"], mem["synapse"].read.data)

        clear_depth = max(r.depth for n, r in self.regions.items() if n in fmt.STATE_REGIONS and n in mem)
        clear_addr = Signal(range(clear_depth + 1))

        # --- Access port ---
        region_sel = Signal.like(self.access_region)
        read_pending = Signal()
        idle = Signal()
        m.d.comb += self.busy.eq(~idle | self.step | self.clear)
        m.d.sync += self.access_rvalid.eq(0)

        def count(name, amount=1):
            return counters[name].eq(counters[name] + amount)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += idle.eq(1)
                with m.If(self.access_we):
                    for name, region in self.regions.items():
                        with m.If(self.access_region == region.index):
                            if name == "stdp":
                                m.d.sync += stdp.eq(self.access_wdata)
                            elif name == "lfsr_seed":
                                m.d.sync += lfsr_seed.eq(self.access_wdata)
                            elif name in mem:
                                m.d.comb += [mem[name].write.addr.eq(self.access_addr),
                                             mem[name].write.data.eq(self.access_wdata),
                                             mem[name].write.en.eq(1)]
                with m.If(self.access_re):
                    m.d.sync += [region_sel.eq(self.access_region), read_pending.eq(1)]
                    for name in mem:
                        with m.If(self.access_region == self.regions[name].index):
                            m.d.comb += mem[name].read.addr.eq(self.access_addr)
                    with m.If(self.access_region == self.regions["counters"].index):
                        with m.Switch(self.access_addr):
                            for k, name in enumerate(fmt.COUNTERS):
                                with m.Case(k):
                                    m.d.sync += self.access_rdata.eq(counters[name])
                    with m.If(self.access_region == self.regions["stdp"].index):
                        m.d.sync += self.access_rdata.eq(stdp)
                    with m.If(self.access_region == self.regions["lfsr_seed"].index):
                        m.d.sync += self.access_rdata.eq(lfsr_seed)
                with m.Elif(self.clear):
                    m.d.sync += [clear_addr.eq(0), tick.eq(0), slot.eq(0), acc_base.eq(0)]
                    m.d.sync += [counters[name].eq(0) for name in fmt.COUNTERS]
                    m.next = "CLEAR"
                with m.Elif(self.step & (self.step_ticks != 0)):
                    m.d.sync += remaining.eq(self.step_ticks)
                    m.next = "START"
                with m.Elif(self.freerun & (since_start >= self.period)):
                    m.d.sync += remaining.eq(1)
                    m.next = "START"

            with m.State("CLEAR"):
                for name in fmt.STATE_REGIONS:
                    if name in mem:
                        with m.If(clear_addr < self.regions[name].depth):
                            m.d.comb += [mem[name].write.addr.eq(clear_addr), mem[name].write.data.eq(0),
                                         mem[name].write.en.eq(1)]
                m.d.sync += clear_addr.eq(clear_addr + 1)
                with m.If(clear_addr == clear_depth - 1):
                    m.next = "IDLE"

            with m.State("START"):
                m.d.sync += [since_start.eq(1), n_events.eq(0), last_input.eq(0)]
                m.next = "PREPARE"

            with m.State("PREPARE"):
                axon_in, tick_end = in_fifo.r_data[:-1], in_fifo.r_data[-1]
                m.d.comb += in_fifo.r_en.eq(1)
                with m.If(~in_fifo.r_rdy | (tick_end & in_fifo.r_rdy)):
                    m.d.sync += [issue.eq(0), x_issue.eq(0), drain.eq(0)]
                    m.next = "NEURON"
                with m.Elif((axon_in < NI) & (axon_in + 1 > last_input)):
                    m.d.comb += [events.write.addr.eq(n_events), events.write.data.eq(axon_in),
                                 events.write.en.eq(1)]
                    m.d.sync += [n_events.eq(n_events + 1), last_input.eq(axon_in + 1),
                                 count("input_events")]
                with m.Else():
                    m.d.sync += count("dropped")

            with m.State("NEURON"):
                # S0: read everything indexed by the neuron.
                m.d.comb += issue_valid.eq(issue < N)
                for name in ("accumulator",):
                    m.d.comb += mem[name].read.addr.eq(acc_base + issue)
                for name in ("state_u", "state_v", "state_ref", "neuron", "trace_post"):
                    m.d.comb += mem[name].read.addr.eq(issue)
                m.d.sync += [issue.eq(issue + issue_valid), s1_valid.eq(issue_valid), s1_n.eq(issue)]
                # S1: clear the accumulator slot just read; read the profile.
                with m.If(s1_valid):
                    m.d.comb += [mem["accumulator"].write.addr.eq(acc_base + s1_n),
                                 mem["accumulator"].write.data.eq(0),
                                 mem["accumulator"].write.en.eq(1)]
                m.d.comb += mem["profile"].read.addr.eq(neuron_fields["profile"])
                m.d.sync += [
                    s2_valid.eq(s1_valid), s2_n.eq(s1_n),
                    s2_acc.eq(mem["accumulator"].read.data),
                    s2_u.eq(unpack(lay["state_u"], mem["state_u"].read.data)["u"]),
                    s2_v.eq(unpack(lay["state_v"], mem["state_v"].read.data)["v"]),
                    s2_ref.eq(mem["state_ref"].read.data),
                    s2_neuron.eq(mem["neuron"].read.data),
                    s2_y.eq(mem["trace_post"].read.data),
                ]
                # S2: into the datapath; the post-trace decays here.
                lif_in = lif.i.payload
                m.d.comb += [
                    lif.i.valid.eq(s2_valid), lif_in.tag.eq(Cat(s2_n, s2_fields["output"])),
                    lif_in.u.eq(s2_u), lif_in.v.eq(s2_v), lif_in.ref.eq(s2_ref), lif_in.a_in.eq(s2_acc),
                    lif_in.du.eq(profile["du"]), lif_in.dv.eq(profile["dv"]), lif_in.vth.eq(profile["vth"]),
                    lif_in.bias.eq(bias_of(s2_fields["bias_mant"], profile["bias_exp"])),
                    lif_in.refractory.eq(profile["refractory"]),
                ]
                with m.If(s2_valid):
                    m.d.comb += [mem["trace_post"].write.addr.eq(s2_n),
                                 mem["trace_post"].write.data.eq(_trace_decay(s2_y, trace["post_decay"])),
                                 mem["trace_post"].write.en.eq(1)]
                # Write back.
                result = lif.o.payload
                out_n, out_flag = result.tag[:nb], result.tag[nb]
                with m.If(lif.o.valid):
                    for name, value in (("state_u", result.u), ("state_v", result.v), ("state_ref", result.ref)):
                        m.d.comb += [mem[name].write.addr.eq(out_n), mem[name].write.data.eq(value),
                                     mem[name].write.en.eq(1)]
                    with m.If(result.spike):
                        m.d.comb += [events.write.addr.eq(n_events), events.write.data.eq(NI + out_n),
                                     events.write.en.eq(1)]
                        m.d.sync += [n_events.eq(n_events + 1), count("spikes")]
                        with m.If(out_flag):
                            m.d.sync += count("output_spikes")
                            m.d.comb += [out_fifo.w_data.eq(Cat(out_n, tick)), out_fifo.w_en.eq(1)]
                            with m.If(~out_fifo.w_rdy):
                                m.d.sync += count("dropped")
                # Pre-traces of all sources decay in parallel (a memory of their own).
                m.d.comb += mem["trace_pre"].read.addr.eq(x_issue)
                m.d.sync += [x_issue.eq(x_issue + (x_issue < S)), x_valid.eq(x_issue < S), x_addr.eq(x_issue)]
                with m.If(x_valid):
                    m.d.comb += [mem["trace_pre"].write.addr.eq(x_addr),
                                 mem["trace_pre"].write.data.eq(_trace_decay(mem["trace_pre"].read.data, trace["pre_decay"])),
                                 mem["trace_pre"].write.en.eq(1)]
                with m.If((issue == N) & (x_issue == S)):
                    m.d.sync += drain.eq(drain + 1)
                    with m.If(drain == LIFDatapath.LATENCY + 3):
                        m.d.sync += ev_index.eq(0)
                        m.next = "ROUTE_EVENT"

            # --- ROUTE: a sequencer walks event -> axon -> segments -> synapses ---
            def synaptic_pipeline():
                # P1: synapse word arrives; read the accumulator it adds to.
                addr = p1_base + synapse["target"]
                m.d.comb += mem["accumulator"].read.addr.eq(addr)
                value = (synapse["weight"] << p1_exp)[:fmt.A_IN_BITS].as_signed()
                m.d.sync += [p2_valid.eq(p1_valid), p2_addr.eq(addr), p2_value.eq(value)]
                # P2: add, wrapping at 16 bits, and write back.
                with m.If(p2_valid):
                    total = (mem["accumulator"].read.data.as_signed() + p2_value)[:fmt.A_IN_BITS]
                    m.d.comb += [mem["accumulator"].write.addr.eq(p2_addr),
                                 mem["accumulator"].write.data.eq(total),
                                 mem["accumulator"].write.en.eq(1)]
                    m.d.sync += count("synaptic_events")

            with m.State("ROUTE_EVENT"):
                synaptic_pipeline()
                m.d.sync += p1_valid.eq(0)
                m.d.comb += events.read.addr.eq(ev_index)
                with m.If(ev_index == n_events):
                    m.next = "ROUTE_DRAIN"
                with m.Else():
                    m.next = "ROUTE_AXON"
            with m.State("ROUTE_AXON"):
                synaptic_pipeline()
                m.d.sync += p1_valid.eq(0)
                m.d.comb += mem["axon"].read.addr.eq(events.read.data)
                m.d.sync += [source.eq(events.read.data), ev_index.eq(ev_index + 1)]
                m.next = "ROUTE_SEGMENTS"
            with m.State("ROUTE_SEGMENTS"):
                synaptic_pipeline()
                m.d.sync += [p1_valid.eq(0), seg_cur.eq(axon["seg_ptr"]), seg_left.eq(axon["seg_count"])]
                m.next = "ROUTE_SEGMENT"
            with m.State("ROUTE_SEGMENT"):
                synaptic_pipeline()
                m.d.sync += p1_valid.eq(0)
                m.d.comb += mem["segment"].read.addr.eq(seg_cur)
                with m.If(seg_left == 0):
                    m.next = "ROUTE_EVENT"
                with m.Else():
                    m.d.sync += [seg_cur.eq(seg_cur + 1), seg_left.eq(seg_left - 1)]
                    m.next = "ROUTE_PROJECTION"
            with m.State("ROUTE_PROJECTION"):
                synaptic_pipeline()
                m.d.sync += p1_valid.eq(0)
                m.d.comb += mem["projection"].read.addr.eq(segment["projection"])
                m.d.sync += [syn_cur.eq(segment["syn_ptr"]), syn_left.eq(segment["syn_count"]),
                             seg_window.eq(segment["window"]), seg_delay_m1.eq(segment["delay_m1"])]
                m.next = "ROUTE_SETUP"
            with m.State("ROUTE_SETUP"):
                synaptic_pipeline()
                m.d.sync += [p1_valid.eq(0), weight_exp.eq(projection["weight_exp"])]
                m.next = "ROUTE_SYNAPSES"
            with m.State("ROUTE_SYNAPSES"):
                # P0: one synapse word per cycle.
                synaptic_pipeline()
                arrival = Signal(fmt.bits_for(2 * D))
                m.d.comb += arrival.eq(slot + seg_delay_m1 + 1)
                slot_d = Mux(arrival >= D, arrival - D, arrival)
                base = slot_d * N + (seg_window << c.target_bits)
                m.d.comb += mem["synapse"].read.addr.eq(syn_cur)
                with m.If(syn_left != 0):
                    m.d.sync += [p1_valid.eq(1), p1_base.eq(base), p1_exp.eq(weight_exp),
                                 syn_cur.eq(syn_cur + 1), syn_left.eq(syn_left - 1)]
                with m.Else():
                    m.d.sync += p1_valid.eq(0)
                    m.next = "ROUTE_SEGMENT"
            with m.State("ROUTE_DRAIN"):
                synaptic_pipeline()
                m.d.sync += [p1_valid.eq(0), drain.eq(0), ev_index.eq(0)]
                with m.If(~p1_valid & ~p2_valid):
                    m.next = "IMPULSE"

            # --- IMPULSE: x[s] for every event, y[n] for every spiking neuron ---
            with m.State("IMPULSE"):
                i_valid1, i_valid2, i_src = Signal(), Signal(), Signal(sb)
                m.d.comb += events.read.addr.eq(ev_index)
                m.d.sync += [ev_index.eq(ev_index + (ev_index < n_events)), i_valid1.eq(ev_index < n_events)]
                m.d.comb += [mem["trace_pre"].read.addr.eq(events.read.data),
                             mem["trace_post"].read.addr.eq(events.read.data - NI)]
                m.d.sync += [i_valid2.eq(i_valid1), i_src.eq(events.read.data)]
                nearest = trace["mode"] == fmt.TRACE_MODE_NEAREST
                with m.If(i_valid2):
                    m.d.comb += [mem["trace_pre"].write.addr.eq(i_src),
                                 mem["trace_pre"].write.data.eq(
                                     _trace_impulse(mem["trace_pre"].read.data, trace["pre_impulse"], nearest)),
                                 mem["trace_pre"].write.en.eq(1)]
                    with m.If(i_src >= NI):
                        m.d.comb += [mem["trace_post"].write.addr.eq(i_src - NI),
                                     mem["trace_post"].write.data.eq(
                                         _trace_impulse(mem["trace_post"].read.data, trace["post_impulse"], nearest)),
                                     mem["trace_post"].write.en.eq(1)]
                with m.If((ev_index == n_events) & ~i_valid1 & ~i_valid2):
                    m.next = "END"

            with m.State("END"):
                m.d.sync += [tick.eq(tick + 1), count("ticks"), remaining.eq(remaining - 1),
                             slot.eq(Mux(slot == D - 1, 0, slot + 1)),
                             acc_base.eq(Mux(slot == D - 1, 0, acc_base + N))]
                with m.If(self.freerun & (since_start > self.period)):
                    m.d.sync += count("overruns")
                with m.If(remaining > 1):
                    m.next = "START"
                with m.Else():
                    m.next = "IDLE"

        # Read data of the access port: a memory answers one cycle after the address, and the
        # answer is registered, so access_rvalid (and the data) come two cycles after access_re.
        with m.If(read_pending):
            m.d.sync += [read_pending.eq(0), self.access_rvalid.eq(1)]
            for name in mem:
                with m.If(region_sel == self.regions[name].index):
                    m.d.sync += self.access_rdata.eq(mem[name].read.data)
        return m
