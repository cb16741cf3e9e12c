"""The link between a host and an axonite device: the wire format, defined here once.

The host library (host/), the device emulator (sim/device_emulator.py) and the RTL link take
every constant, opcode and payload layout from this module. docs/protocol.md explains it.
Everything is byte-oriented with fixed-size headers, so a small state machine implements it.

Frame on the wire:

    COBS( header | payload | crc ) 0x00

    header  5 bytes, little-endian: version u8, seq u8, opcode u8, length u16 (payload bytes)
    payload 0 .. MAX_PAYLOAD bytes, layout per opcode (below), little-endian
    crc     CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0) of
            header + payload, sent most significant byte first, so that the CRC of
            header + payload + crc is 0 (a receiver may check that residue instead)

COBS (consistent overhead byte stuffing) removes every 0x00 from the frame; 0x00 ends it. An
empty frame (two 0x00 in a row) is ignored: a sender may emit 0x00 before a frame to end any
garbage the receiver holds. `seq` numbers each sender's frames 0, 1, ..., 255, 0, ...;
replies name the command they answer in their payload (ref_seq, ref_opcode).
"""

from __future__ import annotations

import binascii
import enum
import struct
from dataclasses import dataclass

import numpy as np

from . import formats

PROTOCOL_VERSION = 1
DELIMITER = 0x00

HEADER = struct.Struct("<BBBH")          # version, seq, opcode, payload length
HEADER_SIZE = HEADER.size                # 5
CRC_SIZE = 2
MAX_PAYLOAD = 1024                       # bytes; a device needs one frame buffer of this size
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE              # decoded frame, 1031 bytes
MAX_ENCODED = MAX_FRAME + MAX_FRAME // 254 + 1                # COBS-encoded, without the 0x00
SEQ_MODULO = 256
MIN_MAX_PAYLOAD = 64                     # the smallest max_payload a device may announce
# The UART's baud rate (8N1) unless a build says otherwise: every board's bitstream is built for
# it by default (boards.registry), and a host opens a serial port at it by default.
DEFAULT_BAUD = 3_000_000


def max_encoded(max_payload: int = MAX_PAYLOAD) -> int:
    """The longest COBS-encoded frame (without its 0x00) of a device that announces
    `max_payload`: a frame of that payload, encoded. A receiver refuses longer frames as a
    whole (OVERSIZE, detail `max_payload`) before it looks inside them."""
    frame = HEADER_SIZE + max_payload + CRC_SIZE
    return frame + frame // 254 + 1


# --- Opcodes -------------------------------------------------------------------------------


class Op(enum.IntEnum):
    """Opcodes. Host -> device: 0x01 .. 0x7F; device -> host: 0x80 .. 0xFF."""

    # host -> device (each is answered by exactly one reply frame: its *_REPLY, ACK or ERROR)
    HELLO = 0x01        # -> HELLO_REPLY: version, capabilities, credits, core configuration
    WRITE = 0x02        # write words of a region (image upload, weights, state)  -> ACK
    READ = 0x03         # read words of a region                                   -> READ_REPLY
    INPUT = 0x04        # input axons and end-of-tick markers into the input queue -> ACK
    STEP = 0x05         # run N more ticks                                         -> ACK
    FREERUN = 0x06      # run a tick every `period` clock cycles until STOP        -> ACK
    STOP = 0x07         # stop free-run and cancel pending steps                   -> ACK
    COUNTERS = 0x08     # read (and optionally clear) the counters                 -> COUNTERS_REPLY
    SEED = 0x09         # set the live LFSR state                                  -> ACK
    RESET = 0x0A        # state, counters, tick, input queue to zero; LFSR := seed region -> ACK

    # device -> host
    ACK = 0x80
    HELLO_REPLY = 0x81
    READ_REPLY = 0x83
    COUNTERS_REPLY = 0x88
    SPIKES = 0x90       # unsolicited: output spikes stamped with their tick, progress, credits
    REPORT = 0x91       # unsolicited: overflow / overrun / dropped-input reports
    ERROR = 0xEE        # the reply to a bad frame or a refused command


HOST_OPCODES = frozenset(op for op in Op if op < 0x80)
DEVICE_OPCODES = frozenset(op for op in Op if op >= 0x80)


