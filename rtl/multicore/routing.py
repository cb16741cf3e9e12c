"""The AER router between the cores of one device (spec §12.2, §12.7).

A spike of neuron n of core k in tick t becomes one packet per destination core d (its
routing table, word n * K + d: valid, remote axon), carried by the crossbar into d's inbox,
which releases the remote axons ascending as d's input events of tick t + 1.

    RouteUnit    one per core: the tick's spikes queued as they fire (one per cycle at most,
                 as deep as the neurons, so none is lost), then looked up word by word
    Crossbar     each destination takes one packet per cycle, the lowest source core first
                 (every source's packets of a tick are finite, so none waits for ever); a
                 source waits (back-pressure) until its packet is taken
    RemoteInbox  one per core: a bitmap of its input axons; set by packets, released
                 ascending in 16-bit words (a word's set bits, then the next word)
"""

from __future__ import annotations

from amaranth.hdl import Array, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt

from ..lib.fifo import BufferedFIFO
from ..lib.layout import unpack
from ..lib.memory import SimpleMemory

INBOX_WORD = 16           # bits of the inbox's bitmap looked at per cycle when releasing


class RouteUnit(wiring.Component):
    """The routing of one core of a device of `cores` cores.

        fired_valid   In    pulse: a neuron of the core fired (its NEURON phase) ...
        fired_neuron  In    ... this one
        active        In    a tick runs: the table serves the lookups (else the access port)
        packet_valid  Out   a packet for core `packet_core` ...
        packet_core   Out
        packet_axon   Out   ... its remote axon there
        packet_ready  In    the packet is taken
        busy          Out   spikes queued or being looked up
        table_addr    In    the access port: word of the routing table (formats.memory_map
        table_wdata   In      (config, cores)["route"]) to write or read
        table_we      In
        table_re      In
        table_rdata   Out   the word read, with table_rvalid two cycles after table_re
        table_rvalid  Out
    """

    def __init__(self, config, cores: int, memories):
        self.config, self.cores, self.memories = config, cores, memories
        self.layout = fmt.route_layout(config)
        depth = config.n_neurons * cores
        super().__init__({
            "fired_valid": In(1), "fired_neuron": In(fmt.bits_for(config.n_neurons)), "active": In(1),
            "packet_valid": Out(1), "packet_core": Out(fmt.bits_for(cores)),
            "packet_axon": Out(fmt.bits_for(config.n_inputs)), "packet_ready": In(1), "busy": Out(1),
            "table_addr": In(fmt.bits_for(depth)), "table_wdata": In(self.layout.width), "table_we": In(1),
            "table_re": In(1), "table_rdata": Out(self.layout.width), "table_rvalid": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        K = self.cores
        m.submodules.fired = fired = BufferedFIFO(width=len(self.fired_neuron), depth=self.config.n_neurons + 1)
        m.submodules.table = table = self.memories.make("route", self.layout.width, self.config.n_neurons * K)
        m.d.comb += [fired.w_en.eq(self.fired_valid), fired.w_data.eq(self.fired_neuron)]

        neuron = Signal.like(self.fired_neuron)
        dest = Signal(range(K))
        lookup = Signal(len(self.table_addr))
        m.d.comb += lookup.eq(neuron * K + dest)
        m.d.comb += [table.write.addr.eq(self.table_addr), table.write.data.eq(self.table_wdata),
                     table.write.en.eq(self.table_we & ~self.active),
                     table.read.addr.eq(Mux(self.active, lookup, self.table_addr)), table.read.en.eq(1)]
        # the access port's read: the word one cycle after the address, registered (rvalid at 2)
        read_pending = Signal()
        m.d.sync += [read_pending.eq(self.table_re & ~self.active), self.table_rvalid.eq(read_pending)]
        with m.If(read_pending):
            m.d.sync += self.table_rdata.eq(table.read.data)

        word = unpack(self.layout, table.read.data)
        with m.FSM():
            with m.State("LOAD"):
                with m.If(fired.r_rdy):
                    m.d.comb += fired.r_en.eq(1)
                    m.d.sync += [neuron.eq(fired.r_data), dest.eq(0)]
                    m.next = "LOOK"
            with m.State("LOOK"):           # the word of (neuron, dest) is read
                m.d.comb += self.busy.eq(1)
                m.next = "SEND"
            with m.State("SEND"):           # the address stays: the word stays on the read port
                m.d.comb += [self.busy.eq(1), self.packet_valid.eq(word["valid"]), self.packet_core.eq(dest),
                             self.packet_axon.eq(word["axon"])]
                with m.If(~word["valid"] | self.packet_ready):
                    with m.If(dest == K - 1):
                        m.next = "LOAD"
                    with m.Else():
                        m.d.sync += dest.eq(dest + 1)
                        m.next = "LOOK"
        with m.If(fired.r_rdy):
            m.d.comb += self.busy.eq(1)
        return m


class RemoteInbox(wiring.Component):
    """The remote axons of one core for its next tick: a bitmap of its input axons.

        set_valid   In    a packet: remote axon `set_axon` fired (one per cycle)
        set_axon    In
        start       In    pulse: release the axons set, ascending, and clear them
        out_valid   Out   an axon released ...
        out_axon    Out   ... this one
        out_ready   In    it is taken
        busy        Out   releasing
    """

    def __init__(self, config):
        self.config = config
        ab = fmt.bits_for(config.n_inputs)
        super().__init__({
            "set_valid": In(1), "set_axon": In(ab), "start": In(1),
            "out_valid": Out(1), "out_axon": Out(ab), "out_ready": In(1), "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        W = INBOX_WORD
        n_words = -(-self.config.n_inputs // W)
        low = (W - 1).bit_length()
        words = Array(Signal(W, name=f"inbox_{k}") for k in range(n_words))
        at = Signal(range(n_words))                     # the word being released
        releasing = Signal()
        current = Signal(W)
        m.d.comb += current.eq(words[at])
        lowest = Signal(range(W))                       # its lowest set bit
        for bit in reversed(range(W)):
            with m.If(current[bit]):
                m.d.comb += lowest.eq(bit)
        take = Signal()
        m.d.comb += [self.busy.eq(releasing), self.out_valid.eq(releasing & (current != 0)),
                     self.out_axon.eq((at << low) | lowest), take.eq(self.out_valid & self.out_ready)]
        set_bit, clear_bit = Signal(W), Signal(W)       # (one decoder each, shared by the words)
        set_word = Signal(range(n_words))
        m.d.comb += [set_bit.eq(Mux(self.set_valid, 1 << self.set_axon[:low], 0)),
                     set_word.eq(self.set_axon >> low), clear_bit.eq(Mux(take, 1 << lowest, 0))]
        for k, word in enumerate(words):
            m.d.sync += word.eq((word | Mux(set_word == k, set_bit, 0)) & ~Mux(at == k, clear_bit, 0))
        with m.If(self.start):
            m.d.sync += [releasing.eq(1), at.eq(0)]
        with m.Elif(releasing & (current == 0)):
            with m.If(at == n_words - 1):
                m.d.sync += releasing.eq(0)
            with m.Else():
                m.d.sync += at.eq(at + 1)
        return m


def crossbar(m, units, inboxes):
    """Connect each RouteUnit's packets to the RemoteInbox of its destination: per destination,
    the lowest source core with a packet for it is taken (its packet_ready)."""
    for d, inbox in enumerate(inboxes):
        taken = Const(0, 1)
        for k, unit in enumerate(units):
            wants = Signal(name=f"route_{k}_to_{d}")
            m.d.comb += wants.eq(unit.packet_valid & (unit.packet_core == d))
            with m.If(wants & ~taken):
                m.d.comb += [unit.packet_ready.eq(1), inbox.set_valid.eq(1), inbox.set_axon.eq(unit.packet_axon)]
            taken = taken | wants
