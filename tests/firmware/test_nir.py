"""NIR in and out (firmware/nir.py, docs/nir.md): graphs built by the nir package, by snnTorch
and by Norse (tests/data/nir), run on the golden model against a float forward-Euler
simulation (tests/support/nir_reference.py) and, where the framework integrates the same way, against
the framework's own run; export then import is the identity; what the core cannot express is
refused with the node, the parameter and the limit."""

import copy
import math
import re

import numpy as np
import pytest

import nir
from firmware import (AllToAll, CoreConfig, FixedProbability, FromList, Network, OneToOne, STDPRule,
                      compile_network)
from firmware.errors import CapacityError, NIRError
from firmware.nir import from_nir, read, to_nir
from sim import GoldenModel, RunResult
from tests.support import DATA as TEST_DATA, ROOT
from tests.support.networks import plastic_network, relay_network
from tests.support.nir_reference import simulate

DATA = TEST_DATA / "nir"

# The input spike train of NIR's LIF experiment (paper/01_lif): one value per 1 ms, at dt 0.1 ms
# each followed by nine silent steps.
NIR_PAPER_TRAIN = [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1,
                   1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                   0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                   0, 0, 0, 0, 0]


def core_run(network, report, inputs, steps, config=None, probe=()):
    """Run the network on the golden model for the graph's `steps` (plus the longest latency);
    returns (image, result, {population: voltages [ticks, size]})."""
    image = compile_network(network, config)
    model = GoldenModel(image)
    extra = max(report.latency.values())
    raster = report.input_raster(inputs, image) if inputs is not None else np.zeros((steps, image.config.n_inputs), bool)
    raster = np.concatenate([raster, np.zeros((extra, raster.shape[1]), bool)])
    ids = {p: image.neuron_ids(p) for p in probe}
    volts = {p: [] for p in probe}
    outputs = image.output_ids
    spikes = np.zeros((steps + extra, outputs.size), bool)
    for t in range(steps + extra):
        spikes[t] = np.isin(outputs, model.step(np.nonzero(raster[t])[0]))
        for p in probe:
            volts[p].append(model.v[ids[p]].copy())
    return image, RunResult.from_raster(0, outputs, spikes), {p: np.array(v) for p, v in volts.items()}


def core_and_float_spikes(graph, dt, x, steps, network=None, report=None, source="input", output="output"):
    """The graph's one spiking Output on the core (aligned to the graph's steps) and in float."""
    if network is None:
        network, report = from_nir(graph, dt=dt)
    image, result, _ = core_run(network, report, x, steps)
    ref, _ = simulate(graph, dt, {source: x[:, None]})
    return report.output_spikes(result, image)[:steps], ref[output][:, 0] > 0


def aligned(volts, report, population, steps):
    """Voltages of a population as the graph's steps, in the graph's units."""
    pm = report.populations[population]
    return volts[population][pm.latency:pm.latency + steps] / pm.scale


# --- NIR's reference neuron --------------------------------------------------------------------


@pytest.mark.parametrize("scaling", ["range", "weights"])
def test_reference_lif_neuron_matches_exact_and_euler_solutions(tmp_path, scaling):
    """Affine(1) -> LIF(tau 2.5 ms, r 1, v_leak 0, v_threshold 0.1, reset 0) at dt 0.1 ms on the
    NIR paper's spike train: spike times equal the float solutions' within one tick, the
    voltage Euler's within the bound the report's quantization errors give."""
    dt, tau, theta = 1e-4, 2.5e-3, 0.1
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=np.array([[1.0]]), bias=np.array([0.0])),
        nir.LIF(tau=np.array([tau]), r=np.array([1.0]), v_leak=np.array([0.0]), v_threshold=np.array([theta])))
    nir.write(tmp_path / "lif.nir", graph)
    graph = nir.read(tmp_path / "lif.nir")
    x = np.zeros(len(NIR_PAPER_TRAIN) * 10)
    x[::10] = NIR_PAPER_TRAIN

    def solve(update):
        v, trace, spikes = 0.0, [], []
        for k, xk in enumerate(x):
            v = update(v, xk)
            if v > theta:
                spikes.append(k)
                v = 0.0
            trace.append(v)
        return np.array(spikes), np.array(trace)

    euler_spikes, euler_v = solve(lambda v, i: v + dt / tau * (0.0 - v + 1.0 * i))
    decay = math.exp(-dt / tau)          # exact: the ODE over one step of constant input
    exact_spikes, _ = solve(lambda v, i: v * decay + 1.0 * i * (1 - decay))
    network, report = from_nir(graph, dt, scaling=scaling)
    _, result, volts = core_run(network, report, x[:, None], x.size, probe=["lif"])
    core_spikes = np.nonzero(report.output_spikes(result, compile_network(network))[:, 0])[0]
    assert euler_spikes.size >= 3 and exact_spikes.size == euler_spikes.size
    assert core_spikes.size == euler_spikes.size
    assert np.max(np.abs(core_spikes - euler_spikes)) <= 1 and np.max(np.abs(core_spikes - exact_spikes)) <= 1
    # bound: per step, the weight's error on each input, the decay's error on |v| <= theta and one
    # unit of truncation; errors decay by (1 - dt/tau) per step, so they sum to at most 1/(dt/tau)
    a = dt / tau
    pm = report.populations["lif"]
    per_step = (report.nodes["affine"].errors["weight"] * a * 1.0 + report.nodes["lif"].errors["tau"] * a * theta
                + 1.0 / pm.scale[0])
    err = np.max(np.abs(aligned(volts, report, "lif", x.size)[:, 0] - euler_v))
    print(f"\n{scaling}: {core_spikes.size} spikes at the Euler ticks, max |dv| {err:.2e} = "
          f"{err / theta:.2%} of the threshold (bound {per_step / a:.2e})")
    assert err <= per_step / a


