"""The access port: read and write every region of the memory map between ticks."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt

from ..lib.ports import read_port, write_port

# Regions that are one word (or a few counters) live in registers, not memories.
REGISTER_REGIONS = ("stdp", "lfsr_seed", "counters", "lfsr_state")
COUNTER_WORD = 16            # a counter arrives in words of this many bits (rtl.core.counters)


class AccessPort(wiring.Component):
    """`we` writes `wdata` to word `addr` of region number `region`; `re` reads it, and
    `rdata` is valid with `rvalid` two cycles later, or later for a counter. Both only while
    `enable` is high (the core is idle), and not in one cycle (the core's memories leave a
    read of the word written in the same cycle undefined); a read waits for `rvalid` before
    the next. Memory regions are reached through `<region>_rd` / `<region>_wr`; the stdp and
    LFSR-seed words are registers here; a counter is read through `counter_index` while
    `counter_read` is high: from the second cycle after `re` on, each cycle takes the 16-bit
    words of `counter_value` that `counter_load` selects (bit j: bits 16j .. 16j + 15) into
    `rdata`, and the first cycle with `counter_ready` (its loads included) ends the read. The
    LFSR state is read from `lfsr_state` and written with `lfsr_write` (data on `wdata`).

        enable          In    the core is idle: the port may act
        region          In    the region's number (formats.memory_map)
        addr            In    the word's address in it
        wdata           In    the word to write
        we              In    write it
        re              In    read the word
        rdata           Out   the word read ...
        rvalid          Out   ... is there
        stdp            Out   the stdp word (a register)
        lfsr_seed       Out   the LFSR seed (a register)
        counter_index   Out   the counter to read ...
        counter_read    Out   ... while high
        counter_value   In    the counters' words (Counters.word, replicated) ...
        counter_load    In    ... which of them to take into rdata this cycle
        counter_ready   In    the counter's last word is there
        lfsr_state      In    the LFSR's state (region lfsr_state reads it) ...
        lfsr_write      Out   ... and writes it, from wdata
        <region>_rd     Out   each memory region's read port ...
        <region>_wr     Out   ... and write port
    """

    @staticmethod
    def widths(config, cores: int = 1) -> tuple[int, int, int]:
        """(region, address, data) widths of the access port for a configuration (on a device
        of `cores` cores: its routing table too)."""
        regions = fmt.memory_map(config, cores)
        return (fmt.bits_for(len(regions)), max(fmt.bits_for(r.depth) for r in regions.values()),
                max(r.layout.width for r in regions.values()))

    def __init__(self, config):
        self.config = config
        self.regions = fmt.memory_map(config)
        region_width, self.addr_width, self.data_width = self.widths(config)
        members = {
            "enable": In(1), "region": In(region_width), "addr": In(self.addr_width),
            "wdata": In(self.data_width), "we": In(1), "re": In(1),
            "rdata": Out(self.data_width), "rvalid": Out(1),
            "stdp": Out(self.regions["stdp"].layout.width),
            "lfsr_seed": Out(fmt.LFSR_BITS, init=fmt.LFSR_DEFAULT_SEED),
            "counter_index": Out(fmt.bits_for(len(fmt.COUNTERS))), "counter_value": In(fmt.COUNTER_BITS),
            "counter_load": In(fmt.COUNTER_BITS // COUNTER_WORD), "counter_ready": In(1), "counter_read": Out(1),
            "lfsr_state": In(fmt.LFSR_BITS), "lfsr_write": Out(1),
        }
        for name, r in self.regions.items():
            if name not in REGISTER_REGIONS:
                members[f"{name}_rd"] = Out(read_port(fmt.bits_for(r.depth), r.layout.width))
                members[f"{name}_wr"] = Out(write_port(fmt.bits_for(r.depth), r.layout.width))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        addr = Signal.like(self.addr)
        selected = Signal(len(self.regions))     # one-hot: the region of the read in flight
        pending = Signal()
        write = self.enable & self.we
        read = self.enable & self.re
        for name, r in self.regions.items():
            hit = self.region == r.index
            if name == "stdp":
                with m.If(write & hit):
                    m.d.sync += self.stdp.eq(self.wdata)
            elif name == "lfsr_seed":
                with m.If(write & hit):
                    m.d.sync += self.lfsr_seed.eq(self.wdata)
            elif name == "lfsr_state":        # the core loads its LFSR from wdata
                m.d.comb += self.lfsr_write.eq(write & hit)
            elif name != "counters":
                rd, wr = getattr(self, f"{name}_rd"), getattr(self, f"{name}_wr")
                m.d.comb += [rd.addr.eq(self.addr), wr.addr.eq(self.addr), wr.data.eq(self.wdata),
                             wr.en.eq(write & hit)]
        with m.If(read):
            m.d.sync += [addr.eq(self.addr),
                         selected.eq(Cat(self.region == r.index for r in self.regions.values()))]
        counter_read = selected[list(self.regions).index("counters")]
        arrived = pending & (~counter_read | self.counter_ready)     # the word is there
        m.d.sync += [pending.eq(read | (pending & ~arrived)), self.rvalid.eq(arrived)]
        m.d.comb += [self.counter_index.eq(addr), self.counter_read.eq(pending & counter_read)]
        # The read multiplexer as an AND-OR of one-hot selects: smaller than a case on the
        # region number, and each bit only sees the regions that wide. A read of a region
        # number that names none leaves rdata as it was.
        # A counter arrives word by word (counter_load) instead.
        sources = {"stdp": self.stdp, "lfsr_seed": self.lfsr_seed, "lfsr_state": self.lfsr_state}
        word = 0
        for k, name in enumerate(self.regions):
            if name == "counters":
                continue
            source = sources[name] if name in sources else getattr(self, f"{name}_rd").data
            word = word | (source & selected[k].replicate(len(source)))
        with m.If(arrived & selected.any() & ~counter_read):
            m.d.sync += self.rdata.eq(word)
        for w in range(len(self.counter_load)):
            with m.If(self.counter_read & self.counter_load[w]):
                m.d.sync += self.rdata[w * COUNTER_WORD:(w + 1) * COUNTER_WORD].eq(
                    self.counter_value[w * COUNTER_WORD:(w + 1) * COUNTER_WORD])
        return m
