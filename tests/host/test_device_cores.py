"""A device of K cores (docs/spec.md §12.7, docs/protocol.md "A device of several cores"): the
emulator of K cores behind host.Device runs a MultiImage as the golden model of several cores
(sim.multicore.MultiCoreModel) does: spikes (spikes in flight across runs included), weights,
counters and state, in the network's numbering; and the emulator answers SELECT_CORE, INPUT's
device axons and the routing tables as the protocol says."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from firmware import CapacityError, ConfigError, CoreConfig, FromList, Network, compile_network, formats
from firmware import protocol as P
from firmware.run import RunResult
from host import Device
from host.errors import ConfigMismatchError
from sim import GoldenModel
from sim.device_emulator import DeviceEmulator, main as emulator_main
from sim.multicore import MultiCoreModel
from tests.support.multicore_networks import CORE, random_network
from tests.support.networks import relay_network

pytestmark = pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning")


def same_result(got, want):
    assert np.array_equal(got.times, want.times) and np.array_equal(got.neurons, want.neurons)
    assert np.array_equal(got.output_ids, want.output_ids) and got.ticks == want.ticks


@pytest.mark.parametrize("seed, cores, device_cores", [(0, 2, 2), (2, 3, 3), (1, 2, 3)])
def test_emulator_of_k_cores_equals_the_multicore_model(seed, cores, device_cores):
    """Random networks with cut synapses and plastic projections (seeds 0, 2: stochastic STDP),
    run in two pieces (spikes in flight carry over), on devices of as many cores or one more
    (an idle one): spikes, every projection's weights, counters, u/v/ref/y/x/acc; reset and
    the same again; Device("model") with the MultiImage alike."""
    net, raster, lfsr_seed = random_network(seed, plastic=seed != 1)
    multi = compile_network(net, CORE, cores=cores, lfsr_seed=lfsr_seed)
    assert multi.route_core.size > 0                              # spikes cross cores
    reference = MultiCoreModel(multi)
    half = len(raster) // 2
    want = [reference.run(half, raster[:half]), reference.run(len(raster) - half, raster[half:])]
    state = reference.state()
    with Device.open(f"emulator://?cores={device_cores}", CORE) as dev, Device.open("model") as model:
        assert dev.cores == device_cores
        for d in (dev, model):
            assert d.load(multi) is multi
            for _ in range(2):
                same_result(d.run(half, raster[:half]), want[0])
                same_result(d.run(len(raster) - half, raster[half:]), want[1])
                for proj in net.projections:
                    pre, post, w = reference.projection_weights(proj.name)
                    matrix = d.weights(proj.name)
                    assert np.array_equal(matrix[pre, post], w) and np.count_nonzero(~np.isnan(matrix)) == w.size
                assert d.counters() == reference.counters
                for name in ("u", "v", "ref", "y"):
                    assert np.array_equal(d.probe(name), state[name]), name
                assert d.probe("x").shape == (multi.n_inputs + multi.n_neurons,)
                assert d.probe("acc").shape == (CORE.max_delay, multi.n_neurons)
                assert np.array_equal(d.probe("v", "p0"), state["v"][multi.neuron_ids("p0")])
                d.reset()
    spikes = want[0].neurons.size + want[1].neurons.size
    assert spikes > 0


@contextlib.contextmanager
def loaded(seed):
    """(the raster, the MultiImage of 2 cores, the emulator of 2 cores, "model"), both loaded
    with random_network(seed, plastic)."""
    net, raster, lfsr_seed = random_network(seed, plastic=True)
    multi = compile_network(net, CORE, cores=2, lfsr_seed=lfsr_seed)
    with Device.open("emulator://?cores=2", CORE) as dev, Device.open("model") as model:
        for d in (dev, model):
            d.load(multi)
        yield raster, multi, dev, model


def test_probes_x_and_acc_are_each_cores_in_the_networks_numbering():
    with loaded(3) as (raster, multi, dev, model):
        for d in (dev, model):
            d.run(7, raster[:7])
        for name in ("x", "acc"):
            assert np.array_equal(dev.probe(name), model.probe(name)), name
        cores = model.model.cores
        n = multi.neuron_ids("p1")
        k, local = multi.neuron_core[n], multi.neuron_local[n]
        assert np.array_equal(dev.probe("x", "p1"), [cores[c].x[CORE.n_inputs + j] for c, j in zip(k, local)])
        first = multi.input_ptr[:-1]
        assert np.array_equal(dev.probe("x", "in"), [cores[c].x[a] for c, a in
                                                      zip(multi.input_core[first], multi.input_axon[first])])


def test_stream_and_set_weights_and_keep_weights():
    with loaded(0) as (raster, multi, dev, model):
        blocks = list(dev.stream((np.nonzero(row)[0] for row in raster), block_ticks=16))
        same_result(RunResult.concatenate(blocks, multi.output_ids, 0), model.run(len(raster), raster))
        for proj in ("in->p0", "rec0"):
            assert np.array_equal(dev.weights(proj), model.weights(proj), equal_nan=True)
            matrix = dev.weights(proj)
            has = ~np.isnan(matrix)
            matrix[has] = np.clip(matrix[has] - 3, -40, 90)
            for d in (dev, model):
                d.set_weights(proj, matrix)
                assert np.array_equal(d.weights(proj), matrix, equal_nan=True)
            masked = dev.weights(proj, masked=True)
            assert np.array_equal(masked.mask, ~has) and np.array_equal(masked[has], matrix[has])
        stray = np.where(np.isnan(matrix), 5.0, matrix)
        stray[has] = np.nan
        for d in (dev, model):
            with pytest.raises(ValueError, match=r"projection 'rec0' has no synapse \(\d+, \d+\)"):
                d.set_weights("rec0", stray)
            with pytest.raises(ValueError, match=r"shape \(1, 1\); expected"):
                d.set_weights("rec0", [[1]])
            with pytest.raises(KeyError, match="nope"):
                d.weights("nope")
        assert np.array_equal(dev.weights("rec0"), matrix, equal_nan=True)     # nothing written
        learned = dev.weights("in->p0")
        dev.reset(keep_weights=True)
        assert np.array_equal(dev.weights("in->p0"), learned, equal_nan=True)
        dev.reset()
        assert not np.array_equal(dev.weights("in->p0"), learned, equal_nan=True)
        assert dev.counters()["ticks"] == 0


def test_an_image_and_a_network_on_a_device_of_several_cores():
    """An Image runs on core 0 (the others idle) as on one core; a Network that fits no core is
    compiled for the device's cores."""
    image = compile_network(relay_network(8), CORE)
    inputs = {0: [1, 2], 3: [7]}
    with Device.open("emulator://?cores=3", CORE) as dev:
        dev.load(image)
        model = GoldenModel(image)
        same_result(dev.run(6, inputs), model.run(6, inputs))
        assert dev.counters() == model.counters
        net = Network("wide")
        inp = net.inputs("in", 100)
        pops = [net.population(f"p{k}", 50, vth=5) for k in range(2)]
        for pop in pops:
            net.connect(inp, pop, FromList([(j, j % 50, 100) for j in range(100)]), name=f"in->{pop.name}")
            net.record(pop)
        with pytest.raises(CapacityError):
            compile_network(net, CORE)
        loaded = dev.load(net)
        assert loaded.cores == 3
        ref = MultiCoreModel(loaded)
        same_result(dev.run(4, {0: [3, 60]}), ref.run(4, {0: [3, 60]}))


