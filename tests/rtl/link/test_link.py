"""The device's link (rtl/link/controller.py, rtl/link/top.py) against sim.device_emulator, at the byte level.

Each test sends the same command frames to the emulator (in process) and to DeviceTop in the
Amaranth simulator (COBS bytes into the decoder, bytes out of the encoder, no UART) and
compares the reply frames field by field (HELLO's device_kind / clock_hz / build and the ERROR
text excepted: the RTL sends none).
"""

import time

import numpy as np
from amaranth.back import verilog
from amaranth.sim import Simulator

from firmware import AllToAll, CoreConfig, Network, STDPRule, compile_network
from firmware import formats as fmt
from firmware import protocol as P
from rtl.link.top import DeviceTop
from sim.device_emulator import DeviceEmulator
from tests.support.board_server import BOARD_CONFIG
from tests.support.networks import relay_network
from tests.support.stub_cores import WORDS, StubTop

# The simulated board's core and test_core.py's relay on it (weight 100 over threshold 20).
CONFIG = CoreConfig(**BOARD_CONFIG)
RELAY = compile_network(relay_network(6, weight=100, vth=20), CONFIG)

DEPTH = 32
IDLE_CYCLES = 12          # quiescent: the link idle and no output byte for this many cycles


class Both:
    """Sends frames to the emulator and to the RTL; collects and compares the replies."""

    def __init__(self, ctx, dut):
        self.ctx, self.dut = ctx, dut
        self.max_payload = dut.max_payload
        self.emu = DeviceEmulator(dut.config, input_depth=DEPTH, window=1, max_payload=dut.max_payload,
                                  cores=dut.cores)
        self.seq = 0
        self.cycles = 0

    async def rtl_exchange(self, data: bytes) -> bytes:
        ctx, dut, out = self.ctx, self.dut, bytearray()
        ctx.set(dut.o.ready, 1)
        i = 0
        quiet = 0
        while i < len(data) or quiet < IDLE_CYCLES:
            if i < len(data):
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, data[i])
            else:
                ctx.set(dut.i.valid, 0)
            _, _, i_ready, o_valid, o_byte, idle = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload, dut.idle)
            self.cycles += 1
            if i < len(data) and i_ready:
                i += 1
            if o_valid:
                out.append(o_byte)
                quiet = 0
            elif idle and i >= len(data):
                quiet += 1
            else:
                quiet = 0
        ctx.set(dut.i.valid, 0)
        return bytes(out)

    def emu_exchange(self, data: bytes) -> bytes:
        self.emu.receive(data)
        while self.emu.service():
            pass
        return self.emu.take_output()

    async def raw(self, data: bytes):
        got = await self.rtl_exchange(data)
        want = self.emu_exchange(data)
        a, b = P.FrameDecoder().feed(got), P.FrameDecoder().feed(want)
        compare(a, b, data)
        return a

    async def cmd(self, op, payload=b""):
        frame = P.encode_frame(op, self.seq, payload)
        self.seq = (self.seq + 1) % 256
        return await self.raw(frame)


def fields(frame):
    if isinstance(frame, P.BadFrame):
        return ("bad", frame.code)
    op, pl = frame.opcode, frame.payload
    if op == P.Op.HELLO_REPLY:
        d = dict(zip(P.HELLO_FIELDS, P.HELLO_REPLY.unpack(pl)))
        for k in ("device_kind", "clock_hz", "build"):
            d.pop(k)
        return (frame.seq, op, d)
    if op == P.Op.ERROR:
        return (frame.seq, op, P.ERROR.unpack_from(pl))
    if op == P.Op.SPIKES:
        tick, consumed, t, nrn = P.decode_spikes(pl)
        return (frame.seq, op, tick, consumed, t.tolist(), nrn.tolist(), pl)
    return (frame.seq, op, pl)


def compare(got, want, sent):
    assert [fields(f) for f in got] == [fields(f) for f in want], f"sent {sent.hex()}"


def run(bench, config=CONFIG, max_payload=1024, cores=1, real_cores=False, fires=range(0)):
    """Run `bench(both, result)` on DeviceTop (with `cores` > 1: the Link of a K-core device in
    front of tests.support.stub_cores, whose ticks fire the device neurons of `fires`, or with
    `real_cores` in front of rtl.multicore.MultiCore) and the emulator of as many cores."""
    if cores == 1 or real_cores:
        dut = DeviceTop(config, input_depth=DEPTH, clock_hz=1_000_000, byte_level=True, max_payload=max_payload,
                        cores=cores)
    else:
        dut = StubTop(config, input_depth=DEPTH, clock_hz=1_000_000, byte_level=True, max_payload=max_payload,
                      cores=cores, fires=fires)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    result = {}

    async def tb(ctx):
        both = Both(ctx, dut)
        await bench(both, result)
        result["cycles"] = both.cycles

    sim.add_testbench(tb)
    sim.run()
    return result


