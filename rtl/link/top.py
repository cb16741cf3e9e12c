"""The device: UART -> COBS decoder -> Link -> COBS encoder -> UART around a Core.

    DeviceTop(config, divisor, input_depth, clock_hz, max_payload)   ports: rx (In 1), tx (Out 1)
    DeviceTop(..., byte_level=True)                       ports: i (In stream of 8: COBS bytes
                                                          in), o (Out stream of 8: COBS bytes
                                                          out); no UART, for fast simulation
    both also drive three LEDs (active high): led_heartbeat toggles every 2**k cycles, the
    largest power of two within half a second of clock_hz (0.35 s at 24 MHz); led_activity
    lights for LED_HOLD_S (to within one slow period) after a received byte or an output spike;
    led_error lights as long after the link sends an ERROR or REPORT frame.

One free-running prescaler counts the clock: its top bit is the heartbeat, and a pulse every
slow_period cycles (rtl.link.controller.slow_period_for: an eighth of the free-run SPIKES
interval or less) times the LED holds and the Link's free-run SPIKES interval, so neither
needs a counter of the clock's width.

`max_payload` (P.MIN_MAX_PAYLOAD .. P.MAX_PAYLOAD, announced in HELLO) sizes the Link's frame
and SPIKES buffers and the receive FIFO: a frame longer than max_encoded(max_payload) is refused
with OVERSIZE (detail max_payload) and its bytes beyond the frame buffer are counted, not stored.

A byte FIFO of rx_fifo_depth(max_payload) bytes (rtl.lib.fifo.RxFIFO) sits between UARTRx and the COBS
decoder: the UART has no flow control and the Link takes no bytes while it executes a command,
runs a tick or sends a reply, so one whole frame (max_encoded(max_payload) + 1 bytes) can arrive
meanwhile (HELLO window = 1).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from firmware import protocol as P

from ..core import Core
from ..lib.fifo import RxFIFO
from ..lib.stream_register import StreamRegister
from .cobs import COBSDecoder, COBSEncoder
from .controller import LINK_STEP_BITS, Link, slow_period_for
from .uart import UARTRx, UARTTx

LED_HOLD_S = 0.05             # an activity or error blink lasts 50 ms: visible, and short


def rx_fifo_depth(max_payload: int = P.MAX_PAYLOAD) -> int:
    """The receive FIFO's bytes: one whole frame, its delimiter and a leading 0x00 (a host may
    send one first), rounded up to a power of two (512 bytes, one iCE40 EBR, for 256)."""
    return 1 << (P.max_encoded(max_payload) + 2 - 1).bit_length()


RX_FIFO_DEPTH = rx_fifo_depth()     # for the protocol's largest max_payload


class DeviceTop(wiring.Component):
    """The device for a core of `config` (module docstring): UART at `divisor` cycles per bit
    (or, `byte_level`, COBS bytes as streams), `input_depth` input entries, `max_payload`,
    `window`, `clock_hz`, the core's memories from `memories` (rtl.lib.memory); with `cores`
    > 1, K cores of `config` (rtl.multicore.MultiCore) behind one Link.

        rx              In(1)    the UART's receive line (not byte_level)
        tx              Out(1)   the UART's transmit line (not byte_level)
        i               In(stream.Signature(8))    byte_level: COBS bytes in
        o               Out(stream.Signature(8))   byte_level: COBS bytes out
        idle            Out(1)   byte_level: the link has nothing to do
        led_heartbeat   Out(1)   toggles every 2**k cycles (about a third of a second)
        led_activity    Out(1)   lit LED_HOLD_S after a byte received or an output spike
        led_error       Out(1)   lit LED_HOLD_S after an ERROR or REPORT frame
    """

    def __init__(self, config, divisor: int = 8, input_depth: int = 512, clock_hz: int = 24_000_000,
                 byte_level: bool = False, memories=None, window: int = 1,
                 max_payload: int = P.MAX_PAYLOAD, cores: int = 1):
        if not P.MIN_MAX_PAYLOAD <= max_payload <= P.MAX_PAYLOAD:
            raise ValueError(f"DeviceTop: max_payload = {max_payload} must be in "
                             f"[{P.MIN_MAX_PAYLOAD}, {P.MAX_PAYLOAD}] (firmware.protocol)")
        self.cores = P.check_cores(config, cores)
        P.check_spike_record(config, cores, max_payload)
        self.config, self.divisor, self.input_depth, self.clock_hz = config, divisor, input_depth, clock_hz
        self.byte_level, self.memories, self.window = byte_level, memories, window
        self.max_payload = max_payload
        self.rx_fifo_depth = rx_fifo_depth(max_payload)
        if byte_level:
            members = {"i": In(stream.Signature(8)), "o": Out(stream.Signature(8)), "idle": Out(1)}
        else:
            members = {"rx": In(1, init=1), "tx": Out(1, init=1)}
        members.update(led_heartbeat=Out(1), led_activity=Out(1), led_error=Out(1))
        super().__init__(members)

    def build_core(self):
        """The core (one Core), or with `cores` > 1 the device of K cores (rtl.multicore.MultiCore),
        whose signature the Link's `core` port connects to."""
        # The output FIFO is the Link's list of the tick's spikes: the Link runs one tick at a
        # time and empties the FIFO into the tick's SPIKES record before the next, so a FIFO as
        # deep as the neurons (each core's, on several) never loses a spike.
        output_depth = self.config.n_neurons
        if self.cores > 1:
            from ..multicore import MultiCore
            return MultiCore(self.config, self.cores, input_depth=self.input_depth, output_depth=output_depth,
                             output_tick=False, step_bits=LINK_STEP_BITS, memories=self.memories)
        return Core(self.config, input_depth=self.input_depth, output_depth=output_depth,
                    output_tick=False, step_bits=LINK_STEP_BITS, memories=self.memories)

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.build_core()
        slow_period = slow_period_for(self.clock_hz)
        m.submodules.link = link = Link(self.config, self.input_depth, max_payload=self.max_payload,
                                        clock_hz=self.clock_hz, window=self.window, slow_period=slow_period,
                                        cores=self.cores)
        m.submodules.decoder = decoder = COBSDecoder()
        m.submodules.encoder = encoder = COBSEncoder()

        wiring.connect(m, link.core, core)

        wiring.connect(m, decoder.o, link.rx)
        # A register between the Link's reply bytes (its byte adder) and the encoder's zero test
        # and block bookkeeping: the two in one cycle were the device's longest path. A byte
        # every other cycle is far more than the UART's one per 10 bit times.
        m.submodules.tx_register = tx_register = StreamRegister(link.tx.payload.shape())
        wiring.connect(m, link.tx, tx_register.i)
        wiring.connect(m, tx_register.o, encoder.i)
        m.d.comb += link.rx_byte.eq(decoder.i.valid & decoder.i.ready & (decoder.i.payload != P.DELIMITER))

        if self.byte_level:
            wiring.connect(m, wiring.flipped(self.i), decoder.i)
            wiring.connect(m, encoder.o, wiring.flipped(self.o))
            m.d.comb += self.idle.eq(link.idle)
        else:
            m.submodules.uart_rx = uart_rx = UARTRx(self.divisor)
            m.submodules.uart_tx = uart_tx = UARTTx(self.divisor)
            m.submodules.rx_fifo = fifo = RxFIFO(self.rx_fifo_depth, P.DELIMITER)
            m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx),
                         fifo.w_en.eq(uart_rx.o.valid), fifo.w_data.eq(uart_rx.o.payload)]
            wiring.connect(m, fifo.o, decoder.i)
            wiring.connect(m, encoder.o, uart_tx.i)

        # The prescaler: the heartbeat is its top bit; `slow` pulses when its bit k - 1 falls,
        # every slow_period = 2**k cycles.
        k = slow_period.bit_length() - 1
        width = max(k + 1, (max(2, self.clock_hz) // 2).bit_length())
        prescaler = Signal(width)
        m.d.sync += prescaler.eq(prescaler + 1)
        last = Signal()
        m.d.sync += last.eq(prescaler[k - 1])
        slow = Signal()
        m.d.comb += [slow.eq(last & ~prescaler[k - 1]), link.slow_tick.eq(slow),
                     self.led_heartbeat.eq(prescaler[-1])]
        # blinks stretched to LED_HOLD_S (in slow periods, the first one partial) so that single
        # events show
        hold = -(-int(self.clock_hz * LED_HOLD_S) // slow_period) + 1
        activity = decoder.i.valid & decoder.i.ready | core.outputs.valid & core.outputs.ready
        for led, event in ((self.led_activity, activity), (self.led_error, link.error)):
            left = Signal(range(hold + 1))
            with m.If(event):
                m.d.sync += left.eq(hold)
            with m.Elif(slow & (left != 0)):
                m.d.sync += left.eq(left - 1)
            m.d.comb += led.eq(left != 0)
        return m