def test_refusals_of_a_device_of_several_cores():
    net, _, seed = random_network(1)
    with Device.open("emulator://?cores=2", CORE) as dev:
        with pytest.raises(ConfigMismatchError, match="placed on 3 cores, but the device .* has 2"):
            dev.load(compile_network(net, CORE, cores=3, lfsr_seed=seed))
        other = CoreConfig(n_neurons=64, n_inputs=128, n_synapses=8192, n_segments=2048, n_reverse=4096,
                           n_profiles=8, n_projections=16, weight_bits=8, max_delay=4)
        with pytest.raises(ConfigMismatchError, match="n_inputs: image 128, device 160"):
            dev.load(compile_network(net, other, cores=2, lfsr_seed=seed))
        with pytest.raises(ValueError, match="cores 0 .. 1"):
            dev.read_region("neuron", core=2)
    for url, match in (("emulator://?cores=x", "'cores=x' is not an option"),
                       ("emulator://?cores=2&cores=3", "at most once"),
                       ("emulator://?speed=3", "'speed=3' is not an option"),
                       ("emulator://host", "options after '?'"),
                       ("emulator://?cores=0", r"cores = 0 must be an integer in \[1, 256\]"),
                       ("emulator://?cores=129", "an INPUT entry carries at most 32767")):
        with pytest.raises(ConfigError, match=match):
            Device.open(url, CORE)
    with pytest.raises(ConfigError, match=r"record .* max_payload = 64"):
        DeviceEmulator(CoreConfig(n_neurons=256), cores=2, max_payload=64)
    assert emulator_main(["--cores", "0"]) == 2


