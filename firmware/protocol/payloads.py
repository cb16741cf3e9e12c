"""Payload layouts (little-endian), per opcode, and their packers: replies, region access,
input entries, spike records, credits. The frame around them is in framing.py."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from .. import formats
from ..config import CoreConfig
from ..errors import ConfigError
from .codes import Capability, DeviceKind, ErrorCode, Op, Status
from .framing import MAX_PAYLOAD, MIN_MAX_PAYLOAD, encode_frame

# Every reply (ACK, HELLO_REPLY, READ_REPLY, COUNTERS_REPLY, ERROR) begins with the seq and
# opcode of the command it answers, so a host matches replies to commands by seq.
REPLY = struct.Struct("<BB")             # ref_seq, ref_opcode

# HELLO: empty. HELLO_REPLY (64 bytes):
HELLO_REPLY = struct.Struct("<BBBBHHBBH" "IIIII" "IIIIIHHBB" "BBI")
HELLO_FIELDS = (
    "ref_seq", "ref_opcode",
    "version", "device_kind", "capabilities", "max_payload", "window", "status",
    "n_cores",       # the device's cores; 0 (read as 1) from a device of one core
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
# Where each HELLO_REPLY field sits in the payload: name -> (byte offset, bytes).
HELLO_LAYOUT = {name: (struct.calcsize("<" + HELLO_REPLY.format[1:][:k]), struct.calcsize("<" + code))
                for k, (name, code) in enumerate(zip(HELLO_FIELDS, HELLO_REPLY.format[1:]))}


def hello_reply(config: CoreConfig | None = None, cores: int = 1, **values) -> bytes:
    """A HELLO_REPLY payload, field by field by name (HELLO_FIELDS): ref_seq and ref_opcode (of
    the HELLO it answers), version, device_kind, capabilities, max_payload, window, status,
    input_depth, clock_hz, tick, consumed, queued, build. `cores` gives n_cores (sent as 0 for
    one core: the bytes of every one-core device, which parse_hello reads as 1). `config` (a
    CoreConfig) gives the configuration's fields (CONFIG_FIELDS), n_regions (of its memory map
    on a device of `cores` cores) and n_counters (formats.COUNTERS); a field given by name
    overrides it. A missing or unknown field, or a value its field cannot carry, is a
    ValueError naming it."""
    given = {"n_cores": cores if cores > 1 else 0}
    if config is not None:
        given.update({name: getattr(config, name) for name in CONFIG_FIELDS},
                     n_regions=len(formats.memory_map(config, cores)), n_counters=len(formats.COUNTERS))
    given.update(values)
    missing, unknown = set(HELLO_FIELDS) - set(given), set(given) - set(HELLO_FIELDS)
    if missing or unknown:
        raise ValueError(f"HELLO_REPLY: missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")
    for name in HELLO_FIELDS:
        if not 0 <= int(given[name]) <= HELLO_MAX[name]:
            raise ValueError(f"HELLO_REPLY: {name} = {given[name]} must be in [0, {HELLO_MAX[name]}]")
    return HELLO_REPLY.pack(*(int(given[name]) for name in HELLO_FIELDS))


@dataclass(frozen=True)
class DeviceInfo(Mapping):
    """What a device says of itself in HELLO_REPLY: its fields (HELLO_FIELDS) but the reply's
    ref_seq and ref_opcode, as attributes and as a read-only mapping (info.clock_hz,
    info["clock_hz"], info.items()). capabilities is a Capability; device_kind and status are
    a DeviceKind and a Status when the number is one (else the number). `config` is the core
    configuration the device reports."""

    version: int
    device_kind: DeviceKind | int
    capabilities: Capability
    max_payload: int
    window: int
    status: Status | int
    n_cores: int          # the device's cores (at least 1: a one-core device's 0 reads as 1)
    input_depth: int      # credits: input-queue entries (u16 wire entries) the device holds
    clock_hz: int         # the core clock; FREERUN periods are in its cycles
    tick: int             # the device's current tick (ticks completed since reset)
    consumed: int         # input-queue entries consumed since power-on, modulo 2**32
    queued: int           # entries in the input queue now
    n_neurons: int
    n_inputs: int
    n_synapses: int
    n_segments: int
    n_reverse: int
    n_profiles: int
    n_projections: int
    weight_bits: int
    max_delay: int
    n_regions: int
    n_counters: int
    build: int

    @property
    def config(self) -> CoreConfig:
        """The core configuration the device reports (ConfigError if no core can have it)."""
        return CoreConfig(**{name: getattr(self, name) for name in CONFIG_FIELDS})

    def __getitem__(self, key: str):
        if key not in _INFO_FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(_INFO_FIELDS)

    def __len__(self) -> int:
        return len(_INFO_FIELDS)


_INFO_FIELDS = tuple(f.name for f in fields(DeviceInfo))
assert _INFO_FIELDS == HELLO_FIELDS[2:], "DeviceInfo follows HELLO_FIELDS"


def parse_hello(payload: bytes) -> DeviceInfo:
    """A HELLO_REPLY payload as a DeviceInfo; ValueError if it is not HELLO_REPLY.size bytes."""
    if len(payload) != HELLO_REPLY.size:
        raise ValueError(f"HELLO_REPLY of {len(payload)} bytes, expected {HELLO_REPLY.size}")
    info = dict(zip(HELLO_FIELDS, HELLO_REPLY.unpack(payload)))
    del info["ref_seq"], info["ref_opcode"]
    info["capabilities"] = Capability(info["capabilities"])
    info["n_cores"] = info["n_cores"] or 1       # a one-core device says 0 (it predates the field)
    for key, kind in (("device_kind", DeviceKind), ("status", Status)):
        try:
            info[key] = kind(info[key])
        except ValueError:
            pass
    return DeviceInfo(**info)


# A device's options: (smallest, largest) value. Each travels in a HELLO_REPLY field (or the
# frame header), whose width bounds it; input_depth, window and clock_hz need one at least
# (a queue of no entry takes no tick's input; no window, no command; FREERUN divides by the clock).
DEVICE_OPTIONS = {
    "input_depth": (1, HELLO_MAX["input_depth"]),
    "window": (1, HELLO_MAX["window"]),
    "clock_hz": (1, HELLO_MAX["clock_hz"]),
    "max_payload": (MIN_MAX_PAYLOAD, MAX_PAYLOAD),
    "protocol_version": (0, HELLO_MAX["version"]),
}


def check_device_option(name: str, value, shown: str | None = None) -> int:
    """`value` of device option `name` if within DEVICE_OPTIONS, else ConfigError naming it (as
    `shown`, e.g. the command-line flag) and the range."""
    lo, hi = DEVICE_OPTIONS[name]
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"{shown or name} = {value!r} must be an integer in [{lo}, {hi}]")
    return int(value)


def check_device_config(config, cores: int = 1) -> CoreConfig:
    """A configuration whose sizes the protocol can carry on a device of `cores` cores:
    HELLO_REPLY's fields, input axon numbers of 15 bits, neuron numbers of 16 (device numbers,
    firmware.protocol.cores, with several cores), region addresses of 32."""
    from .cores import check_cores         # (cores.py imports this module)
    if not isinstance(config, CoreConfig):
        raise ConfigError(f"config must be a firmware.CoreConfig, not {type(config).__name__}")
    for name in CONFIG_FIELDS:
        value, most = getattr(config, name), HELLO_MAX[name]
        if value > most:
            raise ConfigError(f"core configuration: {name} = {value} does not fit HELLO_REPLY's field; "
                              f"the protocol carries [1, {most}]")
    if config.n_inputs > MAX_AXON + 1:
        raise ConfigError(f"the protocol addresses at most {MAX_AXON + 1} input axons; "
                          f"the configuration has n_inputs = {config.n_inputs}")
    check_cores(config, cores)
    for region in formats.memory_map(config, cores).values():
        if region.depth > formats.MOD32:
            raise ConfigError(f"region {region.name} of {region.depth} words is beyond the protocol's "
                              f"32-bit word addresses")
    return config


# WRITE: REGION_ACCESS + count * word_bytes bytes of words. READ: REGION_ACCESS.
# READ_REPLY: REPLY + REGION_ACCESS (as requested) + the words.
# Words are ceil(width / 8) bytes, little-endian, the raw bits of the region's word layout.
REGION_ACCESS = struct.Struct("<BBIH")   # region, word_bytes, address, count
# SELECT_CORE (a device of n_cores > 1): the core whose regions READ, WRITE, COUNTERS and SEED
# reach from now on (0 after power-on; RESET keeps it). A one-core device answers UNKNOWN_OPCODE.
SELECT_CORE = struct.Struct("<B")

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
FREERUN_FLUSH_S = 0.02                   # in free-run, a device sends SPIKES at least this often (s)
SPIKE_RECORD = struct.Struct("<IH")      # tick, info: bit 15 = bitmap, bits 14..0 = n
SPIKE_BITMAP = 0x8000
MAX_NEURON = 0xFFFF                      # a list record names a neuron in u16
REPORT = struct.Struct("<BBHII")         # kind, 0, 0, count, tick
ERROR = struct.Struct("<BBBBI")          # ref_seq, ref_opcode, code, ref_valid, detail; then
                                         # optional UTF-8 text (the emulator explains itself).
                                         # The header and this layout never change between versions.
BUSY_FREERUN_DETAIL = formats.MOD32 - 1  # BUSY's detail while free-running (no count of pending ticks)

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


# --- Regions and words ---------------------------------------------------------------------


def word_bytes(region: formats.Region) -> int:
    """Bytes per word of a region on the wire: ceil(width / 8)."""
    return -(-region.layout.width // 8)


def region_by_index(config, index: int, cores: int = 1) -> formats.Region | None:
    for region in formats.memory_map(config, cores).values():
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
    return depth - formats.wrap32(sent - consumed)