class ErrorCode(enum.IntEnum):
    """ERROR frame codes. `detail` (u32) holds the number named beside each."""

    BAD_CRC = 1          # detail: the CRC computed over the received bytes
    TRUNCATED = 2        # frame shorter than header + CRC; detail: its length
    FRAMING = 3          # invalid COBS (a block runs past the frame's end); detail: encoded length
    VERSION = 4          # header version differs; detail: the receiver's PROTOCOL_VERSION
    UNKNOWN_OPCODE = 5   # detail: the opcode
    OVERSIZE = 6         # frame or announced payload above MAX_PAYLOAD; detail: MAX_PAYLOAD
    BAD_LENGTH = 7       # header length disagrees with the bytes received; detail: bytes received
    BAD_PAYLOAD = 8      # payload size or field wrong for the opcode; detail: expected size
    BAD_REGION = 9       # detail: the number of regions
    OUT_OF_RANGE = 10    # address + count beyond the region; detail: the region's depth
    READ_ONLY = 11       # write to a read-only region (counters); detail: region
    WORD_SIZE = 12       # word_bytes != ceil(width / 8) of the region; detail: the right size
    BUSY = 13            # memory access, SEED or FREERUN while ticks run; detail: pending ticks
    BAD_TABLES = 14      # the tables cannot run (inconsistent pointers); detail: 0
    BAD_ARGUMENT = 15    # e.g. seed 0; detail: the limit
    BAD_VALUE = 16       # a word wider than its region; detail: the region's width in bits


ERROR_TEXT = {
    ErrorCode.BAD_CRC: "frame failed its CRC check (noise on the line or a wrong baud rate)",
    ErrorCode.TRUNCATED: "frame too short to hold a header and a CRC",
    ErrorCode.FRAMING: "invalid byte stuffing (COBS); bytes were lost",
    ErrorCode.VERSION: "protocol version mismatch",
    ErrorCode.UNKNOWN_OPCODE: "unknown opcode",
    ErrorCode.OVERSIZE: "frame longer than the maximum payload",
    ErrorCode.BAD_LENGTH: "header length disagrees with the frame",
    ErrorCode.BAD_PAYLOAD: "payload has the wrong size or layout for its opcode",
    ErrorCode.BAD_REGION: "no such memory region",
    ErrorCode.OUT_OF_RANGE: "address range outside the region",
    ErrorCode.READ_ONLY: "region is read-only",
    ErrorCode.WORD_SIZE: "word size differs from the region's",
    ErrorCode.BUSY: "device is running ticks; stop it or wait for the run to end",
    ErrorCode.BAD_TABLES: "the loaded tables are inconsistent and cannot run",
    ErrorCode.BAD_ARGUMENT: "argument out of range",
    ErrorCode.BAD_VALUE: "word wider than its region",
}


class ReportKind(enum.IntEnum):
    """REPORT frame kinds: events the device counted instead of losing them silently."""

    INPUT_OVERFLOW = 1   # an INPUT frame exceeded the free queue: refused whole; count = axons
    OUTPUT_OVERFLOW = 2  # output spikes lost because the output buffer was full; count = spikes
    OVERRUN = 3          # free-run ticks that took longer than their period; count = ticks
    INPUT_DROPPED = 4    # input axons out of range or not ascending within a tick; count = axons


class Capability(enum.IntFlag):
    STDP = 1             # on-chip plasticity
    FREERUN = 2          # FREERUN / STOP
    BITMAP_SPIKES = 4    # the device may send bitmap spike records (a host must accept both)
    COUNTER_CLEAR = 8    # COUNTERS with flag CLEAR


class DeviceKind(enum.IntEnum):
    EMULATOR = 0         # sim/device_emulator.py
    FPGA = 1


class Status(enum.IntEnum):
    IDLE = 0
    STEPPING = 1
    FREERUN = 2


# --- Payload layouts (little-endian) -------------------------------------------------------

# Every reply (ACK, HELLO_REPLY, READ_REPLY, COUNTERS_REPLY, ERROR) begins with the seq and
# opcode of the command it answers, so a host matches replies to commands by seq.
REPLY = struct.Struct("<BB")             # ref_seq, ref_opcode