def access(region, addr, count, words=None, cores=1, config=CONFIG):
    r = fmt.memory_map(config, cores)[region]
    nb = P.word_bytes(r)
    payload = P.REGION_ACCESS.pack(r.index, nb, addr, count)
    if words is not None:
        payload += P.pack_words(words, nb)
    return payload


async def upload(both, image):
    regions = fmt.memory_map(CONFIG)
    for name in fmt.TABLE_REGIONS:
        words = np.asarray(image.tables[name], dtype=np.uint64)
        most = P.max_words(P.word_bytes(regions[name]), both.max_payload)
        for at in range(0, words.size, most):
            chunk = words[at:at + most]
            (ack,) = await both.cmd(P.Op.WRITE, access(name, at, chunk.size, chunk))
            assert ack.opcode == P.Op.ACK, ack
    await both.cmd(P.Op.RESET)


def entries(groups):
    out = []
    for axons in groups:
        out += list(axons) + [P.TICK_END]
    return P.encode_input_entries(out)


def test_hello_write_read_reset_seed_counters():
    async def bench(both, out):
        (hello,) = await both.cmd(P.Op.HELLO)
        assert hello.opcode == P.Op.HELLO_REPLY
        await upload(both, RELAY)
        for name in fmt.TABLE_REGIONS + ("state_u", "counters"):
            r = fmt.memory_map(CONFIG)[name]
            await both.cmd(P.Op.READ, access(name, 0, r.depth))
        await both.cmd(P.Op.READ, access("synapse", 3, 5))
        await both.cmd(P.Op.READ, access("lfsr_state", 0, 1))
        await both.cmd(P.Op.SEED, P.SEED.pack(0x1234567))
        await both.cmd(P.Op.READ, access("lfsr_state", 0, 1))
        await both.cmd(P.Op.WRITE, access("lfsr_state", 0, 1, np.array([0x89ABCDEF], np.uint64)))
        await both.cmd(P.Op.READ, access("lfsr_state", 0, 1))
        await both.cmd(P.Op.SEED, P.SEED.pack(0))
        # count 0: checked (address <= depth, read-only), then answered without a word
        for name in ("lfsr_state", "synapse", "counters"):
            depth = fmt.memory_map(CONFIG)[name].depth
            for addr in (0, depth, depth + 1):
                await both.cmd(P.Op.WRITE, access(name, addr, 0, []))
                await both.cmd(P.Op.READ, access(name, addr, 0))
        await both.cmd(P.Op.READ, access("lfsr_state", 0, 1))
        await both.cmd(P.Op.COUNTERS, P.COUNTERS_REQUEST.pack(0))
        await both.cmd(P.Op.RESET)
        await both.cmd(P.Op.HELLO)
    run(bench)


