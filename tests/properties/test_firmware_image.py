"""Image.load under fuzzing (firmware/image.py): files of valid images of random networks,
mutated anywhere (the fixed header, the JSON header, the payload) by substitution, insertion,
deletion, truncation and trailing bytes, with their lengths and CRC left as they are, the CRC
re-fixed, or lengths and CRC re-fixed (so that a mutation reaches the parser behind each check);
random files; and arguments that are no path at all.

Every load gives an image or ImageError saying why; an image that loads runs on the golden
model and on Device("model") with the same spikes, and saves to the same bytes it loaded from
once re-saved. tests/firmware/test_image.py holds the targeted cases and a fuzz of substitutions behind a
re-fixed CRC; this adds the other mutations, whole files and paths.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from firmware import CoreConfig, Image, compile_network
from firmware.image import MAGIC
from host import Device
from sim import GoldenModel
from tests.support.hardening import assert_clean_failure, budget, junk_values, networks

pytestmark = pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning")

FIXED = struct.Struct("<8sHHIQI")     # magic, version, reserved, header length, payload length, crc
CORE = CoreConfig(n_neurons=16, n_inputs=12, n_synapses=256, n_segments=96, n_reverse=256, max_delay=2)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("images")


@st.composite
def image_bytes(draw):
    return compile_network(draw(networks()), CORE, lfsr_seed=draw(st.integers(1, 2**32 - 1))).to_bytes()


def parts(data: bytes) -> dict[str, bytearray]:
    hlen = FIXED.unpack_from(data)[3]
    return {"fixed": bytearray(data[:FIXED.size]), "header": bytearray(data[FIXED.size:FIXED.size + hlen]),
            "payload": bytearray(data[FIXED.size + hlen:])}


mutation = st.tuples(
    st.sampled_from(["payload"] * 4 + ["header"] * 3 + ["fixed"]),
    st.sampled_from(["set", "set", "insert", "delete", "truncate", "append", "keep"]),
    st.integers(0, 2**16), st.binary(min_size=1, max_size=8))


def mutate(part: bytearray, how: str, at: int, data: bytes) -> None:
    at = at % (len(part) + 1)
    if how == "set" and part:
        at = min(at, len(part) - 1)
        part[at:at + len(data)] = data[:len(part) - at]
    elif how == "insert":
        part[at:at] = data
    elif how == "delete":
        del part[at:at + len(data)]
    elif how == "truncate":
        del part[at:]
    elif how == "append":
        part += data


def assemble(p: dict, fix: str) -> bytes:
    """The file: as mutated ("none"), its CRC recomputed ("crc"), or its lengths and CRC ("all")."""
    fixed = bytes(p["fixed"])
    if fix != "none" and len(fixed) == FIXED.size:
        magic, version, reserved, hlen, plen, _ = FIXED.unpack(fixed)
        if fix == "all":
            hlen, plen = len(p["header"]), len(p["payload"])
        fixed = FIXED.pack(magic, version, reserved, hlen, plen, zlib.crc32(bytes(p["header"] + p["payload"])))
    return fixed + bytes(p["header"]) + bytes(p["payload"])


def load(folder, data: bytes, name: str = "fuzzed.axi"):
    path = folder / name
    path.write_bytes(data)
    return path, assert_clean_failure(lambda: Image.load(path), mentions=[str(path)], label="Image.load")


def runs_the_same(image: Image, path) -> None:
    """A loaded image runs on the golden model, and Device("model") loads its file and agrees."""
    rng = np.random.default_rng(0)
    raster = rng.random((6, image.config.n_inputs)) < 0.5
    want = GoldenModel(image).run(6, raster)
    with Device.open("model") as dev:
        dev.load(path)
        got = dev.run(6, raster)
    assert np.array_equal(want.times, got.times) and np.array_equal(want.neurons, got.neurons)


@budget(150)
@given(data=image_bytes(), mutations=st.lists(mutation, min_size=1, max_size=3),
       fix=st.sampled_from(["none", "crc", "all", "all"]))
def test_a_mutated_image_file_loads_or_is_refused(folder, data, mutations, fix):
    p = parts(data)
    for where, how, at, new in mutations:
        mutate(p[where], how, at, new)
    path, outcome = load(folder, assemble(p, fix))
    event("loaded" if outcome.ok else f"refused: {str(outcome.error).split(': ')[1][:24]}")
    if outcome.ok:
        image = outcome.value
        runs_the_same(image, path)
        assert Image.from_bytes(image.to_bytes()).to_bytes() == image.to_bytes()


@budget(60)
@given(data=st.one_of(st.binary(max_size=200),
                      st.binary(max_size=200).map(lambda b: MAGIC + b),
                      st.binary(max_size=200).map(lambda b: FIXED.pack(MAGIC, 1, 0, 2, 0, zlib.crc32(b"{}")) + b"{}" + b)))
def test_a_random_file_is_refused(folder, data):
    _, outcome = load(folder, data)
    assert not outcome.ok


@budget(40)
@given(path=junk_values(allow_arrays=False))
def test_what_is_not_a_path_is_refused(path):
    outcome = assert_clean_failure(lambda: Image.load(path), label="Image.load")
    assert not outcome.ok