# HELLO: empty. HELLO_REPLY (64 bytes):
HELLO_REPLY = struct.Struct("<BBBBHHBBH" "IIIII" "IIIIIHHBB" "BBI")
HELLO_FIELDS = (
    "ref_seq", "ref_opcode",
    "version", "device_kind", "capabilities", "max_payload", "window", "status", "reserved",
    "input_depth",   # credits: input-queue entries (u16 wire entries) the device holds
    "clock_hz",      # the core clock; FREERUN periods are in its cycles
    "tick",          # the device's current tick (ticks completed since reset)
    "consumed",      # input-queue entries consumed since power-on, modulo 2**32
    "queued",        # entries in the input queue now
    "n_neurons", "n_inputs", "n_synapses", "n_segments", "n_reverse", "n_profiles",
    "n_projections", "weight_bits", "max_delay",
    "n_regions", "n_counters", "build",
)
CONFIG_FIELDS = ("n_neurons", "n_inputs", "n_synapses", "n_segments", "n_reverse", "n_profiles",
                 "n_projections", "weight_bits", "max_delay")
# The largest value of each HELLO_REPLY field (a device's options and configuration must fit).
HELLO_MAX = {name: (1 << 8 * struct.calcsize(code)) - 1
             for name, code in zip(HELLO_FIELDS, HELLO_REPLY.format.lstrip("<"))}
MAX_DEPTH = HELLO_MAX["n_synapses"]        # n_synapses, n_segments, n_reverse: u32 in HELLO and in addresses

# WRITE: REGION_ACCESS + count * word_bytes bytes of words. READ: REGION_ACCESS.
# READ_REPLY: REPLY + REGION_ACCESS (as requested) + the words.
# Words are ceil(width / 8) bytes, little-endian, the raw bits of the region's word layout.
REGION_ACCESS = struct.Struct("<BBIH")   # region, word_bytes, address, count

# INPUT: a sequence of u16 entries (the input queue holds exactly these entries):
#   bit 15 = 0: input axon number (bits 14..0), ascending within a tick
#   bit 15 = 1: end of the current tick, then (bits 14..0) = k further empty ticks
INPUT_ENTRY = struct.Struct("<H")
TICK_END = 0x8000
MAX_AXON = 0x7FFF
MAX_EMPTY_REPEAT = 0x7FFF

STEP = struct.Struct("<I")               # ticks
FREERUN = struct.Struct("<I")            # period in core clock cycles (0: as fast as it can)
COUNTERS_REQUEST = struct.Struct("<B")   # flags: bit 0 = clear after reading
COUNTERS_CLEAR = 1
COUNTERS_REPLY = struct.Struct("<BBBB")  # ref_seq, ref_opcode, n, 0; then n * u64 (formats.COUNTERS order)
COUNTER = struct.Struct("<Q")
SEED = struct.Struct("<I")               # nonzero

ACK = struct.Struct("<BBHII")            # ref_seq, ref_opcode, 0, tick, consumed
SPIKES = struct.Struct("<II")            # tick (ticks completed, all their spikes sent), consumed;
                                         # then records
SPIKE_RECORD = struct.Struct("<IH")      # tick, info: bit 15 = bitmap, bits 14..0 = n
SPIKE_BITMAP = 0x8000
MAX_NEURON = 0xFFFF                      # a list record names a neuron in u16
REPORT = struct.Struct("<BBHII")         # kind, 0, 0, count, tick
ERROR = struct.Struct("<BBBBI")          # ref_seq, ref_opcode, code, ref_valid, detail; then
                                         # optional UTF-8 text (the emulator explains itself).
                                         # The header and this layout never change between versions.

# A device's TCP server (sim.device_emulator, sim.board) serves one host at a time. A connection
# that arrives while another host holds the device gets this one frame, then the server closes
# it: ERROR BUSY with ref_valid 0 (no frame of that host was read), seq 0, detail 0.
BUSY_TEXT = "another client holds the device; this server serves one client at a time"


def busy_refusal() -> bytes:
    """The frame a device's TCP server sends a connection it refuses (docs/protocol.md)."""
    return encode_frame(Op.ERROR, 0, ERROR.pack(0, 0, ErrorCode.BUSY, 0, 0) + BUSY_TEXT.encode())


