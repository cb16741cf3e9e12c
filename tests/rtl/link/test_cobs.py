# amaranth: UnusedElaboratable=no
"""rtl.link.cobs against firmware.protocol's COBS (cobs_encode / cobs_decode), Amaranth simulator.

Every run has random idle cycles on the input and random backpressure on the output unless a
test says otherwise.
"""

import re
import zlib

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Elaboratable, Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from firmware import protocol
from rtl.link.cobs import MAX_BLOCK, COBSDecoder, COBSEncoder


def simulate(dut, testbench):
    sim = Simulator(dut)
    sim.add_clock(1e-7)
    sim.add_testbench(testbench)
    sim.run()


def encoded(frames):
    return b"".join(protocol.cobs_encode(frame) + b"\0" for frame in frames)


def sample_frames(rng):
    """Frames around every block boundary, all-zero frames, empty frames, random ones."""
    def nonzero(n):
        return rng.integers(1, 256, size=n, dtype=np.uint8).tobytes()

    frames = [b"", b"\0", b"\0\0", b"\x01", b"\xff", bytes(300)]
    for n in (MAX_BLOCK - 1, MAX_BLOCK, MAX_BLOCK + 1, 2 * MAX_BLOCK, 2 * MAX_BLOCK + 1, 700,
              protocol.MAX_FRAME):
        frames += [nonzero(n), nonzero(n) + b"\0", b"\0" + nonzero(n), nonzero(n) + b"\0\0" + nonzero(3)]
    for _ in range(60):
        n = int(rng.integers(0, 400))
        zeros = rng.random() ** 3                         # mostly few zeros, sometimes many
        frame = np.where(rng.random(n) < zeros, 0, rng.integers(1, 256, size=n)).astype(np.uint8)
        frames.append(frame.tobytes())
    frames.append(protocol.cobs_decode(protocol.encode_frame(protocol.Op.READ, 7, bytes(range(256)))[:-1]))
    order = rng.permutation(len(frames))
    return [frames[k] for k in order]


# --- decoder ------------------------------------------------------------------------------------


def run_decoder(stream, rng, idle=0.2, stall=0.3):
    """Feed `stream` (bytes) to a COBSDecoder; return its output as a list of frames
    (decoded bytes, error). Also checks that i.ready is 1 whenever o.ready is."""
    dut = COBSDecoder()
    frames, current = [], bytearray()

    async def testbench(ctx):
        at = 0
        while at < len(stream):
            feeding = rng.random() >= idle
            ctx.set(dut.i.valid, int(feeding))
            ctx.set(dut.i.payload, stream[at] if feeding else int(rng.integers(256)))
            ready = rng.random() >= stall
            ctx.set(dut.o.ready, int(ready))
            if ready:
                assert ctx.get(dut.i.ready)
            if ctx.get(dut.o.valid) and ready:
                beat = ctx.get(dut.o.payload)
                if beat.last:
                    frames.append((bytes(current), bool(beat.error)))
                    current.clear()
                else:
                    current.extend([beat.data])
            if feeding and ctx.get(dut.i.ready):
                at += 1
            await ctx.tick()
        assert not current

    simulate(dut, testbench)
    return frames


def reference_decode(stream):
    """What the decoder must deliver: per 0x00-terminated non-empty part, cobs_decode of it
    (None if invalid) and whether it is invalid. A part with no 0x00 after it gives nothing."""
    out = []
    for part in stream.split(b"\0")[:-1]:
        if part:
            try:
                out.append((protocol.cobs_decode(part), False))
            except protocol.CobsError:
                out.append((None, True))
    return out


def check_decoded(got, want):
    assert len(got) == len(want), f"{len(got)} frames out, {len(want)} expected"
    for k, ((data, error), (want_data, want_error)) in enumerate(zip(got, want)):
        assert error == want_error, f"frame {k}: error {error}, expected {want_error}"
        if not want_error:
            assert data == want_data, f"frame {k}: {len(data)} bytes out, {len(want_data)} expected"


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


