"""The boards `python -m boards.build` knows, as data.

    BOARDS: dict name -> Board      board(name) -> Board (BoardError naming the known ones)

A Board says which amaranth-boards platform it is, its part and what the part holds
(`resources`: the four resource kinds the summary reports, each with the nextpnr BEL type and
the yosys cell types that count towards it), the clock the core runs at by default, the UART
baud rate, the default CoreConfig, the device options (DeviceTop's `max_payload` and
`input_depth`: what HELLO announces, and what sizes the link's buffers and the input queue),
the memory factory for the core, which board LED shows which DeviceTop LED, the bitstream the
packer writes, the synthesis options, how to program it, and its USB-serial bridge (`usb`: how
host.find_boards recognises the board among the serial ports).
The two families differ only here and in their PLL primitive (boards.glue): the build flow
(boards.flow) is one for both.

The default core configurations are ICEBREAKER_CONFIG and ULX3S_CONFIG (one constant each, to
be tuned as the RTL changes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from firmware.config import CoreConfig
from firmware.errors import AxoniteError
from firmware.protocol import DEFAULT_BAUD
from rtl.lib.memory import ICE40Memories, SimulationMemories

from .pll import ecp5_pll, ice40_pll


class BoardError(AxoniteError, ValueError):
    """An unknown board, or a request the board cannot carry out (clock, baud)."""


@dataclass(frozen=True)
class PartResource:
    label: str                      # what the part's datasheet calls it
    available: int                  # datasheet count; nextpnr's count wins when it reports one
    nextpnr_bel: str                # the BEL type nextpnr's utilisation report counts
    yosys_cells: dict[str, int]     # cell type -> units of this resource it takes (estimate)


@dataclass(frozen=True)
class Programmer:
    tool: str                       # executable looked up on PATH
    args: tuple[str, ...]           # "{bitstream}" is replaced by the bitstream's path
    install: str                    # what to install when the tool is missing


@dataclass(frozen=True)
class UsbSerial:
    """How a board's USB-serial bridge shows in a port listing (pyserial's comports()), so that
    host.find_boards() can tell it from other serial ports."""
    vid: int
    pid: int
    chip: str                       # the bridge, as its datasheet names it
    interface: int                  # the USB interface that carries the FPGA's UART (0 = A, 1 = B)
    interfaces: int                 # how many serial interfaces the chip has
    names: tuple[str, ...]          # words (lower case) in the product string that name the board
    # The chip's factory product strings: a board whose EEPROM was never written, or another
    # device with the same chip. Such a port is a board only if nothing better is there.
    generic_products: tuple[str, ...] = ()


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    family: str                     # "ice40" or "ecp5": selects the glue and the PLL
    platform: Callable              # amaranth-boards platform class
    part: str
    resources: dict[str, PartResource]   # keys: "LUT", "RAM", "SPRAM", "DSP"
    default_clock_hz: int
    default_baud: int
    default_config: CoreConfig      # each core's
    memories: Callable              # () -> memory factory for rtl.core.Core
    pll: Callable                   # (f_in_hz, f_out_hz) -> PLL settings (boards.pll)
    # DeviceTop LED name -> (resource, number). LEDs named twice show the XOR of their roles.
    leds: dict[str, tuple[str, int]]
    bitstream: str                  # file the packer writes, "{name}" is the design name
    synth_options: dict = field(default_factory=dict)   # amaranth toolchain overrides
    programmers: tuple[Programmer, ...] = ()
    # Device options, passed to DeviceTop by boards.glue (and by the simulated board).
    max_payload: int = 1024         # payload bytes a frame may carry (HELLO max_payload)
    input_depth: int = 512          # input-queue entries (HELLO input_depth, the host's credits)
    usb: UsbSerial | None = None    # the USB-serial bridge to the FPGA's UART
    default_cores: int = 1          # cores on the device (rtl.multicore when more than one)

    def __post_init__(self):
        from firmware import protocol as P
        if not P.MIN_MAX_PAYLOAD <= self.max_payload <= P.MAX_PAYLOAD:
            raise BoardError(f"board {self.name}: max_payload = {self.max_payload} must be in "
                             f"[{P.MIN_MAX_PAYLOAD}, {P.MAX_PAYLOAD}]")
        if self.input_depth < 2:
            raise BoardError(f"board {self.name}: input_depth = {self.input_depth} must be at least 2")


# iCEBreaker: the core configuration that has to fit the iCE40UP5K (tuned with the RTL).
# 512 segments is one per source (256 inputs + 256 neurons, one 256-neuron window): enough for
# one projection with one delay from every source; 1,024 cost four more EBR than the part has.
ICEBREAKER_CONFIG = CoreConfig(n_neurons=256, n_inputs=256, n_synapses=32768, n_segments=512,
                               n_reverse=16384)
ICEBREAKER_CLOCK_HZ = 24_000_000
# ULX3S (LFE5U-85F): four cores of 2,048 neurons (rtl.multicore), 8,192 neurons. The block RAM
# (208 DP16KD) sets the rest: per core, the neuron state, accumulators (max_delay 2), traces,
# the routing table and the queues of a core of many take about 40 DP16KD before a synapse
# (docs/boards.md, "The ULX3S's four cores"), which leaves 7,168 synapses a core. One core of
# 4,096 neurons and 49,152 synapses (the default before) is `--cores 1 --neurons 4096 ...`.
ULX3S_CORES = 4
ULX3S_CONFIG = CoreConfig(n_neurons=2048, n_inputs=512, n_synapses=7168, n_segments=1024,
                          n_reverse=2048, max_delay=2)
# 30 MHz: a whole multiple of the 3 Mbaud UART, exact from the 25 MHz oscillator.
ULX3S_CLOCK_HZ = 30_000_000

ICE40UP5K_RESOURCES = {
    "LUT": PartResource("LUT4 (logic cells)", 5280, "ICESTORM_LC", {"SB_LUT4": 1}),
    "RAM": PartResource("EBR (SB_RAM40_4K)", 30, "ICESTORM_RAM", {"SB_RAM40_4K": 1}),
    "SPRAM": PartResource("SPRAM (SB_SPRAM256KA)", 4, "ICESTORM_SPRAM", {"SB_SPRAM256KA": 1}),
    "DSP": PartResource("DSP (SB_MAC16)", 8, "ICESTORM_DSP", {"SB_MAC16": 1}),
}
LFE5U_85F_RESOURCES = {
    # nextpnr counts LUT4s as TRELLIS_COMB (two per slice); a CCU2C carry cell is two of them.
    "LUT": PartResource("LUT4", 83640, "TRELLIS_COMB", {"LUT4": 1, "CCU2C": 2}),
    "RAM": PartResource("BRAM (DP16KD)", 208, "DP16KD", {"DP16KD": 1}),
    "SPRAM": PartResource("SPRAM (none)", 0, "", {}),
    "DSP": PartResource("DSP (MULT18X18D)", 156, "MULT18X18D", {"MULT18X18D": 1}),
}

_OPENFPGALOADER_INSTALL = "apt install openfpgaloader"

# yosys's default abc9 script ("&scorr; &sweep; &dc2; &dch -f -r; &ps; &if {W} {D} {R} -v;
# &mfs") less &scorr: with -dff, &scorr's recursion over the flip-flops' logic exhausted the
# wasm call stack of YoWASP's yosys on some netlists of this design (a trap in
# Aig_ManDupDfs_rec, yosys exit 1), and which ones changed with small RTL edits. Without it
# the default build needs about 20 logic cells more. (abc9 reads the script from the
# scratchpad; the commas stand for spaces.)
ABC9_SCRIPT = 'scratchpad -set abc9.script "+&sweep;&dc2;&dch,-f,-r;&ps;&if,{W},{D},{R},-v;&mfs"'

BOARDS = {board.name: board for board in (
    Board(
        name="icebreaker",
        description="1BitSquared iCEBreaker",
        family="ice40",
        platform=ICEBreakerPlatform,
        part="iCE40UP5K-SG48",
        resources=ICE40UP5K_RESOURCES,
        default_clock_hz=ICEBREAKER_CLOCK_HZ,
        default_baud=DEFAULT_BAUD,
        default_config=ICEBREAKER_CONFIG,
        memories=lambda: ICE40Memories(spram_count=ICE40UP5K_RESOURCES["SPRAM"].available),
        pll=ice40_pll,
        # Two user LEDs on the board: green blinks the heartbeat and flickers on traffic; red
        # is the error LED.
        leds={"led_heartbeat": ("led", 1), "led_activity": ("led", 1), "led_error": ("led", 0)},
        bitstream="{name}.bin",
        # -dsp maps multipliers to SB_MAC16 instead of logic cells; -dff lets abc map the
        # flip-flops' enable and reset logic with the LUTs (about 160 fewer logic cells).
        # ABC9_SCRIPT: abc9's own script without &scorr, which exhausted YoWASP's wasm call
        # stack on some of our netlists.
        synth_options={"synth_opts": "-dsp -dff", "script_after_read": ABC9_SCRIPT},
        programmers=(
            Programmer("iceprog", ("{bitstream}",), "apt install fpga-icestorm"),
            Programmer("openFPGALoader", ("-b", "icebreaker", "{bitstream}"),
                       _OPENFPGALOADER_INSTALL),
        ),
        # 256-byte frames: the link's frame and SPIKES buffers share two EBRs and the receive
        # FIFO takes one (a 1,024-byte payload needs ten EBRs for the three).
        max_payload=256,
        input_depth=256,
        # FT2232H: interface A (the first port, /dev/ttyUSB0 on Linux) programs the SPI flash,
        # interface B (the second, /dev/ttyUSB1) is the FPGA's UART. The EEPROM names the
        # board ("iCEBreaker V1.0e").
        usb=UsbSerial(0x0403, 0x6010, "FT2232H", interface=1, interfaces=2, names=("icebreaker",),
                      generic_products=("dual rs232-hs",)),
    ),
    Board(
        name="ulx3s",
        description="Radiona ULX3S, 85F",
        family="ecp5",
        platform=ULX3S_85F_Platform,
        part="LFE5U-85F-6BG381C",
        resources=LFE5U_85F_RESOURCES,
        default_clock_hz=ULX3S_CLOCK_HZ,
        default_baud=DEFAULT_BAUD,
        default_config=ULX3S_CONFIG,
        default_cores=ULX3S_CORES,
        memories=SimulationMemories,
        pll=ecp5_pll,
        leds={"led_heartbeat": ("led", 0), "led_activity": ("led", 1), "led_error": ("led", 7)},
        bitstream="{name}.bit",
        # The same as amaranth-boards' ULX3S build: a compressed bitstream.
        synth_options={"ecppack_opts": "--compress"},
        programmers=(
            # -m: into SRAM (lost at power-off), as amaranth-boards' ULX3S does.
            Programmer("openFPGALoader", ("-b", "ulx3s", "-m", "{bitstream}"),
                       _OPENFPGALOADER_INSTALL),
        ),
        # The protocol's largest payload: a tick's spike record of 4 cores of 2,048 neurons
        # (a bitmap of 8,192 device neurons, 1,030 bytes) goes whole in one SPIKES frame.
        max_payload=2048,
        input_depth=512,
        # FT231X, one interface: the FPGA's UART (and JTAG by bit-banging its control lines).
        # The EEPROM names the board ("ULX3S FPGA 85K v3.0.8").
        usb=UsbSerial(0x0403, 0x6015, "FT231X", interface=0, interfaces=1, names=("ulx3s",),
                      generic_products=("ft231x usb uart",)),
    ),
)}


def board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise BoardError(f"unknown board {name!r}; known boards: {', '.join(BOARDS)}") from None