#   Spike record data: list   n u16 neuron numbers, ascending
#                      bitmap n bytes: bit b of byte j is neuron 8 j + b
#   A sender picks the smaller (list on a tie). Ticks with no output spike have no record.


# --- CRC-16/CCITT-FALSE and COBS -----------------------------------------------------------


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, MSB first, no final xor.
    crc16(b"123456789") == 0x29B1. (binascii.crc_hqx is exactly this update.)"""
    return binascii.crc_hqx(data, crc)


class CobsError(ValueError):
    pass


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    for chunk in bytes(data).split(b"\0"):
        while len(chunk) >= 254:
            out.append(0xFF)
            out += chunk[:254]
            chunk = chunk[254:]
        out.append(len(chunk) + 1)
        out += chunk
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise CobsError("0x00 inside a COBS frame")
        end = i + code
        if end > n:
            raise CobsError(f"COBS block of {code - 1} bytes at offset {i} runs past the frame's "
                            f"end ({n} bytes)")
        out += data[i + 1:end]
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


# --- Frames --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    opcode: int
    seq: int
    payload: bytes = b""
    version: int = PROTOCOL_VERSION

    @property
    def op_name(self) -> str:
        return op_name(self.opcode)


@dataclass(frozen=True)
class BadFrame:
    """A frame the decoder refused. When the header passed the CRC, seq and opcode are known
    (header_valid), so the reply can name the command it refuses."""

    code: ErrorCode
    reason: str
    raw: bytes                # the encoded bytes (at most 64 kept)
    detail: int = 0
    header_valid: bool = False
    seq: int = 0
    opcode: int = 0
    version: int = 0


def op_name(opcode: int) -> str:
    try:
        return Op(opcode).name
    except ValueError:
        return f"opcode {opcode:#04x}"


def encode_frame(opcode: int, seq: int, payload: bytes = b"", version: int = PROTOCOL_VERSION) -> bytes:
    """One frame, COBS-encoded and terminated by 0x00."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"{op_name(opcode)} payload of {len(payload)} bytes exceeds MAX_PAYLOAD "
                         f"= {MAX_PAYLOAD}")
    body = HEADER.pack(version, seq % SEQ_MODULO, opcode, len(payload)) + bytes(payload)
    return cobs_encode(body + crc16(body).to_bytes(2, "big")) + b"\0"


def decode_frame(encoded: bytes, version: int = PROTOCOL_VERSION,
                 max_payload: int = MAX_PAYLOAD) -> Frame | BadFrame:
    """Decode one frame (without its 0x00). Checks, in order: size (at most
    max_encoded(max_payload) bytes; OVERSIZE with detail `max_payload`), COBS, length >= 7, CRC,
    version, header length. Opcode validity is the receiver's business (it knows its direction);
    so is a payload above the receiver's `max_payload` that still fits that size."""
    raw = bytes(encoded[:64])
    limit = max_encoded(max_payload)
    if len(encoded) > limit:
        return BadFrame(ErrorCode.OVERSIZE, f"frame of {len(encoded)} encoded bytes exceeds the "
                        f"maximum {limit} (payload limit {max_payload})", raw, max_payload)
    try:
        body = cobs_decode(encoded)
    except CobsError as error:
        return BadFrame(ErrorCode.FRAMING, str(error), raw, len(encoded))
    if len(body) < HEADER_SIZE + CRC_SIZE:
        return BadFrame(ErrorCode.TRUNCATED, f"frame of {len(body)} bytes is shorter than header "
                        f"+ CRC ({HEADER_SIZE + CRC_SIZE} bytes)", raw, len(body))
    residue = crc16(body)
    if residue != 0:
        got = int.from_bytes(body[-2:], "big")
        want = crc16(body[:-2])
        return BadFrame(ErrorCode.BAD_CRC, f"CRC mismatch: frame carries {got:#06x}, its bytes "
                        f"give {want:#06x}", raw, want)
    ver, seq, opcode, length = HEADER.unpack_from(body)
    known = dict(header_valid=True, seq=seq, opcode=opcode, version=ver)
    if ver != version:
        return BadFrame(ErrorCode.VERSION, f"frame of protocol version {ver}; this end speaks "
                        f"version {version}", raw, version, **known)
    actual = len(body) - HEADER_SIZE - CRC_SIZE
    if length > MAX_PAYLOAD:
        return BadFrame(ErrorCode.OVERSIZE, f"header announces a payload of {length} bytes; the "
                        f"maximum is {MAX_PAYLOAD}", raw, MAX_PAYLOAD, **known)
    if length != actual:
        return BadFrame(ErrorCode.BAD_LENGTH, f"header announces {length} payload bytes, the frame "
                        f"holds {actual}", raw, actual, **known)
    return Frame(opcode, seq, body[HEADER_SIZE:-CRC_SIZE], ver)


