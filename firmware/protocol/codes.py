"""The link's numbers: opcodes, error codes, report kinds, capabilities, device kinds and
status (docs/protocol.md)."""

from __future__ import annotations

import enum


class Op(enum.IntEnum):
    """Opcodes. Host -> device: 0x01 .. 0x7F; device -> host: 0x80 .. 0xFF. Numbers are
    appended, never changed (a device of an older version answers a newer one UNKNOWN_OPCODE)."""

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
    SELECT_CORE = 0x0B  # a device of K > 1 cores: the core READ, WRITE, COUNTERS, SEED reach -> ACK

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
    """ERROR frame codes. `detail` (u32) holds the number named beside each. Appended, never
    renumbered."""

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
    BAD_CORE = 17        # SELECT_CORE of a core the device has not; detail: the device's cores


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
    ErrorCode.BAD_CORE: "no such core on this device",
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


# What every axonite device (the emulator and the gateware) announces in HELLO_REPLY.
CAPABILITIES = Capability.STDP | Capability.FREERUN | Capability.BITMAP_SPIKES | Capability.COUNTER_CLEAR


class DeviceKind(enum.IntEnum):
    EMULATOR = 0         # sim/emulator.py
    FPGA = 1


class Status(enum.IntEnum):
    IDLE = 0
    STEPPING = 1
    FREERUN = 2


def op_name(opcode: int) -> str:
    try:
        return Op(opcode).name
    except ValueError:
        return f"opcode {opcode:#04x}"