# --- the emulator of K cores on the wire ---------------------------------------------------


def exchange(emu, op, payload=b""):
    emu.receive(P.encode_frame(op, 0, payload))
    while emu.service():
        pass
    return P.FrameDecoder().feed(emu.take_output())


def error_of(frame):
    assert frame.opcode == P.Op.ERROR, frame
    return tuple(P.ERROR.unpack_from(frame.payload)[2:])


SMALL = CoreConfig(n_neurons=8, n_inputs=8, n_synapses=64, n_segments=64, n_reverse=64)


def relay_on(cores, config=SMALL):
    """An emulator of `cores` cores of `config` with relay_network on every core, no routes."""
    emu = DeviceEmulator(config, cores=cores)
    image = compile_network(relay_network(config.n_inputs), config)
    regions = formats.memory_map(config, cores)
    for k in range(cores):
        assert exchange(emu, P.Op.SELECT_CORE, P.SELECT_CORE.pack(k))[0].opcode == P.Op.ACK
        for name in formats.TABLE_REGIONS:
            words = image.tables[name]
            r = regions[name]
            (ack,) = exchange(emu, P.Op.WRITE, P.REGION_ACCESS.pack(r.index, P.word_bytes(r), 0, words.size)
                              + P.pack_words(words, P.word_bytes(r)))
            assert ack.opcode == P.Op.ACK
    exchange(emu, P.Op.RESET)
    return emu, regions


def write_route(emu, regions, core, address, axon):
    route = regions["route"]
    word = formats.route_layout(emu.config).pack(valid=np.array([1]), axon=np.array([axon]))
    exchange(emu, P.Op.SELECT_CORE, P.SELECT_CORE.pack(core))
    (ack,) = exchange(emu, P.Op.WRITE, P.REGION_ACCESS.pack(route.index, P.word_bytes(route), address, 1)
                      + P.pack_words(word, P.word_bytes(route)))
    assert ack.opcode == P.Op.ACK


def spikes_of(frames):
    out = [P.decode_spikes(f.payload) for f in frames if f.opcode == P.Op.SPIKES]
    return [(t.tolist(), n.tolist()) for _, _, t, n in out if t.size]


