"""A network on several cores (docs/spec.md §12): the partition does not change the spikes or
the weights; the compiler refuses what would; the multi-core image file is bounded and checked."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from firmware import (CapacityError, FromList, ImageError, MultiImage, Network, NetworkError,
                      PartitionError, STDPRule, compile_network)
from firmware.partition import REMOTE
from sim import GoldenModel, InputError
from sim.multicore import MultiCoreModel
from tests.support.multicore_networks import CORE, ONE_CORE, random_network
from tests.support.random_networks import REGRESSION_CONFIG, random_case

pytestmark = pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning")


def one_core(net, raster, seed):
    model = GoldenModel(compile_network(net, ONE_CORE, lfsr_seed=seed))
    return model, model.run(len(raster), raster, record_all=True)


def assert_same(net, reference, ref_result, model, result):
    assert np.array_equal(result.all_times, ref_result.all_times)
    assert np.array_equal(result.all_neurons, ref_result.all_neurons)
    assert np.array_equal(result.times, ref_result.times) and np.array_equal(result.neurons, ref_result.neurons)
    assert np.array_equal(result.output_ids, ref_result.output_ids)
    for proj in net.projections:
        for a, b in zip(reference.projection_weights(proj.name), model.projection_weights(proj.name)):
            assert np.array_equal(a, b), proj.name


@pytest.mark.parametrize("plastic", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_partitions_give_the_spikes_and_weights_of_one_core(seed, plastic):
    net, raster, lfsr_seed = random_network(seed, plastic)
    reference, expected = one_core(net, raster, lfsr_seed)
    cores_run, cut = 0, 0
    for cores in (1, 2, 3, 4):
        try:
            multi = compile_network(net, CORE, cores=cores, lfsr_seed=lfsr_seed)
        except CapacityError as error:       # too many neurons for so few cores of CORE
            assert "CoreConfig.n_neurons" in str(error)
            continue
        model = MultiCoreModel(multi)
        assert_same(net, reference, expected, model, model.run(len(raster), raster, record_all=True))
        cores_run += 1
        cut += multi.route_core.size
    assert cores_run >= 2 and cut > 0          # several partitions, spikes crossing cores
    if plastic:                                # the weights did learn
        pre, post, w = reference.projection_weights("in->p0")
        assert not np.array_equal(w, net.projections[0].weights(8)[np.lexsort((net.projections[0].post_idx,
                                                                                net.projections[0].pre_idx))])


@pytest.mark.parametrize("seed", [0, 3])
def test_fast_cores_equal_the_reference(seed):
    pytest.importorskip("numba")
    net, raster, lfsr_seed = random_network(seed, plastic=True)
    reference, expected = one_core(net, raster, lfsr_seed)
    model = MultiCoreModel(compile_network(net, CORE, cores=4, lfsr_seed=lfsr_seed), fast=True)
    assert_same(net, reference, expected, model, model.run(len(raster), raster, record_all=True))


def test_one_core_is_the_single_core_image():
    net, _, seed = random_network(1, plastic=True)
    single = compile_network(net, ONE_CORE, lfsr_seed=seed)
    multi = compile_network(net, ONE_CORE, cores=1, lfsr_seed=seed)
    assert multi.cores == 1 and multi.route_core.size == 0
    for name, words in single.tables.items():
        assert np.array_equal(words, multi.images[0].tables[name]), name
    assert multi.images[0].symbols["populations"] == single.symbols["populations"]
    assert np.array_equal(multi.output_ids, single.output_ids)


def test_runs_in_pieces_equal_one_run_and_spikes_in_flight_are_kept():
    net, raster, seed = random_network(2, plastic=True)
    whole = MultiCoreModel(compile_network(net, CORE, cores=3, lfsr_seed=seed))
    expected = whole.run(len(raster), raster, record_all=True)
    parts = MultiCoreModel(compile_network(net, CORE, cores=3, lfsr_seed=seed))
    cut = len(raster) // 3
    a = parts.run(cut, raster[:cut], record_all=True)
    assert any(p.size for p in parts._pending)          # spikes on their way to another core
    b = parts.run(len(raster) - cut, raster[cut:], record_all=True)
    assert np.array_equal(np.concatenate([a.all_times, b.all_times]), expected.all_times)
    assert np.array_equal(np.concatenate([a.all_neurons, b.all_neurons]), expected.all_neurons)
    assert b.start_tick == cut


def test_counters_are_the_networks():
    net, raster, seed = random_network(4, plastic=True)
    reference, _ = one_core(net, raster, seed)
    model = MultiCoreModel(compile_network(net, CORE, cores=3, lfsr_seed=seed))
    model.run(len(raster), raster)
    got, want = model.counters, reference.counters
    for name in ("ticks", "input_events", "spikes", "output_spikes", "plastic_updates", "overruns", "dropped"):
        assert got[name] == want[name], name
    # deliveries of the last tick's spikes to other cores happen in the next tick
    in_flight = sum(int(np.sum(np.diff(core.tables.fan_ptr)[pending]))
                    for core, pending in zip(model.cores, model._pending))
    assert got["synaptic_events"] + in_flight == want["synaptic_events"]
    assert sum(c["input_events"] for c in model.core_counters()) >= got["input_events"]
    model.reset()
    assert model.tick == 0 and all(v == 0 for v in model.counters.values())


def two_populations(delay=2, plastic=None, lr_shift=0):
    net = Network("two")
    inp = net.inputs("in", 4)
    a = net.population("a", 6, vth=10, bias_mant=30)
    b = net.population("b", 5, vth=10)
    rule = STDPRule(a_plus=40, a_minus=-30, lr_shift=lr_shift, w_min=0, w_max=100)
    net.connect(inp, a, FromList([(0, 0, 50), (1, 5, 60)]), stdp=rule if plastic == "input" else None,
                name="in->a")
    net.connect(inp, b, FromList([(2, 0, 50), (3, 4, 70)]), stdp=rule if plastic == "input" else None,
                name="in->b")
    net.connect(a, b, FromList([(k, k % 5, 60, delay) for k in range(6)]),
                stdp=rule if plastic == "cut" else None, name="a->b")
    net.record(b)
    return net


def test_a_delay_1_synapse_between_cores_is_refused():
    net = two_populations(delay=1)
    with pytest.raises(PartitionError, match=r"'a->b'.*delay 1.*core 0 to core 1.*delay >= 2"):
        compile_network(net, CORE, placement={"a": 0, "b": 1})
    multi = compile_network(net, CORE, cores=2)           # automatic: a and b share a core
    assert multi.symbols["placement"]["a"] == multi.symbols["placement"]["b"]
    assert multi.route_core.size == 0
    compile_network(two_populations(delay=2), CORE, placement={"a": 0, "b": 1})


def test_a_plastic_synapse_between_cores_is_refused():
    with pytest.raises(PartitionError, match=r"'a->b' is plastic.*core 0 to core 1.*may not cross"):
        compile_network(two_populations(plastic="cut"), CORE, placement={"a": 0, "b": 1})


def test_stochastic_plasticity_on_several_cores_needs_exact_false():
    net = two_populations(plastic="input", lr_shift=4)
    with pytest.raises(PartitionError, match=r"stochastic rounding target several cores.*core 0.*core 1"):
        compile_network(net, CORE, placement={"a": 0, "b": 1})
    multi = compile_network(net, CORE, placement={"a": 0, "b": 1}, exact=False)
    MultiCoreModel(multi).run(20, {0: [0, 1, 2, 3]})
    automatic = compile_network(net, CORE, cores=2)          # exact: one core for both targets
    assert automatic.symbols["placement"]["a"] == automatic.symbols["placement"]["b"]


def test_deterministic_plasticity_on_several_cores_equals_one_core():
    net = two_populations(plastic="input", lr_shift=0)
    raster = np.random.default_rng(0).random((60, 4)) < 0.4
    reference, expected = one_core(net, raster, 99)
    model = MultiCoreModel(compile_network(net, CORE, placement={"a": 0, "b": 1}, lfsr_seed=99))
    assert_same(net, reference, expected, model, model.run(60, raster, record_all=True))
    assert model.image.route_core.size == 6                  # every a neuron reaches core 1


def test_limits_name_themselves():
    net, _, _ = random_network(5)
    with pytest.raises(CapacityError, match=r"needs \d+ neurons, 2 cores hold 128 .*CoreConfig.n_neurons"):
        compile_network(net, CORE, cores=2)
    big = Network("big")
    pop = big.population("ring", 100)
    big.connect(pop, pop, FromList([(k, (k + 1) % 100, 10) for k in range(100)]), name="ring")
    with pytest.raises(PartitionError, match=r"\['ring'\] \(100 neurons\) must share one core.*delay 1.*holds 64"):
        compile_network(big, CORE, cores=4)
    wide = Network("wide")
    inp = wide.inputs("in", 200)
    wide.connect(inp, wide.population("p", 10), FromList([(0, 0, 1)]), name="x")
    with pytest.raises(CapacityError, match=r"core 0 of 2: inputs 'in': needs 200 input axons.*CoreConfig.n_inputs"):
        compile_network(wide, CORE, cores=2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(cores=0), r"cores = 0 must be an integer in \[1, 1024\]"),
    (dict(cores=True), r"cores = True must be an integer"),
    (dict(placement={"a": 0}), r"leaves out populations \['b'\]"),
    (dict(placement={"a": 0, "b": 1, "c": 0}), r"names \['c'\], which are not populations"),
    (dict(placement={"a": 0, "b": 2}, cores=2), r"core 2 is outside \[0, 1\]"),
    (dict(placement={"a": [0, 1], "b": 0}), r"give one core \(an integer\) or 6 integers"),
    (dict(placement={"a": 0.5, "b": 0}), r"give one core"),
    (dict(cores=2, exact="yes"), r"exact = 'yes' must be True or False"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(NetworkError, match=match):
        compile_network(two_populations(), CORE, **kwargs)


def test_per_neuron_placement_and_names():
    net = two_populations()
    multi = compile_network(net, CORE, placement={"a": [0, 1, 0, 1, 0, 1], "b": 1})
    assert multi.neuron_ids("b").tolist() == list(range(6, 11))
    assert multi.input_ids("in").tolist() == [0, 1, 2, 3]
    assert multi.neuron_core[:6].tolist() == [0, 1, 0, 1, 0, 1]
    assert {name for _, name in multi.projection("a->b")["parts"]} == {"a->b", "a->b" + REMOTE}
    with pytest.raises(KeyError, match="no projection named 'nope'"):
        multi.projection("nope")
    with pytest.raises(InputError, match="input axon 4 at tick 0 is out of range"):
        MultiCoreModel(multi).run(3, {0: [4]})


def test_file_round_trip(tmp_path):
    net, raster, seed = random_network(0, plastic=True)
    multi = compile_network(net, CORE, cores=3, lfsr_seed=seed)
    path = tmp_path / "net.axm"
    multi.save(path)
    loaded = MultiImage.load(path)
    assert loaded.symbols == multi.symbols and loaded.cores == 3
    for name in ("neuron_core", "neuron_local", "input_ptr", "input_core", "input_axon", "route_ptr",
                 "route_core", "route_axon"):
        assert np.array_equal(getattr(loaded, name), getattr(multi, name)), name
    a = MultiCoreModel(multi).run(len(raster), raster)
    b = MultiCoreModel(loaded).run(len(raster), raster)
    assert np.array_equal(a.times, b.times) and np.array_equal(a.neurons, b.neurons)


def _rewrite(data: bytes, header: dict) -> bytes:
    """A file with another JSON header (checksum recomputed), the same payload."""
    import json
    import struct
    import zlib
    magic, version, reserved, hlen, plen, _ = struct.unpack_from("<8sHHIQI", data)
    new = json.dumps(header).encode()
    payload = data[28 + hlen:]
    return struct.pack("<8sHHIQI", magic, version, reserved, len(new), plen,
                       zlib.crc32(new + payload)) + new + payload


def test_corrupt_files_are_refused(tmp_path):
    import json
    multi = compile_network(two_populations(), CORE, placement={"a": 0, "b": 1})
    data = multi.to_bytes()
    header = json.loads(data[28:28 + int.from_bytes(data[12:16], "little")])
    cases = {
        "truncated": (data[:-3], r"truncated"),
        "trailing": (data + b"\0", r"trailing bytes"),
        "magic": (b"AXONIMG\0" + data[8:], r"not an axonite multi-core image"),
        "crc": (data[:-1] + bytes([data[-1] ^ 1]), r"checksum mismatch"),
        "cores": (_rewrite(data, {**header, "images": header["images"] * 600}), r"1 \.\. 1024 byte lengths"),
        "arrays": (_rewrite(data, {**header, "arrays": {**header["arrays"], "route_core": 10**12}}),
                   r"route_core has 1000000000000 entries; 2 cores .* at most"),
        "keys": (_rewrite(data, {**header, "extra": 1}), r"exactly the keys"),
        "config field": (_rewrite(data, {**header, "config": {**header["config"], "weight_bits": "8"}}),
                         r"config weight_bits = '8' is not an integer"),
        "config size": (_rewrite(data, {**header, "config": {**header["config"], "n_inputs": 10**8}}),
                        r"n_inputs"),
    }
    for name, (blob, match) in cases.items():
        with pytest.raises(ImageError, match=match):
            MultiImage.from_bytes(blob)
    with pytest.raises(ImageError, match="no such file"):
        MultiImage.load(tmp_path / "missing.axm")


def test_inconsistent_maps_are_refused():
    multi = compile_network(two_populations(), CORE, placement={"a": 0, "b": 1})
    fields = {name: getattr(multi, name) for name in ("neuron_core", "neuron_local", "input_ptr",
                                                      "input_core", "input_axon", "route_ptr",
                                                      "route_core", "route_axon")}
    bad_route = fields["route_core"].copy()
    bad_route[0] = 0                                        # core 0 routing to itself
    with pytest.raises(ImageError, match="sends a core's spikes to itself"):
        MultiImage(multi.config, multi.images, multi.symbols, **{**fields, "route_core": bad_route})
    twice = fields["neuron_local"].copy()
    twice[1] = twice[0]
    with pytest.raises(ImageError, match="share a core's neuron"):
        MultiImage(multi.config, multi.images, multi.symbols, **{**fields, "neuron_local": twice})
    with pytest.raises(ImageError, match="outside the 2 cores"):
        MultiImage(multi.config, multi.images, multi.symbols, **{**fields, "input_axon": fields["input_axon"] + 500})


def test_one_input_wrap_warning_names_the_network_neurons():
    net = Network("wrap")
    inp = net.inputs("in", 3)
    a = net.population("a", 4)
    b = net.population("b", 4)
    net.connect(inp, a, FromList([(k, 0, 127) for k in range(3)]), weight_exp=7, name="loud")
    net.connect(a, b, FromList([(0, 1, 1, 2)]), name="quiet")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compile_network(net, CORE, placement={"a": 0, "b": 1})
    wraps = [w for w in caught if "summed synaptic input" in str(w.message)]
    assert len(wraps) == 1 and "population 'a' neuron 0" in str(wraps[0].message)


def test_spec_example_12_2():
    """docs/spec.md §12.2: a3 (core 0) -> b1 (core 1), delay 3: remote axon 2 of core 1 (after
    the 2 input replicas) with delay 2; a3 fires at tick 10, b1 gets the weight at tick 13."""
    net = Network("example")
    inp = net.inputs("in", 2)
    a = net.population("a", 4, du=4095, dv=4095, vth=0)
    b = net.population("b", 2, du=4095, dv=4095, vth=0)
    net.connect(inp, a, FromList([(0, 3, 10)]), name="in->a")
    net.connect(inp, b, FromList([(1, 0, 10)]), name="in->b")
    net.connect(a, b, FromList([(3, 1, 10, 3)]), name="a->b")
    net.record(b)
    multi = compile_network(net, CORE, placement={"a": 0, "b": 1})
    ptr, dest, axon = multi.routes(0)
    assert ptr[4] - ptr[3] == 1 and (dest[ptr[3]], axon[ptr[3]]) == (1, 2)
    assert multi.images[1].input_ids("in").tolist() == [0, 1]
    model = MultiCoreModel(multi)
    core1 = model.cores[1].tables
    syn = core1.fanout[core1.fan_ptr[2]:core1.fan_ptr[3]]
    assert core1.syn_delay[syn].tolist() == [2]
    result = model.run(20, {9: [0]}, record_all=True)
    assert result.all_times.tolist() == [10, 13] and result.all_neurons.tolist() == [3, 4 + 1]


def test_regression_networks_that_partition_give_the_one_core_result():
    """The RTL regression's random networks (every delay, wraps, both trace modes, several
    plastic projections), on 2 to 4 cores wherever the contract lets the compiler place them."""
    import dataclasses
    placed = cut = 0
    for seed in range(8):
        case = random_case(seed)
        reference = GoldenModel(case.image)
        want = reference.run(case.ticks, case.inputs, record_all=True)
        lfsr_seed = int(case.image.table("lfsr_seed")["seed"][0])
        for cores in (2, 3, 4):
            config = dataclasses.replace(REGRESSION_CONFIG, n_neurons=-(-300 // cores) + 40, n_inputs=400)
            try:
                multi = compile_network(case.network, config, cores=cores, lfsr_seed=lfsr_seed)
            except PartitionError:            # delay-1 or plastic projections that no cut may cross
                continue
            model = MultiCoreModel(multi)
            n_in = multi.n_inputs
            got = model.run(case.ticks, case.inputs[:, :n_in], record_all=True)
            assert np.array_equal(got.all_times, want.all_times) and np.array_equal(got.all_neurons, want.all_neurons)
            for p in case.image.symbols["projections"]:
                for a, b in zip(reference.projection_weights(p["name"]), model.projection_weights(p["name"])):
                    assert np.array_equal(a, b), (seed, cores, p["name"])
            placed += 1
            cut += multi.route_core.size
    assert placed >= 8 and cut > 0