def test_input_step_spikes_counters_busy():
    async def bench(both, out):
        await upload(both, RELAY)
        await both.cmd(P.Op.INPUT, entries([[0, 2], [5], [], [1, 2, 3], [0, 1, 2, 3, 4, 5]]))
        await both.cmd(P.Op.STEP, P.STEP.pack(3))
        await both.cmd(P.Op.STEP, P.STEP.pack(0))
        await both.cmd(P.Op.STEP, P.STEP.pack(4))
        # dropped input axons (out of range, not ascending) and a repeated tick end
        await both.cmd(P.Op.INPUT, P.encode_input_entries([3, 1, 7, 4, P.TICK_END | 2, 2, P.TICK_END]))
        await both.cmd(P.Op.STEP, P.STEP.pack(5))
        await both.cmd(P.Op.COUNTERS, P.COUNTERS_REQUEST.pack(P.COUNTERS_CLEAR))
        await both.cmd(P.Op.COUNTERS, P.COUNTERS_REQUEST.pack(0))
        # more than the queue holds: INPUT_OVERFLOW, then the ACK
        await both.cmd(P.Op.INPUT, P.encode_input_entries([1, P.TICK_END] * (DEPTH // 2 + 1)))
        await both.cmd(P.Op.COUNTERS, P.COUNTERS_REQUEST.pack(0))
        await both.cmd(P.Op.READ, access("counters", 0, 8))
        # busy: a STEP, then commands in the same burst
        data = b"".join(P.encode_frame(op, 100 + k, pl) for k, (op, pl) in enumerate([
            (P.Op.STEP, P.STEP.pack(3)), (P.Op.READ, access("state_v", 0, 2)),
            (P.Op.COUNTERS, b"\0"), (P.Op.SEED, P.SEED.pack(5)), (P.Op.HELLO, b""),
            (P.Op.STOP, b"")]))
        await both.raw(data)
        await both.cmd(P.Op.RESET)
        await both.cmd(P.Op.HELLO)
    run(bench)


def stdp_network():
    net = Network("stdp")
    inputs = net.inputs("in", 4)
    pop = net.population("p", 4, du=4095, dv=3000, vth=40)
    net.connect(inputs, pop, AllToAll(), weight=30,
                stdp=STDPRule(a_plus=90, a_minus=-70, lr_shift=4, w_min=-20, w_max=60))
    net.record(pop)
    return compile_network(net, CONFIG)


def test_stdp_network_spikes_and_weights():
    rng = np.random.default_rng(1)

    async def bench(both, out):
        await upload(both, stdp_network())
        await both.cmd(P.Op.SEED, P.SEED.pack(0xBEEF))
        for _ in range(3):
            groups = [sorted(rng.choice(6, rng.integers(0, 7), replace=False).tolist()) for _ in range(6)]
            await both.cmd(P.Op.INPUT, entries(groups))
            await both.cmd(P.Op.STEP, P.STEP.pack(8))
        await both.cmd(P.Op.READ, access("synapse", 0, 64))
        await both.cmd(P.Op.READ, access("state_v", 0, 12))
        await both.cmd(P.Op.COUNTERS, b"\0")
    run(bench)


def spiking_network():
    """Neurons 0..7 and 11 fire every tick by their bias alone: 9 output spikes a tick."""
    net = Network("spiking")
    pop = net.population("p", 12, du=4095, dv=np.array([4095] * 8 + [200] * 4), vth=20,
                         bias_mant=np.array([200] * 8 + [60, 70, 80, 90]), bias_exp=4)
    net.record(pop, list(range(8)) + [11])
    return compile_network(net, CONFIG)


def test_long_runs_fill_the_spike_buffer():
    """SPIKES frames of hundreds of bytes, a full buffer sent before the record that does not fit."""
    async def bench(both, out):
        await upload(both, spiking_network())
        (ack, *spikes) = await both.cmd(P.Op.STEP, P.STEP.pack(150))
        assert ack.opcode == P.Op.ACK and len(spikes) == 2 and len(spikes[0].payload) > 900
        await both.cmd(P.Op.STEP, P.STEP.pack(3))
        await both.cmd(P.Op.COUNTERS, P.COUNTERS_REQUEST.pack(0))
    run(bench)


def mutate(rng, frame: bytes) -> bytes:
    body = bytearray(frame[:-1])
    kind = rng.integers(0, 6)
    if kind == 0 and body:                       # flip a bit of the COBS bytes
        k = rng.integers(0, len(body))
        body[k] ^= 1 << rng.integers(0, 8)
        body[k] = body[k] or 1
    elif kind == 1 and body:                     # truncate
        body = body[:rng.integers(0, len(body))]
    elif kind == 2:                              # random garbage
        body = bytearray(rng.integers(1, 256, rng.integers(1, 40)).astype(np.uint8).tobytes())
    else:                                        # a well-formed frame with mutated header/payload
        dec = P.cobs_decode(bytes(body))[:-2]
        dec = bytearray(dec)
        k = rng.integers(0, len(dec))
        dec[k] = rng.integers(0, 256)
        if kind == 4 and len(dec) > 5:
            dec = dec[:rng.integers(5, len(dec))]
            dec[3:5] = (len(dec) - 5).to_bytes(2, "little")
        return P.cobs_encode(bytes(dec) + P.crc16(bytes(dec)).to_bytes(2, "big")) + b"\0"
    return bytes(body) + b"\0"


def test_random_and_mutated_frames(capsys):
    rng = np.random.default_rng(7)
    valid = [(P.Op.HELLO, b""), (P.Op.READ, access("neuron", 2, 3)), (P.Op.COUNTERS, b"\0"),
             (P.Op.SEED, P.SEED.pack(9)), (P.Op.WRITE, access("state_u", 0, 2, [5, 6])),
             (P.Op.INPUT, entries([[1], [2]])), (P.Op.STEP, P.STEP.pack(0)), (P.Op.STOP, b""),
             (P.Op.READ, access("trace_pre", 0, 4))]
    budget = 45.0

    async def bench(both, out):
        start, count = time.monotonic(), 0
        while time.monotonic() - start < budget:
            op, pl = valid[rng.integers(0, len(valid))]
            frame = mutate(rng, P.encode_frame(op, count % 256, pl))
            item = P.decode_frame(frame[:-1])
            if (isinstance(item, P.Frame) and item.opcode in (P.Op.STEP, P.Op.FREERUN)
                    and len(item.payload) == 4 and item.payload != bytes(4)):
                continue        # runs ticks (BAD_TABLES, not checked by the RTL) or free-runs
            replies = await both.raw(frame)
            assert len(replies) <= 3
            count += 1
            if count % 25 == 0:
                (hello,) = await both.cmd(P.Op.HELLO)
                assert hello.opcode == P.Op.HELLO_REPLY
        # oversize: more than MAX_ENCODED bytes without a delimiter
        await both.raw(bytes(rng.integers(1, 256, P.MAX_ENCODED + 5).astype(np.uint8)) + b"\0")
        (hello,) = await both.cmd(P.Op.HELLO)
        assert hello.opcode == P.Op.HELLO_REPLY
        out["count"] = count

    result = run(bench)
    with capsys.disabled():
        print(f"\n{result['count']} random / mutated frames, {result['cycles']} cycles")
    assert result["count"] >= 300


def _error(frame):
    assert frame.opcode == P.Op.ERROR, frame
    return P.ERROR.unpack_from(frame.payload)[2:]


def test_several_cores_select_core_bad_core_and_the_memory_map():
    """The Link of a device of 2 cores (a stand-in behind it that runs no tick) answers as the
    emulator of 2 cores: HELLO's n_cores and n_regions, SELECT_CORE (ACK, BAD_CORE with the
    cores as detail, BAD_PAYLOAD), READ and WRITE of the selected core's regions, the routing
    table `route` (region 18, depth n_neurons * 2), SEED of the selected core and SEED 0 (both
    refusals share one template), the Link's own `dropped` among core 0's counters only."""
    K = 2
    rng = np.random.default_rng(5)
    regions = fmt.memory_map(CONFIG, K)

    def words(name, n):
        return rng.integers(0, 1 << regions[name].layout.width, n, dtype=np.uint64)

    async def bench(both, out):
        (hello,) = await both.cmd(P.Op.HELLO)
        info = P.parse_hello(hello.payload)
        assert (info.n_cores, info.n_regions) == (K, 19)
        for core in (1, 0):
            (ack,) = await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(core))
            assert ack.opcode == P.Op.ACK
            for name in ("neuron", "route", "state_v"):
                await both.cmd(P.Op.WRITE, access(name, 1, 5, words(name, 5), cores=K))
        for core in (0, 1, 0):
            await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(core))
            for name in ("neuron", "route", "state_v"):
                await both.cmd(P.Op.READ, access(name, 0, 8, cores=K))
        for core in (K, 255):
            (err,) = await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(core))
            assert _error(err) == (P.ErrorCode.BAD_CORE, 1, K)
        (err,) = await both.cmd(P.Op.SELECT_CORE, b"\1\0")
        assert _error(err) == (P.ErrorCode.BAD_PAYLOAD, 1, 1)
        (err,) = await both.cmd(P.Op.SELECT_CORE, b"")
        assert _error(err) == (P.ErrorCode.BAD_PAYLOAD, 1, 1)
        route = regions["route"]
        (err,) = await both.cmd(P.Op.READ, access("route", route.depth - 1, 2, cores=K))
        assert _error(err) == (P.ErrorCode.OUT_OF_RANGE, 1, CONFIG.n_neurons * K)
        (err,) = await both.cmd(P.Op.READ, P.REGION_ACCESS.pack(19, 1, 0, 1))
        assert _error(err) == (P.ErrorCode.BAD_REGION, 1, 19)
        (err,) = await both.cmd(P.Op.WRITE, access("route", 0, 1, [1 << route.layout.width], cores=K))
        assert _error(err)[0] == P.ErrorCode.BAD_VALUE
        # SEED reaches the selected core; SEED 0 is still BAD_ARGUMENT
        await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(1))
        await both.cmd(P.Op.SEED, P.SEED.pack(0xC0FFEE))
        (err,) = await both.cmd(P.Op.SEED, P.SEED.pack(0))
        assert _error(err) == (P.ErrorCode.BAD_ARGUMENT, 1, 1)
        for core in (0, 1):
            await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(core))
            (reply,) = await both.cmd(P.Op.READ, access("lfsr_state", 0, 1, cores=K))
        assert reply.payload[-4:] == P.SEED.pack(0xC0FFEE)
        # an INPUT beyond the queue: the device's own count, in core 0's counters only
        await both.cmd(P.Op.INPUT, P.encode_input_entries([1, P.TICK_END] * (DEPTH // 2 + 1)))
        for core in (1, 0):
            await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(core))
            (reply,) = await both.cmd(P.Op.COUNTERS, P.COUNTERS_REQUEST.pack(0))
            dropped = P.COUNTER.unpack_from(reply.payload, P.COUNTERS_REPLY.size + 8 * 7)[0]
            assert dropped == (DEPTH // 2 + 1 if core == 0 else 0)
            await both.cmd(P.Op.READ, access("counters", 6, 2, cores=K))
        await both.cmd(P.Op.COUNTERS, P.COUNTERS_REQUEST.pack(P.COUNTERS_CLEAR))
        await both.cmd(P.Op.READ, access("counters", 0, 8, cores=K))
        await both.cmd(P.Op.HELLO)
    run(bench, cores=K)


def test_three_cores_refuse_the_fourth_and_a_one_core_link_knows_no_select_core():
    async def bench(both, out):
        (err,) = await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(3))
        assert _error(err) == (P.ErrorCode.BAD_CORE, 1, 3)
        (ack,) = await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(2))
        assert ack.opcode == P.Op.ACK
    run(bench, cores=3)

    async def one(both, out):
        (err,) = await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(0))
        assert _error(err) == (P.ErrorCode.UNKNOWN_OPCODE, 1, P.Op.SELECT_CORE)
    run(one)