class FrameDecoder:
    """Streaming decoder: feed it bytes in any pieces, get frames and bad frames in order.

    It splits the stream at 0x00, so garbage costs at most the frame it lands in: the next
    0x00 resynchronizes and the frame after it decodes. Bytes beyond max_encoded(max_payload)
    (MAX_ENCODED by default) without a 0x00 are discarded (not stored) and reported as one
    OVERSIZE bad frame (detail `max_payload`) at the next 0x00.
    """

    def __init__(self, version: int = PROTOCOL_VERSION, max_payload: int = MAX_PAYLOAD):
        if not MIN_MAX_PAYLOAD <= max_payload <= MAX_PAYLOAD:
            raise ValueError(f"max_payload = {max_payload} must be in [{MIN_MAX_PAYLOAD}, {MAX_PAYLOAD}]")
        self.version, self.max_payload = version, max_payload
        self.max_encoded = max_encoded(max_payload)
        self._buffer = bytearray()
        self._overflow = 0           # bytes discarded from the current (oversize) frame
        self._raw = b""              # the start of that frame, for the report

    def feed(self, data: bytes) -> list[Frame | BadFrame]:
        out = []
        parts = bytes(data).split(b"\0")
        for k, part in enumerate(parts):
            last = k == len(parts) - 1
            if self._overflow:
                self._overflow += len(part)
            else:
                self._buffer += part
                if len(self._buffer) > self.max_encoded:
                    self._overflow = len(self._buffer)
                    self._raw = bytes(self._buffer[:64])
                    self._buffer.clear()
            if last:
                break
            # a delimiter follows `part`: the frame is complete
            if self._overflow:
                out.append(BadFrame(ErrorCode.OVERSIZE, f"{self._overflow} bytes without a frame "
                                    f"delimiter exceed the maximum frame ({self.max_encoded} encoded "
                                    f"bytes, payload limit {self.max_payload})", self._raw,
                                    self.max_payload))
                self._overflow = 0
            elif self._buffer:
                out.append(decode_frame(bytes(self._buffer), self.version, self.max_payload))
            self._buffer.clear()
        return out

    @property
    def pending(self) -> int:
        """Bytes held of an unfinished frame."""
        return len(self._buffer) + self._overflow


# --- Regions and words ---------------------------------------------------------------------