# --- a recurrent CubaLIF network ------------------------------------------------------------------


def recurrent_graph(seed=4, n_in=12, n_rec=38, n_out=7):
    """NIR paper's recurrent shape: 12 inputs, 38 recurrent CubaLIF, 7 CubaLIF outputs; random
    weights (hidden layer about 5% active, outputs about 15%)."""
    rng = np.random.default_rng(seed)

    def cuba(n, theta):
        return nir.CubaLIF(tau_syn=np.full(n, 5e-3), tau_mem=np.full(n, 1e-2), r=np.full(n, 1.0),
                           v_leak=np.zeros(n), v_threshold=np.full(n, theta), w_in=np.full(n, 1.0))
    nodes = {
        "input": nir.Input(input_type=np.array([n_in])),
        "w_in": nir.Linear(weight=rng.normal(0.0, 0.5, (n_rec, n_in))),
        "rec": cuba(n_rec, 0.1),
        "w_rec": nir.Linear(weight=rng.normal(0.0, 0.2, (n_rec, n_rec))),
        "w_out": nir.Linear(weight=rng.normal(0.2, 1.0, (n_out, n_rec)) * 0.3),
        "out": cuba(n_out, 0.05),
        "output": nir.Output(output_type=np.array([n_out])),
        "hidden": nir.Output(output_type=np.array([n_rec])),
    }
    edges = [("input", "w_in"), ("w_in", "rec"), ("rec", "w_rec"), ("w_rec", "rec"), ("rec", "w_out"),
             ("w_out", "out"), ("out", "output"), ("rec", "hidden")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def open_loop_bound(graph, report, x, force, dt, pop, a_mem, a_syn):
    """The largest voltage error the report's quantization errors allow, with the spikes given:
    the weights' (at most weight error x the projection's largest weight, each) summed by the
    same dynamics (the graph run with every weight at its projection's largest magnitude), the
    decays' (relative error x |v|), and one unit of truncation per tick on u and on v."""
    absolute = copy.deepcopy(graph)
    for node in absolute.nodes.values():
        if isinstance(node, nir.Linear):
            w = np.asarray(node.weight)
            node.weight = (w != 0) * np.abs(w).max()
    _, v_abs = simulate(absolute, dt, {"input": x[:, None]}, force=force)
    _, v_ref = simulate(graph, dt, {"input": x[:, None]}, force=force)
    eps_w = max(m.errors.get("weight", 0.0) for m in report.nodes.values())
    e = report.nodes[pop].errors
    trunc = (2 + 1 / a_syn) / (a_mem * report.populations[pop].scale)
    return eps_w * np.abs(v_abs[pop][:, 0]) + (e["tau_mem"] + e["tau_syn"]) * np.abs(v_ref[pop]).max() + trunc, v_ref[pop][:, 0]


@pytest.mark.parametrize("scaling", ["range", "weights"])
def test_recurrent_cubalif_network_equals_float_euler_within_quantization(scaling):
    """A recurrent CubaLIF graph with random weights on the core against the float graph.
    Open loop (the core's spikes given to the float graph), every voltage is within the bound
    the report's quantization errors give. Closed loop, 8-bit weights flip spikes near the
    threshold and the recurrence spreads the flips: per-neuron spike counts correlate above
    0.99, totals within 5%, and (step, neuron) cells agree on at least 80%. Against its own
    quantized network (to_nir of the result, in float) the core is exact but for truncation."""
    dt, steps = 1e-3, 300
    graph = recurrent_graph()
    x = np.random.default_rng(7).random((steps, 12)) < 0.1
    network, report = from_nir(graph, dt, scaling=scaling)
    image, result, volts = core_run(network, report, x, steps, probe=["rec", "out"])
    core = {o: report.output_spikes(result, image, o)[:steps] for o in ("output", "hidden")}
    assert core["hidden"].shape == (steps, 38) and core["output"].shape == (steps, 7)
    force = {"rec": core["hidden"][:, None], "out": core["output"][:, None]}
    for pop in ("rec", "out"):
        bound, v_ref = open_loop_bound(graph, report, x, force, dt, pop, a_mem=0.1, a_syn=0.2)
        err = np.abs(aligned(volts, report, pop, steps) - v_ref)
        print(f"\n{scaling} {pop}: open loop max |dv| {err.max():.2e} (largest |v| {np.abs(v_ref).max():.2f}), "
              f"at most {np.max(err / bound):.2f} of the bound")
        assert np.all(err <= bound)
    ref, _ = simulate(graph, dt, {"input": x[:, None]})
    float_spikes = {"output": ref["out"][:, 0] > 0, "hidden": ref["rec"][:, 0] > 0}
    for o in core:
        counts = np.corrcoef(core[o].sum(0), float_spikes[o].sum(0))[0, 1]
        total = core[o].sum() / float_spikes[o].sum()
        cells = np.mean(core[o] == float_spikes[o])
        print(f"{o}: float {float_spikes[o].sum()} spikes, core {core[o].sum()}; per-neuron counts r = {counts:.4f}, "
              f"cells agreeing {cells:.3f}")
        assert float_spikes[o].sum() > 100
        assert counts > 0.99 and abs(total - 1) < 0.05 and cells >= 0.8
    quantized, _ = simulate(to_nir(network, dt), dt, {"input": x[:, None]})
    for pop, o in (("rec", "hidden"), ("out", "output")):
        same = np.all(core[o] == (quantized[pop][:steps, 0] > 0), axis=1)
        print(f"{pop}: equal to the quantized network in float for {np.argmin(same) if not same.all() else steps} steps")
        assert same[:90].all()


# --- export then import -------------------------------------------------------------------------


def assert_same_image(a, b):
    ia, ib = compile_network(a), compile_network(b)
    assert ia.symbols == ib.symbols
    for table in ia.tables:
        assert np.array_equal(ia.tables[table], ib.tables[table]), table


def example_networks():
    """The README's network, examples/quickstart.py's (their code up to the compile, which is
    all that builds the network), and the host tests' networks."""
    built = {}
    for name, code in (("readme", re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)[0]),
                       ("quickstart", (ROOT / "examples" / "quickstart.py").read_text())):
        ns = {}
        exec(compile(code[:code.index("image = compile_network(")], name, "exec"), ns)
        built[name] = ns["net"]
    return dict(built, plastic=plastic_network(), relay=relay_network(10))