async def upload_multi(both, multi, cores):
    """Every core's tables and routing table (SELECT_CORE k first), then RESET, as host.Device
    loads a MultiImage on a device of `cores` cores."""
    regions = fmt.memory_map(CONFIG, cores)
    for k in range(cores):
        await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(k))
        tables = dict(multi.images[k].tables, route=multi.route_words(k, cores))
        for name in fmt.TABLE_REGIONS + ("route",):
            words = np.asarray(tables[name], dtype=np.uint64)
            most = P.max_words(P.word_bytes(regions[name]), both.max_payload)
            for at in range(0, words.size, most):
                chunk = words[at:at + most]
                (ack,) = await both.cmd(P.Op.WRITE, access(name, at, chunk.size, chunk, cores=cores))
                assert ack.opcode == P.Op.ACK, ack
    await both.cmd(P.Op.RESET)


def test_three_cores_of_multicore_behind_the_link_equal_the_emulator():
    """DeviceTop(cores=3) (rtl.multicore.MultiCore) and the emulator of 3 cores, a network
    placed on all three (a ring of cut synapses, STDP on core 0): the same SPIKES (spikes in
    flight across STEPs), REPORTs of dropped inputs (an entry of no core, one out of order),
    weights, state and each core's counters."""
    from tests.support.multicore_networks import three_part_network
    K = 3
    multi = compile_network(three_part_network(), CONFIG, placement={"a": 0, "b": 1, "c": 2}, lfsr_seed=99)
    assert multi.route_core.size > 0
    rng = np.random.default_rng(4)

    async def bench(both, out):
        await upload_multi(both, multi, K)
        for _ in range(2):
            groups = [multi.device_axons(np.nonzero(rng.random(2) < 0.4)[0]).tolist() for _ in range(6)]
            await both.cmd(P.Op.INPUT, entries(groups))
            await both.cmd(P.Op.STEP, P.STEP.pack(7))
        nowhere = P.device_axon(CONFIG, K, 0)
        await both.cmd(P.Op.INPUT, P.encode_input_entries([nowhere, 1, 0, P.TICK_END]))
        await both.cmd(P.Op.STEP, P.STEP.pack(3))
        for k in range(K):
            await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(k))
            await both.cmd(P.Op.READ, access("synapse", 0, 40, cores=K))
            await both.cmd(P.Op.READ, access("state_v", 0, 12, cores=K))
            await both.cmd(P.Op.COUNTERS, P.COUNTERS_REQUEST.pack(0))
        await both.cmd(P.Op.RESET)
        await both.cmd(P.Op.STEP, P.STEP.pack(2))
    run(bench, cores=K, real_cores=True)


