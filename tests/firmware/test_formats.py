"""Word layouts, the memory map and the core configuration (firmware/formats.py, config.py)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware import ConfigError, CoreConfig, formats
from firmware.formats import Field, Layout, bits_for, max_weight_exp, signed_range

CONFIGS = [
    CoreConfig(),
    CoreConfig(n_neurons=1, n_inputs=1, n_synapses=1, n_segments=1, n_reverse=1, n_profiles=1,
               n_projections=1, weight_bits=2, max_delay=1),
    CoreConfig(n_neurons=1000, n_inputs=3000, n_synapses=1 << 20, n_segments=1 << 16,
               n_reverse=1 << 18, n_profiles=256, n_projections=256, weight_bits=5, max_delay=64),
    CoreConfig(n_neurons=257, n_inputs=7, weight_bits=8, max_delay=3),
]


# --- helpers ----------------------------------------------------------------------------------


def test_bits_for_and_ranges():
    assert [bits_for(n) for n in (0, 1, 2, 3, 4, 5, 256, 257, 4096, 4097)] == [1, 1, 1, 2, 2, 3, 8, 9, 12, 13]
    assert signed_range(8) == (-128, 127) and signed_range(2) == (-2, 1) and signed_range(1) == (-1, 0)
    assert [max_weight_exp(b) for b in (2, 8)] == [14, 8]


# --- Layout -----------------------------------------------------------------------------------


def test_fields_are_packed_lsb_first():
    lay = Layout("t", [Field("a", 3), Field("b", 5, signed=True), Field("c", 1)])
    assert lay.width == 9 and lay.offsets == {"a": 0, "b": 3, "c": 8}
    # a = 5 -> bits 0..2 = 101; b = -1 -> bits 3..7 = 11111; c = 1 -> bit 8
    assert lay.pack(a=[5], b=[-1], c=[1]).tolist() == [0b1_11111_101]
    # b = -16 -> 10000; b = 15 -> 01111
    assert lay.pack(a=[0, 0], b=[-16, 15], c=[0, 0]).tolist() == [0b10000 << 3, 0b01111 << 3]
    assert lay.field("b") == Field("b", 5, True)
    with pytest.raises(KeyError, match="layout t has no field 'z'"):
        lay.field("z")


def test_round_trip_random_values():
    rng = np.random.default_rng(0)
    for _ in range(50):
        widths = rng.integers(1, 17, int(rng.integers(1, 6)))
        while widths.sum() > 64:
            widths = widths[:-1]
        fields = [Field(f"f{k}", int(w), bool(rng.random() < 0.5)) for k, w in enumerate(widths)]
        lay = Layout("r", fields)
        values = {}
        for f in fields:
            lo, hi = signed_range(f.width) if f.signed else (0, (1 << f.width) - 1)
            v = rng.integers(lo, hi + 1, 40)
            v[:2] = lo, hi                       # the extremes always
            values[f.name] = v
        words = lay.pack(**values)
        assert words.dtype == np.uint64 and int(words.max()) >> lay.width == 0
        back = lay.unpack(words)
        for f in fields:
            assert back[f.name].tolist() == values[f.name].tolist(), f


def test_full_64_bit_word():
    lay = Layout("w", [Field("lo", 32), Field("hi", 32, signed=True)])
    words = lay.pack(lo=[0xFFFFFFFF, 0], hi=[-1, -(1 << 31)])
    assert words.tolist() == [(1 << 64) - 1, 1 << 63]
    assert lay.unpack(words)["hi"].tolist() == [-1, -(1 << 31)]


@pytest.mark.parametrize("field,value,limits", [
    ("u", 16, "[0, 15]"), ("u", -1, "[0, 15]"), ("s", 8, "[-8, 7]"), ("s", -9, "[-8, 7]"),
])
def test_pack_range_errors(field, value, limits):
    lay = Layout("box", [Field("u", 4), Field("s", 4, signed=True)])
    values = {"u": [0, 1, 2], "s": [0, 1, 2]}
    values[field] = [0, value, 1]
    with pytest.raises(ValueError, match=rf"layout box: field {field} = {value} is outside \{limits}"):
        lay.pack(**values)


def test_pack_missing_and_unknown_fields():
    lay = Layout("box", [Field("u", 4), Field("s", 4, signed=True)])
    with pytest.raises(ValueError, match=r"layout box: missing fields \['s'\], unknown fields \['x'\]"):
        lay.pack(u=[1], x=[2])


def test_layout_errors():
    with pytest.raises(ValueError, match="layout big is 65 bits wide; words are at most 64 bits"):
        Layout("big", [Field("a", 33), Field("b", 32)])
    with pytest.raises(ValueError, match="layout zero: every field needs at least 1 bit"):
        Layout("zero", [Field("a", 0)])


def test_pack_empty():
    lay = Layout("box", [Field("u", 4)])
    assert lay.pack(u=np.zeros(0, np.int64)).size == 0
    assert lay.unpack(np.zeros(0, np.uint64))["u"].size == 0


# --- memory map ---------------------------------------------------------------------------------

DEFAULT_DEPTHS = {
    "profile": 16, "neuron": 256, "axon": 512, "segment": 4096, "synapse": 32768, "projection": 16,
    "reverse_ptr": 256, "reverse": 16384, "stdp": 1, "lfsr_seed": 1, "state_u": 256, "state_v": 256,
    "state_ref": 256, "trace_pre": 512, "trace_post": 256, "accumulator": 1024, "counters": 8,
    "lfsr_state": 1,
}


def test_default_memory_map():
    regions = formats.memory_map(CoreConfig())
    assert list(regions) == list(DEFAULT_DEPTHS)
    assert [r.index for r in regions.values()] == list(range(18))
    assert {name: r.depth for name, r in regions.items()} == DEFAULT_DEPTHS
    assert formats.TABLE_REGIONS == tuple(list(DEFAULT_DEPTHS)[:10])
    assert formats.STATE_REGIONS == tuple(list(DEFAULT_DEPTHS)[10:])
    assert regions["synapse"].layout.width == formats.SYNAPSE_WORD_BITS == 16
    assert all(r.doc for r in regions.values())


@pytest.mark.parametrize("config", CONFIGS, ids=range(len(CONFIGS)))
def test_every_region_fits_and_holds_its_values(config):
    c = config
    regions = formats.memory_map(c)
    n_sources = c.n_inputs + c.n_neurons
    depth = {"profile": c.n_profiles, "neuron": c.n_neurons, "axon": n_sources,
             "segment": c.n_segments, "synapse": c.n_synapses, "projection": c.n_projections,
             "reverse_ptr": c.n_neurons, "reverse": c.n_reverse, "stdp": 1, "lfsr_seed": 1,
             "state_u": c.n_neurons, "state_v": c.n_neurons, "state_ref": c.n_neurons,
             "trace_pre": n_sources, "trace_post": c.n_neurons,
             "accumulator": c.max_delay * c.n_neurons, "counters": len(formats.COUNTERS),
             "lfsr_state": 1}
    assert {name: r.depth for name, r in regions.items()} == depth
    for r in regions.values():
        assert r.layout.width <= 64, r.name
    assert regions["synapse"].layout.width == 16
    n_windows = -(-c.n_neurons // c.window_size)
    # the extreme value each field must hold, packed and unpacked without loss
    extremes = {
        "profile": dict(du=4095, dv=4095, vth=(1 << 17) - 1, bias_exp=-8, refractory=15),
        "neuron": dict(bias_mant=-4096, profile=c.n_profiles - 1, output=1),
        "axon": dict(seg_ptr=c.n_segments, seg_count=c.n_segments),
        "segment": dict(syn_ptr=c.n_synapses, syn_count=c.window_size, window=n_windows - 1,
                        delay_m1=c.max_delay - 1, projection=c.n_projections - 1),
        "synapse": dict(weight=-(1 << (c.weight_bits - 1)), target=c.window_size - 1),
        "projection": dict(weight_exp=max_weight_exp(c.weight_bits), plastic=1, a_plus=-128, a_minus=127,
                           lr_shift=15, w_min=-(1 << (c.weight_bits - 1)), w_max=(1 << (c.weight_bits - 1)) - 1),
        "reverse_ptr": dict(rev_ptr=c.n_reverse, rev_count=c.n_reverse),
        "reverse": dict(synapse=c.n_synapses - 1, source=n_sources - 1, projection=c.n_projections - 1),
        "stdp": dict(pre_decay=4095, pre_impulse=255, post_decay=4095, post_impulse=255, mode=1),
        "lfsr_seed": dict(seed=(1 << 32) - 1), "lfsr_state": dict(state=(1 << 32) - 1),
        "state_ref": dict(ref=15), "trace_pre": dict(x=255), "trace_post": dict(y=255),
        "accumulator": dict(a_in=-(1 << 15)),
    }
    for name, values in extremes.items():
        lay = regions[name].layout
        back = lay.unpack(lay.pack(**{k: [v] for k, v in values.items()}))
        assert {k: int(v[0]) for k, v in back.items()} == values, name
    # u holds +2**23 (the wrap keeps it) and -(2**23 - 1); v holds +-(2**23 - 1)
    u = regions["state_u"].layout
    assert u.unpack(u.pack(u=[1 << 23, -(1 << 23) + 1]))["u"].tolist() == [1 << 23, -(1 << 23) + 1]
    v = regions["state_v"].layout
    assert v.unpack(v.pack(v=[(1 << 23) - 1, -(1 << 23) + 1]))["v"].tolist() == [(1 << 23) - 1, -(1 << 23) + 1]


def test_accumulator_holds_16_bit_signed_input():
    lay = formats.memory_map(CoreConfig())["accumulator"].layout
    values = [-(1 << 15), -1, 0, 1, (1 << 15) - 1]
    assert lay.width == 16 and lay.unpack(lay.pack(a_in=values))["a_in"].tolist() == values


def test_counters_region_packs_64_bit_counts():
    """The counters region (spec §9: count 64, read-only) must pack and unpack counts, small
    ones and the largest 64-bit one."""
    lay = formats.memory_map(CoreConfig())["counters"].layout
    assert lay.width == 64 and formats.COUNTERS == (
        "ticks", "input_events", "spikes", "output_spikes", "synaptic_events", "plastic_updates",
        "overruns", "dropped")
    for values in ([0, 5, 1 << 40], [(1 << 63) - 1], [(1 << 64) - 1]):
        words = lay.pack(count=values)
        assert [int(w) for w in words] == values
        assert [int(c) for c in lay.unpack(words)["count"].astype(np.uint64)] == values


# --- CoreConfig -----------------------------------------------------------------------------------

COUNT_FIELDS = ["n_neurons", "n_inputs", "n_synapses", "n_segments", "n_reverse", "n_profiles",
                "n_projections", "max_delay"]


@pytest.mark.parametrize("field", COUNT_FIELDS)
@pytest.mark.parametrize("value", [0, -3, 2.0, True, "4", None])
def test_config_counts_must_be_positive_integers(field, value):
    with pytest.raises(ConfigError, match=rf"core configuration: {field} = {value!r} must be an integer >= 1"):
        CoreConfig(**{field: value})


def test_config_limits():
    for bits in (0, 1, 9, 16):
        with pytest.raises(ConfigError, match=rf"weight_bits = {bits} is outside \[2, 8\]"):
            CoreConfig(weight_bits=bits)
    for field in ("n_profiles", "n_projections"):
        with pytest.raises(ConfigError, match="n_profiles and n_projections are at most 256"):
            CoreConfig(**{field: 257})
        CoreConfig(**{field: 256})
    with pytest.raises(ConfigError, match="max_delay = 65 exceeds 64"):
        CoreConfig(max_delay=65)
    CoreConfig(max_delay=64)
    with pytest.raises(ConfigError, match="layout reverse is 75 bits wide; words are at most 64 bits"):
        CoreConfig(n_synapses=1 << 40, n_inputs=(1 << 30) + 1)


def test_config_derived_values_and_dict_round_trip():
    for c in CONFIGS:
        assert c.n_sources == c.n_inputs + c.n_neurons
        assert c.target_bits == 16 - c.weight_bits and c.window_size == 1 << c.target_bits
        assert CoreConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ConfigError, match=r"unknown fields \['n_cores'\]"):
        CoreConfig.from_dict({**CoreConfig().to_dict(), "n_cores": 2})
    with pytest.raises(Exception):
        CoreConfig().n_neurons = 5      # frozen


def test_config_refuses_non_integers_and_non_mappings():
    """Every field of a configuration is an integer; from_dict takes a dict (issue 12)."""
    for value in ("8", 8.0, None, True):
        with pytest.raises(ConfigError, match=rf"weight_bits = {value!r} must be an integer in \[2, 8\]"):
            CoreConfig(weight_bits=value)
    for data in ([8, 4], "n_neurons", None, 3):
        with pytest.raises(ConfigError, match=f"a dict of fields, not a {type(data).__name__}"):
            CoreConfig.from_dict(data)
    with pytest.raises(ConfigError, match=r"unknown fields \['1', 'x'\]; known: \['max_delay'"):
        CoreConfig.from_dict({1: 2, "x": 3})