def test_decoder_frames(rng):
    frames = sample_frames(rng)
    stream = b"\0\0" + encoded(frames[:20]) + b"\0" + encoded(frames[20:]) + b"\0\0\0"
    got = run_decoder(stream, rng)
    assert got == [(frame, False) for frame in frames]


def test_decoder_full_speed(rng):
    """No idle input, no backpressure: one byte per cycle, never stalls."""
    frames = sample_frames(rng)[:30]
    got = run_decoder(encoded(frames), rng, idle=0, stall=0)
    assert got == [(frame, False) for frame in frames]


def test_decoder_invalid_frames(rng):
    """Blocks that run past the 0x00 are errors; the next frame decodes."""
    cases = {b"\x02": None, b"\x03\x11": None, b"\xff" + bytes(range(1, 200)): None,
             b"\x01\x05\x01": None, b"\x02\x11\xff\x01": None,
             b"\x01": b"", b"\x01\x02\x05": b"\x00\x05", b"\x01\x01": b"\x00"}
    stream = b""
    for case in cases:
        stream += case + b"\0" + encoded([b"ok\0k"])
    got = run_decoder(stream, rng)
    want = reference_decode(stream)
    assert want == [item for data in cases.values() for item in ((data, data is None), (b"ok\0k", False))]
    check_decoded(got, want)
    assert got[-1] == (b"ok\0k", False)


def test_decoder_garbage_then_valid_frame(rng):
    """1,000 random garbage prefixes (0 to 40 random bytes, code-like bytes and 0x00 among
    them), each followed by 0x00 and a valid frame, all in one stream: the decoder's output
    equals the reference for every part, and every valid frame comes out exactly."""
    stream, valid = bytearray(), []          # valid: (index among the output frames, frame)
    frames_before = 0
    for _ in range(1000):
        n = int(rng.integers(0, 41))
        kind = rng.random(n)
        garbage = np.where(kind < 0.1, 0, np.where(kind < 0.4, rng.integers(1, 12, size=n),
                                                   rng.integers(0, 256, size=n)))
        garbage = garbage.astype(np.uint8).tobytes() + b"\0"
        frame = rng.integers(0, 256, size=int(rng.integers(0, 30)), dtype=np.uint8).tobytes()
        frames_before += len(reference_decode(garbage))
        valid.append((frames_before, frame))
        frames_before += 1
        stream += garbage + encoded([frame])
    stream = bytes(stream)
    got = run_decoder(stream, rng)
    want = reference_decode(stream)
    assert sum(error for _, error in want) > 300          # the garbage is mostly invalid COBS
    check_decoded(got, want)
    for index, frame in valid:
        assert got[index] == (frame, False)


# --- encoder ------------------------------------------------------------------------------------


def run_encoder(frames, rng, idle=0.2, stall=0.3):
    """Feed `frames` to a COBSEncoder (bytes then an end beat each); return the output bytes
    and the cycles from the first input to the last output."""
    dut = COBSEncoder()
    beats = []
    for frame in frames:
        beats += [(byte, 0) for byte in frame] + [(int(rng.integers(256)), 1)]
    want = encoded(frames)
    out = bytearray()
    cycles = 0

    async def testbench(ctx):
        nonlocal cycles
        at = 0
        while len(out) < len(want):
            feeding = at < len(beats) and rng.random() >= idle
            ctx.set(dut.i.valid, int(feeding))
            if feeding:
                ctx.set(dut.i.payload, {"data": beats[at][0], "last": beats[at][1]})
            ready = rng.random() >= stall
            ctx.set(dut.o.ready, int(ready))
            if ctx.get(dut.o.valid) and ready:
                out.append(ctx.get(dut.o.payload))
            if feeding and ctx.get(dut.i.ready):
                at += 1
            await ctx.tick()
            cycles += 1
            assert cycles < 10 * len(beats) + 100, "the encoder stopped"
        ctx.set(dut.i.valid, 0)
        for _ in range(20):
            await ctx.tick()
            assert not ctx.get(dut.o.valid)

    simulate(dut, testbench)
    return bytes(out), cycles