def test_device_top_converts_to_verilog():
    text = verilog.convert(DeviceTop(CONFIG, divisor=8, input_depth=DEPTH, clock_hz=24_000_000), name="device")
    assert "module device" in text


def _encode_body(body: bytes) -> bytes:
    return P.cobs_encode(body + P.crc16(body).to_bytes(2, "big")) + b"\0"


def test_small_device_refuses_oversize_frames_and_goes_on():
    """A device of max_payload 256 (the iCEBreaker's): frames beyond max_encoded(256) bytes get
    OVERSIZE (detail 256, no header), a 257-byte payload that still fits gets OVERSIZE with its
    header, a READ beyond 256 bytes OVERSIZE with the words it may have; each time the next
    frame works. SPIKES frames stay within 256 bytes."""
    rng = np.random.default_rng(3)
    mp = 256
    assert P.max_encoded(mp) == 265

    async def bench(both, out):
        (hello,) = await both.cmd(P.Op.HELLO)
        assert P.HELLO_REPLY.unpack(hello.payload)[5] == mp
        # a valid frame with a 300-byte payload: 309 encoded bytes
        payload = access("state_u", 0, 1, [1]) + bytes(range(1, 256)) + bytes(range(1, 37))
        (err,) = await both.raw(P.encode_frame(P.Op.WRITE, 1, payload))
        assert P.ERROR.unpack_from(err.payload)[2:] == (P.ErrorCode.OVERSIZE, 0, mp)
        (hello,) = await both.cmd(P.Op.HELLO)
        assert hello.opcode == P.Op.HELLO_REPLY
        # garbage far beyond the FIFO and the frame buffer, then a command
        (err,) = await both.raw(bytes(rng.integers(1, 256, 3000).astype(np.uint8)) + b"\0")
        assert P.ERROR.unpack_from(err.payload)[2:] == (P.ErrorCode.OVERSIZE, 0, mp)
        (hello,) = await both.cmd(P.Op.HELLO)
        assert hello.opcode == P.Op.HELLO_REPLY
        # a 257-byte payload with zeros in it encodes to 265 bytes: its header is read
        body = P.HEADER.pack(P.PROTOCOL_VERSION, 9, P.Op.INPUT, mp + 1) + bytes(mp + 1)
        wire = _encode_body(body)
        assert len(wire) - 1 <= P.max_encoded(mp)
        (err,) = await both.raw(wire)
        assert P.ERROR.unpack_from(err.payload)[:5] == (9, P.Op.INPUT, P.ErrorCode.OVERSIZE, 1, mp)
        # the SPIKES buffer: 256 bytes a frame
        await upload(both, spiking_network())
        (ack, *spikes) = await both.cmd(P.Op.STEP, P.STEP.pack(100))
        assert ack.opcode == P.Op.ACK and len(spikes) >= 3
        assert all(200 < len(f.payload) <= mp for f in spikes[:-1])
        await both.cmd(P.Op.COUNTERS, P.COUNTERS_REQUEST.pack(0))
    run(bench, max_payload=mp)


