"""MultiCore: K cores of one configuration on one device (spec §12.7).

To its user (the Link, a test driver) it is one core with the signature
core_signature(config, input_depth, step_bits, cores=K) (rtl.core.interface):

- access: `access.core` selects the core whose regions the port reaches, the routing table
  `route` (formats.memory_map(config, K)) included; a read's `rvalid` comes from that core.
- inputs: one queue of `input_depth` entries; an entry's axon is a device axon, `core <<
  bits_for(n_inputs) | axon` (firmware.protocol.cores); an entry for a core >= K is dropped
  (`dropped`, counted by no core). A tick end (with its repeat count) ends the tick on every core.
- outputs: every core's output spikes, device neurons `core << bits_for(n_neurons) | neuron`,
  lowest core first (so a tick's spikes come out ascending once the tick is over). `push` and
  `lost` are counts of this cycle's (several cores push at once); `push_neuron` is the largest
  device neuron pushed in the tick so far.
- control: `step` runs `step_ticks` ticks on all cores in lock-step; `clear`, `clear_counters`,
  `flush_inputs` act on all; `tick` and `consumed` are the device's. `freerun` and `period`
  are not implemented (the Link times free-run itself and never raises them).

A tick, for every core at once: FEED_HOST takes the tick's group from the queue and sends each
axon to its core; FEED_REMOTE appends each core's remote axons (its RemoteInbox, ascending);
FEED_END closes each core's group; the cores step one tick; BARRIER waits until every core is
idle, every RouteUnit has routed its spikes and so every packet of the tick is in its inbox:
they are the next tick's remote axons. Each core's input FIFO holds a whole group (the host's
input_depth entries, n_inputs remote axons, a tick end), so feeding never waits for a core.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, ResetInserter, Signal
from amaranth.lib import wiring

from firmware import formats as fmt
from firmware.errors import ConfigError
from firmware.protocol.cores import axon_bits, check_cores, neuron_bits

from ..core import Core
from ..core.interface import core_signature
from ..lib.fifo import BufferedFIFO
from ..lib.memory import SimulationMemories
from .routing import RemoteInbox, RouteUnit, crossbar


def core_input_depth(config, input_depth: int) -> int:
    """Entries of each core's input FIFO: a whole group (input_depth host entries, n_inputs
    remote axons, a tick end); its memory holds one less, rounded up to a power of two."""
    return input_depth + config.n_inputs + 1


class MultiCore(wiring.Component):
    """`cores` Cores of `config` on one device (module docstring); `input_depth`, `output_depth`
    (each core's output FIFO), `memories`, `output_tick`, `step_bits` as for a Core."""

    def __init__(self, config, cores: int, input_depth: int = 512, output_depth: int = 512,
                 memories=None, output_tick: bool = True, step_bits: int = 32):
        if check_cores(config, cores) < 2:
            raise ConfigError(f"MultiCore needs at least 2 cores, got {cores}: one core is rtl.core.Core")
        self.config, self.cores = config, cores
        self.input_depth, self.output_depth, self.output_tick = input_depth, output_depth, output_tick
        self.step_bits = step_bits
        self.memories = memories or SimulationMemories()
        self.regions = fmt.memory_map(config, cores)
        super().__init__(core_signature(config, input_depth, step_bits, cores))

    def elaborate(self, platform):
        m = Module()
        c, K = self.config, self.cores
        ab, nb = axon_bits(c), neuron_bits(c)
        control, queue, access, outputs = self.control, self.inputs, self.access, self.outputs
        reset = Signal()                # clear: the cores' state and every spike in flight
        m.d.comb += reset.eq(control.clear)

        cores, units, inboxes = [], [], []
        for k in range(K):
            core = Core(c, input_depth=core_input_depth(c, self.input_depth), output_depth=self.output_depth,
                        memories=self.memories, output_tick=self.output_tick, step_bits=1)
            unit = ResetInserter(reset)(RouteUnit(c, K, self.memories))
            inbox = ResetInserter(reset)(RemoteInbox(c))
            m.submodules[f"core_{k}"], m.submodules[f"route_{k}"], m.submodules[f"inbox_{k}"] = core, unit, inbox
            cores.append(core), units.append(unit), inboxes.append(inbox)
            m.d.comb += [unit.fired_valid.eq(core.fired_valid), unit.fired_neuron.eq(core.fired_neuron)]
        crossbar(m, units, inboxes)

        # --- the device's input queue ------------------------------------------------------------
        entry_bits = max(len(queue.axon), len(queue.repeat))
        fifo = ResetInserter(control.flush_inputs)(BufferedFIFO(width=entry_bits + 1, depth=self.input_depth))
        m.submodules.input_fifo = fifo
        m.d.comb += [fifo.w_en.eq(queue.valid & ~control.flush_inputs),
                     fifo.w_data.eq(Cat(Mux(queue.tick_end, queue.repeat, queue.axon)[:entry_bits], queue.tick_end)),
                     queue.ready.eq(fifo.w_rdy), queue.level.eq(fifo.level)]
        head, head_tick_end = fifo.r_data[:entry_bits], fifo.r_data[-1]
        head_core, head_axon = Signal(len(queue.axon) - ab), Signal(ab)
        m.d.comb += Cat(head_axon, head_core).eq(head)
        popped = Signal()
        with m.If(control.flush_inputs | popped):
            m.d.sync += control.consumed.eq(control.consumed + Mux(control.flush_inputs, fifo.level, 1))

        # --- lock-step ticks ---------------------------------------------------------------------
        remaining = Signal(self.step_bits)
        used = Signal(len(queue.repeat))        # tick ends taken from a repeating head entry
        feed_dropped = Signal()
        any_busy = Signal()
        m.d.comb += any_busy.eq(Cat(*(core.control.busy for core in cores), *(unit.busy for unit in units)).any())
        for core in cores:
            m.d.comb += [core.control.step_ticks.eq(1), core.control.clear.eq(control.clear),
                         core.control.clear_counters.eq(control.clear_counters),
                         core.control.flush_inputs.eq(control.flush_inputs)]
        with m.If(control.clear):
            m.d.sync += control.tick.eq(0)
        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(control.step & (control.step_ticks != 0) & ~control.clear):
                    m.d.sync += remaining.eq(control.step_ticks)
                    m.next = "FEED_HOST"
            with m.State("FEED_HOST"):
                with m.If(~fifo.r_rdy):
                    m.next = "FEED_REMOTE"
                with m.Elif(head_tick_end):
                    with m.If(used < head[:len(used)]):
                        m.d.sync += used.eq(used + 1)
                    with m.Else():
                        m.d.comb += [fifo.r_en.eq(1), popped.eq(1)]
                        m.d.sync += used.eq(0)
                    m.next = "FEED_REMOTE"
                with m.Elif(head_core >= K):
                    m.d.comb += [fifo.r_en.eq(1), popped.eq(1), feed_dropped.eq(1)]
                with m.Else():
                    for k, core in enumerate(cores):
                        with m.If(head_core == k):
                            m.d.comb += [core.inputs.valid.eq(1), core.inputs.axon.eq(head_axon)]
                            with m.If(core.inputs.ready):
                                m.d.comb += [fifo.r_en.eq(1), popped.eq(1)]
                with m.If(~fifo.r_rdy | head_tick_end):
                    m.d.comb += [inbox.start.eq(1) for inbox in inboxes]
            with m.State("FEED_REMOTE"):
                for core, inbox in zip(cores, inboxes):
                    with m.If(inbox.out_valid):
                        m.d.comb += [core.inputs.valid.eq(1), core.inputs.axon.eq(inbox.out_axon),
                                     inbox.out_ready.eq(core.inputs.ready)]
                with m.If(~Cat(*(inbox.busy for inbox in inboxes)).any()):
                    m.next = "FEED_END"
            with m.State("FEED_END"):       # the FIFOs have room: core_input_depth
                for core in cores:
                    m.d.comb += [core.inputs.valid.eq(1), core.inputs.tick_end.eq(1), core.inputs.repeat.eq(0)]
                m.next = "STEP"
            with m.State("STEP"):
                m.d.comb += [core.control.step.eq(1) for core in cores]
                m.next = "BARRIER"
            with m.State("BARRIER"):
                with m.If(~any_busy):
                    m.d.sync += [remaining.eq(remaining - 1), control.tick.eq(control.tick + 1)]
                    with m.If(remaining > 1):
                        m.next = "FEED_HOST"
                    with m.Else():
                        m.next = "IDLE"
        running = Signal()
        m.d.comb += running.eq(~fsm.ongoing("IDLE"))
        m.d.comb += [control.busy.eq(running | control.step | control.clear | any_busy),
                     queue.dropped.eq(feed_dropped + sum(core.inputs.dropped for core in cores))]
        for unit in units:
            m.d.comb += unit.active.eq(running)

        # --- the access port: the selected core, or its routing table ----------------------------
        route = self.regions["route"]
        for k, (core, unit) in enumerate(zip(cores, units)):
            selected, is_route = Signal(name=f"access_core_{k}"), Signal(name=f"access_route_{k}")
            m.d.comb += [selected.eq(access.core == k), is_route.eq(access.region == route.index)]
            m.d.comb += [core.access.region.eq(access.region), core.access.addr.eq(access.addr),
                         core.access.wdata.eq(access.wdata),
                         core.access.we.eq(access.we & selected & ~is_route),
                         core.access.re.eq(access.re & selected & ~is_route),
                         unit.table_addr.eq(access.addr), unit.table_wdata.eq(access.wdata),
                         unit.table_we.eq(access.we & selected & is_route & ~control.busy),
                         unit.table_re.eq(access.re & selected & is_route & ~control.busy)]
            with m.If(core.access.rvalid):
                m.d.comb += access.rdata.eq(core.access.rdata)
            with m.If(unit.table_rvalid):
                m.d.comb += access.rdata.eq(unit.table_rdata)
        m.d.comb += access.rvalid.eq(Cat(*(core.access.rvalid for core in cores),
                                         *(unit.table_rvalid for unit in units)).any())

        # --- output spikes: the lowest core's first ----------------------------------------------
        taken = Const(0, 1)
        for k, core in enumerate(reversed(cores)):
            k = K - 1 - k
            with m.If(core.outputs.valid):
                m.d.comb += [outputs.valid.eq(1), outputs.neuron.eq(Cat(core.outputs.neuron, Const(k, len(outputs.neuron) - nb))),
                             outputs.tick.eq(core.outputs.tick)]
        for k, core in enumerate(cores):
            m.d.comb += core.outputs.ready.eq(outputs.ready & core.outputs.valid & ~taken)
            taken = taken | core.outputs.valid
        largest = Signal.like(outputs.push_neuron)     # the tick's largest device neuron pushed
        pushed = Signal.like(outputs.push_neuron)      # this cycle's largest
        for k, core in enumerate(cores):
            with m.If(core.outputs.push):
                m.d.comb += pushed.eq(Cat(core.outputs.push_neuron, Const(k, len(pushed) - nb)))
        m.d.comb += [outputs.push.eq(sum(core.outputs.push for core in cores)),
                     outputs.lost.eq(sum(core.outputs.lost for core in cores)),
                     outputs.push_neuron.eq(Mux((outputs.push != 0) & (pushed > largest), pushed, largest))]
        with m.If(fsm.ongoing("STEP")):          # a tick's cores start
            m.d.sync += largest.eq(0)
        with m.Elif(outputs.push != 0):
            m.d.sync += largest.eq(outputs.push_neuron)
        return m