def random_network(seed, varied=True):
    """Populations of every kind of parameter (no leak, one-tick current, negative bias
    exponents, refractory periods, per neuron or not), input groups, and projections with
    per-synapse delays, self-loops, skips and STDP; one that fits the default core."""
    try:
        net = _random_network(seed, varied)
        compile_network(net)
        return net
    except CapacityError:               # too many distinct per-neuron parameter sets
        return random_network(seed, varied=False)


def _random_network(seed, varied):
    rng = np.random.default_rng(seed)
    net = Network(f"random{seed}")
    sources = [net.inputs(f"in{k}", int(rng.integers(1, 9))) for k in range(int(rng.integers(1, 3)))]
    pops = []
    for k in range(int(rng.integers(1, 4))):
        n = int(rng.integers(1, 12))
        uniform = rng.random() < 0.5 or not varied

        def pick(lo, hi, special=()):
            if special and rng.random() < 0.4:
                return int(rng.choice(special))
            return int(rng.integers(lo, hi + 1)) if uniform else rng.integers(lo, hi + 1, n)
        pops.append(net.population(f"p{k}", n, du=pick(0, 4095, (4095, 0)), dv=pick(0, 4095, (0, 4095)),
                                   vth=pick(0, 2000), bias_mant=pick(-50, 50), bias_exp=int(rng.integers(-3, 4)),
                                   refractory=pick(0, 15)))
        if rng.random() < 0.7:
            net.record(pops[-1], None if rng.random() < 0.5 else rng.choice(n, max(1, n // 2), replace=False))
    rule = STDPRule(a_plus=20, a_minus=-30, w_min=-40, w_max=90, lr_shift=6)
    for j in range(int(rng.integers(1, 6))):
        pre = (sources + pops)[int(rng.integers(len(sources) + len(pops)))]
        post = pops[int(rng.integers(len(pops)))]
        kind = rng.integers(3)
        plastic = rng.random() < 0.3
        if kind == 0:
            rows = [(i, o, int(rng.integers(-40, 90)), int(rng.integers(1, 5)))
                    for i in range(pre.size) for o in range(post.size) if rng.random() < 0.5]
            if not rows:
                continue
            net.connect(pre, post, FromList(rows), weight_exp=int(rng.integers(0, 3)), name=f"j{j}",
                        stdp=rule if plastic else None)
        elif kind == 1:
            net.connect(pre, post, FixedProbability(0.4, seed=seed + j), weight=int(rng.integers(-40, 90)),
                        weight_exp=int(rng.integers(0, 9)), delay=int(rng.integers(1, 5)), name=f"j{j}",
                        stdp=rule if plastic else None)
        else:
            net.connect(pre, post, AllToAll(), weight=rng.integers(-128, 128, (pre.size, post.size)),
                        delay=int(rng.integers(1, 5)), name=f"j{j}")
    return net


def test_export_then_import_is_the_identity_on_the_example_networks():
    for name, net in example_networks().items():
        back, report = from_nir(to_nir(net, dt=1e-3), dt=1e-3)
        assert report.scaling == "native" and report.max_error < 1e-9, name
        assert_same_image(net, back)


# random weights may sum past 16 bits; the round trip is what is tested here, not the wrap
@pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning")
@pytest.mark.parametrize("seed", range(24))
def test_export_then_import_is_the_identity_on_random_networks(seed):
    net = random_network(seed)
    back, _ = from_nir(to_nir(net, dt=2.5e-4), dt=2.5e-4)
    assert_same_image(net, back)


def test_a_written_file_reads_back_to_the_same_network(tmp_path):
    """Through nir.write and nir.read (with its type check, which needs an edge from an Input and
    a node without successors: random networks 22 and 25 have neither, a network without
    inputs has no Input at all; its projection without synapses stays)."""
    alone = Network("alone")
    net_pop = alone.population("p", 3, du=4095, dv=0, vth=50, bias_mant=[100, 200, 300])
    alone.connect(net_pop, net_pop, OneToOne(), weight=-3)
    alone.connect(net_pop, net_pop, FixedProbability(0.0), weight=5, delay=3, name="empty")   # no synapses, kept
    for k, net in enumerate([plastic_network(), random_network(5), random_network(22), random_network(25), alone]):
        path = tmp_path / f"net{k}.nir"
        nir.write(path, to_nir(net, dt=1e-3))
        graph = nir.read(path)               # nir's own reader, with its type check
        back, report = from_nir(graph, dt=1e-3)
        assert_same_image(net, back)


def test_exported_graph_runs_in_float_as_on_the_core():
    """A network written by to_nir, simulated in float (NIR's convention), spikes as the core:
    the export means what the core does."""
    net = plastic_network()
    for proj in net.projections:         # STDP and refractory periods are not part of NIR's graph
        proj.stdp = None
    for pop in net.populations:
        pop.params["refractory"][:] = 0
        net.record(pop)
    graph = to_nir(net, dt=1e-3)
    steps = 200
    x = np.random.default_rng(2).random((steps, 16)) < 0.3
    image = compile_network(net)
    result = GoldenModel(image).run(steps, x)
    ref, _ = simulate(graph, 1e-3, {"in": x[:, None]})
    latency = from_nir(graph, 1e-3)[1].latency
    for pop in ("exc", "out"):
        got = result.spikes[latency[pop]:, np.searchsorted(result.output_ids, image.neuron_ids(pop))]
        want = ref[pop][:steps - latency[pop], 0] > 0
        assert got.sum() > 20
        assert np.mean(got == want) > 0.99, pop


# --- graphs written by snnTorch and Norse --------------------------------------------------------


@pytest.mark.parametrize("name", ["snntorch_leaky", "snntorch_leaky_scalar", "snntorch_synaptic"])
def test_snntorch_graphs_spike_as_snntorch_ran_them(name):
    """export_to_nir's graphs (dt 1e-4; Leaky as LIF with r = tau/dt, Synaptic as CubaLIF with
    w_in = tau_syn/dt) on the core against snnTorch's own run: the same spikes, but for the
    ticks the constant bias starts early (docs/nir.md: the latency of a constant drive)."""
    run = np.load(DATA / f"{name}.npz")
    graph = read(DATA / f"{name}.nir")
    network, report = from_nir(graph, dt=1e-4)
    steps = run["inputs"].shape[0]
    image, result, _ = core_run(network, report, run["inputs"], steps)
    got = report.output_spikes(result, image)[:steps]
    want = run["spikes"]
    agree = np.mean(got == want)
    print(f"\n{name}: snnTorch {want.sum()} spikes, core {got.sum()}, cells agreeing {agree:.4f}")
    assert want.sum() >= 10 and agree >= 0.97
    # and the float graph (our reading of NIR) spikes as snnTorch did
    ref, _ = simulate(graph, 1e-4, {"input": run["inputs"][:, None]})
    assert np.mean((ref["output"][:, 0] > 0) == want) >= 0.99


def test_snntorch_scalar_parameters_fail_nir_type_check_but_map():
    """snnTorch writes shape-() parameters for a scalar beta (snnTorch issue 410); nir.read's
    type check rejects the file, firmware.nir.read and from_nir take it."""
    with pytest.raises(ValueError):
        nir.read(DATA / "snntorch_leaky_scalar.nir")
    network, _ = from_nir(DATA / "snntorch_leaky_scalar.nir", dt=1e-4)
    assert [p.size for p in network.populations] == [4]


def test_snntorch_recurrent_synaptic_graph_maps_its_loop():
    graph = nir.read(DATA / "snntorch_rsynaptic.nir")
    network, report = from_nir(graph, dt=1e-4)
    loop = next(p for p in network.projections if p.pre is p.post)
    assert loop.name == "1.w_rec" and loop.delays(4).tolist() == [1] * 25
    x = np.random.default_rng(4).random((120, 4)) < 0.3
    got, want = core_and_float_spikes(graph, 1e-4, x, 120, network, report)
    assert want.sum() > 20 and np.mean(got == want) >= 0.97


def test_norse_tau_times_dt_is_refused_with_the_fix_named_then_maps_with_it():
    """Norse 1.1.0 writes tau = dt / tau_mem_inv (1e-5 s for 10 ms at dt 1 ms)."""
    with pytest.raises(NIRError, match=r"node '1' \(LIF\): tau = 1e-05 s is shorter than dt = 0.001 s.*tau_times_dt"):
        from_nir(DATA / "norse_lifbox.nir", dt=1e-3)
    run = np.load(DATA / "norse_lifbox.npz")
    network, report = from_nir(DATA / "norse_lifbox.nir", dt=1e-3, tau_times_dt=True)
    assert network.populations[0].params["dv"].tolist() == [410] * 4        # 4096 * 1 ms / 10 ms
    steps = run["inputs"].shape[0]
    image, result, _ = core_run(network, report, run["inputs"], steps)
    got = report.output_spikes(result, image)[:steps]
    print(f"\nnorse LIFBox: Norse {run['spikes'].sum()} spikes, core {got.sum()}, "
          f"agreeing {np.mean(got == run['spikes']):.4f}")
    assert run["spikes"].sum() > 20 and np.mean(got == run["spikes"]) >= 0.97
    for name, kind in (("norse_lif", "CubaLIF"), ("norse_li", "LI"), ("norse_iaf", "IF")):
        network, report = from_nir(DATA / f"{name}.nir", dt=1e-3, tau_times_dt=True)
        assert report.populations["1"].kind == kind


def test_li_readout_is_a_neuron_that_never_fires_and_reads_as_voltage():
    """Norse's LIBoxCell graph: an LI readout whose voltage (state v / scale) follows the float LI
    within 1% of its range. Its bias (Norse's Linear) starts a tick before the first input
    arrives, so the float graph runs one silent step first (docs/nir.md: constant drives)."""
    graph = read(DATA / "norse_li.nir")
    network, report = from_nir(graph, dt=1e-3, tau_times_dt=True)
    assert report.outputs["output"].reads == "voltage"
    steps = 150
    x = np.random.default_rng(5).random((steps, 5)) < 0.4
    image, result, volts = core_run(network, report, x, steps, probe=["1"])
    assert result.spikes.size == 0 or not result.spikes.any()
    for node in graph.nodes.values():       # the reference reads true tau, as the core does
        if isinstance(node, nir.LI):
            node.tau = np.asarray(node.tau) / 1e-3
    lead = report.latency["1"]
    _, v_ref = simulate(graph, 1e-3, {"input": np.concatenate([np.zeros((lead, 5), bool), x])[:, None]})
    v_ref = v_ref["1"][lead:, 0]
    v_core = aligned(volts, report, "1", steps)
    top = np.max(np.abs(v_ref))
    assert top > 0.1
    assert np.max(np.abs(v_core - v_ref)) < 0.01 * top


# --- the pitfalls -------------------------------------------------------------------------------------


def lif_graph(n=4, **params):
    rng = np.random.default_rng(0)
    base = dict(tau=np.full(n, 2e-3), r=np.full(n, 1.0), v_leak=np.zeros(n), v_threshold=np.full(n, 0.2))
    base.update(params)
    return nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([3])),
                               "fc": nir.Linear(weight=rng.uniform(0, 1, (n, 3))),
                               "lif": nir.LIF(**base), "out": nir.Output(output_type=np.array([n]))},
                        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")], type_check=False)


def test_scalar_shape_one_and_per_neuron_parameters_give_the_same_network():
    forms = [dict(tau=np.array(2e-3), r=np.array(1.0), v_leak=np.array(0.0), v_threshold=np.array(0.2)),
             dict(tau=np.array([2e-3]), r=np.array([1.0]), v_leak=np.array([0.0]), v_threshold=np.array([0.2])),
             dict(tau=np.full(4, 2e-3), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.full(4, 0.2))]
    nets = [from_nir(lif_graph(**f), dt=1e-4)[0] for f in forms]
    for net in nets[1:]:
        assert_same_image(nets[0], net)
    graph = lif_graph()
    graph.nodes["lif"].tau = np.full(3, 2e-3)       # nir's constructor would refuse it; a file need not
    with pytest.raises(NIRError, match=r"node 'lif' \(LIF\): its parameters have different sizes: tau has shape \(3,\)"):
        from_nir(graph, dt=1e-4)


def cuba_graph(w_in, weight, theta=0.2):
    n = len(w_in)
    return nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([3])), "fc": nir.Linear(weight=weight),
                               "cuba": nir.CubaLIF(tau_syn=np.full(n, 1e-3), tau_mem=np.full(n, 4e-3),
                                                   r=np.full(n, 2.0), v_leak=np.zeros(n),
                                                   v_threshold=np.full(n, theta), w_in=np.asarray(w_in, float)),
                               "out": nir.Output(output_type=np.array([n]))},
                        edges=[("in", "fc"), ("fc", "cuba"), ("cuba", "out")])


