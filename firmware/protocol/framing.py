"""The frame codec: header, CRC-16/CCITT-FALSE, COBS, and the streaming decoder.

    COBS( header | payload | crc ) 0x00

firmware/protocol/__init__.py describes the frame; the payloads are in payloads.py.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

from .codes import ErrorCode, op_name

PROTOCOL_VERSION = 1
DELIMITER = 0x00

HEADER = struct.Struct("<BBBH")          # version, seq, opcode, payload length
HEADER_SIZE = HEADER.size                # 5
CRC_SIZE = 2
MAX_PAYLOAD = 2048                       # bytes; a device needs one frame buffer of this size
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE              # decoded frame, 2055 bytes
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
