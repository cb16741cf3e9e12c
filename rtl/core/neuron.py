"""Neuron datapath: the CUBA-LIF update of docs/spec.md §3, one neuron per clock.

Every width comes from firmware.formats; the arithmetic is bit-exact with sim.neuron.lif_step.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Shape, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as f

from ..lib.compare import less_than
from ..lib.ports import flow_signature

# --- Shapes of the neuron's quantities (spec §3) ----------------------------------------------
U_SHAPE = signed(f.UV_BITS + 1)          # u lies in (-2^23, 2^23]: +2^23 needs a 25th bit (§3.3)
V_SHAPE = signed(f.UV_BITS)              # v lies in [-(2^23 - 1), 2^23 - 1]
REF_SHAPE = unsigned(f.REFRACTORY_BITS)  # remaining refractory ticks, and the period itself
A_IN_SHAPE = signed(f.A_IN_BITS)         # summed synaptic input of one tick, already wrapped
DECAY_SHAPE = unsigned(f.DECAY_BITS)     # du, dv
VTH_SHAPE = unsigned(f.VTH_BITS)
BIAS_MANT_SHAPE = signed(f.BIAS_MANT_BITS)
BIAS_EXP_SHAPE = Shape.cast(range(f.BIAS_EXP_MIN, f.BIAS_EXP_MAX + 1))
# bias_mant << BIAS_EXP_MAX at both ends: -4096 << 7 = -2^19 and 4095 << 7 fit signed 20 bits.
BIAS_SHAPE = signed(f.BIAS_MANT_BITS + f.BIAS_EXP_MAX)

# Operand width of the iCE40UP5K's SB_MAC16 multiplier (16 x 16 -> 32, unsigned here).
DSP_WIDTH = 16


def neuron_state_layout(tag_width: int) -> data.StructLayout:
    """Payload of one neuron update, first cycle: its state.

    `tag` is opaque (a neuron index, say) and comes back with the result.
    """
    return data.StructLayout({
        "tag": unsigned(tag_width),
        "u": U_SHAPE,
        "v": V_SHAPE,
        "ref": REF_SHAPE,
    })


def neuron_param_layout() -> data.StructLayout:
    """Payload of one neuron update, second cycle: its parameters.

    `bias` is the already-shifted bias (see `bias_of`).
    """
    return data.StructLayout({
        "du": DECAY_SHAPE,
        "dv": DECAY_SHAPE,
        "vth": VTH_SHAPE,
        "bias": BIAS_SHAPE,
        "refractory": REF_SHAPE,
    })


def neuron_output_layout(tag_width: int) -> data.StructLayout:
    """Payload of one result: the new state of the neuron and whether it spiked."""
    return data.StructLayout({
        "tag": unsigned(tag_width),
        "u": U_SHAPE,
        "v": V_SHAPE,
        "ref": REF_SHAPE,
        "spike": unsigned(1),
    })


def bias_of(mant, exp) -> Value:
    """Combinational bias of spec §3.1: `mant << exp` for exp >= 0, `mant >> -exp` (floor) else.

    `mant` must have BIAS_MANT_SHAPE (signed 13-bit), `exp` BIAS_EXP_SHAPE (signed 4-bit, -8..7).
    Built as one left barrel shift by exp + 8 (0..15) followed by a constant arithmetic right
    shift by 8, which is exact in both directions. The result has BIAS_SHAPE.
    """
    mant, exp = Value.cast(mant), Value.cast(exp)
    if mant.shape() != BIAS_MANT_SHAPE:
        raise TypeError(f"bias_of: mant has shape {mant.shape()}, it must be {BIAS_MANT_SHAPE}")
    if exp.shape() != BIAS_EXP_SHAPE:
        raise TypeError(f"bias_of: exp has shape {exp.shape()}, it must be {BIAS_EXP_SHAPE}")
    offset = -f.BIAS_EXP_MIN
    shift = (exp + offset)[:len(exp)]            # 0 .. BIAS_EXP_MAX + offset, unsigned
    bias = (mant << shift).shift_right(offset)
    assert bias.shape() == BIAS_SHAPE, bias.shape()
    return bias


def _register(shape, name: str) -> Signal:
    """A pipeline register for data: no reset (its stage's valid bit says whether it holds
    anything), so that yosys can move it into an SB_MAC16 (input or output register) and
    needs no reset logic for it."""
    return Signal(shape, name=name, reset_less=True)


def _decay(domain, name: str, x: Value, negative: Value, factor: Value) -> tuple[Value, Value, Value]:
    """Two partial products of x * factor, registered in `domain`, and from them (high, low,
    carry) whose sum is sign(x) * ((|x| * factor) >> 12) (`negative`: x < 0, registered in step
    with the products). high has zeros in its low bits, so the carry (0 or 1) can ride in one.

    x (signed) is split at DSP_WIDTH so that each partial product fits one 16 x 16 SB_MAC16:
    lo = x[0:16] (unsigned), hi = x[16:] (signed); x * factor = (hi * factor) << 16 + lo * factor.
    The decay truncates toward zero: floor((x * factor + (4095 if x < 0)) / 4096), which is
    high = (hi * factor) << 4 plus low = (lo * factor) >> 12, plus the carry 1 if x < 0 and the
    low 12 bits of lo * factor are not all zero.
    """
    lo, hi = x.as_unsigned()[:DSP_WIDTH], x[DSP_WIDTH:].as_signed()
    assert len(hi) <= DSP_WIDTH and len(factor) < DSP_WIDTH
    product_lo = _register(len(lo) + len(factor), f"{name}_product_lo")
    # Within the contract |x| <= 2^23, so |hi| <= 2^7 and |hi * factor| <= 2^19: 20 bits, the
    # width yosys sees for the multiplier's output, which lets it put this register into the
    # SB_MAC16 (a wider register would take logic cells).
    product_hi = _register(signed(f.UV_BITS - DSP_WIDTH + f.DECAY_BITS), f"{name}_product_hi")
    domain += [product_lo.eq(lo * factor), product_hi.eq(hi * factor)]
    return (product_hi.shift_left(DSP_WIDTH - f.DECAY_BITS), product_lo.shift_right(f.DECAY_BITS),
            negative & (product_lo[:f.DECAY_BITS] != 0))


def _plus_carry(addend: Value, carry: Value) -> Value:
    """addend + carry for an addend whose bit 0 is zero: no adder."""
    return Cat(carry, addend[1:]).as_signed() if addend.shape().signed else Cat(carry, addend[1:])


# The spike test runs on the unclipped v (see stage 4); that needs every threshold below V_MAX.
assert ((1 << f.VTH_BITS) - 1) << f.VTH_SHIFT < f.V_MAX


class LIFDatapath(wiring.Component):
    """CUBA-LIF update of one neuron per clock (spec §3.1 to §3.4), pipelined.

    Input flow `i` (valid + payload, no backpressure): a neuron's state (u in (-2^23, 2^23],
    v in [-(2^23 - 1), 2^23 - 1], ref) and a tag. Input `p`, in the cycle after `i.valid`:
    the parameters (du, dv, vth, refractory) and the shifted bias (`bias_of`). Input `a_in`,
    in the cycle after `p`: the wrapped a_in of the tick, used as it arrives (not registered).
    (A neuron's parameters come from its profile, whose address is in the word read with its
    state: the state arrives a cycle earlier than the profile, and the accumulator is read a
    cycle later still, so that its word goes straight into the adder.) Output flow `o`
    (valid + payload, no backpressure, combinational from the last registers): exactly LATENCY
    cycles after `i.valid`, the tag and the new u, v, ref and spike, equal to
    sim.neuron.lif_step. Inputs may arrive every cycle; a cycle without `i.valid` gives a cycle
    without `o.valid` LATENCY cycles later. Outside the contract (|u| > 2^23) the result is
    unspecified.

    Stages (each ends in a register; at most two carry chains in series per stage):
      1. u, v and their signs, registered (u and v in the SB_MAC16 input registers).
      2. u * factor_u and v * factor_v with the decay factors 4096 - (du + 1) and 4096 - dv
         of `p`, each as two partial products of at most 16 x 13 bits (x[0:16] unsigned and
         x[16:] signed): two SB_MAC16 per decay, u and v in parallel, the products in the
         SB_MAC16 output registers; bias - vth * 64 - 1 for the spike test.
      3. decay = sign * (|x| * factor >> 12) from the products (`_decay`);
         u' = wrapU(decay_u + a_in * 64) with the a_in of this cycle; decay_v + bias and
         decay_v + bias - vth * 64 - 1, all in parallel.
      then, combinationally: v' = clip(decay_v + bias + u') and the spike test (sign of
      v' - vth * 64 - 1) in parallel; refractory and spike selection.
    Every data register is reset-less; only the valid bits have a reset.

        i      In(flow_signature)   a neuron's state (tag, u, v, ref)
        p      In                   its parameters (du, dv, vth, bias, refractory), a cycle later
        a_in   In                   its accumulator, a cycle after that
        o      Out(flow_signature)  the new state (tag, u, v, ref, spike), LATENCY cycles after i
    """

    LATENCY = 3

    def __init__(self, tag_width: int = 1):
        if tag_width < 1:
            raise ValueError(f"LIFDatapath: tag_width is {tag_width}, it must be at least 1")
        self.tag_width = tag_width
        super().__init__({
            "i": In(flow_signature(neuron_state_layout(tag_width))),
            "p": In(neuron_param_layout()),
            "a_in": In(A_IN_SHAPE),
            "o": Out(flow_signature(neuron_output_layout(tag_width))),
        })

    def elaborate(self, platform):
        m = Module()
        sync = m.d.sync
        i, p = self.i.payload, self.p

        # Stage 1: the state and its signs. ---------------------------------------------------
        s1_valid = Signal()
        s1_tag = _register(self.tag_width, "s1_tag")
        s1_u_negative, s1_v_negative = _register(1, "s1_u_negative"), _register(1, "s1_v_negative")
        s1_u = _register(U_SHAPE, "s1_u")
        s1_v = _register(V_SHAPE, "s1_v")
        s1_ref = _register(REF_SHAPE, "s1_ref")
        sync += [
            s1_valid.eq(self.i.valid),
            s1_tag.eq(i.tag),
            s1_u_negative.eq(i.u < 0),
            s1_v_negative.eq(i.v < 0),
            s1_u.eq(i.u),
            s1_v.eq(i.v),
            s1_ref.eq(i.ref),
        ]

        # Stage 2: the multiplies (registered partial products), with the parameters of `p`. --
        # In parallel, the spike test's addend: v' > vth << 6 iff v' - (vth << 6) - 1 >= 0, and
        # -(vth << 6) - 1 = ~(vth << 6), so the last stage only looks at the sign of a sum.
        factor_u = Signal(range(f.DECAY_UNITY - f.DU_OFFSET + 1))
        factor_v = Signal(range(f.DECAY_UNITY - f.DV_OFFSET + 1))
        m.d.comb += [factor_u.eq(f.DECAY_UNITY - (p.du + f.DU_OFFSET)),
                     factor_v.eq(f.DECAY_UNITY - (p.dv + f.DV_OFFSET))]
        s2_valid = Signal()
        s2_tag = _register(self.tag_width, "s2_tag")
        s2_u_negative, s2_v_negative = _register(1, "s2_u_negative"), _register(1, "s2_v_negative")
        s2_bias = _register(BIAS_SHAPE, "s2_bias")
        s2_spike_addend = _register(signed(f.UV_BITS + 1), "s2_spike_addend")    # bias - vth*64 - 1
        s2_ref = _register(REF_SHAPE, "s2_ref")
        s2_refractory = _register(REF_SHAPE, "s2_refractory")
        sync += [
            s2_valid.eq(s1_valid),
            s2_tag.eq(s1_tag),
            s2_u_negative.eq(s1_u_negative),
            s2_v_negative.eq(s1_v_negative),
            s2_bias.eq(p.bias),
            s2_spike_addend.eq(p.bias + ~Cat(p.vth.shift_left(f.VTH_SHIFT), 0).as_signed()),
            s2_ref.eq(s1_ref),
            s2_refractory.eq(p.refractory),
        ]

        # Stage 3: signed decays, u' with its wrap, decay_v + bias (and - vth * 64 - 1). -----
        # |decay| < 2^23 within the contract. Each decay's carry rides in a zero bit: u's in bit
        # 0 of a_in * 64 (off the path through the first sum), v's in bit 0 of `high`.
        high_u, low_u, carry_u = _decay(sync, "s2_u", s1_u, s2_u_negative, factor_u)
        high_v, low_v, carry_v = _decay(sync, "s2_v", s1_v, s2_v_negative, factor_v)
        floor_u = Signal(signed(f.UV_BITS + 1))
        decay_v = Signal(signed(f.UV_BITS + 1))
        m.d.comb += [floor_u.eq(high_u + low_u), decay_v.eq(_plus_carry(high_v, carry_v) + low_v)]

        # |decay_u| < 2^23 and |a_in * 64| <= 2^21: u_sum needs 26 bits; one wrap suffices.
        u_sum = Signal(signed(f.UV_BITS + 2))
        m.d.comb += u_sum.eq(_plus_carry(self.a_in.shift_left(f.ACT_SHIFT), carry_u) + floor_u)
        # wrapU into (-2^23, 2^23]: the low 24 bits as two's complement, except that the
        # pattern 0x800000 (-2^23) stands for +2^23, so the 25th bit is set only for the
        # negative values other than -2^23.
        low = u_sum[:f.UV_BITS]
        u_wrapped = Cat(low, low[-1] & (low[:-1] != 0)).as_signed()

        s3_valid = Signal()
        s3_tag = _register(self.tag_width, "s3_tag")
        s3_u = _register(U_SHAPE, "s3_u")
        s3_v_partial = _register(signed(f.UV_BITS + 2), "s3_v_partial")          # decay_v + bias
        s3_spike_partial = _register(signed(f.UV_BITS + 2), "s3_spike_partial")  # ... - vth * 64 - 1
        s3_ref = _register(REF_SHAPE, "s3_ref")
        s3_refractory = _register(REF_SHAPE, "s3_refractory")
        sync += [
            s3_valid.eq(s2_valid),
            s3_tag.eq(s2_tag),
            s3_u.eq(u_wrapped),
            s3_v_partial.eq(s2_bias + decay_v),
            s3_spike_partial.eq(s2_spike_addend + decay_v),
            s3_ref.eq(s2_ref),
            s3_refractory.eq(s2_refractory),
        ]

        # Output (combinational): v', clip, threshold, refractory. ----------------------------
        # vth << 6 < V_MAX (asserted above), so the threshold test on the unclipped sum gives
        # the answer of the clipped one and runs beside the clip; and the upper clip is never
        # seen: v' > V_MAX always fires (v' = 0), or the neuron is refractory (v' = 0).
        v_sum = Signal(signed(f.UV_BITS + 2))
        m.d.comb += v_sum.eq(s3_v_partial + s3_u)
        v_clipped = Mux(less_than(v_sum, -f.V_MAX), -f.V_MAX, v_sum)   # used only below the threshold
        spike_margin = Signal(signed(f.UV_BITS + 3))      # v' - vth * 64 - 1
        m.d.comb += spike_margin.eq(s3_spike_partial + s3_u)
        above_threshold = spike_margin >= 0

        o = self.o.payload
        m.d.comb += [
            self.o.valid.eq(s3_valid),
            o.tag.eq(s3_tag),
            o.u.eq(s3_u),
        ]
        with m.If(s3_ref != 0):
            m.d.comb += [o.v.eq(0), o.ref.eq(s3_ref - 1), o.spike.eq(0)]
        with m.Elif(above_threshold):
            m.d.comb += [o.v.eq(0), o.ref.eq(s3_refractory), o.spike.eq(1)]
        with m.Else():
            m.d.comb += [o.v.eq(v_clipped), o.ref.eq(0), o.spike.eq(0)]

        return m
