"""CRC-16/CCITT-FALSE of the host link (firmware.protocol.crc16), one byte per clock.

The polynomial and the initial value are read off firmware.protocol.crc16 itself, not retyped:
for an unreflected CRC without final xor, crc16(b"") is the initial value and
crc16(b"\\x01", 0) is the polynomial. A check vector below fails the import if the reference
ever stops being that kind of CRC.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware import protocol

WIDTH = 16
INIT = protocol.crc16(b"")               # 0xFFFF
POLY = protocol.crc16(b"\x01", 0)        # 0x1021


def _model(message: bytes, crc: int = INIT) -> int:
    """The bitwise update that crc16_update builds in gates, in Python."""
    for byte in message:
        for i in reversed(range(8)):
            feedback = (crc >> (WIDTH - 1)) ^ (byte >> i) & 1
            crc = ((crc << 1) & ((1 << WIDTH) - 1)) ^ (POLY if feedback else 0)
    return crc


_CHECK = b"123456789"
if _model(_CHECK) != protocol.crc16(_CHECK) or _model(_CHECK, 0x1234) != protocol.crc16(_CHECK, 0x1234):
    raise ImportError("rtl.link.crc: firmware.protocol.crc16 is no longer an MSB-first CRC-16 without "
                      "final xor; crc16_update must change with it")


def _step(crc: int, byte: int) -> int:
    return _model(bytes([byte]), crc)


# The byte update is linear over GF(2) in (crc, byte): bit i of the new register is the XOR
# of the old register's bits TAPS_CRC[i] and the byte's bits TAPS_BYTE[i].
TAPS_CRC = [[j for j in range(WIDTH) if _step(1 << j, 0) >> i & 1] for i in range(WIDTH)]
TAPS_BYTE = [[k for k in range(8) if _step(0, 1 << k) >> i & 1] for i in range(WIDTH)]


def crc16_update(crc, byte) -> Value:
    """Combinational: the CRC register after one more byte (MSB first). `crc` 16 bits, `byte`
    8 bits; the result is 16 bits, each the XOR of at most 7 input bits (2 LUT4 levels)."""
    crc, byte = Value.cast(crc), Value.cast(byte)
    if len(crc) != WIDTH or len(byte) != 8:
        raise TypeError(f"crc16_update: crc has {len(crc)} bits and byte {len(byte)}; "
                        f"they must have {WIDTH} and 8")
    return Cat(*(Cat(*(crc[j] for j in TAPS_CRC[i]), *(byte[k] for k in TAPS_BYTE[i])).xor()
                 for i in range(WIDTH)))


class CRC16(wiring.Component):
    """CRC-16/CCITT-FALSE over a byte stream, one byte per cycle, equal to
    firmware.protocol.crc16.

    Ports:
      clear  In(1): start a new message: the register returns to INIT (0xFFFF).
      valid  In(1): `data` is the next byte of the message. With `clear` in the same cycle,
             it is the first byte of the new message.
      data   In(8)
      crc    Out(16): the CRC of the bytes given since the last clear (a register: it shows a
             byte's effect in the cycle after the byte). Sent on the wire MSB first. Over
             header + payload + crc it is 0, the residue a receiver checks.
    """

    def __init__(self):
        super().__init__({
            "clear": In(1),
            "valid": In(1),
            "data": In(8),
            "crc": Out(WIDTH, init=INIT),
        })

    def elaborate(self, platform):
        m = Module()
        register = Signal(WIDTH, init=INIT)
        start = Mux(self.clear, INIT, register)
        with m.If(self.valid):
            m.d.sync += register.eq(crc16_update(start, self.data))
        with m.Elif(self.clear):
            m.d.sync += register.eq(INIT)
        m.d.comb += self.crc.eq(register)
        return m