def test_a_smaller_device_sends_the_details_that_share_the_oversize_register():
    """On a device of max_payload below the protocol's (256, the iCEBreaker's), BAD_CRC's detail
    is the CRC of the frame's bytes and a WRITE of the wrong size gets BAD_PAYLOAD with the size
    it must have, as from the emulator: the OVERSIZE limit, which shares their register, is set
    for an OVERSIZE only (it overwrote them at every refusal)."""
    mp = 256

    async def bench(both, out):
        for op, payload in ((P.Op.HELLO, b""), (P.Op.STEP, P.STEP.pack(3)), (P.Op.INPUT, bytes(mp + 1))):
            body = P.HEADER.pack(P.PROTOCOL_VERSION, 5, op, len(payload)) + payload
            (err,) = await both.raw(P.cobs_encode(body + (P.crc16(body) ^ 0x0101).to_bytes(2, "big")) + b"\0")
            assert _error(err) == (P.ErrorCode.BAD_CRC, 0, P.crc16(body))
        (err,) = await both.cmd(P.Op.WRITE, access("synapse", 0, 3, [1, 2, 3])[:-2])
        assert _error(err) == (P.ErrorCode.BAD_PAYLOAD, 1, P.REGION_ACCESS.size + 3 * 2)
        body = P.HEADER.pack(P.PROTOCOL_VERSION, 6, P.Op.INPUT, mp + 1) + bytes(mp + 1)
        (err,) = await both.raw(_encode_body(body))
        assert _error(err) == (P.ErrorCode.OVERSIZE, 1, mp)
    run(bench, max_payload=mp)


