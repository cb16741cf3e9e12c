# amaranth: UnusedElaboratable=no
"""rtl.core.neuron against the golden model (sim.neuron.lif_step), Lava's vectors and spec §3's examples.

Everything runs in the Amaranth simulator; the datapath sees one neuron update per clock.
"""

import re

import numpy as np
import pytest
from amaranth.back import rtlil, verilog
from amaranth.hdl import Module, Shape, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from firmware import formats as f
from rtl.core.neuron import (BIAS_EXP_SHAPE, BIAS_MANT_SHAPE, BIAS_SHAPE, DSP_WIDTH, LIFDatapath,
                        bias_of)
from sim.neuron import decay, lif_step, wrap_u
from tests.support import DATA as TEST_DATA

DATA = TEST_DATA
INPUT_FIELDS = ("u", "v", "ref", "a_in", "du", "dv", "vth", "bias", "refractory")
STATE_FIELDS = ("u", "v", "ref")                                       # i.payload, with the tag
PARAM_FIELDS = ("du", "dv", "vth", "bias", "refractory")               # p, one cycle later
                                                                       # a_in, two cycles later
U_LIMIT, V_MAX = f.UV_LIMIT, f.V_MAX
A_MIN, A_MAX = f.signed_range(f.A_IN_BITS)
MANT_MIN, MANT_MAX = f.signed_range(f.BIAS_MANT_BITS)
DECAY_MAX = f.DECAY_UNITY - 1
VTH_MAX = (1 << f.VTH_BITS) - 1
REF_MAX = (1 << f.REFRACTORY_BITS) - 1
DECAY_UNITY_MINUS_3072 = f.DECAY_UNITY - f.DU_OFFSET - 3072   # du for which factor_u >= 3072


def reference_bias(mant, exp):
    """spec §3.1: mant << exp, or mant >> -exp (arithmetic, floor) for a negative exp."""
    mant, exp = np.asarray(mant, np.int64), np.asarray(exp, np.int64)
    return np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0))


def simulate(dut, testbench):
    sim = Simulator(dut)
    sim.add_clock(1e-7)
    sim.add_testbench(testbench)
    sim.run()


def stream_through(updates, valid_cycles, rng):
    """Feed update k (tag k) on the k-th cycle where valid_cycles is set; the other cycles are
    bubbles with random payload bits. Returns the valid outputs in order of arrival (dict of
    arrays, with 'tag') and, for each, how many cycles after its input it arrived."""
    n = len(updates["u"])
    assert int(np.count_nonzero(valid_cycles)) == n
    dut = LIFDatapath(tag_width=f.bits_for(n))
    payload_bits = len(dut.i.payload.as_value())
    param_bits = len(dut.p.as_value())
    fed_at, outputs, arrived_at = [], [], []

    async def testbench(ctx):
        k = 0
        params = None            # `p` of the update fed in the previous cycle
        a_in = [None, None]      # a_in of the updates fed one and two cycles ago
        for cycle in range(len(valid_cycles) + LIFDatapath.LATENCY + 2):
            if params is None:
                ctx.set(dut.p.as_value(), int(rng.integers(0, 1 << 62)) % (1 << param_bits))
            else:
                ctx.set(dut.p, params)
            if a_in[1] is None:
                ctx.set(dut.a_in, int(rng.integers(A_MIN, A_MAX + 1)))
            else:
                ctx.set(dut.a_in, a_in[1])
            params = None
            a_in = [None, a_in[0]]
            if cycle < len(valid_cycles) and valid_cycles[cycle]:
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, {"tag": k, **{name: int(updates[name][k]) for name in STATE_FIELDS}})
                params = {name: int(updates[name][k]) for name in PARAM_FIELDS}
                a_in[0] = int(updates["a_in"][k])
                fed_at.append(cycle)
                k += 1
            else:
                ctx.set(dut.i.valid, 0)
                ctx.set(dut.i.payload.as_value(), int(rng.integers(0, 1 << 62)) % (1 << payload_bits))
            # The output is combinational: read it in the cycle it is valid.
            if ctx.get(dut.o.valid):
                out = ctx.get(dut.o.payload)
                outputs.append((out.tag, out.u, out.v, out.ref, out.spike))
                arrived_at.append(cycle)
            await ctx.tick()

    simulate(dut, testbench)
    got = np.array(outputs, dtype=np.int64).reshape(-1, 5)
    result = dict(zip(("tag", "u", "v", "ref", "spike"), got.T))
    fed_at = np.array(fed_at)
    latency = np.array(arrived_at) - fed_at[result["tag"]] if len(got) else np.array([])
    return result, latency