def test_w_in_scales_each_neurons_input_not_its_threshold():
    """CubaLIF's w_in is elementwise on the input (tau_syn dI/dt = -I + w_in S). snnTorch's import
    divided the threshold by w_in[0] until snnTorch#435; here w_in = (1, 2, 0.5) equals weights
    whose rows are scaled by it, and the thresholds stay equal."""
    w = np.random.default_rng(1).uniform(0.1, 1.0, (3, 3))
    w_in = np.array([1.0, 2.0, 0.5])
    a, _ = from_nir(cuba_graph(w_in, w), dt=1e-4)
    b, _ = from_nir(cuba_graph(np.ones(3), w * w_in[:, None]), dt=1e-4)
    assert_same_image(a, b)
    assert np.unique(a.populations[0].params["vth"]).size == 1


def test_per_neuron_thresholds_share_one_vth_and_scale_the_weights_instead():
    graph = lif_graph(v_threshold=np.array([0.1, 0.2, 0.4, 0.8]))
    network, report = from_nir(graph, dt=1e-4)
    assert np.unique(network.populations[0].params["vth"]).size == 1
    scale = report.populations["lif"].scale
    np.testing.assert_allclose(scale * np.array([0.1, 0.2, 0.4, 0.8]), scale[0] * 0.1)


