"""The link between a host and an axonite device: the wire format, defined here once.

The host library (host/), the device emulator (sim/emulator.py) and the RTL link take
every constant, opcode and payload layout from this package (`from firmware import protocol as
P; P.X` for every name). docs/protocol.md explains it. Everything is byte-oriented with
fixed-size headers, so a small state machine implements it.

    codes.py     opcodes, error codes, report kinds, capabilities, device kinds, status
    framing.py   the frame codec: header, CRC, COBS, Frame / BadFrame, FrameDecoder
    payloads.py  the payload of each opcode and its packers; credits
    cores.py     a device of K cores: device numbers of axons and neurons, check_cores

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

from .codes import (CAPABILITIES, Capability, DEVICE_OPCODES, DeviceKind, ERROR_TEXT, ErrorCode, HOST_OPCODES,
                    Op, ReportKind, Status, op_name)
from .framing import (BadFrame, CRC_SIZE, CobsError, DEFAULT_BAUD, DELIMITER, Frame, FrameDecoder, HEADER,
                      HEADER_SIZE, MAX_ENCODED, MAX_FRAME, MAX_PAYLOAD, MIN_MAX_PAYLOAD, PROTOCOL_VERSION,
                      SEQ_MODULO, cobs_decode, cobs_encode, crc16, decode_frame, encode_frame, max_encoded)
from .payloads import (ACK, BUSY_FREERUN_DETAIL, BUSY_TEXT, CONFIG_FIELDS, COUNTER, COUNTERS_CLEAR,
                       COUNTERS_REPLY, COUNTERS_REQUEST, DEVICE_OPTIONS, DeviceInfo, ERROR, FREERUN,
                       FREERUN_FLUSH_S, HELLO_FIELDS, HELLO_LAYOUT, HELLO_MAX, HELLO_REPLY, INPUT_ENTRY,
                       MAX_AXON, MAX_DEPTH, MAX_EMPTY_REPEAT, MAX_NEURON, REGION_ACCESS, REPLY, REPORT, SEED,
                       SELECT_CORE, SPIKES, SPIKE_BITMAP, SPIKE_RECORD, STEP, TICK_END, busy_refusal, check_device_config,
                       check_device_option, credits_free, decode_input_entries, decode_spikes,
                       encode_input_entries, encode_spike_record, hello_reply, max_words, pack_words,
                       parse_hello, region_by_index, spike_record_size, unpack_words, word_bytes)
from .cores import MAX_CORES, check_cores, check_spike_record, device_axon, device_neuron, split_axon, split_neuron