def test_encoder_frames(rng):
    frames = sample_frames(rng)
    out, _ = run_encoder(frames, rng)
    assert out == encoded(frames)


@pytest.mark.parametrize("kind", ["no zeros", "all zeros", "random"])
def test_encoder_full_speed(kind, rng):
    """No idle input, no backpressure. Blocks of one length (frames without 0x00: 254 bytes;
    all 0x00: 0 bytes) go at one output byte per cycle once the first block is in. Mixed
    lengths are slower: a long block after a short one must be taken in whole before its
    code byte goes out (random bytes: about 0.75 output bytes per cycle)."""
    n = 3000
    if kind == "no zeros":
        frame = rng.integers(1, 256, size=n, dtype=np.uint8).tobytes()
    elif kind == "all zeros":
        frame = bytes(n)
    else:
        frame = rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()
    out, cycles = run_encoder([frame], rng, idle=0, stall=0)
    assert out == encoded([frame])
    if kind == "random":
        assert len(out) / cycles > 0.7, (len(out), cycles)
    else:
        first_block = min(len(protocol.cobs_encode(frame)), MAX_BLOCK + 1)
        assert cycles <= first_block + len(out) + 3, (cycles, len(out))


def test_encoder_empty_frames(rng):
    out, _ = run_encoder([b"", b"", b"\0", b""], rng)
    assert out == b"\x01\0\x01\0\x01\x01\0\x01\0"


def test_encoder_into_decoder(rng):
    """COBSEncoder.o connected to COBSDecoder.i: frames come out as they went in (the two
    beat formats match), with idle input and backpressure at the far end."""

    class Chain(Elaboratable):
        def __init__(self):
            self.encoder, self.decoder = COBSEncoder(), COBSDecoder()

        def elaborate(self, platform):
            m = Module()
            m.submodules.encoder, m.submodules.decoder = self.encoder, self.decoder
            wiring.connect(m, self.encoder.o, self.decoder.i)
            return m

    frames = sample_frames(rng)
    beats = []
    for frame in frames:
        beats += [(byte, 0) for byte in frame] + [(0, 1)]
    dut = Chain()
    source, sink = dut.encoder.i, dut.decoder.o
    got, current = [], bytearray()

    async def testbench(ctx):
        at = 0
        while len(got) < len(frames):
            feeding = at < len(beats) and rng.random() >= 0.1
            ctx.set(source.valid, int(feeding))
            if feeding:
                ctx.set(source.payload, {"data": beats[at][0], "last": beats[at][1]})
            ready = rng.random() >= 0.2
            ctx.set(sink.ready, int(ready))
            if ctx.get(sink.valid) and ready:
                beat = ctx.get(sink.payload)
                if beat.last:
                    got.append((bytes(current), bool(beat.error)))
                    current.clear()
                else:
                    current.append(beat.data)
            if feeding and ctx.get(source.ready):
                at += 1
            await ctx.tick()

    simulate(dut, testbench)
    assert got == [(frame, False) for frame in frames]


# --- Verilog ------------------------------------------------------------------------------------


def test_converts_to_verilog():
    text = verilog.convert(COBSDecoder(), name="cobs_decoder")
    assert re.search(r"^module cobs_decoder\(", text, re.M)
    for port in ("input i__valid", "output i__ready", "input [7:0] i__payload",
                 "output o__valid", "input o__ready", "output [9:0] o__payload"):
        assert port in text, f"no '{port}' in the Verilog"
    text = verilog.convert(COBSEncoder(), name="cobs_encoder")
    assert re.search(r"^module cobs_encoder\(", text, re.M)
    for port in ("input i__valid", "output i__ready", "input [8:0] i__payload",
                 "output o__valid", "input o__ready", "output [7:0] o__payload"):
        assert port in text, f"no '{port}' in the Verilog"
    assert re.search(r"reg \[7:0\] \w+ \[511:0\]", text), "the encoder's buffer is not one 512 x 8 memory"