def test_refusals_name_the_node_the_parameter_and_the_limit():
    cases = [
        (lif_graph(v_reset=np.full(4, -0.1)), {}, NIRError, r"node 'lif' \(LIF\): v_reset = -0.1; the core resets"),
        (lif_graph(v_threshold=np.full(4, -0.2)), {}, NIRError, r"node 'lif' \(LIF\): v_threshold = -0.2.*vth >= 0"),
        (lif_graph(tau=np.full(4, 2e-5)), {}, NIRError, r"node 'lif' \(LIF\): tau = 2e-05 s is shorter than dt"),
        (lif_graph(n=300, tau=np.full(300, 2e-3)), {}, CapacityError,
         r"node 'lif' \(LIF, 300 neurons\).*holds 256 \(CoreConfig.n_neurons\)"),
        (lif_graph(), {"config": CoreConfig(n_inputs=2)}, CapacityError,
         r"Input 'in' \(3 values\).*has 2 \(CoreConfig.n_inputs\)"),
        (lif_graph(v_threshold=np.full(4, 1e-9)), {}, NIRError,
         r"node 'lif' \(LIF\): no threshold scale fits .*vth <= "),
    ]
    for graph, kwargs, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            from_nir(graph, dt=1e-4, **kwargs)


def graph_of(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def lif(n, theta=0.5):
    return nir.LIF(tau=np.full(n, 5e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, theta))


def test_refusals_of_what_the_core_cannot_express():
    w = np.ones((2, 2))
    cases = [
        (graph_of({"in": nir.Input(input_type=np.array([2])), "th": nir.Threshold(threshold=np.ones(2))},
                  [("in", "th")]), r"node 'th' is a Threshold, which the core cannot express"),
        (graph_of({"in": nir.Input(input_type=np.array([2])), "fc": nir.Linear(weight=w),
                   "i": nir.I(r=np.ones(2))}, [("in", "fc"), ("fc", "i")]), r"node 'i' is a I, which"),
        (graph_of({"in": nir.Input(input_type=np.array([2])), "fc": nir.Linear(weight=w), "l": lif(2),
                   "out": nir.Output(output_type=np.array([2]))}, [("in", "fc"), ("fc", "out"), ("in", "l")]),
         r"Output 'out' reads a weighted or constant signal"),
        (graph_of({"in": nir.Input(input_type=np.array([2])), "fc": nir.Linear(weight=w)}, [("in", "fc")]),
         r"the graph has no neuron node"),
        (graph_of({"in": nir.Input(input_type=np.array([2])), "a": nir.Linear(weight=w), "la": lif(2),
                   "b": nir.Linear(weight=w), "lb": lif(2), "back": nir.Linear(weight=w)},
                  [("in", "a"), ("a", "la"), ("la", "b"), ("b", "lb"), ("lb", "back"), ("back", "la")]),
         r"the loop through \['la', 'lb'\] carries fewer steps of delay than it has hops"),
        (graph_of({"in": nir.Input(input_type=np.array([2])), "a": nir.Linear(weight=w),
                   "d": nir.Delay(delay=np.full(2, 5e-3)), "la": lif(2)}, [("in", "a"), ("a", "d"), ("d", "la")]),
         r"edge 'in' -> 'la' \(via \['a'\]\): needs a delay of 5 ticks .*1 .. 4 \(CoreConfig.max_delay\)"),
        (graph_of({"in": nir.Input(input_type=np.array([2])), "a": nir.Linear(weight=w),
                   "d": nir.Delay(delay=np.full(2, 1.5e-3)), "la": lif(2)}, [("in", "a"), ("a", "d"), ("d", "la")]),
         r"node 'd' \(Delay\): delay 0.0015 s is not a whole number of steps"),
        (graph_of({"in": nir.Input(input_type=np.array([2])), "a": nir.Linear(weight=w),
                   "li": nir.LI(tau=np.full(2, 5e-3), r=np.ones(2), v_leak=np.zeros(2)),
                   "b": nir.Linear(weight=w), "lb": lif(2)}, [("in", "a"), ("a", "li"), ("li", "b"), ("b", "lb")]),
         r"LI 'li' feeds 'lb': its output is a voltage"),
        (graph_of({"in": nir.Input(input_type=np.array([2])), "a": nir.Linear(weight=np.ones((3, 2))),
                   "la": lif(2)}, [("in", "a"), ("a", "la")]),
         r"node 'la' \(LIF\) has 2 neurons, its input \['a'\] gives 3 values"),
        (graph_of({"in": nir.Input(input_type=np.array([2])), "la": lif(2)}, [("in", "nowhere")]),
         r"edge \('in', 'nowhere'\) names node 'nowhere'"),
    ]
    for graph, pattern in cases:
        with pytest.raises(NIRError, match=pattern):
            from_nir(graph, dt=1e-3)
    with pytest.raises(NIRError, match="not a readable NIR file"):
        read(DATA / "make_framework_graphs.py")
    with pytest.raises(NIRError, match="no such file"):
        read(DATA / "absent.nir")
    with pytest.raises(NIRError, match="dt = 0 must be a positive number"):
        from_nir(lif_graph(), dt=0)


def test_a_loop_through_two_populations_maps_with_a_delay_node():
    w = np.eye(2) * 0.5
    nodes = {"in": nir.Input(input_type=np.array([2])), "a": nir.Linear(weight=w), "la": lif(2),
             "b": nir.Linear(weight=w), "lb": lif(2), "back": nir.Linear(weight=w),
             "d": nir.Delay(delay=np.full(2, 2e-3))}
    edges = [("in", "a"), ("a", "la"), ("la", "b"), ("b", "lb"), ("lb", "back"), ("back", "d"), ("d", "la")]
    network, report = from_nir(graph_of(nodes, edges), dt=1e-3)
    assert report.latency == {"la": 1, "lb": 2}
    back = next(p for p in network.projections if p.name == "back")
    assert back.delays(4).tolist() == [1, 1]          # 2 steps of Delay + latency 1 - 2
    with pytest.raises(NIRError, match=r"the loop through \['la', 'lb'\] carries fewer steps"):
        nodes["d"] = nir.Delay(delay=np.full(2, 1e-3))
        from_nir(graph_of(nodes, edges), dt=1e-3)


def test_delay_nodes_become_per_synapse_delays():
    w = np.ones((3, 2))
    nodes = {"in": nir.Input(input_type=np.array([2])), "a": nir.Linear(weight=w),
             "d": nir.Delay(delay=np.array([0.0, 1e-3, 3e-3])), "l": lif(3, 0.1),
             "out": nir.Output(output_type=np.array([3]))}
    graph = graph_of(nodes, [("in", "a"), ("a", "d"), ("d", "l"), ("l", "out")])
    network, report = from_nir(graph, dt=1e-3)
    proj = network.projections[0]
    assert dict(zip(proj.post_idx.tolist(), proj.delays(4).tolist())) == {0: 1, 1: 2, 2: 4}
    x = np.zeros((30, 2), bool)
    x[[2, 9], 0] = True
    got, want = core_and_float_spikes(graph, 1e-3, x, 30, network, report, source="in", output="out")
    assert want.sum() >= 4 and np.array_equal(got, want)


def test_subgraphs_are_inlined():
    """snnTorch's RSynaptic as a nested subgraph (input -> lif <-> w_rec -> output) maps as the
    same graph written flat."""
    rng = np.random.default_rng(2)
    n = 5
    cell = nir.CubaLIF(tau_syn=np.full(n, 2e-3), tau_mem=np.full(n, 5e-3), r=np.ones(n), v_leak=np.zeros(n),
                       v_threshold=np.full(n, 0.1), w_in=np.ones(n))
    w_rec = rng.normal(0, 0.3, (n, n))
    sub = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([n])), "lif": cell,
                              "w_rec": nir.Linear(weight=w_rec), "output": nir.Output(output_type=np.array([n]))},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    w_in = rng.normal(0.5, 0.3, (n, 3))
    nested = graph_of({"in": nir.Input(input_type=np.array([3])), "fc": nir.Linear(weight=w_in), "rsyn": sub,
                       "out": nir.Output(output_type=np.array([n]))},
                      [("in", "fc"), ("fc", "rsyn"), ("rsyn", "out")])
    flat = graph_of({"in": nir.Input(input_type=np.array([3])), "fc": nir.Linear(weight=w_in), "rsyn.lif": cell,
                     "rsyn.w_rec": nir.Linear(weight=w_rec), "out": nir.Output(output_type=np.array([n]))},
                    [("in", "fc"), ("fc", "rsyn.lif"), ("rsyn.lif", "rsyn.w_rec"), ("rsyn.w_rec", "rsyn.lif"),
                     ("rsyn.lif", "out")])
    a, _ = from_nir(nested, dt=1e-3)
    b, _ = from_nir(flat, dt=1e-3)
    assert_same_image(a, b)
    assert {p.name for p in a.projections} == {"fc", "rsyn.w_rec"}