def test_select_core_and_device_numbers_on_the_wire():
    emu, regions = relay_on(3)
    (hello,) = exchange(emu, P.Op.HELLO)
    info = P.parse_hello(hello.payload)
    assert (info.n_cores, info.n_regions) == (3, 19)
    assert error_of(exchange(emu, P.Op.SELECT_CORE, P.SELECT_CORE.pack(3))[0]) == (P.ErrorCode.BAD_CORE, 1, 3)
    assert error_of(exchange(emu, P.Op.SELECT_CORE, b"")[0]) == (P.ErrorCode.BAD_PAYLOAD, 1, 1)
    # device axon core << 3 | axon; device neuron core << 3 | neuron; each core drops its own
    # out-of-order axons; core 3 is no core (reported, counted by no core)
    entries = [P.device_axon(SMALL, 0, 2), P.device_axon(SMALL, 2, 5), P.device_axon(SMALL, 2, 4),
               P.device_axon(SMALL, 1, 0), P.device_axon(SMALL, 3, 1), P.TICK_END]
    exchange(emu, P.Op.INPUT, P.encode_input_entries(entries))
    frames = exchange(emu, P.Op.STEP, P.STEP.pack(2))
    reports = [P.REPORT.unpack(f.payload) for f in frames if f.opcode == P.Op.REPORT]
    assert reports == [(P.ReportKind.INPUT_DROPPED, 0, 0, 2, 0)]
    assert spikes_of(frames) == [([1, 1, 1], [P.device_neuron(SMALL, 0, 2), P.device_neuron(SMALL, 1, 0),
                                              P.device_neuron(SMALL, 2, 5)])]
    dropped = []
    for k in range(3):
        exchange(emu, P.Op.SELECT_CORE, P.SELECT_CORE.pack(k))
        (reply,) = exchange(emu, P.Op.COUNTERS, b"\0")
        counts = [P.COUNTER.unpack_from(reply.payload, 4 + 8 * j)[0] for j in range(8)]
        dropped.append(counts[formats.COUNTERS.index("dropped")])
    assert dropped == [0, 0, 1]


def test_a_cores_group_is_its_host_axons_then_its_remote_axons_as_its_input_stage_takes_them():
    """Spec §12.7: the host's entries in queue order, then the remote axons ascending; an axon
    not above the one taken before it is dropped and counted by its core: here remote axon 3
    after host axon 5 (a route into the host's range, which no compiled image has)."""
    emu, regions = relay_on(2)
    write_route(emu, regions, 0, 1 * 2 + 1, 3)          # core 0's neuron 1 -> core 1's axon 3
    exchange(emu, P.Op.INPUT, P.encode_input_entries([1, P.TICK_END, P.TICK_END,
                                                      P.device_axon(SMALL, 1, 5), P.TICK_END]))
    frames = exchange(emu, P.Op.STEP, P.STEP.pack(4))
    reports = [P.REPORT.unpack(f.payload) for f in frames if f.opcode == P.Op.REPORT]
    assert reports == [(P.ReportKind.INPUT_DROPPED, 0, 0, 1, 2)]
    # core 1's neuron 3 does not fire: its axon 3 came after 5 in tick 2
    assert spikes_of(frames) == [([1, 3], [1, P.device_neuron(SMALL, 1, 5)])]
    exchange(emu, P.Op.SELECT_CORE, P.SELECT_CORE.pack(1))
    (reply,) = exchange(emu, P.Op.COUNTERS, b"\0")
    assert P.COUNTER.unpack_from(reply.payload, 4 + 8 * formats.COUNTERS.index("dropped"))[0] == 1


