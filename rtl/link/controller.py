"""The device side of the host link (docs/protocol.md): frame receiver, command executor and
reply transmitter between the byte layer (rtl.link.cobs) and the core (rtl.core).

    COBSDecoder.o --rx--> Link --tx--> COBSEncoder.i
                           |
                          core: Out(core_signature(...).flip()), wiring.connect-ed to the Core

`sim/device_emulator.py` is the reference: for the same commands the Link sends the same reply
frames (field for field; HELLO's device_kind / clock_hz / build differ, and ERROR frames carry
no explanatory text).

The Link is built small (the whole device has 5,280 LUT4s): most of its work goes a byte a
cycle through one memory, `buf`, and one byte adder, under one state machine. Its pieces each
hold their registers and add their states to that one FSM:

    buffer     buf's layout (frame, reply templates, variables, SPIKES payload) and its
               read address (rtl.link.buffer)
    templates  the reply templates, assembled in Python at elaboration (rtl.link.templates)
    datapath   the byte adder, the value lanes it reads, the CRC, the operations on the
               variables (RAM_SETUP, RAM)
    receive    a frame in, and its checks in the protocol's order (DONE, IDLE, CHECK, PASS,
               TABLE, MULTIPLY)
    execute    the command (DISPATCH, ACK, WRITE_*, IN_*, RESET_WAIT)
    spikes     a tick at a time, its spike record, SPIKES (TICK_*, REC_*, LIST, BITMAP, FLUSH)
    transmit   a reply out, a template field at a time (T_*)

Counters: the core's, plus the Link's own `dropped` (axons of refused INPUT frames) and
`overruns` (free-run), added when read (COUNTERS or READ of the counters region), cleared with
them.

Not done: BAD_TABLES (STEP / FREERUN do not validate the tables); at most STEP_QUEUE STEPs may
wait (a further STEP while they wait gets BUSY).
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt
from firmware import protocol as P
from firmware.config import CoreConfig
from firmware.errors import ConfigError

from ..core.interface import core_signature
from . import templates
from .buffer import Buffer, BufLayout
from .cobs import DECODED_BEAT, FRAME_BEAT
from .datapath import Datapath
from .execute import Executor
from .receive import Receiver
from .spikes import SpikeRecords
from .transmit import Transmitter

LINK_STEP_BITS = 1                  # the Link steps the core one tick at a time (Core's step_bits)

def slow_period_for(clock_hz: int) -> int:
    """The period of the `slow_tick` pulse (a power of two, DeviceTop's prescaler) for a clock:
    about an eighth of the free-run SPIKES interval (firmware.protocol.FREERUN_FLUSH_S), at least 2 cycles."""
    return 1 << max(1, (int(clock_hz * P.FREERUN_FLUSH_S) // 8).bit_length() - 1)


class Parts:
    """The Link's pieces, for each other: link, buffer, receiver, executor, spikes, datapath,
    transmitter."""


class Link(wiring.Component):
    """The link controller for a core of `config` with `input_depth` input entries, on a device
    of `max_payload` (P.MIN_MAX_PAYLOAD .. P.MAX_PAYLOAD) announcing `window`, `clock_hz`; with
    `cores` > 1, for a device of that many cores (rtl.multicore.MultiCore): SELECT_CORE sets
    the core `core.access.core` reaches (BAD_CORE beyond them), HELLO says n_cores, the regions
    are formats.memory_map(config, cores), INPUT and SPIKES carry device axons and neurons
    (firmware.protocol.cores), and the Link's own counts (dropped, overruns) are core 0's.

        rx          In(stream of DECODED_BEAT)   the COBS decoder's beats: a frame's bytes, then
                                                 its end beat (with the decoder's error)
        rx_byte     In(1)     pulse: the COBS decoder took a byte other than 0x00
        slow_tick   In(1)     pulse every `slow_period` cycles (DeviceTop's prescaler): times
                              the free-run SPIKES
        tx          Out(stream of FRAME_BEAT)    reply and SPIKES / REPORT frames, a byte a
                                                 beat, then an end beat, to the COBS encoder
        idle        Out(1)    nothing to do: no frame, command, tick or reply under way
        error       Out(1)    pulse: an ERROR or REPORT frame starts (the board's error LED)
        core        Out(core_signature(config, input_depth, LINK_STEP_BITS, cores).flip())   the
                              core's ports (rtl.core.interface), to wiring.connect to a Core

    Free-run sends SPIKES at most `flush_pulses` slow ticks (<= P.FREERUN_FLUSH_S of clock_hz)
    after the last.
    """

    def __init__(self, config: CoreConfig, input_depth: int, max_payload: int = P.MAX_PAYLOAD,
                 clock_hz: int = 12_000_000, window: int = 1, slow_period: int | None = None, cores: int = 1):
        if not P.MIN_MAX_PAYLOAD <= max_payload <= P.MAX_PAYLOAD:
            raise ValueError(f"max_payload = {max_payload} must be in [{P.MIN_MAX_PAYLOAD}, {P.MAX_PAYLOAD}]")
        self.config, self.cores = config, P.check_cores(config, cores)
        P.check_spike_record(config, cores, max_payload)
        self.input_depth, self.max_payload = input_depth, max_payload
        self.layout = BufLayout(max_payload)
        self.clock_hz, self.window = clock_hz, window
        self.flush_cycles = max(1, int(clock_hz * P.FREERUN_FLUSH_S))
        self.slow_period = slow_period_for(clock_hz) if slow_period is None else slow_period
        if not 1 <= self.slow_period <= self.flush_cycles:
            raise ValueError(f"slow_period = {self.slow_period} must be in [1, {self.flush_cycles}] "
                             f"(the free-run SPIKES interval, 20 ms of clock_hz = {clock_hz})")
        self.flush_pulses = self.flush_cycles // self.slow_period
        self.regions = fmt.memory_map(config, cores)
        deepest = max(self.regions.values(), key=lambda r: r.depth)
        if len(self.regions) > 32 or deepest.depth > 0xFFFF:
            raise ConfigError(f"the Link's region table holds at most 32 regions of at most 65,535 words; "
                              f"region {deepest.name} has {deepest.depth}: lower the CoreConfig field "
                              f"that sets its depth")
        super().__init__({
            "rx": In(stream.Signature(DECODED_BEAT)),
            "rx_byte": In(1),
            "slow_tick": In(1),
            "tx": Out(stream.Signature(FRAME_BEAT)),
            "idle": Out(1),
            "error": Out(1),
            "core": Out(core_signature(config, input_depth, LINK_STEP_BITS, cores).flip()),
        })

    def image(self):
        """buf's initial contents and the high-page offsets of the template bodies
        (rtl.link.templates.assemble)."""
        return templates.assemble(self.config, self.layout, input_depth=self.input_depth,
                                  max_payload=self.max_payload, clock_hz=self.clock_hz, window=self.window,
                                  cores=self.cores)

    def elaborate(self, platform):
        m = Module()
        assert (fmt.COUNTERS.index("overruns"), fmt.COUNTERS.index("dropped")) == (6, 7)
        image, where = self.image()
        k = Parts()
        k.link = self
        # No port of buf reads an address in the cycle it is written: yosys need not emulate
        # what the read returns then (no_rw_check), which saves a comparator and a bypass.
        k.buffer = buffer = Buffer(self.layout, image)
        m.submodules.buf = buffer.memory
        k.receiver = receiver = Receiver(self, buffer)
        k.executor = executor = Executor(self, receiver)
        k.spikes = spikes = SpikeRecords(self)
        k.datapath = datapath = Datapath()
        k.transmitter = transmitter = Transmitter(self)

        # The logic outside the states, in the order it has always been emitted: the netlist,
        # and with it yosys's and nextpnr's results, follow that order.
        buffer.follow(m)
        receiver.count(m, k)
        datapath.crc_update(m)
        executor.timers(m, k)
        executor.access_address(m, k)
        spikes.record_size(m)
        datapath.lanes(m, k)
        buffer.write_port(m, k)
        executor.core_defaults(m, k)
        transmitter.byte_out(m, k)
        buffer.read_address(m, k, where)

        with m.FSM(name="link"):
            receiver.states(m, k)
            executor.states(m, k)
            datapath.states(m, k)
            executor.reset_state(m, k)
            spikes.states(m, k)
            transmitter.states(m, k)
        return m