def test_conv_pool_and_flatten_lower_to_explicit_synapses():
    """Conv2d (padding 1) -> IF -> SumPool2d -> Flatten -> Affine -> LIF, against the float
    graph (which convolves directly): identical spikes."""
    rng = np.random.default_rng(6)
    conv_w = rng.normal(0.4, 0.5, (2, 1, 3, 3))
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([1, 6, 6])),
        nir.Conv2d(input_shape=(6, 6), weight=conv_w, stride=1, padding=1, dilation=1, groups=1,
                   bias=np.array([0.0, 0.0])),
        nir.IF(r=np.full((2, 6, 6), 1e3), v_threshold=np.full((2, 6, 6), 1.0)),
        nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0),
        nir.Linear(weight=rng.normal(0.3, 0.5, (4, 18))),
        nir.LIF(tau=np.full(4, 4e-3), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.full(4, 0.3)))
    network, report = from_nir(graph, dt=1e-3)
    conv = next(p for p in network.projections if p.name == "conv2d")
    assert conv.pre_idx.size == 2 * (16 * 9 + 16 * 6 + 4 * 4)       # 3x3 kernel on a padded 6x6 image
    x = rng.random((60, 1, 6, 6)) < 0.25
    got, want = core_and_float_spikes(graph, 1e-3, x, 60, network, report)
    assert want.sum() > 10
    assert np.mean(got == want) >= 0.98


