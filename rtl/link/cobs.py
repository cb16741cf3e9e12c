"""COBS framing of the host link (firmware.protocol.cobs_encode / cobs_decode), byte streams.

Frames on the decoded side are streams of beats `{data, last}`: one beat per byte with
last = 0, then one *end beat* with last = 1 whose `data` means nothing. So a frame of n
bytes is n + 1 beats, and a frame of 0 bytes is just its end beat (the COBS block "01" on
the wire). The decoder's output beats carry `error` as well, meaningful on end beats.
The decoder's output can feed the encoder's input directly.

Streams follow amaranth.lib.stream: a beat moves in a cycle where valid and ready are both 1;
valid never depends on ready.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from firmware import protocol

from ..lib.memory import SimpleMemory

# COBS removes the byte 0x00 and nothing else; a code byte counts a block of at most 254
# bytes plus itself, so it is never 0x00 either.
assert protocol.DELIMITER == 0x00
MAX_BLOCK = 0xFF - 1                      # data bytes of the longest block (code 0xFF)

FRAME_BEAT = data.StructLayout({"data": 8, "last": 1})
DECODED_BEAT = data.StructLayout({"data": 8, "last": 1, "error": 1})


class COBSDecoder(wiring.Component):
    """COBS bytes in, decoded frames out (beats {data, last, error}).

    Ports:
      i: In(stream.Signature(8))             the bytes from the line, 0x00 ends a frame.
      o: Out(stream.Signature(DECODED_BEAT)) per frame: its decoded bytes (last = 0), then an
                                             end beat (last = 1) with error = 1 if the COBS
                                             was invalid (a block runs past the 0x00).

    Each input byte gives at most one output beat in the same cycle (combinational path
    i -> o, registers only for the block state): a code byte gives the 0x00 that ends the
    previous block (none after a 0xFF block or at a frame's start), a data byte itself,
    a 0x00 the end beat. Empty frames (0x00 right after 0x00, or at reset) give nothing.
    i.ready = o.ready, or 1 for a byte that gives no beat; so with o.ready tied to 1 the
    decoder always takes its input (it can sit right behind UARTRx).

    On a valid frame the data beats equal protocol.cobs_decode of its bytes and error is 0.
    On an invalid one the data beats are the block contents up to the 0x00 (discard them);
    error is 1 exactly when protocol.cobs_decode raises. Every 0x00 resets the block state,
    so garbage costs at most the frame it lands in. The decoder does not count lengths:
    MAX_ENCODED / MAX_FRAME checks belong to the frame receiver behind it.
    """

    def __init__(self):
        super().__init__({
            "i": In(stream.Signature(8)),
            "o": Out(stream.Signature(DECODED_BEAT)),
        })

    def elaborate(self, platform):
        m = Module()
        byte = self.i.payload
        remaining = Signal(8)       # data bytes left in the current block; 0: next is a code
        in_frame = Signal()         # a byte other than 0x00 came since the last 0x00
        implied_zero = Signal()     # the current block's code was not 0xFF

        is_delimiter = byte == protocol.DELIMITER
        is_code = ~is_delimiter & (remaining == 0)
        emits = Signal()
        m.d.comb += [
            emits.eq(Mux(is_delimiter, in_frame, ~is_code | (in_frame & implied_zero))),
            self.o.valid.eq(self.i.valid & emits),
            self.o.payload.data.eq(Mux(is_code, 0, byte)),
            self.o.payload.last.eq(is_delimiter),
            self.o.payload.error.eq(is_delimiter & (remaining != 0)),
            self.i.ready.eq(self.o.ready | ~emits),
        ]
        with m.If(self.i.valid & self.i.ready):
            with m.If(is_delimiter):
                m.d.sync += [remaining.eq(0), in_frame.eq(0)]
            with m.Elif(is_code):
                m.d.sync += [remaining.eq(byte - 1), in_frame.eq(1), implied_zero.eq(byte != 0xFF)]
            with m.Else():
                m.d.sync += remaining.eq(remaining - 1)
        return m


class COBSEncoder(wiring.Component):
    """Frames in (beats {data, last}), COBS bytes out, each frame followed by 0x00.

    Ports:
      i: In(stream.Signature(FRAME_BEAT))  per frame: its bytes (last = 0), then an end beat
                                           (last = 1, data ignored). An end beat alone is a
                                           frame of 0 bytes: 0x01 0x00.
      o: Out(stream.Signature(8))          protocol.cobs_encode(frame) + b"\\x00", frame
                                           after frame.

    A block's code byte (its length + 1) goes out before its bytes, so each block is held in
    a buffer until it ends: at a 0x00 byte, at the end beat, or at 254 bytes (code 0xFF; as
    in protocol.cobs_encode, a frame that ends right after such a block gets a final 0x01).
    The buffer is one 512 x 8 SimpleMemory (one iCE40 EBR) used as two 256-byte halves: the input
    fills one while the output drains the other (a finished block waits in its half; i.ready
    is 0 while the input's half still waits to be drained). Throughput with no backpressure:
    one output byte per cycle when consecutive blocks have equal lengths (frames without
    0x00: 254-byte blocks; runs of 0x00: empty blocks); a long block after a short one must
    be taken in whole before its code byte can go out, so random bytes go at about 0.75
    output bytes per cycle. (A UART needs one byte per 10 * divisor >= 40 cycles.)
    Latency: a block's code byte goes out 2 cycles after the beat that ends the block when
    the output is free.
    """

    def __init__(self):
        super().__init__({
            "i": In(stream.Signature(FRAME_BEAT)),
            "o": Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        sync, comb = m.d.sync, m.d.comb
        m.submodules.buffer = buffer = SimpleMemory(8, 2 * 256)    # (one EBR as built on an iCE40)
        write, read = buffer.write, buffer.read

        # Per half: a finished block waits in it (full), with its code byte and whether the
        # frame ends after it (so a 0x00 follows its bytes).
        full = [Signal(name=f"full_{h}") for h in range(2)]
        code = [Signal(8, name=f"code_{h}") for h in range(2)]      # block length + 1
        ends_frame = [Signal(name=f"ends_frame_{h}") for h in range(2)]

        # --- input side: fill half `fill` ------------------------------------------------------
        fill = Signal()
        count = Signal(range(MAX_BLOCK + 1))
        beat = self.i.payload
        comb += [
            self.i.ready.eq(~Mux(fill, full[1], full[0])),
            write.addr.eq(Cat(count[:8], fill)),
            write.data.eq(beat.data),
        ]
        close = Signal()
        close_length = Signal.like(count)
        with m.If(self.i.valid & self.i.ready):
            with m.If(beat.last | (beat.data == 0)):
                comb += [close.eq(1), close_length.eq(count)]
            with m.Else():
                comb += write.en.eq(1)
                with m.If(count == MAX_BLOCK - 1):
                    comb += [close.eq(1), close_length.eq(MAX_BLOCK)]
                with m.Else():
                    sync += count.eq(count + 1)
        with m.If(close):
            sync += [count.eq(0), fill.eq(~fill)]
            for h in range(2):
                with m.If(fill == h):
                    sync += [full[h].eq(1), code[h].eq(close_length + 1),
                             ends_frame[h].eq(beat.last)]

        # --- output side: drain half `drain` -----------------------------------------------------
        # The read port's address is the register Cat(at, drain); read.data holds the byte
        # read in the last cycle with read.en: the one to send next. Reads are issued while the
        # code byte waits (at = 0) and whenever a data byte goes (at = its successor).
        drain = Signal()
        at = Signal(8)
        left = Signal(range(MAX_BLOCK + 1))      # bytes still to send after the current one
        comb += [read.addr.eq(Cat(at, drain)), read.en.eq(0)]    # (en's default is 1)
        cur_code = Mux(drain, code[1], code[0])
        cur_ends_frame = Mux(drain, ends_frame[1], ends_frame[0])
        # The other half holds a block, or gets one in this cycle (its bytes are all written
        # already: a closing beat writes at most byte 253, and the next read is byte 0).
        other_ready = Mux(drain, full[0], full[1]) | (close & (fill != drain))

        def finish_block():
            for h in range(2):
                with m.If(drain == h):
                    m.d.sync += full[h].eq(0)
            m.d.sync += [drain.eq(~drain), at.eq(0)]
            with m.If(other_ready):
                m.next = "CODE"
            with m.Else():
                m.next = "IDLE"

        with m.FSM():
            with m.State("IDLE"):
                with m.If(Mux(drain, full[1], full[0])):
                    m.next = "CODE"
            with m.State("CODE"):
                comb += [self.o.valid.eq(1), self.o.payload.eq(cur_code), read.en.eq(1)]
                with m.If(self.o.ready):
                    with m.If(cur_code != 1):
                        sync += [left.eq(cur_code - 2), at.eq(1)]
                        m.next = "DATA"
                    with m.Elif(cur_ends_frame):
                        m.next = "DELIMITER"
                    with m.Else():
                        finish_block()
            with m.State("DATA"):
                comb += [self.o.valid.eq(1), self.o.payload.eq(read.data)]
                with m.If(self.o.ready):
                    comb += read.en.eq(1)
                    sync += [at.eq(at + 1), left.eq(left - 1)]
                    with m.If(left == 0):
                        with m.If(cur_ends_frame):
                            m.next = "DELIMITER"
                        with m.Else():
                            finish_block()
            with m.State("DELIMITER"):
                comb += [self.o.valid.eq(1), self.o.payload.eq(protocol.DELIMITER)]
                with m.If(self.o.ready):
                    finish_block()
        return m
