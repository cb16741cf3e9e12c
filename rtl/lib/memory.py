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


class _WritePort:
    def __init__(self, addr_width: int, width: int, enables: int):
        self.addr = Signal(addr_width, name="write_addr")
        self.data = Signal(width, name="write_data")
        self.en = Signal(enables, name="write_en")


# SB_RAM40_4K: READ_MODE / WRITE_MODE -> (depth, the RDATA / WDATA pins that carry data)
EBR_MODES = {0: (256, tuple(range(16))), 1: (512, tuple(range(0, 16, 2))), 2: (1024, (1, 5, 9, 13)),
             3: (2048, (3, 11))}


def ebr_shape(width: int, depth: int, per_bit_enables: bool = False) -> tuple[int, int, int]:
    """(mode, lanes, banks) of the fewest SB_RAM40_4K for a memory, fewer banks (no read
    multiplexer) on a tie; per-bit write enables (MASK) exist in mode 0 only."""
    shapes = []
    for mode, (mode_depth, pins) in EBR_MODES.items():
        if per_bit_enables and mode != 0:
            continue
        lanes, banks = -(-width // len(pins)), -(-depth // mode_depth)
        shapes.append((lanes * banks, banks, mode, lanes))
    count, banks, mode, lanes = min(shapes)
    return mode, lanes, banks


def is_ice40(platform) -> bool:
    try:
        from amaranth.vendor import SiliconBluePlatform
    except ImportError:                                # pragma: no cover
        return False
    return isinstance(platform, SiliconBluePlatform)


class SimpleMemory(Elaboratable):
    """A memory with one write port (`write`: addr, data, en: one enable per `granularity` bits,
    as amaranth's) and one synchronous read port (`read`: addr, data one cycle later, en).
    `transparent` makes the read port return the word written in the same cycle (back-to-back
    read-modify-write needs it).

    In simulation, and for any platform but an iCE40, an amaranth memory. The read port of a
    non-transparent one is an asynchronous read and a register (no reset) on its data, which
    yosys merges into the EBR's own output register: an amaranth synchronous read port is
    read-first, which yosys emulates around an EBR (the write delayed by a cycle and a bypass:
    two registers per bit); built this way the memory's `no_rw_check` holds, and only the
    register's power-on value is emulated (a flip-flop and an AND per bit).
    On an iCE40 (elaborated with a SiliconBluePlatform) a non-transparent memory with `direct`
    is SB_RAM40_4K instances (`ebr_shape`), with nothing around them but a bank multiplexer
    when the memory is deeper than one EBR: the read register is the EBR's, its power-on value
    undefined (every user reads before it uses read data). `direct=False` leaves the memory
    to yosys, which drops the data bits nothing reads; so does `init` (initial contents)."""

    def __init__(self, width: int, depth: int, transparent: bool = False, granularity=None,
                 direct: bool = True, init=()):
        self.width, self.depth, self.transparent, self.direct = width, depth, transparent, direct
        self.init = list(init)
        self.granularity = granularity or width
        assert width % self.granularity == 0, (width, granularity)
        addr_width = max(1, (depth - 1).bit_length())
        self.write = _WritePort(addr_width, width, width // self.granularity)
        self.read = _RegisteredRead(addr_width, width)
        self.storage = None       # the amaranth memory, once elaborated for simulation
        self.memory = self        # the core adds `.memory` as its submodule

    def elaborate(self, platform):
        m = Module()
        if self.direct and not self.transparent and not self.init and is_ice40(platform):
            self._ebr(m)
            return m
        self.storage = storage = Memory(shape=unsigned(self.width), depth=self.depth, init=self.init,
                                        attrs={} if self.transparent else dict(NO_COLLISIONS))
        m.submodules.storage = storage
        write = storage.write_port(granularity=self.granularity)
        m.d.comb += [write.addr.eq(self.write.addr), write.data.eq(self.write.data), write.en.eq(self.write.en)]
        if self.transparent:
            read = storage.read_port(transparent_for=(write,))
            m.d.comb += [read.addr.eq(self.read.addr), read.en.eq(self.read.en), self.read.data.eq(read.data)]
        else:
            read = storage.read_port(domain="comb")
            m.d.comb += read.addr.eq(self.read.addr)
            with m.If(self.read.en):
                m.d.sync += self.read.data.eq(read.data)
        return m

    def _ebr(self, m):
        mode, lanes, banks = ebr_shape(self.width, self.depth, self.granularity == 1 and self.width > 1)
        mode_depth, pins = EBR_MODES[mode]
        low = (mode_depth - 1).bit_length()            # address bits inside one EBR
        enables = self.write.en if self.granularity == 1 else self.write.en[0].replicate(self.width)
        write_bank = self.write.addr[low:] if banks > 1 else 0
        read_bank = Signal(range(banks), name="read_bank")
        if banks > 1:
            with m.If(self.read.en):
                m.d.sync += read_bank.eq(self.read.addr[low:])
        raddr, waddr = Signal(11, name="raddr"), Signal(11, name="waddr")
        m.d.comb += [raddr.eq(self.read.addr[:low]), waddr.eq(self.write.addr[:low])]
        outputs = []
        for bank in range(banks):
            data = []
            for lane in range(lanes):
                bits = range(lane * len(pins), min(self.width, (lane + 1) * len(pins)))
                wdata, mask, rdata = Signal(16, name=f"wdata_{bank}_{lane}"), Signal(16, name=f"mask_{bank}_{lane}"), \
                    Signal(16, name=f"rdata_{bank}_{lane}")
                for pin, bit in zip(pins, bits):
                    m.d.comb += wdata[pin].eq(self.write.data[bit])
                    if mode == 0:
                        m.d.comb += mask[pin].eq(~enables[bit])
                # one enable per EBR: every bit's enable when they are all one signal
                wclke = (enables[bits[0]] if self.granularity != 1 else enables[bits.start:bits.stop].any())
                m.submodules[f"ebr_{bank}_{lane}"] = Instance(
                    "SB_RAM40_4K", p_READ_MODE=mode, p_WRITE_MODE=mode,
                    i_RCLK=ClockSignal("sync"), i_RCLKE=self.read.en, i_RE=1, i_RADDR=raddr,
                    i_WCLK=ClockSignal("sync"), i_WCLKE=wclke & (write_bank == bank), i_WE=1,
                    i_WADDR=waddr, i_MASK=mask, i_WDATA=wdata, o_RDATA=rdata)
                data += [rdata[pin] for pin, _ in zip(pins, bits)]
            outputs.append(Cat(*data))
        word = outputs[0]
        for bank in range(1, banks):
            word = Mux(read_bank == bank, outputs[bank], word)
        m.d.comb += self.read.data.eq(word)


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
