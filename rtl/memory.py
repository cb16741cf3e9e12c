"""The memory seam: every table and state region of the core is built here.

The core asks a memory factory for each region and sees only two ports: `read` (addr, data;
synchronous, data one cycle after the address) and `write` (addr, data, en). It never reads
and writes the same region through one port in the same cycle unless the factory's memory
has two ports.

- `SimulationMemories`: `amaranth.lib.memory.Memory` for every region (one read and one
  write port each: what an iCE40 EBR offers; yosys infers EBR from it).
- `ICE40Memories`: the synapse memory in SB_SPRAM256KA (16K x 16, single port), which yosys
  does not infer, banked by the high address bits; everything else as above. With
  `behavioural=True` each SPRAM is a model of the primitive, so the mapped design simulates.
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Elaboratable, Instance, Module, Mux, Signal, unsigned
from amaranth.lib.memory import Memory

from firmware.errors import ConfigError

SPRAM_DEPTH = 16384
SPRAM_WIDTH = 16


class _Port:
    def __init__(self, addr_width: int, width: int, name: str):
        self.addr = Signal(addr_width, name=f"{name}_addr")
        self.data = Signal(width, name=f"{name}_data")
        self.en = Signal(name=f"{name}_en")


class SimpleMemory:
    """A memory with one write port and one synchronous read port. `transparent` makes the read
    port return the word written in the same cycle (back-to-back read-modify-write needs it)."""

    def __init__(self, width: int, depth: int, transparent: bool = False):
        self.memory = Memory(shape=unsigned(width), depth=depth, init=[])
        self.write = self.memory.write_port()
        self.read = self.memory.read_port(transparent_for=(self.write,) if transparent else ())


class SPRAMModel(Elaboratable):
    """Behaviour of one SB_SPRAM256KA as the core uses it: CHIPSELECT and WREN write DATAIN to
    ADDRESS; CHIPSELECT without WREN loads DATAOUT with the word at ADDRESS on the clock edge;
    otherwise DATAOUT holds. (MASKWREN all ones, STANDBY/SLEEP off, POWEROFF high.)"""

    def __init__(self):
        self.address = Signal(14)
        self.datain = Signal(SPRAM_WIDTH)
        self.wren = Signal()
        self.chipselect = Signal()
        self.dataout = Signal(SPRAM_WIDTH)

    def elaborate(self, platform):
        m = Module()
        m.submodules.array = array = Memory(shape=unsigned(SPRAM_WIDTH), depth=SPRAM_DEPTH, init=[])
        write = array.write_port()
        read = array.read_port()
        m.d.comb += [
            write.addr.eq(self.address), write.data.eq(self.datain),
            write.en.eq(self.chipselect & self.wren),
            read.addr.eq(self.address), read.en.eq(self.chipselect & ~self.wren),
            self.dataout.eq(read.data),
        ]
        return m


class SPRAMArray(Elaboratable):
    """`depth` words of 16 bits in ceil(depth / 16K) SPRAMs. The single port of each SPRAM is
    shared: a write (access port, between ticks) wins over a read in the same cycle."""

    def __init__(self, depth: int, behavioural: bool):
        self.depth, self.behavioural = depth, behavioural
        self.n_banks = -(-depth // SPRAM_DEPTH)
        addr_width = max(1, (depth - 1).bit_length())
        self.read = _Port(addr_width, SPRAM_WIDTH, "spram_read")
        self.write = _Port(addr_width, SPRAM_WIDTH, "spram_write")
        self.memory = self   # the core adds `.memory` as its submodule

    def elaborate(self, platform):
        m = Module()
        addr = Mux(self.write.en, self.write.addr, self.read.addr)
        bank = addr[14:] if len(addr) > 14 else 0
        read_bank = Signal(range(max(2, self.n_banks)))
        m.d.sync += read_bank.eq(bank)
        outputs = []
        for k in range(self.n_banks):
            cs = (bank == k)
            if self.behavioural:
                model = SPRAMModel()
                m.submodules[f"spram{k}"] = model
                m.d.comb += [model.address.eq(addr[:14]), model.datain.eq(self.write.data),
                             model.wren.eq(self.write.en), model.chipselect.eq(cs)]
                outputs.append(model.dataout)
            else:
                dataout = Signal(SPRAM_WIDTH, name=f"spram{k}_dataout")
                m.submodules[f"spram{k}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=addr[:14], i_DATAIN=self.write.data, i_MASKWREN=0b1111,
                    i_WREN=self.write.en, i_CHIPSELECT=cs, i_CLOCK=ClockSignal("sync"),
                    i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1, o_DATAOUT=dataout)
                outputs.append(dataout)
        data = outputs[0]
        for k in range(1, self.n_banks):
            data = Mux(read_bank == k, outputs[k], data)
        m.d.comb += self.read.data.eq(data)
        return m


class SimulationMemories:
    """Every region in inferred memories (EBR on an iCE40)."""

    def make(self, name: str, width: int, depth: int, transparent: bool = False):
        return SimpleMemory(width, depth, transparent)


class ICE40Memories(SimulationMemories):
    """The synapse memory in SPRAM (instantiated, or modelled with `behavioural=True`).
    `spram_count` is what the part has (the iCE40UP5K: 4, i.e. 65,536 synapse words)."""

    def __init__(self, behavioural: bool = False, spram_count: int = 4):
        self.behavioural, self.spram_count = behavioural, spram_count

    def make(self, name: str, width: int, depth: int, transparent: bool = False):
        if name == "synapse":
            if width > SPRAM_WIDTH or transparent:
                raise ConfigError(f"region {name}: {width}-bit words do not fit SB_SPRAM256KA "
                                  f"({SPRAM_WIDTH} bits)")
            banks = -(-depth // SPRAM_DEPTH)
            if banks > self.spram_count:
                raise ConfigError(f"region {name}: {depth} words need {banks} SB_SPRAM256KA; the part "
                                  f"has {self.spram_count} ({self.spram_count * SPRAM_DEPTH} words): "
                                  f"lower CoreConfig.n_synapses")
            return SPRAMArray(depth, self.behavioural)
        return super().make(name, width, depth, transparent)
