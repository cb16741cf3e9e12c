"""The device side of the host link (docs/protocol.md): frame receiver, command executor and
reply transmitter between the byte layer (rtl/cobs.py) and the core (rtl/core.py).

    COBSDecoder.o --rx--> Link --tx--> COBSEncoder.i
                           |
                     core-facing members (the Core's ports, flipped; connect one to one)

`sim/device_emulator.py` is the reference: for the same commands the Link sends the same reply
frames (field for field; HELLO's device_kind / clock_hz / build differ, and ERROR frames carry
no explanatory text).

Receive: the decoded bytes of a frame go into a buffer memory (MAX_FRAME bytes, EBR); the header
and the first 8 payload bytes are also kept in registers. `rx_byte` is a one-cycle pulse per
non-0x00 byte the COBS decoder takes (DeviceTop drives it); the Link counts these to find the
encoded length (OVERSIZE above MAX_ENCODED, FRAMING's detail). At the end beat the frame is
checked in the protocol's order and executed; every bad frame gets exactly one ERROR.

One command at a time: while a command executes (or a tick runs, or a reply is sent) `rx.ready`
is 0, so the byte layer in front needs a FIFO of at least one frame (DeviceTop has it). HELLO
announces `window` (default 1): the host keeps at most that many commands without their reply.

Ticks: the Link runs the core one tick at a time (`step` with `step_ticks` = 1), drains the
tick's output spikes into a list memory, and appends one spike record (list or bitmap, the
smaller) to the SPIKES buffer; it sends SPIKES when a STEP's ticks are done, when the next record
does not fit, at STOP / RESET, for STEP 0, and in free-run at least every `flush_cycles` cycles
(20 ms of `clock_hz`). Free-run is timed by the Link (a tick every `period` cycles, overruns
counted by the Link). REPORT INPUT_DROPPED / OUTPUT_OVERFLOW after a tick that dropped inputs /
lost outputs; INPUT_OVERFLOW for a refused INPUT frame; OVERRUN before the next SPIKES.

Counters: the core's, plus the Link's own `dropped` (axons of refused INPUT frames) and
`overruns` (free-run), added when read (COUNTERS or READ of the counters region), cleared
with them.

Not done (see the report of the first version): BAD_TABLES (STEP / FREERUN do not validate the
tables); at most STEP_QUEUE STEPs may wait (a further STEP while they wait gets BUSY).
"""

from __future__ import annotations

import struct

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt
from firmware.formats import bits_for
from firmware import protocol as P
from firmware.config import CoreConfig

from .cobs import DECODED_BEAT, FRAME_BEAT

BUILD = 1
STEP_QUEUE = 4
FREERUN_FLUSH_S = 0.02
CRC_INIT = P.crc16(b"")


def _widths(st: struct.Struct) -> list[int]:
    """Bit widths of the fields of a little-endian struct, read off its format."""
    return [8 * struct.calcsize("<" + ch) for ch in st.format.lstrip("<")]


def _pack(st: struct.Struct, *values):
    widths = _widths(st)
    assert len(widths) == len(values), (st.format, len(values))
    return Cat(*(_u(v, w) for v, w in zip(values, widths)))


def _u(v, w):
    """Value v zero-extended / truncated to w bits."""
    if isinstance(v, int):
        return Const(v, w)
    return Cat(v, Const(0, w))[:w]


def core_signature_members(config: CoreConfig, input_depth: int):
    from .core import Core
    core = Core(config, input_depth=input_depth)
    core._MustUse__silence = True
    return core.signature.members


