"""Image files: save/load round trip, and refusal (ImageError, with a message saying why) of
truncated, corrupt, foreign, other-version, trailing-byte files, of headers that are corrupt
with a valid CRC, and of tables inconsistent with their configuration (valid CRC)."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- every header field bounded before anything is allocated (issue 12, finding 5) -------------


def _peak_bytes(action) -> int:
    """Peak of Python and numpy allocations while `action` runs (numpy reports to tracemalloc)."""
    import tracemalloc
    tracemalloc.start()
    try:
        action()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("field,value,limit", [
    ("n_inputs", 10**8, 32768), ("n_inputs", 32769, 32768), ("n_neurons", 10**8, 65536),
    ("n_neurons", 65537, 65536), ("n_synapses", 2**40, 2**32 - 1), ("n_segments", 2**32, 2**32 - 1),
    ("n_reverse", 10**12, 2**32 - 1),
])
def test_configuration_beyond_what_an_image_may_describe_is_refused_without_allocating(field, value, limit):
    data = _header(lambda h: h["config"].__setitem__(field, value))
    peak = _peak_bytes(lambda: refused(data, f"config {field} = {value}", f"exceeds {limit}"))
    assert peak < 1 << 20, peak


def test_largest_configuration_an_image_may_describe_loads():
    """The limits are inclusive: 32,768 input axons and 65,536 neurons round-trip."""
    net = Network("edge")
    net.connect(net.inputs("i", 1), net.population("p", 1), AllToAll(), weight=1)
    config = CoreConfig(n_inputs=32768, n_neurons=65536)
    image = compile_network(net, config)
    assert Image.from_bytes(image.to_bytes()).config == config
    with pytest.raises(ImageError, match="config n_inputs = 32769 exceeds 32768"):
        compile_network(net, CoreConfig(n_inputs=32769)).to_bytes()


def test_lengths_are_checked_against_the_file_size_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.axi"
    magic, version, reserved, hlen, plen, crc = FIXED.unpack_from(DATA)
    path.write_bytes(FIXED.pack(magic, version, reserved, 2**32 - 1, 2**63, crc) + DATA[FIXED.size:])
    peak = _peak_bytes(lambda: pytest.raises(ImageError, Image.load, path))
    assert peak < 1 << 20, peak
    with pytest.raises(ImageError, match=rf"truncated: {len(DATA)} bytes, the header announces {28 + 2**32 - 1 + 2**63}"):
        Image.load(path)


@pytest.mark.parametrize("name,modify,fragment", [
    ("unknown table", lambda h: h["tables"].__setitem__("bogus", 0), "unknown table 'bogus'"),
    ("state region as a table", lambda h: h["tables"].__setitem__("state_u", 0), "unknown table 'state_u'"),
    ("count past the depth", lambda h: h["tables"].update(profile=10**12), "table profile has 1000000000000 words; the core holds 16"),
    ("unknown header key", lambda h: h.__setitem__("extra", 1), "exactly the keys"),
    ("config field missing", lambda h: h["config"].pop("n_segments"), "exactly the fields"),
    ("config field a string", lambda h: h["config"].__setitem__("weight_bits", "8"), "weight_bits = '8' is not an integer"),
    ("config field a bool", lambda h: h["config"].__setitem__("max_delay", True), "max_delay = True"),
    ("config field a float", lambda h: h["config"].__setitem__("n_neurons", 8.0), "n_neurons = 8.0"),
])
def test_header_fields_are_bounded(name, modify, fragment):
    refused(_header(modify), fragment)


def _symbols(modify):
    return _header(lambda h: modify(h["symbols"]))


@pytest.mark.parametrize("name,modify,fragment", [
    ("symbols not an object", lambda h: h.__setitem__("symbols", [1]), "'symbols' must be objects"),
    ("inputs not a list", lambda s: s.__setitem__("inputs", {"a": 3}), "symbols.inputs is a dict"),
    ("group without first", lambda s: s["inputs"][0].pop("first"), "symbols.inputs[0] has no 'first'"),
    ("group size a string", lambda s: s["populations"][0].__setitem__("size", "4"), "size = '4' is not a int"),
    ("group a list", lambda s: s["populations"].__setitem__(0, ["p", 0, 4]), "symbols.populations[0] is a list"),
    ("input group past n_inputs", lambda s: s["inputs"][0].__setitem__("size", 99998), "leaves the core's 4 input axons"),
    ("population past n_neurons", lambda s: s["populations"][0].__setitem__("first", 6), "leaves the core's 8 neurons"),
    ("negative first", lambda s: s["populations"][0].__setitem__("first", -1), "first -1"),
    ("empty group", lambda s: s["inputs"][0].__setitem__("size", 0), "size 0"),
    ("name used twice", lambda s: s["populations"].append({"name": "a", "first": 4, "size": 1}), "'a' is used twice"),
    ("groups overlap", lambda s: s["populations"].append({"name": "q", "first": 3, "size": 2}), "'p' and 'q' overlap"),
    ("projection without pre", lambda s: s["projections"][0].pop("pre"), "has no 'pre'"),
    ("projection pre unknown", lambda s: s["projections"][0].__setitem__("pre", "zz"), "pre 'zz' is no input group"),
    ("projection post an input group", lambda s: s["projections"][0].__setitem__("post", "a"), "post 'a' is no population"),
    ("projection index past the table", lambda s: s["projections"][1].__setitem__("index", 2), "index 2 is outside the projection table"),
    ("projection index used twice", lambda s: s["projections"][1].__setitem__("index", 0), "used twice"),
    ("projection name used twice", lambda s: s["projections"][1].__setitem__("name", "ff"), "used twice"),
    ("plastic a string", lambda s: s["projections"][0].__setitem__("plastic", "yes"), "plastic = 'yes' is not a bool"),
    ("plastic disagrees with the table", lambda s: s["projections"][1].__setitem__("plastic", True), "the projection table says False"),
    ("synapse count disagrees", lambda s: s["projections"][0].__setitem__("synapses", 13), "13 synapses, the tables hold 12"),
    ("network not a string", lambda s: s.__setitem__("network", 7), "symbols.network = 7"),
    ("usage not counts", lambda s: s.__setitem__("usage", {"neurons": -1}), "symbols.usage"),
])
def test_symbols_are_validated(name, modify, fragment):
    data = _header(modify) if name == "symbols not an object" else _symbols(modify)
    refused(data, fragment)


def test_lookups_raise_symbol_error():
    """Names and indices an image does not have: SymbolError (still a KeyError / IndexError)."""
    from firmware.errors import SymbolError
    for call, fragment in ((lambda: IMAGE.neuron_ids("nope"), "no input group or population named 'nope'"),
                           (lambda: IMAGE.input_ids("p"), "'p' is not an input group"),
                           (lambda: IMAGE.neuron_ids("a"), "'a' is not a population"),
                           (lambda: IMAGE.input_ids("a", [3]), "index 3 is outside [0, 2]"),
                           (lambda: IMAGE.neuron_ids("p", [-1]), "index -1 is outside [0, 3]"),
                           (lambda: IMAGE.neuron_ids("p", [1.5]), "indices must be integers"),
                           (lambda: IMAGE.projection("nope"), "no projection named 'nope'; it has ['ff', 'rec']")):
        with pytest.raises(SymbolError) as info:
            call()
        assert fragment in str(info.value)
        assert isinstance(info.value, KeyError) and isinstance(info.value, IndexError)
    assert IMAGE.neuron_ids("p", [3, 0]).tolist() == [3, 0] and IMAGE.input_ids("a", []).tolist() == []


def test_load_refuses_what_is_not_a_readable_file(tmp_path):
    with pytest.raises(ImageError, match="is a directory"):
        Image.load(tmp_path)
    with pytest.raises(ImageError, match="no such file"):
        Image.load(tmp_path / "missing.axi")


def test_load_refuses_what_is_no_path(tmp_path):
    """Found by tests/properties/test_firmware_image.py: open() took an int as a file
    descriptor (reading it, then closing it: here a file this test holds open), and a path with
    a NUL byte raised ValueError."""
    path = tmp_path / "image.axi"
    IMAGE.save(path)
    with open(path, "rb") as held:
        with pytest.raises(ImageError, match=rf"image path {held.fileno()}: a path is a str, bytes or os.PathLike, not a int"):
            Image.load(held.fileno())
        assert held.read(8) == b"AXONIMG\0"          # still open
    for bad in (None, 2.5, ["a.axi"]):
        with pytest.raises(ImageError, match="a path is a str, bytes or os.PathLike"):
            Image.load(bad)
    with pytest.raises(ImageError, match=r"'a\\x00b.axi': not a usable path"):
        Image.load("a\0b.axi")
    with pytest.raises(ImageError, match="^'': no such file$"):
        Image.load("")
    with pytest.raises(ImageError, match=r"^'\\r': no such file$"):     # shown, not a blank
        Image.load("\r")
    assert Image.load(bytes(path)).to_bytes() == IMAGE.to_bytes()


def test_image_constructor_checks_its_arguments():
    tables = dict(IMAGE.tables)
    with pytest.raises(ImageError, match="unknown table 'state_u'"):
        Image(IMAGE.config, {**tables, "state_u": np.zeros(1, np.uint64)})
    with pytest.raises(ImageError, match="non-negative integer words"):
        Image(IMAGE.config, {**tables, "stdp": [-1]})
    with pytest.raises(ImageError, match="non-negative integer words"):
        Image(IMAGE.config, {**tables, "stdp": ["x"]})
    with pytest.raises(ImageError, match="not a CoreConfig"):
        Image(IMAGE.config.to_dict(), tables)
    with pytest.raises(ImageError, match="symbols.populations"):
        Image(IMAGE.config, tables, {"populations": [{"name": "p", "first": 7, "size": 4}]})


# --- fuzzing: mutated files with a re-fixed CRC raise ImageError and nothing else --------------


def _refix(data: bytes) -> bytes:
    """The file with its CRC recomputed, so that a mutation reaches the header parser."""
    return data[:24] + struct.pack("<I", zlib.crc32(data[FIXED.size:])) + data[FIXED.size:]


def _loads_or_refuses(data: bytes) -> None:
    """ImageError, or an image whose every lookup by its own symbols answers."""
    try:
        image = Image.from_bytes(data)
    except ImageError:
        return
    model = GoldenModel(image)
    for kind, lookup in (("inputs", image.input_ids), ("populations", image.neuron_ids)):
        for g in image.symbols.get(kind, []):
            assert lookup(g["name"]).size == g["size"]
    for p in image.symbols.get("projections", []):
        pre, post, w = model.projection_weights(p["name"])
        assert pre.size == post.size == w.size == p["synapses"]
    assert Image.from_bytes(image.to_bytes()).to_bytes() == image.to_bytes()


_HEADER_LEN = FIXED.unpack_from(DATA)[3]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(FIXED.size, len(DATA) - 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_fuzz_bytes(mutations):
    data = bytearray(DATA)
    for at, value in mutations:
        data[at] = value
    _loads_or_refuses(_refix(bytes(data)))


_json = st.integers(-3, 40) | st.sampled_from([
    None, True, False, 2**32, 10**8, 65536, -2**70, 1.5, float("nan"), "", "a", "p", "ff", "rec",
    "bogus", "state_u", [], [1], ["p", 0, 4], {}, {"name": "a"}, {"name": "x", "first": 0, "size": 1},
    {"name": "x", "index": 1, "pre": "a", "post": "p", "plastic": False, "synapses": 2}])


def _paths(value, at=()):
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, at + (key,))
    elif isinstance(value, list):
        for k, item in enumerate(value):
            yield from _paths(item, at + (k,))


_HEADER_PATHS = list(_paths(split(DATA)[0]))[1:]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(_HEADER_PATHS), _json, st.booleans()), min_size=1, max_size=3))
def test_fuzz_header_values(edits):
    """Replace (or delete) values anywhere in the JSON header; the payload stays valid."""
    header, payload = split(DATA)
    for path, value, delete in edits:
        node = header
        try:
            for key in path[:-1]:
                node = node[key]
            if delete and isinstance(node, dict):
                node.pop(path[-1], None)
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue      # an earlier edit removed the path
    _loads_or_refuses(rebuild(json.dumps(header).encode(), payload))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, (len(DATA) - FIXED.size - _HEADER_LEN) // 8 - 1),
                          st.integers(0, 2**64 - 1)), min_size=1, max_size=3))
def test_fuzz_payload_words(words):
    data = bytearray(DATA)
    for k, value in words:
        at = FIXED.size + _HEADER_LEN + 8 * k
        data[at:at + 8] = struct.pack("<Q", value >> int(np.random.default_rng(value).integers(0, 64)))
    _loads_or_refuses(_refix(bytes(data)))