def test_routes_deliver_in_the_next_tick_across_steps_until_reset():
    """Core 0's neuron 2 routes to core 1's axon 6 (word 2 * 2 + 1), which core 1 relays to its
    neuron 6 (device neuron 14): a spike of a STEP's last tick reaches core 1 in the next
    STEP's first tick; RESET drops it."""
    emu, regions = relay_on(2)
    write_route(emu, regions, 0, 2 * 2 + 1, 6)
    exchange(emu, P.Op.INPUT, P.encode_input_entries([2, P.TICK_END]))
    assert spikes_of(exchange(emu, P.Op.STEP, P.STEP.pack(2))) == [([1], [2])]
    assert spikes_of(exchange(emu, P.Op.STEP, P.STEP.pack(2))) == [([3], [P.device_neuron(SMALL, 1, 6)])]
    exchange(emu, P.Op.RESET)
    exchange(emu, P.Op.INPUT, P.encode_input_entries([2, P.TICK_END]))
    assert spikes_of(exchange(emu, P.Op.STEP, P.STEP.pack(2))) == [([1], [2])]
    exchange(emu, P.Op.RESET)
    assert spikes_of(exchange(emu, P.Op.STEP, P.STEP.pack(4))) == []


def test_a_route_to_an_axon_a_core_has_not_is_bad_tables():
    six = CoreConfig(n_neurons=8, n_inputs=6, n_synapses=64, n_segments=64, n_reverse=64)
    emu, regions = relay_on(2, six)
    write_route(emu, regions, 1, 5, 5)
    assert exchange(emu, P.Op.STEP, P.STEP.pack(1))[-1].opcode == P.Op.SPIKES
    write_route(emu, regions, 1, 5, 7)             # (the axon field holds 0 .. 7)
    (err,) = exchange(emu, P.Op.STEP, P.STEP.pack(1))
    assert error_of(err) == (P.ErrorCode.BAD_TABLES, 1, 0)
    assert "core 1: route word 5 (neuron 2 to core 1) names axon 7" in err.payload[P.ERROR.size:].decode()


def test_a_one_core_device_knows_no_select_core_and_says_0_cores():
    emu = DeviceEmulator(SMALL)
    (err,) = exchange(emu, P.Op.SELECT_CORE, P.SELECT_CORE.pack(0))
    assert error_of(err) == (P.ErrorCode.UNKNOWN_OPCODE, 1, P.Op.SELECT_CORE)
    (hello,) = exchange(emu, P.Op.HELLO)
    at, size = P.HELLO_LAYOUT["n_cores"]
    assert hello.payload[at:at + size] == b"\0\0"           # the bytes of every one-core device
    assert P.parse_hello(hello.payload).n_cores == 1


def test_four_cores_of_2048_neurons_send_a_ticks_record_of_more_than_1024_bytes():
    """The ULX3S's device, 4 cores of 2,048 neurons behind max_payload 2,048 (the protocol's
    largest): a tick's record of 8,192 device neurons (up to 1,030 bytes) arrives whole, the
    run equals MultiCoreModel's; on max_payload 1,024 such a device cannot be made."""
    config = CoreConfig(n_neurons=2048, n_inputs=64, n_synapses=256, n_segments=64, n_reverse=64)
    rng = np.random.default_rng(3)
    net = Network("busy")
    pop = net.population("p", 4 * config.n_neurons, du=4095, dv=0, vth=100,     # thousands a tick
                         bias_mant=rng.integers(1, 256, 4 * config.n_neurons), bias_exp=4)
    net.record(pop)
    multi = compile_network(net, config, cores=4)
    want = MultiCoreModel(multi).run(12)
    with Device.open("emulator://?cores=4", config, max_payload=P.MAX_PAYLOAD) as dev:
        assert dev.link.max_payload == P.MAX_PAYLOAD == 2048
        dev.load(multi)
        sizes, feed = [], dev.link.decoder.feed

        def spy(data):          # the SPIKES payloads the host decodes
            items = feed(data)
            sizes.extend(len(i.payload) for i in items if isinstance(i, P.Frame) and i.opcode == P.Op.SPIKES)
            return items
        dev.link.decoder.feed = spy
        got = dev.run(12)
    same_result(got, want)
    assert 1024 < max(sizes) <= 2048
    with pytest.raises(ConfigError, match="takes up to 1030 bytes; a SPIKES frame of max_payload = 1024"):
        DeviceEmulator(config, cores=4, max_payload=1024)