def test_conv1d_groups_same_padding_and_average_pooling():
    """Conv1d (2 groups, stride 2, padding 1) -> LIF, and Conv2d ('same') -> IF -> AvgPool2d
    (padding 1) -> Flatten -> Linear -> LIF, against the float graphs: identical spikes."""
    rng = np.random.default_rng(8)
    one = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([2, 9])),
        nir.Conv1d(input_shape=9, weight=rng.normal(0.5, 0.5, (4, 1, 3)), stride=2, padding=1, dilation=1, groups=2,
                   bias=np.zeros(4)),
        nir.LIF(tau=np.full((4, 5), 3e-3), r=np.ones((4, 5)), v_leak=np.zeros((4, 5)), v_threshold=np.full((4, 5), 0.2)),
        type_check=False)          # nir types a grouped conv's input as weight.shape[1] channels
    two = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([1, 6, 6])),
        nir.Conv2d(input_shape=(6, 6), weight=rng.normal(0.3, 0.5, (2, 1, 3, 3)), stride=1, padding="same",
                   dilation=1, groups=1, bias=np.array([0.1, 0.0])),
        nir.IF(r=np.full((2, 6, 6), 1e3), v_threshold=np.full((2, 6, 6), 1.0)),
        nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([1, 1])),
        nir.Flatten(input_type={"input": np.array([2, 4, 4])}, start_dim=0),
        nir.Linear(weight=rng.normal(0.6, 0.5, (3, 32))),
        nir.LIF(tau=np.full(3, 4e-3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.full(3, 0.05)))
    for graph, shape in ((one, (2, 9)), (two, (1, 6, 6))):
        got, want = core_and_float_spikes(graph, 1e-3, rng.random((60,) + shape) < 0.3, 60)
        assert want.sum() > 10
        assert np.mean(got == want) >= 0.98