class Link(wiring.Component):
    def __init__(self, config: CoreConfig, input_depth: int, max_payload: int = P.MAX_PAYLOAD,
                 clock_hz: int = 12_000_000, window: int = 1):
        if not 64 <= max_payload <= P.MAX_PAYLOAD:
            raise ValueError(f"max_payload = {max_payload} must be in [64, {P.MAX_PAYLOAD}]")
        self.config = config
        self.input_depth, self.max_payload, self.clock_hz, self.window = input_depth, max_payload, clock_hz, window
        self.flush_cycles = max(1, int(clock_hz * FREERUN_FLUSH_S))
        self.regions = fmt.memory_map(config)
        members = {
            "rx": In(stream.Signature(DECODED_BEAT)),
            "rx_byte": In(1),
            "tx": Out(stream.Signature(FRAME_BEAT)),
            "idle": Out(1),     # nothing to do: no frame, command, tick or reply under way
            "error": Out(1),    # pulse: an ERROR or REPORT frame starts (the board's error LED)
        }
        for name, member in core_signature_members(config, input_depth).items():
            members[name] = member.flip()
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()

        c, regions = self.config, self.regions
        by_index = sorted(regions.values(), key=lambda r: r.index)
        n_regions = len(by_index)
        counters_index = regions["counters"].index
        seed_index = regions["lfsr_state"].index
        i_dropped, i_overruns = fmt.COUNTERS.index("dropped"), fmt.COUNTERS.index("overruns")
        max_pl = self.max_payload
        spike_cap = max_pl - P.SPIKES.size

        # --- memories -------------------------------------------------------------------------
        m.submodules.buf = buf = Memory(shape=8, depth=P.MAX_FRAME + 1, init=[])
        bw, br = buf.write_port(), buf.read_port()
        m.submodules.spk = spk = Memory(shape=8, depth=spike_cap, init=[])
        sw, sr = spk.write_port(), spk.read_port()
        nb = len(self.out_neuron)
        m.submodules.lst = lst = Memory(shape=nb, depth=c.n_neurons, init=[])
        lw, lr = lst.write_port(), lst.read_port()

        # --- receive state --------------------------------------------------------------------
        n = Signal(11)                  # decoded bytes of the frame (saturating)
        enc = Signal(11)                # encoded bytes (saturating)
        enc_final = Signal(11)
        ferr = Signal()
        crc0 = Signal(16, init=CRC_INIT)
        crc1 = Signal(16, init=CRC_INIT)
        crc2 = Signal(16, init=CRC_INIT)
        hdr = Array(Signal(8, name=f"hdr{k}") for k in range(P.HEADER_SIZE + 8))
        h_ver, h_seq, h_op = hdr[0], hdr[1], hdr[2]
        h_len = Cat(hdr[3], hdr[4])
        p = [hdr[P.HEADER_SIZE + k] for k in range(8)]
        npay = Signal(11)
        m.d.comb += npay.eq(n - P.HEADER_SIZE - P.CRC_SIZE)

        end_taken = Signal()
        with m.If(end_taken):
            m.d.sync += enc.eq(0)
        with m.Elif(self.rx_byte & (enc != 2047)):
            m.d.sync += enc.eq(enc + 1)

        # --- executor state ---------------------------------------------------------------------
        steps_n = Signal(range(STEP_QUEUE + 1))
        steps_q = [Signal(32, name=f"step_q{k}") for k in range(STEP_QUEUE)]
        cur_left = Signal(32)
        pending = Signal(32)            # ticks still to run (sum of the STEPs), mod 2**32
        freerun = Signal()
        period = Signal(32)
        since_tick = Signal(32)         # cycles since the last free-run tick started
        since_flush = Signal(32)
        x_dropped = Signal(64)
        x_overruns = Signal(64)
        ovr_unrep = Signal(32)
        busy = Signal()
        m.d.comb += busy.eq((cur_left != 0) | (steps_n != 0) | freerun)

        # reply transmitter. A command only names its reply (`tx_kind`; an ERROR's `tx_reason`):
        # opcode, length and fixed fields are selected from those while it is sent, from registers
        # that hold still meanwhile (header, tick, consumed and queue level change only between
        # commands). Setting every field in each of the ~45 places that reply took more logic
        # than the rest of the link together.
        tx_seq = Signal(8)
        tx_kind = Signal(3)
        tx_reason = Signal(5)           # ERROR: index into `error_reasons` (code, detail, valid)
        tx_report = Signal(8)           # REPORT: kind
        tx_count = Signal(32)           # REPORT: count
        tx_tick = Signal(32)            # REPORT: tick
        err_code, err_valid, err_detail = Signal(8), Signal(), Signal(32)   # from tx_reason
        idx = Signal(11)
        crc_tx = Signal(16, init=CRC_INIT)
        after = Signal(4)
        after_flush = Signal(4)
        A_DONE, A_ACK, A_ACK_FLUSH, A_FLUSH_SPIKES, A_RESET, A_CLEARCNT, A_TICK1, A_TICK2, A_TICK3, \
            A_TICK_DONE, A_IDLE_KEEP = range(11)
        flush_through = Signal(32)

        # spike records
        sp_len = Signal(range(spike_cap + 1))
        t_tick = Signal(32)
        ln = Signal(range(c.n_neurons + 1))
        last_neuron = Signal(nb)
        drop_cnt = Signal(32)
        lost_cnt = Signal(32)
        li = Signal(range(c.n_neurons + 1))
        bj = Signal(16)
        acc8 = Signal(8)
        k6 = Signal(3)

        K_ERROR, K_ACK, K_REPORT, K_HELLO, K_READ, K_COUNTERS, K_SPIKES = range(7)

        # command work registers
        word = Signal(64)
        wj = Signal(4)                  # byte in word
        wk = Signal(16)                 # word index
        ptr = Signal(11)                # buffer read pointer
        bad = Signal()
        axons = Signal(16)

        m.d.comb += [br.addr.eq(ptr), lr.addr.eq(li)]

        # region constants
        def table(values, width):
            return Array(Const(v, width) for v in values)
        r_depth = table([r.depth for r in by_index], 32)
        r_width = table([r.layout.width for r in by_index], 8)
        r_wb = table([P.word_bytes(r) for r in by_index], 8)
        r_most = table([P.max_words(P.word_bytes(r), max_pl) for r in by_index], 16)
        region = p[0]
        a_wb, a_addr, a_count = p[1], Cat(p[2], p[3], p[4], p[5]), Cat(p[6], p[7])
        reg_ok = region < n_regions
        ridx = Mux(reg_ok, region, 0)
        depth, width, wbytes, most = r_depth[ridx], r_width[ridx], r_wb[ridx], r_most[ridx]
        range_end = Signal(34)
        m.d.comb += range_end.eq(a_addr + a_count)
        a_bytes = Signal(20)            # a_count * wbytes by shift and add: a multiplier would take DSPs
        m.d.comb += a_bytes.eq(sum(Mux(wbytes[k], a_count << k, 0) for k in range(4)))
        w_size = Signal(32)
        m.d.comb += w_size.eq(P.REGION_ACCESS.size + a_bytes)
        arg32 = Cat(p[0], p[1], p[2], p[3])

        # --- core defaults ------------------------------------------------------------------
        m.d.comb += [self.step_ticks.eq(1), self.period.eq(0), self.freerun.eq(0)]

        # --- transmit helpers ----------------------------------------------------------------
        def send(kind, then=A_DONE):
            """Start the reply `kind` (idx and crc_tx are reset by the frame before it: T_END)."""
            if kind in (K_ERROR, K_REPORT):
                m.d.comb += self.error.eq(1)
            m.d.sync += [tx_kind.eq(kind), after.eq(then)]
            m.next = "T_HDR"

        error_reasons = []      # (code, detail, valid); detail an int or a value that holds still

        def send_error(code, detail, valid=True):
            key = (int(code), repr(detail), valid)
            keys = [(c_, repr(d_), v_) for c_, d_, v_ in error_reasons]
            if key not in keys:
                error_reasons.append((int(code), detail, valid))
                keys.append(key)
            m.d.sync += tx_reason.eq(keys.index(key))
            send(K_ERROR)

        def send_ack(then=A_DONE):
            send(K_ACK, then=then)

        def send_report(kind, count, tick, then):
            m.d.sync += [tx_report.eq(int(kind)), tx_count.eq(_u(count, 32)), tx_tick.eq(_u(tick, 32))]
            send(K_REPORT, then=then)

        def end_runs():
            """STOP and RESET: no free-run, no current or queued STEP ticks."""
            m.d.sync += [freerun.eq(0), cur_left.eq(0), steps_n.eq(0), pending.eq(0)]

        def flush(through, then):
            m.d.sync += [flush_through.eq(through), after_flush.eq(then)]
            m.next = "FLUSH"

        busy_detail = Signal(32)
        m.d.comb += busy_detail.eq(Mux(freerun & (cur_left == 0) & (steps_n == 0), 0xFFFFFFFF, pending))

        # transmit byte
        tx_byte = Signal(8)
        tx_hs = Signal()
        m.d.comb += [self.tx.payload.data.eq(tx_byte), tx_hs.eq(self.tx.valid & self.tx.ready)]
        crc_en = Signal()             # the byte sent is header or payload (not the CRC)
        with m.If(tx_hs & crc_en):
            m.d.sync += crc_tx.eq(P_crc_update(crc_tx, tx_byte))

        ri = Signal(8)                  # byte within the READ word being sent
        m.d.comb += [sw.addr.eq(0), sr.addr.eq(idx - P.SPIKES.size)]

        with m.If(freerun):                 # free-run timing (the FSM may restart them)
            m.d.sync += [since_tick.eq(since_tick + 1), since_flush.eq(since_flush + 1)]

        # --- the fixed part of each reply kind, and where READ and COUNTERS read their words ---
        status = Mux(freerun, P.Status.FREERUN, Mux(busy, P.Status.STEPPING, P.Status.IDLE))
        caps = int(P.Capability.STDP | P.Capability.FREERUN | P.Capability.BITMAP_SPIKES
                   | P.Capability.COUNTER_CLEAR)
        fixed = {
            K_ERROR: _pack(P.ERROR, Mux(err_valid, h_seq, 0), Mux(err_valid, h_op, 0), err_code, err_valid,
                           err_detail),
            K_ACK: _pack(P.ACK, h_seq, h_op, 0, self.tick, self.consumed),
            K_REPORT: _pack(P.REPORT, tx_report, 0, 0, tx_count, tx_tick),
            K_HELLO: _pack(
                P.HELLO_REPLY, h_seq, h_op, P.PROTOCOL_VERSION, int(P.DeviceKind.FPGA), caps,
                max_pl, self.window, status, 0, self.input_depth, self.clock_hz & 0xFFFFFFFF,
                self.tick, self.consumed, self.in_level,
                c.n_neurons, c.n_inputs, c.n_synapses, c.n_segments, c.n_reverse, c.n_profiles,
                c.n_projections, c.weight_bits, c.max_delay, n_regions, len(fmt.COUNTERS), BUILD),
            K_READ: Cat(h_seq, h_op, *p),
            K_COUNTERS: _pack(P.COUNTERS_REPLY, h_seq, h_op, len(fmt.COUNTERS), 0),
            K_SPIKES: _pack(P.SPIKES, flush_through, self.consumed),
        }
        fixed_sizes = [len(fixed[k]) // 8 for k in range(len(fixed))]
        tx_op = Array(Const(int(op), 8) for op in (
            P.Op.ERROR, P.Op.ACK, P.Op.REPORT, P.Op.HELLO_REPLY, P.Op.READ_REPLY, P.Op.COUNTERS_REPLY,
            P.Op.SPIKES))[tx_kind]
        tx_len = Signal(11)
        m.d.comb += tx_len.eq(Array([
            P.ERROR.size, P.ACK.size, P.REPORT.size, P.HELLO_REPLY.size,
            P.REPLY.size + P.REGION_ACCESS.size + a_bytes,
            P.COUNTERS_REPLY.size + len(fmt.COUNTERS) * P.COUNTER.size,
            P.SPIKES.size + sp_len])[tx_kind])
        fixed_byte = Signal(8)
        with m.Switch(tx_kind):
            for kind, bits in fixed.items():
                with m.Case(kind):
                    m.d.comb += fixed_byte.eq(bits.word_select(idx[:bits_for(len(bits) // 8)], 8))
        counters_read = tx_kind == K_COUNTERS
        rd_region = Mux(counters_read, counters_index, region)
        rd_addr = Signal(32)
        m.d.comb += rd_addr.eq(Mux(counters_read, 0, a_addr) + wk)
        rd_bytes = Mux(counters_read, P.COUNTER.size, wbytes)

        # --- the FSM ----------------------------------------------------------------------------
        with m.FSM(name="link"):
            with m.State("DONE"):
                m.d.sync += [n.eq(0), crc0.eq(CRC_INIT), crc1.eq(CRC_INIT), crc2.eq(CRC_INIT)]
                m.next = "IDLE"

            with m.State("IDLE"):
                m.d.comb += [self.rx.ready.eq(1), self.idle.eq(~busy & (n == 0) & ~self.rx.valid)]
                beat = self.rx.payload
                with m.If(self.rx.valid):
                    with m.If(beat.last):
                        m.d.comb += end_taken.eq(1)
                        m.d.sync += [ferr.eq(beat.error), enc_final.eq(enc)]
                        m.next = "CHECK"
                    with m.Else():
                        with m.If(n < P.MAX_FRAME + 1):
                            m.d.comb += [bw.addr.eq(n), bw.data.eq(beat.data), bw.en.eq(1)]
                        with m.Switch(n):
                            for k in range(P.HEADER_SIZE + 8):
                                with m.Case(k):
                                    m.d.sync += hdr[k].eq(beat.data)
                        with m.If(n != 2047):
                            m.d.sync += n.eq(n + 1)
                        m.d.sync += [crc2.eq(crc1), crc1.eq(crc0), crc0.eq(P_crc_update(crc0, beat.data))]
                with m.Elif((cur_left == 0) & (steps_n != 0)):
                    m.d.sync += [cur_left.eq(steps_q[0]), steps_n.eq(steps_n - 1)]
                    for k in range(STEP_QUEUE - 1):
                        m.d.sync += steps_q[k].eq(steps_q[k + 1])
                with m.Elif(cur_left != 0):
                    m.next = "TICK_START"
                with m.Elif(freerun & (since_tick >= period)):
                    m.d.sync += since_tick.eq(0)
                    m.next = "TICK_START"
                with m.Elif(freerun & (since_flush >= self.flush_cycles)):
                    flush(self.tick, A_IDLE_KEEP)

            # --- frame checks, in the protocol's order ---
            with m.State("CHECK"):
                with m.If(enc_final > P.MAX_ENCODED):
                    send_error(P.ErrorCode.OVERSIZE, P.MAX_PAYLOAD, valid=False)
                with m.Elif(ferr):
                    send_error(P.ErrorCode.FRAMING, enc_final, valid=False)
                with m.Elif(n < P.HEADER_SIZE + P.CRC_SIZE):
                    send_error(P.ErrorCode.TRUNCATED, n, valid=False)
                with m.Elif(crc0 != 0):
                    send_error(P.ErrorCode.BAD_CRC, crc2, valid=False)
                with m.Elif(h_ver != P.PROTOCOL_VERSION):
                    send_error(P.ErrorCode.VERSION, P.PROTOCOL_VERSION)
                with m.Elif(h_len > P.MAX_PAYLOAD):
                    send_error(P.ErrorCode.OVERSIZE, P.MAX_PAYLOAD)
                with m.Elif(h_len != npay):
                    send_error(P.ErrorCode.BAD_LENGTH, npay)
                with m.Elif(npay > max_pl):
                    send_error(P.ErrorCode.OVERSIZE, max_pl)
                with m.Else():
                    with m.Switch(h_op):
                        for opcodes, state in (((P.Op.HELLO,), "HELLO"), ((P.Op.WRITE, P.Op.READ), "ACCESS"),
                                               ((P.Op.INPUT,), "INPUT"), ((P.Op.STEP,), "STEP"),
                                               ((P.Op.FREERUN,), "FREERUN"), ((P.Op.STOP,), "STOP"),
                                               ((P.Op.COUNTERS,), "COUNTERS"), ((P.Op.SEED,), "SEED"),
                                               ((P.Op.RESET,), "RESET")):
                            with m.Case(*opcodes):
                                m.next = state
                        with m.Default():
                            send_error(P.ErrorCode.UNKNOWN_OPCODE, h_op)

            # --- HELLO ---
            with m.State("HELLO"):
                with m.If(npay != 0):
                    send_error(P.ErrorCode.BAD_PAYLOAD, 0)
                with m.Else():
                    send(K_HELLO)

            # --- WRITE / READ ---
            with m.State("ACCESS"):
                is_read = h_op == P.Op.READ
                with m.If(busy):
                    send_error(P.ErrorCode.BUSY, busy_detail)
                with m.Elif(Mux(is_read, npay != P.REGION_ACCESS.size, npay < P.REGION_ACCESS.size)):
                    send_error(P.ErrorCode.BAD_PAYLOAD, P.REGION_ACCESS.size)
                with m.Elif(~reg_ok):
                    send_error(P.ErrorCode.BAD_REGION, n_regions)
                with m.Elif(a_wb != wbytes):
                    send_error(P.ErrorCode.WORD_SIZE, wbytes)
                with m.Elif(range_end > depth):
                    send_error(P.ErrorCode.OUT_OF_RANGE, depth)
                with m.Elif(is_read):
                    with m.If(a_count > most):
                        send_error(P.ErrorCode.OVERSIZE, most)
                    with m.Else():
                        m.d.sync += wk.eq(0)
                        send(K_READ)
                with m.Elif(w_size != npay):
                    send_error(P.ErrorCode.BAD_PAYLOAD, w_size)
                with m.Elif(region == counters_index):
                    send_error(P.ErrorCode.READ_ONLY, counters_index)
                with m.Else():
                    m.d.sync += [ptr.eq(P.HEADER_SIZE + P.REGION_ACCESS.size), wj.eq(0), wk.eq(0), bad.eq(0)]
                    with m.If(a_count == 0):
                        send_ack()
                    with m.Else():
                        m.next = "WV_WAIT"

            # pass 1: every byte within the region's width
            with m.State("WV_WAIT"):
                m.next = "WV_CHK"
            with m.State("WV_CHK"):
                rem = Signal(8)
                m.d.comb += rem.eq(width - (wj << 3))
                allowed = Mux(width <= (wj << 3), 0, Mux(rem >= 8, 0xFF, (Const(1, 9) << rem[:4]) - 1))
                with m.If((br.data & ~allowed[:8]) != 0):
                    m.d.sync += bad.eq(1)
                m.d.sync += ptr.eq(ptr + 1)
                last_byte = wj == wbytes - 1
                with m.If(last_byte):
                    m.d.sync += [wj.eq(0), wk.eq(wk + 1)]
                with m.Else():
                    m.d.sync += wj.eq(wj + 1)
                with m.If(last_byte & (wk == a_count - 1)):
                    m.next = "WV_END"
                with m.Else():
                    m.next = "WV_WAIT"
            with m.State("WV_END"):
                with m.If(bad):
                    send_error(P.ErrorCode.BAD_VALUE, width)
                with m.Else():
                    m.d.sync += [ptr.eq(P.HEADER_SIZE + P.REGION_ACCESS.size), wj.eq(0), wk.eq(0), word.eq(0)]
                    m.next = "WW_WAIT"
            # pass 2: assemble each word and write it
            with m.State("WW_WAIT"):
                m.next = "WW_BYTE"
            with m.State("WW_BYTE"):
                with m.Switch(wj):
                    for k in range(8):
                        with m.Case(k):
                            m.d.sync += word[8 * k:8 * k + 8].eq(br.data)
                m.d.sync += ptr.eq(ptr + 1)
                with m.If(wj == wbytes - 1):
                    m.d.sync += wj.eq(0)
                    m.next = "WW_WRITE"
                with m.Else():
                    m.d.sync += wj.eq(wj + 1)
                    m.next = "WW_WAIT"
            with m.State("WW_WRITE"):
                m.d.comb += [self.access_region.eq(region), self.access_addr.eq(a_addr + wk),
                         self.access_wdata.eq(word), self.access_we.eq(1)]
                m.d.sync += [wk.eq(wk + 1), word.eq(0)]
                with m.If(wk == a_count - 1):
                    m.next = "ACK"
                with m.Else():
                    m.next = "WW_WAIT"
            with m.State("ACK"):
                send_ack()

            # --- INPUT ---
            with m.State("INPUT"):
                with m.If(npay[0]):
                    send_error(P.ErrorCode.BAD_PAYLOAD, npay + 1)
                with m.Elif(npay == 0):
                    send_ack()
                with m.Elif((npay >> 1) > self.input_depth - self.in_level):
                    m.d.sync += [ptr.eq(P.HEADER_SIZE + 1), axons.eq(0), wk.eq(0)]
                    m.next = "IO_WAIT"
                with m.Else():
                    m.d.sync += [ptr.eq(P.HEADER_SIZE), wk.eq(0)]
                    m.next = "IN_WAIT0"
            with m.State("IO_WAIT"):
                m.next = "IO_CNT"
            with m.State("IO_CNT"):
                m.d.sync += [axons.eq(axons + ~br.data[7]), ptr.eq(ptr + 2), wk.eq(wk + 1)]
                with m.If(wk == (npay >> 1) - 1):
                    m.next = "IO_REPORT"
                with m.Else():
                    m.next = "IO_WAIT"
            with m.State("IO_REPORT"):
                m.d.sync += x_dropped.eq(x_dropped + axons)
                send_report(P.ReportKind.INPUT_OVERFLOW, axons, self.tick, then=A_ACK)
            with m.State("IN_WAIT0"):
                m.d.sync += ptr.eq(ptr + 1)
                m.next = "IN_LO"
            with m.State("IN_LO"):
                m.d.sync += [word[:8].eq(br.data), ptr.eq(ptr + 1)]
                m.next = "IN_HI"
            with m.State("IN_HI"):
                m.d.sync += word[8:16].eq(br.data)
                m.next = "IN_PUSH"
            with m.State("IN_PUSH"):
                entry = word[:16]
                aw = len(self.in_axon)
                axon = entry[:15]
                if (1 << aw) > c.n_inputs:
                    # out-of-range axons become a value the core drops as out of range
                    m.d.comb += self.in_axon.eq(Mux(axon >= (1 << aw), (1 << aw) - 1, axon))
                else:
                    m.d.comb += self.in_axon.eq(axon)
                m.d.comb += [self.in_valid.eq(1), self.in_tick_end.eq(entry[15]), self.in_repeat.eq(entry[:15])]
                with m.If(self.in_ready):
                    m.d.sync += wk.eq(wk + 1)
                    with m.If(wk == (npay >> 1) - 1):
                        m.next = "ACK"
                    with m.Else():
                        m.next = "IN_WAIT0"

            # --- STEP / FREERUN / STOP ---
            with m.State("STEP"):
                ticks = arg32
                with m.If(npay != P.STEP.size):
                    send_error(P.ErrorCode.BAD_PAYLOAD, P.STEP.size)
                with m.Elif(freerun):
                    send_error(P.ErrorCode.BUSY, 0xFFFFFFFF)
                with m.Elif(ticks == 0):
                    send_ack(then=A_ACK_FLUSH)
                with m.Elif(steps_n == STEP_QUEUE):
                    send_error(P.ErrorCode.BUSY, pending)
                with m.Else():
                    m.d.sync += [pending.eq(pending + ticks), steps_n.eq(steps_n + 1)]
                    with m.Switch(steps_n):
                        for k in range(STEP_QUEUE):
                            with m.Case(k):
                                m.d.sync += steps_q[k].eq(ticks)
                    send_ack()
            with m.State("FREERUN"):
                with m.If(npay != P.FREERUN.size):
                    send_error(P.ErrorCode.BAD_PAYLOAD, P.FREERUN.size)
                with m.Elif(busy):
                    send_error(P.ErrorCode.BUSY, busy_detail)
                with m.Else():
                    m.d.sync += [freerun.eq(1), period.eq(arg32), since_tick.eq(arg32), since_flush.eq(0)]
                    send_ack()
            with m.State("STOP"):
                with m.If(npay != 0):
                    send_error(P.ErrorCode.BAD_PAYLOAD, 0)
                with m.Else():
                    end_runs()
                    flush(self.tick, A_ACK)

            # --- COUNTERS ---
            with m.State("COUNTERS"):
                with m.If(npay != P.COUNTERS_REQUEST.size):
                    send_error(P.ErrorCode.BAD_PAYLOAD, P.COUNTERS_REQUEST.size)
                with m.Elif(busy):
                    send_error(P.ErrorCode.BUSY, busy_detail)
                with m.Else():     # the counters are read while they are sent, as by READ
                    m.d.sync += wk.eq(0)
                    send(K_COUNTERS, then=Mux(p[0] & P.COUNTERS_CLEAR, A_CLEARCNT, A_DONE))

            # --- SEED ---
            with m.State("SEED"):
                with m.If(npay != P.SEED.size):
                    send_error(P.ErrorCode.BAD_PAYLOAD, P.SEED.size)
                with m.Elif(busy):
                    send_error(P.ErrorCode.BUSY, busy_detail)
                with m.Elif(arg32 == 0):
                    send_error(P.ErrorCode.BAD_ARGUMENT, 1)
                with m.Else():
                    m.d.comb += [self.access_region.eq(seed_index), self.access_addr.eq(0),
                             self.access_wdata.eq(arg32), self.access_we.eq(1)]
                    m.next = "ACK"

            # --- RESET ---
            with m.State("RESET"):
                with m.If(npay != 0):
                    send_error(P.ErrorCode.BAD_PAYLOAD, 0)
                with m.Else():
                    end_runs()
                    flush(self.tick, A_RESET)
            with m.State("RESET_DO"):
                m.d.comb += [self.clear.eq(1), self.flush_inputs.eq(1)]
                m.d.sync += [x_dropped.eq(0), x_overruns.eq(0), ovr_unrep.eq(0)]
                m.next = "RESET_WAIT"
            with m.State("RESET_WAIT"):
                with m.If(~self.busy):
                    m.next = "ACK"

            # --- a tick ---
            with m.State("TICK_START"):
                m.d.comb += [self.step.eq(1), self.step_ticks.eq(1)]
                m.d.sync += [t_tick.eq(self.tick), ln.eq(0), drop_cnt.eq(0), lost_cnt.eq(0)]
                m.next = "TICK_RUN"
            with m.State("TICK_RUN"):
                m.d.comb += self.out_ready.eq(1)
                with m.If(self.out_valid):
                    m.d.comb += [lw.addr.eq(ln), lw.data.eq(self.out_neuron), lw.en.eq(1)]
                    m.d.sync += [ln.eq(ln + 1), last_neuron.eq(self.out_neuron)]
                with m.If(self.in_dropped):
                    m.d.sync += drop_cnt.eq(drop_cnt + 1)
                with m.If(self.out_lost):
                    m.d.sync += lost_cnt.eq(lost_cnt + 1)
                with m.If(~self.busy & ~self.out_valid):
                    m.next = "TICK_END"
            with m.State("TICK_END"):
                with m.If(drop_cnt != 0):
                    send_report(P.ReportKind.INPUT_DROPPED, drop_cnt, t_tick, then=A_TICK1)
                with m.Else():
                    m.next = "TICK_1"
            with m.State("TICK_1"):
                with m.If(lost_cnt != 0):
                    send_report(P.ReportKind.OUTPUT_OVERFLOW, lost_cnt, t_tick, then=A_TICK2)
                with m.Else():
                    m.next = "TICK_2"
            bm_bytes = Signal(16)
            use_bm = Signal()
            rec_len = Signal(16)
            m.d.comb += [bm_bytes.eq((last_neuron >> 3) + 1), use_bm.eq(bm_bytes < (ln << 1)),
                     rec_len.eq(P.SPIKE_RECORD.size + Mux(use_bm, bm_bytes, ln << 1))]
            with m.State("TICK_2"):
                with m.If(ln == 0):
                    m.next = "TICK_DONE"
                with m.Elif(sp_len + rec_len > spike_cap):
                    flush(t_tick, A_TICK3)
                with m.Else():
                    m.d.sync += k6.eq(0)
                    m.next = "TICK_3"
            with m.State("TICK_3"):
                info = Mux(use_bm, P.SPIKE_BITMAP | bm_bytes, ln)
                rec_hdr = Cat(t_tick, info[:16])
                m.d.comb += [sw.addr.eq(sp_len), sw.data.eq(rec_hdr.word_select(k6, 8)), sw.en.eq(1)]
                m.d.sync += [sp_len.eq(sp_len + 1), k6.eq(k6 + 1), li.eq(0), bj.eq(0), acc8.eq(0)]
                with m.If(k6 == P.SPIKE_RECORD.size - 1):
                    with m.If(use_bm):
                        m.next = "B_RD"
                    with m.Else():
                        m.next = "L_RD"
            with m.State("L_RD"):
                m.next = "L_W0"
            with m.State("L_W0"):
                m.d.comb += [sw.addr.eq(sp_len), sw.data.eq(_u(lr.data, 16)[:8]), sw.en.eq(1)]
                m.d.sync += sp_len.eq(sp_len + 1)
                m.next = "L_W1"
            with m.State("L_W1"):
                m.d.comb += [sw.addr.eq(sp_len), sw.data.eq(_u(lr.data, 16)[8:]), sw.en.eq(1)]
                m.d.sync += [sp_len.eq(sp_len + 1), li.eq(li + 1)]
                with m.If(li == ln - 1):
                    m.next = "TICK_DONE"
                with m.Else():
                    m.next = "L_RD"
            with m.State("B_RD"):
                m.next = "B_CHK"
            with m.State("B_CHK"):
                with m.If((li < ln) & ((_u(lr.data, 16) >> 3) == bj)):
                    m.d.sync += [acc8.eq(acc8 | (Const(1, 8) << lr.data[:3])), li.eq(li + 1)]
                    m.next = "B_RD"
                with m.Else():
                    m.d.comb += [sw.addr.eq(sp_len), sw.data.eq(acc8), sw.en.eq(1)]
                    m.d.sync += [sp_len.eq(sp_len + 1), acc8.eq(0), bj.eq(bj + 1)]
                    with m.If(bj == bm_bytes - 1):
                        m.next = "TICK_DONE"
            with m.State("TICK_DONE"):
                with m.If(freerun):
                    with m.If((period != 0) & (since_tick > period)):
                        m.d.sync += [x_overruns.eq(x_overruns + 1), ovr_unrep.eq(ovr_unrep + 1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += pending.eq(pending - 1)
                    with m.If(cur_left == 1):
                        m.d.sync += cur_left.eq(0)
                        flush(self.tick, A_IDLE_KEEP)
                    with m.Else():
                        m.d.sync += cur_left.eq(cur_left - 1)
                        m.next = "IDLE"

            # --- SPIKES (after a REPORT OVERRUN if any) ---
            with m.State("FLUSH"):
                with m.If(ovr_unrep != 0):
                    m.d.sync += ovr_unrep.eq(0)
                    send_report(P.ReportKind.OVERRUN, ovr_unrep, self.tick, then=A_FLUSH_SPIKES)
                with m.Else():
                    m.next = "FLUSH_SPIKES"
            with m.State("FLUSH_SPIKES"):
                m.d.sync += since_flush.eq(0)
                send(K_SPIKES, then=after_flush)

            # --- the transmitter ---
            with m.State("T_HDR"):
                m.d.comb += [crc_en.eq(1), self.tx.valid.eq(1),
                         tx_byte.eq(Cat(Const(P.PROTOCOL_VERSION, 8), tx_seq, tx_op, tx_len,
                                        Const(0, 5)).word_select(idx[:3], 8))]
                with m.If(self.tx.ready):
                    with m.If(idx == P.HEADER_SIZE - 1):
                        m.d.sync += idx.eq(0)
                        with m.If(tx_len == 0):
                            m.next = "T_CRC0"
                        with m.Else():
                            m.next = "T_PAY"
                    with m.Else():
                        m.d.sync += idx.eq(idx + 1)
            with m.State("T_PAY"):
                m.d.comb += crc_en.eq(1)
                fixed_part = Array(Const(size, 11) for size in fixed_sizes)[tx_kind]
                reads_words = (tx_kind == K_READ) | (tx_kind == K_COUNTERS)
                with m.If(idx < fixed_part):
                    m.d.comb += [self.tx.valid.eq(1), tx_byte.eq(fixed_byte)]
                    with m.If(self.tx.ready):
                        m.d.sync += idx.eq(idx + 1)
                        with m.If(idx == tx_len - 1):
                            m.next = "T_CRC0"
                        with m.Elif(reads_words & (idx == fixed_part - 1)):
                            m.next = "T_RREQ"
                        with m.Elif((tx_kind == K_SPIKES) & (idx == fixed_part - 1)):
                            m.next = "T_SPRIME"
                with m.Elif(tx_kind == K_SPIKES):
                    m.d.comb += [self.tx.valid.eq(1), tx_byte.eq(sr.data)]
                    with m.If(self.tx.ready):
                        m.d.sync += idx.eq(idx + 1)
                        m.next = "T_SPRIME"
                        with m.If(idx == tx_len - 1):
                            m.d.sync += sp_len.eq(0)
                            m.next = "T_CRC0"
            with m.State("T_SPRIME"):        # the spike buffer's read port catches up with idx
                m.next = "T_PAY"
            with m.State("T_RREQ"):
                m.d.comb += [self.access_region.eq(rd_region), self.access_addr.eq(rd_addr), self.access_re.eq(1)]
                m.next = "T_RWAIT"
            with m.State("T_RWAIT"):
                with m.If(self.access_rvalid):
                    extra = Mux(rd_region == counters_index,
                                Mux(rd_addr == i_dropped, x_dropped, 0) +
                                Mux(rd_addr == i_overruns, x_overruns, 0), 0)
                    m.d.sync += [word.eq(self.access_rdata + extra), ri.eq(0)]
                    m.next = "T_RBYTE"
            with m.State("T_RBYTE"):
                m.d.comb += crc_en.eq(1)
                m.d.comb += [self.tx.valid.eq(1), tx_byte.eq(word.word_select(ri[:3], 8))]
                with m.If(self.tx.ready):
                    m.d.sync += [ri.eq(ri + 1), idx.eq(idx + 1)]
                    with m.If(idx == tx_len - 1):
                        m.next = "T_CRC0"
                    with m.Elif(ri == rd_bytes - 1):
                        m.d.sync += wk.eq(wk + 1)
                        m.next = "T_RREQ"
            with m.State("T_CRC0"):
                m.d.comb += [self.tx.valid.eq(1), tx_byte.eq(crc_tx[8:])]
                with m.If(self.tx.ready):
                    m.next = "T_CRC1"
            with m.State("T_CRC1"):
                m.d.comb += [self.tx.valid.eq(1), tx_byte.eq(crc_tx[:8])]
                with m.If(self.tx.ready):
                    m.next = "T_END"
            with m.State("T_END"):
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.last.eq(1)]
                with m.If(self.tx.ready):
                    m.d.sync += [tx_seq.eq(tx_seq + 1), idx.eq(0), crc_tx.eq(CRC_INIT)]
                    with m.Switch(after):
                        with m.Case(A_DONE):
                            m.next = "DONE"
                        with m.Case(A_IDLE_KEEP):
                            m.next = "IDLE"
                        with m.Case(A_ACK):
                            m.next = "ACK"
                        with m.Case(A_ACK_FLUSH):
                            flush(self.tick, A_DONE)
                        with m.Case(A_FLUSH_SPIKES):
                            m.next = "FLUSH_SPIKES"
                        with m.Case(A_RESET):
                            m.next = "RESET_DO"
                        with m.Case(A_CLEARCNT):
                            m.d.comb += self.clear_counters.eq(1)
                            m.d.sync += [x_dropped.eq(0), x_overruns.eq(0)]
                            m.next = "DONE"
                        with m.Case(A_TICK1):
                            m.next = "TICK_1"
                        with m.Case(A_TICK2):
                            m.next = "TICK_2"
                        with m.Case(A_TICK3):
                            m.d.sync += k6.eq(0)
                            m.next = "TICK_3"

        # An ERROR's code, detail and validity, from its reason (all known now that the FSM is).
        with m.Switch(tx_reason):
            for k, (code, detail, valid) in enumerate(error_reasons):
                with m.Case(k):
                    m.d.comb += [err_code.eq(code), err_valid.eq(int(valid)), err_detail.eq(_u(detail, 32))]
        assert len(error_reasons) <= 1 << len(tx_reason), len(error_reasons)
        return m


def P_crc_update(crc, byte):
    from .crc import crc16_update
    return crc16_update(crc, byte)