def test_smallest_device_read_and_write_limits():
    """max_payload 64: a READ of more words than a reply holds is OVERSIZE (detail: the words it
    may have), a WRITE as large gets OVERSIZE for its frame; the largest of each works."""
    mp = P.MIN_MAX_PAYLOAD

    async def bench(both, out):
        most = P.max_words(P.word_bytes(fmt.memory_map(CONFIG)["synapse"]), mp)
        (err,) = await both.cmd(P.Op.READ, access("synapse", 0, most + 1))
        assert P.ERROR.unpack_from(err.payload)[2:] == (P.ErrorCode.OVERSIZE, 1, most)
        (reply,) = await both.cmd(P.Op.READ, access("synapse", 0, most))
        assert reply.opcode == P.Op.READ_REPLY
        words = np.arange(1, most + 3, dtype=np.uint64)      # (a WRITE carries no ref_seq, ref_opcode)
        (err,) = await both.cmd(P.Op.WRITE, access("synapse", 0, most + 2, words))
        assert P.ERROR.unpack_from(err.payload)[2] == P.ErrorCode.OVERSIZE
        (ack,) = await both.cmd(P.Op.WRITE, access("synapse", 0, most, words[:most]))
        assert ack.opcode == P.Op.ACK
        await both.cmd(P.Op.READ, access("synapse", 0, most))
        await both.cmd(P.Op.HELLO)
    run(bench, max_payload=mp)


# The ULX3S's device: 4 cores of 2,048 neurons, 8,192 device neurons. A tick's record of them
# all (a bitmap of 1,024 bytes) fits only the protocol's largest payload, 2,048 bytes.
BIG = CoreConfig(n_neurons=2048, n_inputs=8, n_synapses=64, n_segments=32, n_reverse=16, n_profiles=1,
                 n_projections=1, max_delay=1)
BIG_CORES = 4


def firing_network():
    """Every neuron fires every tick by its bias alone, every one recorded."""
    net = Network("firing")
    pop = net.population("p", BIG.n_neurons, du=4095, dv=4095, vth=20, bias_mant=200, bias_exp=4)
    net.record(pop)
    return compile_network(net, BIG)


