"""The device: UART -> COBS decoder -> Link -> COBS encoder -> UART around a Core.

    DeviceTop(config, divisor, input_depth, clock_hz)     ports: rx (In 1), tx (Out 1)
    DeviceTop(..., byte_level=True)                       ports: i (In stream of 8: COBS bytes
                                                          in), o (Out stream of 8: COBS bytes
                                                          out); no UART, for fast simulation
    both also drive three LEDs (active high): led_heartbeat toggles every half second of
    clock_hz; led_activity lights for LED_HOLD_S after a received byte or an output spike;
    led_error lights for LED_HOLD_S after the link sends an ERROR or REPORT frame.

A byte FIFO of RX_FIFO_DEPTH bytes sits between UARTRx and the COBS decoder: the UART has no
flow control and the Link takes no bytes while it executes a command, runs a tick or sends a
reply, so one whole frame (MAX_ENCODED + 1 bytes) can arrive meanwhile (HELLO window = 1).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from firmware import protocol as P

from .cobs import COBSDecoder, COBSEncoder
from .core import Core
from .link import Link
from .uart import UARTRx, UARTTx

LED_HOLD_S = 0.05             # an activity or error blink lasts 50 ms: visible, and short
RX_FIFO_DEPTH = P.MAX_ENCODED + 1   # one whole frame and its delimiter: three iCE40 EBRs


class DeviceTop(wiring.Component):
    def __init__(self, config, divisor: int = 8, input_depth: int = 512, clock_hz: int = 24_000_000,
                 byte_level: bool = False, memories=None, window: int = 1):
        self.config, self.divisor, self.input_depth, self.clock_hz = config, divisor, input_depth, clock_hz
        self.byte_level, self.memories, self.window = byte_level, memories, window
        if byte_level:
            members = {"i": In(stream.Signature(8)), "o": Out(stream.Signature(8)), "idle": Out(1)}
        else:
            members = {"rx": In(1, init=1), "tx": Out(1, init=1)}
        members.update(led_heartbeat=Out(1), led_activity=Out(1), led_error=Out(1))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        # The Link drains the output FIFO while the tick runs and runs one tick at a time, so a
        # FIFO as deep as the neurons never loses a spike (and a deeper one only costs EBR).
        output_depth = min(512, self.config.n_neurons)
        m.submodules.core = core = Core(self.config, input_depth=self.input_depth, output_depth=output_depth,
                                        memories=self.memories)
        m.submodules.link = link = Link(self.config, self.input_depth, clock_hz=self.clock_hz,
                                        window=self.window)
        m.submodules.decoder = decoder = COBSDecoder()
        m.submodules.encoder = encoder = COBSEncoder()

        # Link <-> core: one to one (the Link's core-facing members are the core's, flipped).
        for name, member in core.signature.members.items():
            a, b = getattr(core, name), getattr(link, name)
            if member.flow == In:
                m.d.comb += a.eq(b)
            else:
                m.d.comb += b.eq(a)

        wiring.connect(m, decoder.o, link.rx)
        wiring.connect(m, link.tx, encoder.i)
        m.d.comb += link.rx_byte.eq(decoder.i.valid & decoder.i.ready & (decoder.i.payload != P.DELIMITER))

        if self.byte_level:
            wiring.connect(m, wiring.flipped(self.i), decoder.i)
            wiring.connect(m, encoder.o, wiring.flipped(self.o))
            m.d.comb += self.idle.eq(link.idle)
        else:
            m.submodules.uart_rx = uart_rx = UARTRx(self.divisor)
            m.submodules.uart_tx = uart_tx = UARTTx(self.divisor)
            m.submodules.rx_fifo = fifo = SyncFIFOBuffered(width=8, depth=RX_FIFO_DEPTH)
            m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx),
                         fifo.w_en.eq(uart_rx.o.valid), fifo.w_data.eq(uart_rx.o.payload),
                         decoder.i.valid.eq(fifo.r_rdy), decoder.i.payload.eq(fifo.r_data),
                         fifo.r_en.eq(decoder.i.ready)]
            wiring.connect(m, encoder.o, uart_tx.i)

        # LEDs: a heartbeat, and blinks stretched to LED_HOLD_S so that single events show.
        half_second = max(1, self.clock_hz // 2)
        hold = max(1, int(self.clock_hz * LED_HOLD_S))
        beat = Signal(range(half_second))
        with m.If(beat == half_second - 1):
            m.d.sync += [beat.eq(0), self.led_heartbeat.eq(~self.led_heartbeat)]
        with m.Else():
            m.d.sync += beat.eq(beat + 1)
        activity = decoder.i.valid & decoder.i.ready | core.out_valid & core.out_ready
        for led, event in ((self.led_activity, activity), (self.led_error, link.error)):
            left = Signal(range(hold + 1))
            with m.If(event):
                m.d.sync += left.eq(hold)
            with m.Elif(left != 0):
                m.d.sync += left.eq(left - 1)
            m.d.comb += led.eq(left != 0)
        return m