def check_against_golden(updates, result, latency):
    n = len(updates["u"])
    assert len(result["tag"]) == n, f"{len(result['tag'])} results for {n} inputs"
    assert np.array_equal(result["tag"], np.arange(n)), "results out of order or tags corrupted"
    assert np.all(latency == LIFDatapath.LATENCY), f"latencies seen: {sorted(set(latency.tolist()))}"
    u, v, ref, spiked = lif_step(*(updates[name] for name in INPUT_FIELDS))
    for name, want in (("u", u), ("v", v), ("ref", ref), ("spike", spiked.astype(np.int64))):
        bad = np.nonzero(result[name] != want)[0]
        if bad.size:
            k = bad[0]
            inputs = {name: int(updates[name][k]) for name in INPUT_FIELDS}
            pytest.fail(f"{bad.size} mismatches of {name}; first: update {k} {inputs}: "
                        f"rtl {name} = {result[name][k]}, golden {want[k]}")


def random_updates(rng, n):
    """Random neuron updates, a large share of them at or near every extreme of spec §3."""
    def mix(*parts):
        """parts: (weight, generator of k values); each element picks one part by weight."""
        weights = np.array([w for w, _ in parts], float)
        choice = rng.choice(len(parts), size=n, p=weights / weights.sum())
        out = np.zeros(n, np.int64)
        for index, (_, gen) in enumerate(parts):
            where = np.nonzero(choice == index)[0]
            out[where] = gen(where.size)
        return out

    def pick(values):
        return lambda k: rng.choice(np.array(values, np.int64), size=k)

    def uniform(lo, hi):
        return lambda k: rng.integers(lo, hi + 1, size=k)

    near = 3000
    u = mix((4, uniform(-U_LIMIT + 1, U_LIMIT)),
            (2, lambda k: U_LIMIT - rng.integers(0, near, size=k)),
            (2, lambda k: -U_LIMIT + 1 + rng.integers(0, near, size=k)),
            (1, pick([U_LIMIT, U_LIMIT - 1, -U_LIMIT + 1, -U_LIMIT + 2, 0, 1, -1])),
            (1, uniform(-5000, 5000)))
    a_in = mix((3, uniform(A_MIN, A_MAX)), (2, pick([A_MIN, A_MAX, A_MIN + 1, A_MAX - 1, 0])),
               (1, uniform(-64, 64)))
    v = mix((4, uniform(-V_MAX, V_MAX)),
            (2, lambda k: V_MAX - rng.integers(0, near, size=k)),
            (2, lambda k: -V_MAX + rng.integers(0, near, size=k)),
            (1, pick([V_MAX, -V_MAX, 0])))
    du = mix((3, uniform(0, DECAY_MAX)), (2, pick([0, DECAY_MAX, 1, DECAY_MAX - 1])))
    dv = mix((3, uniform(0, DECAY_MAX)), (2, pick([0, DECAY_MAX, 1, DECAY_MAX - 1])))
    vth = mix((3, uniform(0, VTH_MAX)), (1, pick([0, VTH_MAX])), (1, uniform(0, 300)))
    mant = mix((3, uniform(MANT_MIN, MANT_MAX)), (1, pick([MANT_MIN, MANT_MAX, 0, -1])))
    exp = mix((3, uniform(f.BIAS_EXP_MIN, f.BIAS_EXP_MAX)), (1, pick([f.BIAS_EXP_MIN, f.BIAS_EXP_MAX])))
    ref = mix((3, pick([0])), (2, uniform(1, REF_MAX)))
    refractory = uniform(0, REF_MAX)(n)
    # About 1 in 50 lands u_sum = decay(u) + a_in * 64 exactly on +2^23 (stays) or -2^23
    # (becomes +2^23): with factor = 4095 - du >= 3072, decay(x) = x * factor >> 12 takes every
    # integer value up to 2^11 * factor, so x = ceil(d * 4096 / factor) gives decay(x) = d.
    edge = np.nonzero(rng.random(n) < 0.02)[0]
    du[edge] = rng.integers(0, DECAY_UNITY_MINUS_3072 + 1, size=edge.size)
    factor = f.DECAY_UNITY - (du[edge] + f.DU_OFFSET)
    a_low = np.maximum(0, -((2048 * factor - U_LIMIT) // 64))      # ceil((2^23 - 2^11 f) / 64)
    a_mag = rng.integers(a_low, A_MAX + 1)
    d = U_LIMIT - 64 * a_mag
    x = -((-d * f.DECAY_UNITY) // factor)                           # ceil(d * 4096 / factor)
    side = rng.choice([1, -1], size=edge.size)
    u[edge], a_in[edge] = side * x, side * a_mag
    bias = reference_bias(mant, exp)
    # About 1 in 25 lands v_sum = decay(v) + u' + bias exactly on a clip limit, one past it,
    # the threshold or one above it: dv = 0 makes decay(v) = v, so v = target - u' - bias.
    edge = np.nonzero(rng.random(n) < 0.04)[0]
    threshold = vth[edge] << f.VTH_SHIFT
    targets = np.stack([np.full(edge.size, -V_MAX - 1), np.full(edge.size, -V_MAX),
                        np.full(edge.size, V_MAX), np.full(edge.size, V_MAX + 1),
                        threshold, threshold + 1])
    target = targets[rng.integers(0, len(targets), size=edge.size), np.arange(edge.size)]
    u_new = wrap_u(decay(u[edge], f.DECAY_UNITY - (du[edge] + f.DU_OFFSET)) + (a_in[edge] << f.ACT_SHIFT))
    v_edge = target - u_new - bias[edge]
    fits = np.abs(v_edge) <= V_MAX
    dv[edge[fits]], v[edge[fits]] = 0, v_edge[fits]
    return {"u": u, "v": v, "ref": ref, "a_in": a_in, "du": du, "dv": dv, "vth": vth,
            "bias": bias, "refractory": refractory}


def assert_covers_extremes(updates):
    """The random stream must actually reach every edge case it claims to test."""
    d = updates
    u_sum = decay(d["u"], f.DECAY_UNITY - (d["du"] + f.DU_OFFSET)) + (d["a_in"] << f.ACT_SHIFT)
    u_new = lif_step(*(d[name] for name in INPUT_FIELDS))[0]
    v_sum = decay(d["v"], f.DECAY_UNITY - (d["dv"] + f.DV_OFFSET)) + u_new + d["bias"]
    coverage = {
        "u wraps down (> 2^23)": u_sum > U_LIMIT,
        "u wraps up (<= -2^23)": u_sum <= -U_LIMIT,
        "u_sum = +2^23 (stays)": u_sum == U_LIMIT,
        "u_sum = -2^23 (becomes +2^23)": u_sum == -U_LIMIT,
        "v clips high": v_sum > V_MAX,
        "v_sum = -2^23 (clips)": (v_sum == -V_MAX - 1) & (d["ref"] == 0),
        "v_sum = -(2^23 - 1) (stays)": (v_sum == -V_MAX) & (d["ref"] == 0),
        "v_sum = vth * 64 (no spike)": (v_sum == d["vth"] << f.VTH_SHIFT) & (d["ref"] == 0),
        "v_sum = vth * 64 + 1 (spike)": (v_sum == (d["vth"] << f.VTH_SHIFT) + 1) & (d["ref"] == 0),
        "v clips low, not refractory": (v_sum < -V_MAX) & (d["ref"] == 0),
        "spike": (d["ref"] == 0) & (np.clip(v_sum, -V_MAX, V_MAX) > d["vth"] << f.VTH_SHIFT),
        "refractory": d["ref"] > 0,
        "a_in = -32768": d["a_in"] == A_MIN,
        "a_in = 32767": d["a_in"] == A_MAX,
        "bias = -4096 << 7": d["bias"] == MANT_MIN << f.BIAS_EXP_MAX,
        "bias = 4095 << 7": d["bias"] == MANT_MAX << f.BIAS_EXP_MAX,
        "vth = 0": d["vth"] == 0, "vth max": d["vth"] == VTH_MAX,
        "du = 0": d["du"] == 0, "du = 4095": d["du"] == DECAY_MAX,
        "dv = 0": d["dv"] == 0, "dv = 4095": d["dv"] == DECAY_MAX,
        "u = +2^23": d["u"] == U_LIMIT,
    }
    missing = [name for name, hit in coverage.items() if np.count_nonzero(hit) < 3]
    assert not missing, f"the random stream misses: {missing}"
    assert set(np.unique(d["refractory"]).tolist()) == set(range(REF_MAX + 1))


# --- Spec §3 worked examples: expected values from the spec's text, not from the model -------

# (inputs, expected u, v, ref, spike). Parameters not named by an example are neutral:
# a_in 0, bias 0, ref 0, refractory 0, dv 0 (no leak), vth large enough not to fire.
NEUTRAL = dict(u=0, v=0, ref=0, a_in=0, du=0, dv=0, vth=VTH_MAX, bias=0, refractory=0)
SPEC_EXAMPLES = [
    # §3.1 decays: 1000 * 3686 >> 12 = 899, and -899 for -1000; 10000 * 3996 >> 12 = 9755.
    (dict(u=1000, du=409), (899, 899, 0, 0)),
    (dict(u=-1000, du=409, vth=0), (-899, -899, 0, 0)),
    (dict(v=10000, dv=100), (0, 9755, 0, 0)),
    # §3.1 one tick: u' = 899 + 1280 = 2179, v' = 4877 + 2179 + 12 = 7068 > 6400: fires.
    (dict(du=409, dv=100, vth=100, bias=3 << 2, u=1000, v=5000, a_in=20, refractory=5),
     (2179, 0, 5, 1)),
    # §3.1 threshold: vth = 100, v' = 6400 does not fire, 6401 does.
    (dict(vth=100, v=6400), (0, 6400, 0, 0)),
    (dict(vth=100, v=6401), (0, 0, 0, 1)),
    # §3.2 clip: 8,000,000 * 4095 >> 12 = 7,998,046; + 524,160 clips to 8,388,607, which is
    # above the largest threshold (131071 << 6 = 8,388,544): fires. The low clip stays visible.
    (dict(u=8_000_000, bias=4095 << 7), (7_998_046, 0, 0, 1)),
    (dict(u=-8_000_000, bias=-4096 << 7, vth=0), (-7_998_046, -V_MAX, 0, 0)),
    # §3.2 at the low limit: -(2^23 - 1) stays, one less (-2^23) clips to it.
    (dict(v=-V_MAX, vth=0), (0, -V_MAX, 0, 0)),
    (dict(v=-V_MAX, bias=-1, vth=0), (0, -V_MAX, 0, 0)),
    (dict(v=-V_MAX, bias=1, vth=0), (0, -V_MAX + 1, 0, 0)),
    # §3.3 wrap: 8,386,559 + 6,400 = 8,392,959 > 2^23 -> -8,384,257 (v' = that, below vth).
    (dict(u=8_388_607, a_in=100), (-8_384_257, -8_384_257, 0, 0)),
    # §3.3 upper edge stays +2^23; lower edge -2^23 becomes +2^23 (v' clips and fires).
    (dict(u=8_388_032, a_in=41), (U_LIMIT, 0, 0, 1)),
    (dict(u=-8_388_544, a_in=-33), (U_LIMIT, 0, 0, 1)),
    # §3.4 refractory: v held at 0, no spike whatever the input, ref counts down; u integrates.
    (dict(ref=2, v=V_MAX, u=1000, a_in=5, bias=4095 << 7, vth=0, refractory=2), (999 + 320, 0, 1, 0)),
    (dict(ref=1, v=V_MAX, bias=4095 << 7, vth=0), (0, 0, 0, 0)),
]


def test_spec_examples():
    updates = {name: np.array([{**NEUTRAL, **given}[name] for given, _ in SPEC_EXAMPLES], np.int64)
               for name in INPUT_FIELDS}
    result, latency = stream_through(updates, np.ones(len(SPEC_EXAMPLES), bool),
                                     np.random.default_rng(1))
    assert np.all(latency == LIFDatapath.LATENCY)
    for k, (given, want) in enumerate(SPEC_EXAMPLES):
        got = tuple(int(result[name][k]) for name in ("u", "v", "ref", "spike"))
        assert got == want, f"spec example {given}: rtl (u, v, ref, spike) = {got}, spec says {want}"
    check_against_golden(updates, result, latency)


def test_random_updates_back_to_back():
    rng = np.random.default_rng(20240601)
    n = 12_000
    updates = random_updates(rng, n)
    assert_covers_extremes(updates)
    result, latency = stream_through(updates, np.ones(n, bool), rng)
    check_against_golden(updates, result, latency)


def test_random_updates_with_bubbles():
    rng = np.random.default_rng(7)
    n = 5_000
    updates = random_updates(rng, n)
    valid = np.zeros(int(n * 1.6), bool)
    valid[rng.choice(valid.size, size=n, replace=False)] = True
    valid[:3] = [True, False, True]           # a lone bubble right at the start
    assert np.count_nonzero(valid) >= n
    valid[np.nonzero(valid)[0][n:]] = False
    result, latency = stream_through(updates, valid, rng)
    check_against_golden(updates, result, latency)


def test_loihi_cuba_lif_vectors():
    """The 48 Lava cases (tests/data/loihi_cuba_lif.README.md), every tick through the RTL.

    8 neurons per case, each tick's result fed back as the next tick's state; the stream never
    stops: tick t + 1 of a neuron is fed as soon as its tick t result has come out.
    """
    data = np.load(DATA / "loihi_cuba_lif.npz")
    cases = sorted({key.split("_")[0] for key in data.files})
    assert len(cases) == 48
    width = 8
    dut = LIFDatapath(tag_width=f.bits_for(len(cases) * width))
    got = {c: {name: np.zeros_like(data[f"{c}_u"], np.int64) for name in ("u", "v", "spike")}
           for c in cases}
    state = {}                   # tag -> (u, v, ref)
    ticks_done = {}              # tag -> ticks whose result has come out

    async def testbench(ctx):
        def collect():
            if ctx.get(dut.o.valid):
                out = ctx.get(dut.o.payload)
                case, neuron = divmod(out.tag, width)
                t = ticks_done[out.tag]
                for name in ("u", "v", "spike"):
                    got[cases[case]][name][t, neuron] = getattr(out, name)
                state[out.tag] = (out.u, out.v, out.ref)
                ticks_done[out.tag] = t + 1

        pending = [None]         # a_in of the input of two cycles ago, set in the next cycle

        async def clock(params=None, a_in=None):
            """One cycle: the output of this cycle collected, `p` of the previous input set, and
            `a_in` of the input before it."""
            collect()
            await ctx.tick()
            if params is not None:
                ctx.set(dut.p, params)
            if pending[0] is not None:
                ctx.set(dut.a_in, pending[0])
            pending[0] = a_in

        for case_index, c in enumerate(cases):
            du, dv, vth, mant, exp = (int(x) for x in data[f"{c}_params"])
            bias = int(reference_bias(mant, exp))
            a_in = data[f"{c}_a_in"]
            for neuron in range(width):
                tag = case_index * width + neuron
                state[tag], ticks_done[tag] = (0, 0, 0), 0
            for t in range(a_in.shape[0]):
                for neuron in range(width):
                    tag = case_index * width + neuron
                    while ticks_done[tag] < t:           # its previous tick is still in flight
                        ctx.set(dut.i.valid, 0)
                        await clock()
                    u, v, ref = state[tag]
                    ctx.set(dut.i.valid, 1)
                    ctx.set(dut.i.payload, dict(tag=tag, u=u, v=v, ref=ref))
                    await clock(dict(du=du, dv=dv, vth=vth, bias=bias, refractory=0),
                                a_in=int(a_in[t, neuron]))
        ctx.set(dut.i.valid, 0)
        for _ in range(LIFDatapath.LATENCY + 1):
            await clock()

    simulate(dut, testbench)
    assert all(ticks_done[tag] == data[f"{cases[tag // width]}_u"].shape[0] for tag in ticks_done)
    spikes = 0
    for c in cases:
        for name, want in (("u", data[f"{c}_u"]), ("v", data[f"{c}_v"]),
                           ("spike", data[f"{c}_spikes"].astype(np.int64))):
            bad = np.argwhere(got[c][name] != want)
            if bad.size:
                t, neuron = bad[0]
                pytest.fail(f"case {c}: {name} differs at tick {t}, neuron {neuron}: "
                            f"rtl {got[c][name][t, neuron]}, Lava {want[t, neuron]}")
        spikes += int(got[c]["spike"].sum())
    assert spikes == 15_680          # the README's count: the vectors were replayed in full


class BiasOfHarness(wiring.Component):
    """bias_of for one mantissa and every exponent at once (one shifter per exponent input)."""

    n_exps = f.BIAS_EXP_MAX - f.BIAS_EXP_MIN + 1

    def __init__(self):
        super().__init__({
            "mant": In(BIAS_MANT_SHAPE),
            "exps": In(BIAS_EXP_SHAPE).array(self.n_exps),
            "biases": Out(BIAS_SHAPE).array(self.n_exps),
        })

    def elaborate(self, platform):
        m = Module()
        for exp, bias in zip(self.exps, self.biases):
            m.d.comb += bias.eq(bias_of(self.mant, exp))
        return m


def test_bias_of_full_range():
    dut = BiasOfHarness()
    exps = np.arange(f.BIAS_EXP_MIN, f.BIAS_EXP_MAX + 1)
    mants = np.arange(MANT_MIN, MANT_MAX + 1)
    got = np.zeros((mants.size, exps.size), np.int64)

    async def testbench(ctx):
        for exp_signal, exp in zip(dut.exps, exps):
            ctx.set(exp_signal, int(exp))
        for row, mant in enumerate(mants):
            ctx.set(dut.mant, int(mant))
            got[row] = [ctx.get(bias) for bias in dut.biases]

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    want = reference_bias(mants[:, None], exps[None, :])
    assert np.array_equal(got, want), f"first mismatch at (mant, exp) index {np.argwhere(got != want)[0]}"
    assert want.min() == MANT_MIN << f.BIAS_EXP_MAX and want.max() == MANT_MAX << f.BIAS_EXP_MAX
    # BIAS_SHAPE is the narrowest shape that holds both extremes (signed 20-bit).
    assert BIAS_SHAPE == Shape.cast(range(int(want.min()), int(want.max()) + 1))


def test_bias_of_rejects_wrong_shapes():
    with pytest.raises(TypeError, match=r"mant has shape signed\(12\), it must be signed\(13\)"):
        bias_of(Signal(signed(12)), Signal(BIAS_EXP_SHAPE))
    with pytest.raises(TypeError, match=r"exp has shape unsigned\(4\), it must be signed\(4\)"):
        bias_of(Signal(BIAS_MANT_SHAPE), Signal(4))


def test_tag_width_must_be_positive():
    with pytest.raises(ValueError, match="tag_width is 0, it must be at least 1"):
        LIFDatapath(tag_width=0)


def test_converts_to_verilog():
    text = verilog.convert(LIFDatapath(tag_width=9), name="lif_datapath")
    assert re.search(r"^module lif_datapath\(", text, re.M)
    for port in ("input i__valid", "input [", "output o__valid", "output ["):
        assert port in text, f"no '{port}' in the Verilog"
    text = verilog.convert(BiasOfHarness(), name="bias_of_harness")
    assert re.search(r"^module bias_of_harness\(", text, re.M)


def test_multiplies_fit_sb_mac16():
    """Every multiply is at most 16 x 16 (one SB_MAC16 each): two per decay, four in all."""
    text = rtlil.convert(LIFDatapath(tag_width=9), name="lif_datapath")
    cells = re.findall(r"cell \$mul \S+\n(.*?)\n\s*end", text, re.S)
    widths = [(int(re.search(r"A_WIDTH (\d+)", c)[1]), int(re.search(r"B_WIDTH (\d+)", c)[1]))
              for c in cells]
    assert len(widths) == 4, widths
    assert all(a <= DSP_WIDTH and b <= DSP_WIDTH for a, b in widths), widths