def test_largest_payload_read_write_oversize_and_a_record_beyond_1024_bytes():
    """max_payload 2,048 (P.MAX_PAYLOAD), the Link of 4 cores of 2,048 neurons in front of the
    stand-in: a READ of a word more than a reply holds (OVERSIZE with the words it may have:
    2,038 one-byte words, beyond 10 bits), a header announcing 2,049 bytes in a frame that
    fits (OVERSIZE, detail 2,048, with its header), a frame beyond max_encoded(2,048)
    (OVERSIZE, no header); a WRITE of 2,048 payload bytes (core 3's neurons 1,028 .. 2,047, each
    firing every tick) and a READ_REPLY of 2,048; then a STEP of 2 ticks in which the stand-in
    fires those neurons (device neurons 7,172 .. 8,191, as the emulator's core 3 does) sends
    two SPIKES frames of one 1,030-byte record each (a bitmap of 1,024 bytes: the second
    tick's record does not fit the first frame)."""
    mp, K = P.MAX_PAYLOAD, BIG_CORES
    assert mp == 2048
    regions = fmt.memory_map(BIG, K)
    rng = np.random.default_rng(11)
    image = firing_network()
    neuron_words = np.asarray(image.tables["neuron"], dtype=np.uint64)
    # the stand-in keeps WORDS words of a region; the neuron words are all one, so it reads back
    # what the emulator holds
    assert (neuron_words == neuron_words[0]).all() and neuron_words[0] != 0
    most = (mp - P.REGION_ACCESS.size) // 2       # a WRITE's 2-byte words: 1,020 (a READ's: 1,019)
    first = BIG.n_neurons - most
    fires = range(P.device_neuron(BIG, 3, first), P.device_neuron(BIG, 3, BIG.n_neurons - 1) + 1)

    def at(name, addr, count, words=None):
        return access(name, addr, count, words, cores=K, config=BIG)

    async def bench(both, out):
        (hello,) = await both.cmd(P.Op.HELLO)
        assert P.parse_hello(hello.payload).max_payload == mp
        for name in ("neuron", "state_ref"):
            most_read = P.max_words(P.word_bytes(regions[name]), mp)
            (err,) = await both.cmd(P.Op.READ, at(name, 0, most_read + 1))
            assert _error(err) == (P.ErrorCode.OVERSIZE, 1, most_read)
        # a header announcing more than the protocol's largest payload, in a frame that fits
        body = P.HEADER.pack(P.PROTOCOL_VERSION, 9, P.Op.INPUT, mp + 1) + bytes(mp + 1)
        wire = _encode_body(body)
        assert len(wire) - 1 <= P.max_encoded(mp)
        (err,) = await both.raw(wire)
        assert P.ERROR.unpack_from(err.payload)[:5] == (9, P.Op.INPUT, P.ErrorCode.OVERSIZE, 1, mp)
        (err,) = await both.raw(bytes(rng.integers(1, 256, P.max_encoded(mp) + 1).astype(np.uint8)) + b"\0")
        assert _error(err) == (P.ErrorCode.OVERSIZE, 0, mp)
        # cores 0..2: no table but a seed (they run, nothing recorded); core 3: neurons `first`
        # on fire every tick (its tables' other words are zero, as after power-on)
        for core in range(3):
            await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(core))
            await both.cmd(P.Op.WRITE, at("lfsr_seed", 0, 1, [1]))
        await both.cmd(P.Op.SELECT_CORE, P.SELECT_CORE.pack(3))
        for name in ("profile", "lfsr_seed"):
            await both.cmd(P.Op.WRITE, at(name, 0, len(image.tables[name]), image.tables[name]))
        payload = at("neuron", first, most, neuron_words[first:])
        assert len(payload) == mp
        (ack,) = await both.cmd(P.Op.WRITE, payload)
        assert ack.opcode == P.Op.ACK
        (reply,) = await both.cmd(P.Op.READ, at("neuron", first + 1, most - 1))
        assert reply.opcode == P.Op.READ_REPLY and len(reply.payload) == mp
        await both.cmd(P.Op.RESET)
        (ack, *spikes) = await both.cmd(P.Op.STEP, P.STEP.pack(2))
        assert ack.opcode == P.Op.ACK and len(spikes) == 2
        for tick, frame in enumerate(spikes):
            assert len(frame.payload) == P.SPIKES.size + P.SPIKE_RECORD.size + K * BIG.n_neurons // 8
            _, _, times, neurons = P.decode_spikes(frame.payload)
            assert times.tolist() == [tick] * len(fires) and neurons.tolist() == list(fires)
        await both.cmd(P.Op.HELLO)
    result = run(bench, config=BIG, max_payload=mp, cores=K, fires=fires)
    print(f"{result['cycles']} cycles")


def test_leds_heartbeat_and_holds_from_one_prescaler():
    """At a 4 kHz clock: the heartbeat toggles every 1,024 cycles (the largest power of two
    within half a second), a received byte lights the activity LED for LED_HOLD_S (200 cycles)
    to within one slow period (8 cycles), and the error LED stays dark."""
    from rtl.link.controller import slow_period_for
    from rtl.link.top import LED_HOLD_S

    clock_hz = 4000
    slow = slow_period_for(clock_hz)
    assert slow == 8
    dut = DeviceTop(CONFIG, input_depth=DEPTH, clock_hz=clock_hz, byte_level=True)
    sim = Simulator(dut)
    sim.add_clock(1 / clock_hz)
    seen = {"beat": [], "lit": 0, "error": 0}

    async def tb(ctx):
        last = 0
        for cycle in range(2200):
            if cycle == 300:
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, 0)
            elif cycle == 301:
                ctx.set(dut.i.valid, 0)
            _, _, beat, act, err = await ctx.tick().sample(dut.led_heartbeat, dut.led_activity, dut.led_error)
            if beat != last:
                seen["beat"].append(cycle)
                last = beat
            seen["lit"] += act
            seen["error"] += err

    sim.add_testbench(tb)
    sim.run()
    assert seen["beat"] == [1024, 2048]
    hold = int(clock_hz * LED_HOLD_S)
    assert hold <= seen["lit"] <= hold + slow, seen["lit"]
    assert seen["error"] == 0
