"""Image files: save/load round trip, and refusal (ImageError, with a message saying why) of
truncated, corrupt, foreign, other-version, trailing-byte files, of headers that are corrupt
with a valid CRC, and of tables inconsistent with their configuration (valid CRC)."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from firmware import (AllToAll, CoreConfig, FromList, Image, ImageError, Network, STDPRule,
                      compile_network, formats)
from sim import GoldenModel

FIXED = struct.Struct("<8sHHIQI")     # magic, version, reserved, header length, payload length, crc


def small_image():
    net = Network("img")
    a = net.inputs("a", 3)
    p = net.population("p", 4, vth=[1, 2, 3, 4], bias_mant=[1, -2, 3, 0], refractory=2)
    net.connect(a, p, AllToAll(), weight=[[5, 6, 7, 8]] * 3, stdp=STDPRule(), name="ff")
    net.connect(p, p, FromList([[0, 1, -3, 2], [3, 2, 4, 1]]), weight_exp=2, name="rec")
    net.record(p, [1, 3])
    config = CoreConfig(n_neurons=8, n_inputs=4, n_synapses=64, n_segments=16, n_reverse=32)
    return compile_network(net, config, lfsr_seed=0x1234567)


IMAGE = small_image()
DATA = IMAGE.to_bytes()


def split(data):
    magic, version, reserved, hlen, plen, crc = FIXED.unpack_from(data)
    return json.loads(data[FIXED.size:FIXED.size + hlen]), data[FIXED.size + hlen:]


def rebuild(header: bytes, payload: bytes, version=1, reserved=0) -> bytes:
    """A file with a correct CRC and correct lengths around the given header and payload."""
    return FIXED.pack(b"AXONIMG\0", version, reserved, len(header), len(payload),
                      zlib.crc32(header + payload)) + header + payload


def with_tables(modify) -> bytes:
    """A valid-CRC file whose tables are `modify`d (a dict region -> field arrays, unpacked)."""
    layouts = formats.layouts(IMAGE.config)
    fields = {name: layouts[name].unpack(words) for name, words in IMAGE.tables.items()}
    modify(fields)
    order = [name for name in formats.memory_map(IMAGE.config) if name in fields]
    words = {name: layouts[name].pack(**fields[name]) for name in order}
    header, _ = split(DATA)
    header["tables"] = {name: int(words[name].size) for name in order}
    payload = b"".join(words[name].astype("<u8").tobytes() for name in order)
    return rebuild(json.dumps(header).encode(), payload)


def refused(data, *fragments):
    with pytest.raises(ImageError) as info:
        Image.from_bytes(data)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))
    return str(info.value)


# --- round trip -----------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    path = tmp_path / "net.axon"
    IMAGE.save(path)
    loaded = Image.load(path)
    assert loaded.config == IMAGE.config
    assert loaded.symbols == IMAGE.symbols
    assert set(loaded.tables) == set(IMAGE.tables)
    for name in IMAGE.tables:
        assert loaded.tables[name].dtype == np.uint64
        assert np.array_equal(loaded.tables[name], IMAGE.tables[name]), name
    assert loaded.to_bytes() == DATA
    assert not (tmp_path / "net.axon.tmp").exists()
    # the loaded image runs identically
    raster = np.random.default_rng(0).random((30, 4)) < 0.4
    raster[:, 3] = False
    a, b = GoldenModel(IMAGE), GoldenModel(loaded)
    ra, rb = a.run(30, raster, record_all=True), b.run(30, raster, record_all=True)
    assert np.array_equal(ra.all_spikes, rb.all_spikes) and ra.all_spikes.any()
    assert np.array_equal(a.weights, b.weights) and a.lfsr_state == b.lfsr_state


def test_round_trip_other_configs():
    for config in (CoreConfig(weight_bits=2, max_delay=64, n_neurons=3, n_inputs=1),
                   CoreConfig(weight_bits=5, max_delay=7, n_profiles=256, n_projections=256)):
        net = Network("other")
        inp = net.inputs("i", 1)
        pop = net.population("n", 3, du=[0, 7, 4095])
        net.connect(inp, pop, AllToAll(), weight=1, delay=config.max_delay,
                    weight_exp=16 - config.weight_bits)
        image = compile_network(net, config)
        again = Image.from_bytes(image.to_bytes())
        assert again.config == config and again.symbols == image.symbols
        assert all(np.array_equal(again.tables[k], image.tables[k]) for k in image.tables)


# --- damaged files --------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [0, 1, 7, 8, 15, 27, 28, 29, 100, "header_end", "mid_payload", "minus_one"])
def test_truncated(cut):
    hlen = FIXED.unpack_from(DATA)[3]
    at = {"header_end": FIXED.size + hlen, "mid_payload": (FIXED.size + hlen + len(DATA)) // 2,
          "minus_one": len(DATA) - 1}.get(cut, cut)
    message = refused(DATA[:at], "truncated")
    assert str(at) in message


def test_trailing_bytes():
    for extra in (b"\0", b"x" * 9, DATA):
        assert "trailing bytes" in refused(DATA + extra)


def test_wrong_magic():
    for magic in (b"AXONIMG\1", b"\0" * 8, b"PK\x03\x04....", b"axonimg\0"):
        refused(magic + DATA[8:], "not an axonite image")


def test_wrong_version():
    for version in (0, 2, 0xFFFF):
        data = DATA[:8] + struct.pack("<H", version) + DATA[10:]
        refused(data, f"version {version}", "reads version 1")


def flips_accepted(byte_positions):
    """The (byte, bit) single-bit flips of DATA at those bytes that load without ImageError."""
    accepted = []
    for byte in byte_positions:
        for bit in range(8):
            data = bytearray(DATA)
            data[byte] ^= 1 << bit
            try:
                Image.from_bytes(bytes(data))
            except ImageError:
                continue
            accepted.append((byte, bit))
    return accepted


def test_single_bit_flips_outside_the_reserved_field_are_refused():
    """Every single-bit flip in every byte of the file except the reserved field (bytes 10-11,
    see the next test) is refused."""
    assert flips_accepted(b for b in range(len(DATA)) if b not in (10, 11)) == []


def test_crc_mismatch_is_reported_as_corrupt():
    data = bytearray(DATA)
    data[-3] ^= 0x10
    refused(bytes(data), "checksum mismatch", "corrupt")


def test_reserved_field_bit_flip_is_refused():
    """Bytes 10-11 are 'reserved, 0' (firmware/image.py) and outside the CRC: a flipped bit
    there must not load as if nothing happened."""
    accepted = flips_accepted((10, 11))
    assert accepted == [], f"accepted with a nonzero reserved field: {accepted}"


# --- corrupt headers with a recomputed CRC ------------------------------------------------------


def _header(modify):
    header, payload = split(DATA)
    modify(header)
    return rebuild(json.dumps(header).encode(), payload)


def test_rebuild_helper_makes_a_valid_file():
    header, payload = split(DATA)
    assert rebuild(json.dumps(header, sort_keys=True).encode(), payload) == DATA


@pytest.mark.parametrize("name,blob", [
    ("not json", lambda: rebuild(b"{not json", split(DATA)[1])),
    ("not utf-8", lambda: rebuild(b"\xff\xfe\xfd", split(DATA)[1])),
    ("json list", lambda: rebuild(b"[1, 2, 3]", split(DATA)[1])),
    ("json null", lambda: rebuild(b"null", split(DATA)[1])),
    ("no config", lambda: _header(lambda h: h.pop("config"))),
    ("no tables", lambda: _header(lambda h: h.pop("tables"))),
    ("no symbols", lambda: _header(lambda h: h.pop("symbols"))),
    ("config not a mapping", lambda: _header(lambda h: h.__setitem__("config", [8, 4]))),
    ("config unknown field", lambda: _header(lambda h: h["config"].__setitem__("n_cores", 2))),
    ("config invalid value", lambda: _header(lambda h: h["config"].__setitem__("weight_bits", 9))),
    ("config too small for the tables", lambda: _header(lambda h: h["config"].__setitem__("n_neurons", 2))),
    ("word counts disagree with payload", lambda: _header(lambda h: h["tables"].__setitem__("stdp", 2))),
    ("counts shifted between tables", lambda: _header(lambda h: h["tables"].update(
        profile=h["tables"]["profile"] - 2, neuron=h["tables"]["neuron"] + 2))),
    ("negative count", lambda: _header(lambda h: h["tables"].update(
        profile=-1, neuron=h["tables"]["neuron"] + h["tables"]["profile"] + 1))),
    ("table missing", lambda: _header(lambda h: h["tables"].update(
        lfsr_seed=h["tables"]["lfsr_seed"] + h["tables"].pop("stdp")))),
    ("tables not a mapping", lambda: _header(lambda h: h.__setitem__("tables", list(h["tables"].values())))),
    ("count is a string", lambda: _header(lambda h: h["tables"].__setitem__("stdp", "1"))),
    ("count is a float", lambda: _header(lambda h: h["tables"].__setitem__("stdp", 1.0))),
])
def test_corrupt_header_with_valid_crc(name, blob):
    data = blob()
    assert zlib.crc32(data[FIXED.size:]) == FIXED.unpack_from(data)[5]
    with pytest.raises(ImageError) as info:
        Image.from_bytes(data)
    assert str(info.value).startswith("image:")


# --- tables inconsistent with the configuration (valid CRC) -------------------------------------


def _set(region, field, index, value):
    def modify(tables):
        tables[region][field][index] = value
    return modify


def _drop(*regions):
    def modify(tables):
        for region in regions:
            tables[region] = {k: v[:0] for k, v in tables[region].items()}
    return modify


@pytest.mark.parametrize("name,modify,fragment", [
    ("axon pointer past the segment table", _set("axon", "seg_ptr", 0, 14), "points at segments"),
    ("axon count past the segment table", _set("axon", "seg_count", 1, 15), "points at segments"),
    ("segment pointer past the synapse table", _set("segment", "syn_ptr", 0, 60), "points at synapses"),
    ("segments share a synapse word", _set("segment", "syn_ptr", 1, 0), "share a synapse word"),
    ("synapse target past the neurons", _set("synapse", "target", 0, 9), "targets neuron 9"),
    ("profile index past the profiles", _set("neuron", "profile", 0, 7), "profile 7"),
    ("segment names a missing projection", _set("segment", "projection", 0, 3), "projection 3"),
    ("reverse pointer past its table", _set("reverse_ptr", "rev_ptr", 1, 30), "points at reverse entries"),
    ("reverse entry names an unused synapse", _set("reverse", "synapse", 0, 40), "synapse 40"),
    ("reverse entry with the wrong source", _set("reverse", "source", 0, 2), "disagrees"),
    ("reverse entry of a non-plastic projection", _set("projection", "plastic", 0, 0), "non-plastic"),
    ("plastic synapses without reverse entries", _drop("reverse", "reverse_ptr"), "reverse entries"),
    ("LFSR seed 0", _set("lfsr_seed", "seed", 0, 0), "LFSR seed is 0"),
    ("no profiles", _drop("profile"), "profile table has 0"),
    ("synapse words but no segments", _drop("segment", "axon", "reverse", "reverse_ptr"), ""),
])
def test_tables_inconsistent_with_config(name, modify, fragment):
    refused(with_tables(modify), fragment)


def test_tables_over_depth_or_too_wide():
    header, payload = split(DATA)
    # the profile table repeated past its depth of 16 words
    words = {name: IMAGE.tables[name] for name in IMAGE.tables}
    words["profile"] = np.concatenate([words["profile"]] * 5)
    order = [n for n in formats.memory_map(IMAGE.config) if n in words]
    header["tables"] = {n: int(words[n].size) for n in order}
    data = rebuild(json.dumps(header).encode(), b"".join(words[n].astype("<u8").tobytes() for n in order))
    refused(data, "table profile has 20 words", "holds 16")
    # a word wider than its layout
    words = dict(IMAGE.tables)
    words["stdp"] = words["stdp"] | np.uint64(1 << 63)
    header["tables"] = {n: int(words[n].size) for n in order}
    data = rebuild(json.dumps(header).encode(), b"".join(words[n].astype("<u8").tobytes() for n in order))
    refused(data, "table stdp has a word wider than")


def test_image_constructor_checks():
    tables = dict(IMAGE.tables)
    with pytest.raises(ImageError, match="unknown table 'bogus'"):
        Image(IMAGE.config, {**tables, "bogus": np.zeros(1, np.uint64)})
    with pytest.raises(ImageError, match=r"tables \['stdp'\] are missing"):
        Image(IMAGE.config, {k: v for k, v in tables.items() if k != "stdp"})
    with pytest.raises(ImageError, match="table axon has 13 words; the core holds 12"):
        Image(IMAGE.config, {**tables, "axon": np.zeros(13, np.uint64)})
