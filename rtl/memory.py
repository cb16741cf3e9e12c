"""The memory seam: every table and state region of the core is built here.

The core asks a memory factory for each region and sees only two ports: `read` (addr, data;
synchronous, data one cycle after the address) and `write` (addr, data, en). It never reads
and writes the same region through one port in the same cycle unless the factory's memory
has two ports.

- `SimulationMemories`: `amaranth.lib.memory.Memory` for every region (one read and one
  write port each: what an iCE40 EBR offers; yosys infers EBR from it).
- `ICE40Memories`: the synapse memory, and the reverse index if it fits the SPRAMs left, in
  SB_SPRAM256KA (16K x 16, single port), which yosys does not infer, in lanes (width) and
  banks (high address bits); everything else as above. With
  `behavioural=True` each SPRAM is a model of the primitive, so the mapped design simulates.
"""

from __future__ import annotations

from amaranth.hdl import Cat, ClockSignal, Const, Elaboratable, Instance, Module, Mux, Signal, unsigned
from amaranth.lib.memory import Memory

from firmware.errors import ConfigError

SPRAM_DEPTH = 16384
SPRAM_WIDTH = 16


class _Port:
    def __init__(self, addr_width: int, width: int, name: str):
        self.addr = Signal(addr_width, name=f"{name}_addr")
        self.data = Signal(width, name=f"{name}_data")
        self.en = Signal(name=f"{name}_en")


# Attributes of the core's memories whose reads are not transparent: no read whose data is
# used meets a write of the same word in the same cycle, so what such a read returns may be
# undefined, as it is in an iCE40 EBR.
NO_COLLISIONS = {"no_rw_check": 1}


class _RegisteredRead:
    def __init__(self, addr_width: int, width: int):
        self.addr = Signal(addr_width, name="read_addr")
        self.data = Signal(width, name="read_data", reset_less=True)
        self.en = Signal(init=1, name="read_en")


class SimpleMemory(Elaboratable):
    """A memory with one write port (`granularity` as amaranth's) and one synchronous read port
    (`read`: addr, data one cycle later, en). `transparent` makes the read port return the word
    written in the same cycle (back-to-back read-modify-write needs it).

    The read port of a non-transparent memory is an asynchronous read and a register (no reset)
    on its data, which yosys merges into the EBR's own output register. An amaranth synchronous
    read port is read-first, which yosys emulates around an EBR (the write delayed by a cycle
    and a bypass: two registers per bit); built this way the memory's `no_rw_check` holds and
    only the register's power-on value is emulated (one flip-flop per memory)."""

    def __init__(self, width: int, depth: int, transparent: bool = False, granularity=None):
        self.transparent = transparent
        self.storage = Memory(shape=unsigned(width), depth=depth, init=[],
                              attrs={} if transparent else dict(NO_COLLISIONS))
        self.write = self.storage.write_port(granularity=granularity)
        if transparent:
            self.read = self.storage.read_port(transparent_for=(self.write,))
        else:
            self._async = self.storage.read_port(domain="comb")
            self.read = _RegisteredRead(len(self._async.addr), width)
        self.memory = self        # the core adds `.memory` as its submodule

    def elaborate(self, platform):
        m = Module()
        m.submodules.storage = self.storage
        if not self.transparent:
            m.d.comb += self._async.addr.eq(self.read.addr)
            with m.If(self.read.en):
                m.d.sync += self.read.data.eq(self._async.data)
        return m


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
    """`depth` words of `width` bits in SB_SPRAM256KA: ceil(width / 16) lanes side by side, each
    ceil(depth / 16K) banks deep (selected by the high address bits). The single port of each
    SPRAM is shared: a write (access port, between ticks) wins over a read in the same cycle."""

    def __init__(self, width: int, depth: int, behavioural: bool):
        self.width, self.depth, self.behavioural = width, depth, behavioural
        self.n_lanes = -(-width // SPRAM_WIDTH)
        self.n_banks = -(-depth // SPRAM_DEPTH)
        addr_width = max(1, (depth - 1).bit_length())
        self.read = _Port(addr_width, width, "spram_read")
        self.write = _Port(addr_width, width, "spram_write")
        self.memory = self   # the core adds `.memory` as its submodule

    @property
    def count(self) -> int:
        return self.n_lanes * self.n_banks

    def elaborate(self, platform):
        m = Module()
        addr = Mux(self.write.en, self.write.addr, self.read.addr)
        bank = addr[14:] if len(addr) > 14 else 0
        read_bank = Signal(range(max(2, self.n_banks)))
        m.d.sync += read_bank.eq(bank)
        wide_in = Cat(self.write.data, Const(0, self.n_lanes * SPRAM_WIDTH - self.width))
        lanes = []
        for lane in range(self.n_lanes):
            datain = wide_in[lane * SPRAM_WIDTH:(lane + 1) * SPRAM_WIDTH]
            outputs = []
            for k in range(self.n_banks):
                cs = (bank == k)
                name = f"spram{k}_{lane}"
                if self.behavioural:
                    model = SPRAMModel()
                    m.submodules[name] = model
                    m.d.comb += [model.address.eq(addr[:14]), model.datain.eq(datain),
                                 model.wren.eq(self.write.en), model.chipselect.eq(cs)]
                    outputs.append(model.dataout)
                else:
                    dataout = Signal(SPRAM_WIDTH, name=f"{name}_dataout")
                    m.submodules[name] = Instance(
                        "SB_SPRAM256KA",
                        i_ADDRESS=addr[:14], i_DATAIN=datain, i_MASKWREN=0b1111,
                        i_WREN=self.write.en, i_CHIPSELECT=cs, i_CLOCK=ClockSignal("sync"),
                        i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1, o_DATAOUT=dataout)
                    outputs.append(dataout)
            data = outputs[0]
            for k in range(1, self.n_banks):
                data = Mux(read_bank == k, outputs[k], data)
            lanes.append(data)
        m.d.comb += self.read.data.eq(Cat(*lanes)[:self.width])
        return m


class SimulationMemories:
    """Every region in inferred memories (EBR on an iCE40)."""

    def make(self, name: str, width: int, depth: int, transparent: bool = False):
        return SimpleMemory(width, depth, transparent)


class ICE40Memories(SimulationMemories):
    """The synapse memory in SPRAM, instantiated or modelled with `behavioural=True`; the reverse
    index too (the next largest table, used by one phase only) when the SPRAMs left hold it,
    else in EBR like everything else. `spram_count` is what the part has (the iCE40UP5K: 4,
    16K x 16 bits each)."""

    def __init__(self, behavioural: bool = False, spram_count: int = 4):
        self.behavioural, self.spram_count = behavioural, spram_count
        self.spram_used = {}

    def make(self, name: str, width: int, depth: int, transparent: bool = False):
        if name not in ("synapse", "reverse"):
            return super().make(name, width, depth, transparent)
        assert not transparent, name
        array = SPRAMArray(width, depth, self.behavioural)
        left = self.spram_count - sum(self.spram_used.values())
        if name == "reverse" and array.count > left:
            return super().make(name, width, depth, transparent)
        if array.count > left:
            raise ConfigError(
                f"region {name}: {depth} words need {array.count} SB_SPRAM256KA; the part has "
                f"{self.spram_count} ({self.spram_count * SPRAM_DEPTH} words of 16 bits): lower "
                f"CoreConfig.n_synapses")
        self.spram_used[name] = array.count
        return array