def test_scaling_per_layer():
    graph = recurrent_graph()
    _, both = from_nir(graph, dt=1e-3, scaling="range")
    _, mixed = from_nir(graph, dt=1e-3, scaling={"out": "range"})
    _, default = from_nir(graph, dt=1e-3)
    assert mixed.populations["out"].vth == both.populations["out"].vth
    assert mixed.populations["rec"].vth == default.populations["rec"].vth != both.populations["rec"].vth
    with pytest.raises(NIRError, match=r"scaling names \['w_rec'\], which are not neuron nodes"):
        from_nir(graph, dt=1e-3, scaling={"w_rec": "range"})
    with pytest.raises(NIRError, match=r"scaling\['out'\] = 'native'"):
        from_nir(graph, dt=1e-3, scaling={"out": "native"})


def test_report_and_alignment_helpers_refuse_bad_requests():
    network, report = from_nir(lif_graph(), dt=1e-4)
    image = compile_network(network)
    with pytest.raises(NIRError, match="each step has 2 values, the node has shape"):
        report.input_raster(np.zeros((5, 2)), image)
    with pytest.raises(NIRError, match="no Input nodes named"):
        report.input_raster({"nope": np.zeros((5, 3))}, image)
    result = GoldenModel(image).run(5)
    with pytest.raises(NIRError, match="no spiking Output named 'x'"):
        report.output_spikes(result, image, "x")
    assert "LIF 'lif' -> population 'lif'" in str(report)


def test_from_nir_and_to_nir_are_reachable_from_firmware():
    import firmware
    assert firmware.from_nir is from_nir and firmware.to_nir is to_nir
    with pytest.raises(AttributeError):
        firmware.nothing_of_the_kind
