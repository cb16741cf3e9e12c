"""The device side of the host link (docs/protocol.md) and the device top a board builds.

    top         DeviceTop: UART -> RX FIFO -> COBS decoder -> Link -> COBS encoder -> UART,
                around a Core; the heartbeat and the LEDs
    controller  Link: frames in, commands on the core's ports, replies and SPIKES out
    uart        UARTRx, UARTTx: 8N1 bytes
    cobs        COBSDecoder, COBSEncoder: framing with 0x00 delimiters
    crc         CRC16: CRC-16/CCITT-FALSE, a byte per cycle
"""

from .controller import Link
from .top import DeviceTop

__all__ = ["DeviceTop", "Link"]
