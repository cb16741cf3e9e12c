"""Bit widths, word layouts and the memory map of an axonite core: defined here, once.

Everything that crosses a boundary (compiler -> image -> golden model, later RTL and host)
takes its widths from this module. docs/spec.md explains every constant; the section number
of the spec is given beside each group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --- Neuron arithmetic (spec §3), bit-exact with Lava's PyLifModelBitAcc --------------------
UV_BITS = 24                       # u and v are 24-bit quantities
UV_LIMIT = 1 << (UV_BITS - 1)      # 2**23; u wraps into (-UV_LIMIT, UV_LIMIT]
V_MAX = UV_LIMIT - 1               # v clips to [-V_MAX, V_MAX]
DECAY_BITS = 12                    # du, dv and trace decays are 12-bit unsigned
DECAY_UNITY = 1 << DECAY_BITS      # 4096
DU_OFFSET = 1                      # Loihi's ds_offset: the current decays by du + 1
DV_OFFSET = 0                      # Loihi's dm_offset
ACT_SHIFT = 6                      # synaptic input is shifted left by 6 before it reaches u
VTH_SHIFT = 6                      # threshold is compared as vth << 6
A_IN_BITS = 16                     # the summed synaptic input of one tick wraps modulo 2**16
VTH_BITS = 17                      # vth: unsigned 17-bit
BIAS_MANT_BITS = 13                # bias mantissa: signed 13-bit
BIAS_EXP_MIN, BIAS_EXP_MAX = -8, 7  # bias exponent: signed 4-bit (negative = right shift)
REFRACTORY_BITS = 4                # refractory period: 0..15 ticks

# --- Plasticity (spec §6) --------------------------------------------------------------------
TRACE_BITS = 8                     # pre- and post-traces: unsigned 8-bit, saturating
TRACE_MAX = (1 << TRACE_BITS) - 1
STDP_A_BITS = 8                    # A_plus, A_minus: signed 8-bit learning amplitudes
LR_SHIFT_MAX = 15                  # learning-rate shift: 4 bits
TRACE_MODE_ALL_TO_ALL = 0          # impulse adds (saturating at TRACE_MAX)
TRACE_MODE_NEAREST = 1             # impulse sets the trace to the impulse value
TRACE_MODES = {"all-to-all": TRACE_MODE_ALL_TO_ALL, "nearest": TRACE_MODE_NEAREST}

# --- Stochastic rounding LFSR (spec §6.5) ------------------------------------------------------
LFSR_BITS = 32
# Galois form, shifting right, of x^32 + x^22 + x^2 + x + 1 (maximal length, period 2**32 - 1).
LFSR_POLY = (1 << 32) | (1 << 22) | (1 << 2) | (1 << 1) | 1
LFSR_TAPS = 0x80200003             # LFSR_POLY without the x^32 term, bit-reversed for right shift
LFSR_DEFAULT_SEED = 0xACE1ACE1

# --- Synapses and routing (spec §4, §5) --------------------------------------------------------
SYNAPSE_WORD_BITS = 16             # one SPRAM word (iCE40UP5K SB_SPRAM256KA is 16 bits wide)
WEIGHT_BITS_MIN, WEIGHT_BITS_MAX = 2, 8


def bits_for(count: int) -> int:
    """Bits needed to hold the values 0 .. count-1 (at least 1)."""
    return max(1, (int(count) - 1).bit_length())


def signed_range(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def max_weight_exp(weight_bits: int) -> int:
    """Largest weight exponent for which mantissa << exp still fits the 16-bit accumulator."""
    return A_IN_BITS - weight_bits


# Ticks (spec §7): the core's tick counter and the tick stamp of an output spike are 32 bits and
# wrap; a host tells the ticks of one run (or stream) apart modulo 2**32, so a run has at most:
TICK_BITS = 32
MAX_RUN_TICKS = (1 << TICK_BITS) - 1
# The tick counter, the input-queue counts (consumed, sent) and the u32 fields of the wire wrap
# modulo MOD32: wrap32 is that wrap, once.
MOD32 = 1 << 32


def wrap32(value):
    """`value` modulo 2**32 (an int or an integer numpy array): what a 32-bit counter reads."""
    return value % MOD32

# Event counters (spec §7), in the order the access port and the wire protocol number them.
COUNTERS = ("ticks", "input_events", "spikes", "output_spikes", "synaptic_events",
            "plastic_updates", "overruns", "dropped")
COUNTER_BITS = 64


# --- Word layouts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    width: int
    signed: bool = False


class Layout:
    """An ordered list of fields packed LSB first into one memory word.

    `pack` and `unpack` work on numpy arrays (one element per word) and check every value
    against its field's range, so a table can never be written with a silently truncated field.
    """

    def __init__(self, name: str, fields: list[Field]):
        self.name = name
        if any(f.width < 1 for f in fields):
            raise ValueError(f"layout {name}: every field needs at least 1 bit")
        self.fields = tuple(fields)
        self.width = sum(f.width for f in self.fields)
        if self.width > 64:
            raise ValueError(f"layout {name} is {self.width} bits wide; words are at most 64 bits")
        offsets, at = {}, 0
        for f in self.fields:
            offsets[f.name] = at
            at += f.width
        self.offsets = offsets

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"layout {self.name} has no field {name!r}")

    def pack(self, **values) -> np.ndarray:
        names = {f.name for f in self.fields}
        if set(values) != names:
            raise ValueError(f"layout {self.name}: missing fields {sorted(names - set(values))}, "
                             f"unknown fields {sorted(set(values) - names)}")
        word, size = None, None
        for f in self.fields:
            v = np.asarray(values[f.name])
            if v.dtype.kind not in "iub":
                raise ValueError(f"layout {self.name}: field {f.name} must be integers, got {v.dtype}")
            lo, hi = signed_range(f.width) if f.signed else (0, (1 << f.width) - 1)
            if v.size and (int(v.min()) < lo or int(v.max()) > hi):
                bad = next(int(x) for x in v.flat if not lo <= int(x) <= hi)
                raise ValueError(f"layout {self.name}: field {f.name} = {bad} is outside [{lo}, {hi}]")
            # Two's complement through int64 for signed fields; unsigned values as they are.
            raw = v.astype(np.int64).astype(np.uint64) if f.signed or v.dtype.kind == "i" else v.astype(np.uint64)
            raw = (raw & np.uint64((1 << f.width) - 1)) << np.uint64(self.offsets[f.name])
            word = raw if word is None else word | raw
            size = v.shape
        if word is None:
            return np.zeros(0, dtype=np.uint64)
        return np.broadcast_to(word, size).astype(np.uint64)

    def unpack(self, words) -> dict[str, np.ndarray]:
        words = np.asarray(words, dtype=np.uint64)
        out = {}
        for f in self.fields:
            raw = ((words >> np.uint64(self.offsets[f.name])) & np.uint64((1 << f.width) - 1)).astype(np.int64)
            if f.signed:
                raw = np.where(raw >= (1 << (f.width - 1)), raw - (1 << f.width), raw)
            out[f.name] = raw
        return out


# --- The memory map (spec §9): every table the core loads, with its layout and depth ---------


@dataclass(frozen=True)
class Region:
    """One table of the core: a numbered region of `depth` words of `layout.width` bits."""

    index: int
    name: str
    layout: Layout
    depth: int
    doc: str


def layouts(config) -> dict[str, Layout]:
    """The word layout of every region for a core configuration (see firmware.config)."""
    c = config
    n_sources = c.n_inputs + c.n_neurons
    target_bits = SYNAPSE_WORD_BITS - c.weight_bits
    n_windows = -(-c.n_neurons // (1 << target_bits))
    return {
        "profile": Layout("profile", [
            Field("du", DECAY_BITS), Field("dv", DECAY_BITS), Field("vth", VTH_BITS),
            Field("bias_exp", 4, signed=True), Field("refractory", REFRACTORY_BITS),
        ]),
        "neuron": Layout("neuron", [
            Field("bias_mant", BIAS_MANT_BITS, signed=True),
            Field("profile", bits_for(c.n_profiles)),
            Field("output", 1),
        ]),
        "axon": Layout("axon", [
            Field("seg_ptr", bits_for(c.n_segments + 1)),
            Field("seg_count", bits_for(c.n_segments + 1)),
        ]),
        "segment": Layout("segment", [
            Field("syn_ptr", bits_for(c.n_synapses + 1)),
            Field("syn_count", target_bits + 1),
            Field("window", bits_for(n_windows)),
            Field("delay_m1", bits_for(c.max_delay)),
            Field("projection", bits_for(c.n_projections)),
        ]),
        "synapse": Layout("synapse", [
            Field("weight", c.weight_bits, signed=True),
            Field("target", target_bits),
        ]),
        "projection": Layout("projection", [
            Field("weight_exp", 4),
            Field("plastic", 1),
            Field("a_plus", STDP_A_BITS, signed=True),
            Field("a_minus", STDP_A_BITS, signed=True),
            Field("lr_shift", 4),
            Field("w_min", c.weight_bits, signed=True),
            Field("w_max", c.weight_bits, signed=True),
        ]),
        "reverse_ptr": Layout("reverse_ptr", [
            Field("rev_ptr", bits_for(c.n_reverse + 1)),
            Field("rev_count", bits_for(c.n_reverse + 1)),
        ]),
        "reverse": Layout("reverse", [
            Field("synapse", bits_for(c.n_synapses)),
            Field("source", bits_for(n_sources)),
            Field("projection", bits_for(c.n_projections)),
        ]),
        "stdp": Layout("stdp", [
            Field("pre_decay", DECAY_BITS), Field("pre_impulse", TRACE_BITS),
            Field("post_decay", DECAY_BITS), Field("post_impulse", TRACE_BITS),
            Field("mode", 1),
        ]),
        "lfsr_seed": Layout("lfsr_seed", [Field("seed", LFSR_BITS)]),
        # State: u needs one bit more than 24 because Lava's wrap keeps +2**23 (spec §3.3).
        "state_u": Layout("state_u", [Field("u", UV_BITS + 1, signed=True)]),
        "state_v": Layout("state_v", [Field("v", UV_BITS, signed=True)]),
        "state_ref": Layout("state_ref", [Field("ref", REFRACTORY_BITS)]),
        "trace_pre": Layout("trace_pre", [Field("x", TRACE_BITS)]),
        "trace_post": Layout("trace_post", [Field("y", TRACE_BITS)]),
        # Input already delivered for the coming ticks: slot (t mod max_delay) * n_neurons + neuron.
        "accumulator": Layout("accumulator", [Field("a_in", A_IN_BITS, signed=True)]),
        "counters": Layout("counters", [Field("count", COUNTER_BITS)]),
        "lfsr_state": Layout("lfsr_state", [Field("state", LFSR_BITS)]),
    }


# Region numbers are part of the wire protocol: append, never renumber.
_REGION_ORDER = (
    ("profile", "n_profiles", "neuron parameter profiles: du, dv, vth, bias_exp, refractory"),
    ("neuron", "n_neurons", "per neuron: bias mantissa, profile index, output flag"),
    ("axon", "n_sources", "per source (inputs, then neurons): first segment and segment count"),
    ("segment", "n_segments", "fan-out segments: synapse range, target window, delay, projection"),
    ("synapse", "n_synapses", "synapse words: signed weight mantissa and target offset in window"),
    ("projection", "n_projections", "per projection: weight exponent, plasticity and its parameters"),
    ("reverse_ptr", "n_neurons", "per neuron: first reverse entry and count (plastic fan-in)"),
    ("reverse", "n_reverse", "reverse index: synapse address, source and projection of a plastic synapse"),
    ("stdp", 1, "core-wide trace parameters"),
    ("lfsr_seed", 1, "seed of the stochastic-rounding LFSR"),
    ("state_u", "n_neurons", "neuron current u"),
    ("state_v", "n_neurons", "neuron voltage v"),
    ("state_ref", "n_neurons", "remaining refractory ticks"),
    ("trace_pre", "n_sources", "pre-synaptic trace per source"),
    ("trace_post", "n_neurons", "post-synaptic trace per neuron"),
    ("accumulator", "n_accumulators", "synaptic input waiting for ticks t .. t + max_delay - 1"),
    ("counters", "n_counters", "event counters in COUNTERS order (read-only; reset clears)"),
    ("lfsr_state", 1, "the stochastic-rounding LFSR now (reset loads the seed)"),
)
TABLE_REGIONS = tuple(name for name, _, _ in _REGION_ORDER[:10])   # loaded from an image
STATE_REGIONS = tuple(name for name, _, _ in _REGION_ORDER[10:])   # set by reset (spec §8)
# The state a host reads and writes by name (GoldenModel.state()'s keys, Device.probe's names):
# name -> (region, field of its word). u, v, ref, y: per neuron; x: per source (inputs, then
# neurons); acc: per slot and neuron, [max_delay, n_neurons] in the region's order.
STATE_FIELDS = {"u": ("state_u", "u"), "v": ("state_v", "v"), "ref": ("state_ref", "ref"),
                "x": ("trace_pre", "x"), "y": ("trace_post", "y"), "acc": ("accumulator", "a_in")}



def route_layout(config) -> Layout:
    """The inter-core routing table's word (spec §12.7): one word per (neuron, destination
    core); `valid` says that the neuron has targets on that core, `axon` is its remote axon
    there."""
    return Layout("route", [Field("valid", 1), Field("axon", bits_for(config.n_inputs))])


ROUTE_REGION_DOC = "K-core device: per neuron n and destination core d, word n * K + d: its remote axon there"


def memory_map(config, cores: int = 1) -> dict[str, Region]:
    """The regions of one core of `config` (spec §9), numbered for the wire. A device of
    `cores` > 1 cores adds the routing table `route` (depth n_neurons * cores, route_layout)
    after them; on such a device every region is the selected core's (docs/protocol.md)."""
    lay = layouts(config)
    depth_of = {"n_sources": config.n_inputs + config.n_neurons,
                "n_accumulators": config.max_delay * config.n_neurons,
                "n_counters": len(COUNTERS)}
    regions = {}
    for index, (name, depth, doc) in enumerate(_REGION_ORDER):
        if isinstance(depth, str):
            depth = depth_of.get(depth) or getattr(config, depth)
        regions[name] = Region(index, name, lay[name], depth, doc)
    if cores > 1:
        regions["route"] = Region(len(regions), "route", route_layout(config), config.n_neurons * cores,
                                  ROUTE_REGION_DOC)
    return regions