def word_bytes(region: formats.Region) -> int:
    """Bytes per word of a region on the wire: ceil(width / 8)."""
    return -(-region.layout.width // 8)


def region_by_index(config, index: int) -> formats.Region | None:
    for region in formats.memory_map(config).values():
        if region.index == index:
            return region
    return None


def max_words(nbytes: int, max_payload: int = MAX_PAYLOAD) -> int:
    """Words of `nbytes` bytes that one WRITE or READ (its READ_REPLY) may carry."""
    return (max_payload - REPLY.size - REGION_ACCESS.size) // nbytes


def pack_words(words, nbytes: int) -> bytes:
    w = np.asarray(words, dtype=np.uint64).astype("<u8")
    return w.view(np.uint8).reshape(-1, 8)[:, :nbytes].tobytes()


def unpack_words(data: bytes, nbytes: int) -> np.ndarray:
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size % nbytes:
        raise ValueError(f"{raw.size} bytes are not a whole number of {nbytes}-byte words")
    padded = np.zeros((raw.size // nbytes, 8), np.uint8)
    padded[:, :nbytes] = raw.reshape(-1, nbytes)
    return padded.view("<u8").reshape(-1).astype(np.uint64)


# --- Input entries -------------------------------------------------------------------------


def encode_input_entries(entries) -> bytes:
    return np.asarray(entries, dtype="<u2").tobytes()


def decode_input_entries(payload: bytes) -> np.ndarray:
    if len(payload) % 2:
        raise ValueError(f"INPUT payload of {len(payload)} bytes is not a whole number of u16 entries")
    return np.frombuffer(payload, dtype="<u2").astype(np.int64)


# --- Spike records -------------------------------------------------------------------------


def encode_spike_record(tick: int, neurons) -> bytes:
    """One tick's output spikes (ascending neuron numbers) as the smaller of list and bitmap."""
    neurons = np.asarray(neurons, dtype=np.int64)
    if neurons.size == 0:
        return b""
    list_bytes = 2 * neurons.size
    bitmap_bytes = int(neurons.max()) // 8 + 1
    if bitmap_bytes < list_bytes:
        bits = np.zeros(bitmap_bytes * 8, np.uint8)
        bits[neurons] = 1
        data = np.packbits(bits, bitorder="little").tobytes()
        return SPIKE_RECORD.pack(tick, SPIKE_BITMAP | bitmap_bytes) + data
    return SPIKE_RECORD.pack(tick, neurons.size) + neurons.astype("<u2").tobytes()


def spike_record_size(neurons) -> int:
    neurons = np.asarray(neurons)
    if neurons.size == 0:
        return 0
    return SPIKE_RECORD.size + min(2 * neurons.size, int(neurons.max()) // 8 + 1)


def decode_spikes(payload: bytes) -> tuple[int, int, np.ndarray, np.ndarray]:
    """SPIKES payload -> (tick, consumed, times, neurons). Raises ValueError if malformed."""
    if len(payload) < SPIKES.size:
        raise ValueError(f"SPIKES payload of {len(payload)} bytes; at least {SPIKES.size} expected")
    tick, consumed = SPIKES.unpack_from(payload)
    at = SPIKES.size
    times, neurons = [], []
    while at < len(payload):
        if at + SPIKE_RECORD.size > len(payload):
            raise ValueError(f"SPIKES record header at byte {at} runs past the payload")
        t, info = SPIKE_RECORD.unpack_from(payload, at)
        at += SPIKE_RECORD.size
        n = info & 0x7FFF
        if info & SPIKE_BITMAP:
            data = np.frombuffer(payload, np.uint8, count=n, offset=at) if at + n <= len(payload) else None
            at += n
            if data is None:
                raise ValueError("SPIKES bitmap record runs past the payload")
            idx = np.nonzero(np.unpackbits(data, bitorder="little"))[0]
        else:
            if at + 2 * n > len(payload):
                raise ValueError("SPIKES list record runs past the payload")
            idx = np.frombuffer(payload, "<u2", count=n, offset=at).astype(np.int64)
            at += 2 * n
        times.append(np.full(idx.size, t, np.int64))
        neurons.append(idx.astype(np.int64))
    if times:
        return tick, consumed, np.concatenate(times), np.concatenate(neurons)
    return tick, consumed, np.zeros(0, np.int64), np.zeros(0, np.int64)


# --- Credits (docs/protocol.md) ------------------------------------------------------------
#
# The device's input queue holds `input_depth` u16 entries (HELLO_REPLY). The device counts the
# entries it has consumed (removed from the queue as ticks run), modulo 2**32, and reports that
# count in HELLO_REPLY, every ACK and every SPIKES frame. A host that has sent S entries in
# total may send more while S - consumed + new <= input_depth (mod 2**32 arithmetic). An INPUT
# frame that does not fit the free space is refused whole: the device counts its axons in
# `dropped`, sends REPORT INPUT_OVERFLOW, and acknowledges the frame as usual (ACK).
#
# A tick pops its group (axons up to and including the end-of-tick entry) from the queue when
# it starts; a tick that finds the queue empty runs without input. So a host sends a tick's
# whole group before the STEP that runs it, and needs no entry for trailing empty ticks.
#
# The device buffers up to `window` received frames; a host keeps at most `window` commands
# without their reply.


def credits_free(depth: int, sent: int, consumed: int) -> int:
    return depth - ((sent - consumed) % (1 << 32))
