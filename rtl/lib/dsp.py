"""The multiplier seam: a registered multiply-add, an SB_MAC16 on an iCE40.

yosys maps a multiply to an SB_MAC16 and packs a register on its product into the MAC, but not
an adder after the multiply, so a product-plus-addend would leave the MAC for a carry chain.
`MultiplyAdd` instantiates the MAC itself on an iCE40 (adder and output register inside it,
no logic cell used); elsewhere it is `o <= a * b + c` for yosys (or the simulator) to map.

yosys's `ice40_dsp` pass rewrites every SB_MAC16 it meets as a bare multiplier (its output
registers and adders off, its clock tied low), so the instance is of a black box of the same
ports and parameters, `MAC_CELL`, that synthesis leaves alone; the build's yosys script renames
it to SB_MAC16 after `synth_ice40` (`RENAME_MAC`, boards/flow.py).
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Const, Elaboratable, Instance, Module, Signal, signed, unsigned

from firmware.errors import ConfigError

from .memory import is_ice40

MAC_WIDTH = 16      # each SB_MAC16 operand
MAC_CELL = "axonite_SB_MAC16"
RENAME_MAC = f"chtype -set SB_MAC16 t:{MAC_CELL}"

_PARAMETERS = ("NEG_TRIGGER", "C_REG", "A_REG", "B_REG", "D_REG", "TOP_8x8_MULT_REG", "BOT_8x8_MULT_REG",
               "PIPELINE_16x16_MULT_REG1", "PIPELINE_16x16_MULT_REG2", "TOPOUTPUT_SELECT",
               "TOPADDSUB_LOWERINPUT", "TOPADDSUB_UPPERINPUT", "TOPADDSUB_CARRYSELECT", "BOTOUTPUT_SELECT",
               "BOTADDSUB_LOWERINPUT", "BOTADDSUB_UPPERINPUT", "BOTADDSUB_CARRYSELECT", "MODE_8x8",
               "A_SIGNED", "B_SIGNED")
# The black box: SB_MAC16's ports and parameters (iCE40 Technology Library), no behaviour.
MAC_BLACKBOX = (f"(* blackbox *)\nmodule {MAC_CELL} (\n"
                "  input CLK, CE,\n  input [15:0] C, A, B, D,\n  input AHOLD, BHOLD, CHOLD, DHOLD,\n"
                "  input IRSTTOP, IRSTBOT, ORSTTOP, ORSTBOT, OLOADTOP, OLOADBOT, ADDSUBTOP, ADDSUBBOT,\n"
                "  input OHOLDTOP, OHOLDBOT, CI, ACCUMCI, SIGNEXTIN,\n"
                "  output [31:0] O,\n  output CO, ACCUMCO, SIGNEXTOUT\n);\n"
                + "".join(f"  parameter {name} = 0;\n" for name in _PARAMETERS) + "endmodule\n")


class MultiplyAdd(Elaboratable):
    """`o` = `a` * `b` + `c`, registered: the result of the operands of one cycle appears in
    the next (no reset, no enable). `a` is signed, `b` and `c` unsigned; `o` is signed and as
    wide as the exact result needs.

    On an iCE40 one SB_MAC16 in 16x16 mode: A (sign-extended, A_SIGNED) times B (zero-extended)
    in the multiplier, plus D in the low adder, the carry into the high adder (plus C = 0), both
    halves in the output registers."""

    def __init__(self, a_width: int, b_width: int, c_width: int):
        for name, width in (("a", a_width), ("b", b_width), ("c", c_width)):
            if not 1 <= width <= MAC_WIDTH:
                raise ConfigError(f"MultiplyAdd operand {name} is {width} bits; an SB_MAC16 takes 1 to "
                                  f"{MAC_WIDTH}")
        self.a = Signal(signed(a_width))
        self.b = Signal(unsigned(b_width))
        self.c = Signal(unsigned(c_width))
        # |a * b| < 2**(a_width - 1 + b_width); adding c < 2**c_width needs one bit more than the wider.
        self.o = Signal(signed(max(a_width + b_width, c_width + 1) + 1))

    def elaborate(self, platform):
        m = Module()
        if not is_ice40(platform):
            result = Signal.like(self.o, name="result", reset_less=True)
            m.d.sync += result.eq(self.a * self.b + self.c)
            m.d.comb += self.o.eq(result)
            return m
        a, b, d = (Signal(MAC_WIDTH, name=f"mac_{n}") for n in "abd")
        out = Signal(2 * MAC_WIDTH, name="mac_o")
        m.d.comb += [a.eq(self.a), b.eq(self.b), d.eq(self.c),   # a sign-extends; b, c zero-extend
                     self.o.eq(out[:len(self.o)])]
        platform.add_file(f"{MAC_CELL}.v", MAC_BLACKBOX)
        m.submodules.mac = Instance(
            MAC_CELL,
            p_MODE_8x8=0, p_A_SIGNED=1, p_B_SIGNED=0,
            p_A_REG=0, p_B_REG=0, p_C_REG=0, p_D_REG=0,
            p_TOP_8x8_MULT_REG=0, p_BOT_8x8_MULT_REG=0,
            p_PIPELINE_16x16_MULT_REG1=0, p_PIPELINE_16x16_MULT_REG2=0,
            # low half: product[15:0] + D, registered; high half: product[31:16] + C + its carry.
            p_BOTADDSUB_LOWERINPUT=2, p_BOTADDSUB_UPPERINPUT=1, p_BOTADDSUB_CARRYSELECT=0,
            p_BOTOUTPUT_SELECT=1,
            p_TOPADDSUB_LOWERINPUT=2, p_TOPADDSUB_UPPERINPUT=1, p_TOPADDSUB_CARRYSELECT=2,
            p_TOPOUTPUT_SELECT=1,
            i_CLK=ClockSignal("sync"), i_CE=Const(1),
            i_A=a, i_B=b, i_C=Const(0, MAC_WIDTH), i_D=d,
            i_AHOLD=0, i_BHOLD=0, i_CHOLD=0, i_DHOLD=0,
            i_IRSTTOP=0, i_IRSTBOT=0, i_ORSTTOP=0, i_ORSTBOT=0,
            i_OLOADTOP=0, i_OLOADBOT=0, i_ADDSUBTOP=0, i_ADDSUBBOT=0,
            i_OHOLDTOP=0, i_OHOLDBOT=0, i_CI=0, i_ACCUMCI=0, i_SIGNEXTIN=0,
            o_O=out)
        return m
