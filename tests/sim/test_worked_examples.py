"""The spec's worked examples: one rule each, numbers computed by hand from the contract's
formulas (the arithmetic is in the comments), run through a compiled network and the golden
model (or sim.neuron.lif_step where a state cannot be reached through a network).
"""

from __future__ import annotations

import numpy as np
import pytest

from firmware import CoreConfig, FromList, InputWrapWarning, Network, STDPRule, compile_network
from sim import GoldenModel
from sim.neuron import lif_step

VTH_MAX = (1 << 17) - 1


def model_of(net):
    return GoldenModel(compile_network(net, CoreConfig()))


def trajectory(model, ticks, inputs=None):
    """u, v (per tick, all neurons) and the spiking neurons of each tick."""
    inputs = inputs or {}
    n = model.image.symbols["usage"]["neurons"]
    us, vs, fired = [], [], []
    for t in range(ticks):
        fired.append(model.step(sorted(inputs.get(t, []))).tolist())
        us.append(model.u[:n].tolist())
        vs.append(model.v[:n].tolist())
    return us, vs, fired


def test_current_decay_uses_du_plus_one():
    net = Network("du")
    inp = net.inputs("in", 2)
    pop = net.population("n", 3, du=[1000, 1000, 0], dv=4095, vth=VTH_MAX)
    net.connect(inp, pop, FromList([[0, 0, 100], [1, 1, -100], [0, 2, 100]]))
    us, _, _ = trajectory(model_of(net), 4, {0: [0, 1]})
    # tick 1: u = a_in << 6 = 100 * 64 = 6400 (and -6400)
    # tick 2, du = 1000: factor 4096 - (1000 + 1) = 3095; 6400 * 3095 = 19_808_000;
    #         19_808_000 >> 12 = 4835 (4096 * 4835 = 19_804_160, remainder 3840)
    #         negative: -(6400 * 3095 >> 12) = -4835 (truncation toward 0, not floor's -4836)
    # tick 3: 4835 * 3095 = 14_964_325; >> 12 = 3653 (4096 * 3653 = 14_962_688, rem. 1637)
    # du = 0 still decays (the +1): factor 4095; 6400 * 4095 = 26_208_000; >> 12 = 6398
    #         (4096 * 6398 = 26_206_208, remainder 1792)
    assert us[0] == [0, 0, 0]
    assert us[1] == [6400, -6400, 6400]
    assert us[2] == [4835, -4835, 6398]
    assert us[3][:2] == [3653, -3653]


def test_voltage_decay_uses_dv():
    net = Network("dv")
    inp = net.inputs("in", 2)
    pop = net.population("n", 2, du=4095, dv=1000, vth=VTH_MAX)
    net.connect(inp, pop, FromList([[0, 0, 100], [1, 1, -100]]))
    us, vs, _ = trajectory(model_of(net), 4, {0: [0, 1]})
    # du = 4095: u factor 4096 - 4096 = 0, so u = a_in << 6 for one tick only.
    # tick 1: u = 6400, v = 0 + 6400 + 0 = 6400
    # tick 2: u = 0; dv = 1000: factor 4096 - 1000 = 3096 (no +1 on v);
    #         6400 * 3096 = 19_814_400; >> 12 = 4837 (4096 * 4837 = 19_812_352, rem. 2048)
    # tick 3: 4837 * 3096 = 14_975_352; >> 12 = 3656 (4096 * 3656 = 14_974_976, rem. 376)
    assert vs[1] == [6400, -6400]
    assert us[2] == [0, 0]
    assert vs[2] == [4837, -4837]
    assert vs[3] == [3656, -3656]


def test_u_wrap_keeps_plus_2_23_and_maps_minus_2_23_to_plus_2_23():
    # u values near +-2**23 are not reachable in a few ticks through a network, so this uses
    # the model's neuron function. du = 0: decay factor 4095.
    z = np.zeros(1, np.int64)

    def u_after(u0, a_in):
        u, _, _, _ = lif_step(np.array([u0]), z, z, np.array([a_in]), 0, 0, VTH_MAX, 0, 0)
        return int(u[0])

    # u0 = 4096 * 2048 = 2**23: decay = 2048 * 4095 = 8_386_560 = 2**23 - 2048
    # a_in = 32: + 32 * 64 = 2048 -> exactly 2**23 = 8_388_608: stays
    assert u_after(1 << 23, 32) == 8_388_608
    # a_in = 33: 2**23 + 64 -> 2**23 + 64 - 2**24 = -8_388_544
    assert u_after(1 << 23, 33) == -8_388_544
    # u0 = -4096 * 1984 = -8_126_464: decay = -1984 * 4095 = -8_124_480
    # a_in = -4127: -4127 * 64 = -264_128; sum = -8_388_608 = -2**23 -> +2**23
    assert u_after(-4096 * 1984, -4127) == 8_388_608
    # a_in = -4126: sum = -8_388_544 > -2**23: stays
    assert u_after(-4096 * 1984, -4126) == -8_388_544


def test_a_in_wraps_to_16_bits():
    net = Network("a_in")
    inp = net.inputs("in", 5)
    pop = net.population("n", 2, du=4095, dv=4095, vth=VTH_MAX)
    # neuron 0: 64 << 8 + 64 << 8 = 16384 + 16384 = 32768 -> wraps to -32768
    # neuron 1: 127 << 8 = 32512, plus 127 + 127 + 1 = 255 (exponent 0): 32767, no wrap
    net.connect(inp, pop, FromList([[0, 0, 64], [1, 0, 64], [2, 1, 127]]), weight_exp=8)
    net.connect(inp, pop, FromList([[2, 1, 127], [3, 1, 127], [4, 1, 1]]), weight_exp=0)
    # the compiler warns about neuron 0 only (its sum can reach +32768; neuron 1's at most +32767)
    with pytest.warns(InputWrapWarning, match=r"1 neuron in one tick.*population 'n' neuron 0 \(up to \+32768\)"):
        model = model_of(net)
    us, _, _ = trajectory(model, 2, {0: [0, 1, 2, 3, 4]})
    # u = a_in * 64: -32768 * 64 = -2_097_152; 32767 * 64 = 2_097_088
    assert us[1] == [-2_097_152, 2_097_088]


def test_v_clips_at_minus_2_23_plus_1():
    net = Network("clip")
    net.population("n", 1, dv=0, bias_mant=-4096, bias_exp=7, vth=0)
    _, vs, fired = trajectory(model_of(net), 17)
    # bias = -4096 << 7 = -524_288 per tick, dv = 0 (factor 4096, no leak):
    # tick 14: v = -524_288 * 15 = -7_864_320
    # tick 15: -524_288 * 16 = -8_388_608 -> clipped to -(2**23 - 1) = -8_388_607
    # tick 16: -8_388_607 - 524_288 -> clipped again
    assert vs[14] == [-7_864_320]
    assert vs[15] == [-8_388_607]
    assert vs[16] == [-8_388_607]
    assert not any(fired)


def test_v_clips_at_plus_2_23_minus_1():
    # A v clipped high always exceeds the largest threshold a network can set
    # ((2**17 - 1) << 6 = 8_388_544 < 8_388_607), so it spikes and resets; the clip itself is
    # shown with the neuron function and a threshold of 2**17 (beyond the network range).
    z = np.zeros(1, np.int64)
    # v0 = 8_000_000, dv = 0 (no leak), u = 0, bias = 4095 << 7 = 524_160:
    # 8_524_160 -> clipped to 8_388_607, not above 2**17 << 6 = 8_388_608: no spike
    _, v, _, spiked = lif_step(z, np.array([8_000_000]), z, z, 4095, 0, 1 << 17, 4095 << 7, 0)
    assert v.tolist() == [8_388_607] and not spiked[0]
    # with the largest network threshold: 8_388_607 > 8_388_544 -> spike, v = 0
    _, v, _, spiked = lif_step(z, np.array([8_000_000]), z, z, 4095, 0, VTH_MAX, 4095 << 7, 0)
    assert v.tolist() == [0] and spiked[0]


def test_bias_with_positive_and_negative_exponent():
    net = Network("bias")
    net.population("n", 4, dv=4095, vth=VTH_MAX, bias_mant=[3, 5, -5, -7], bias_exp=[4, -1, -1, -8])
    _, vs, _ = trajectory(model_of(net), 2)
    # 3 << 4 = 48; 5 >> 1 = 2; -5 >> 1 = -3 (arithmetic shift: floor(-2.5)); -7 >> 8 = -1
    # dv = 4095: factor 1, so decay(v) = (|v| * 1) >> 12 = 0 and v = bias every tick
    assert vs[0] == [48, 2, -3, -1]
    assert vs[1] == [48, 2, -3, -1]


def test_threshold_is_strict():
    net = Network("vth")
    inp = net.inputs("in", 2)
    pop = net.population("n", 2, du=4095, dv=4095, vth=100)
    net.connect(inp, pop, FromList([[0, 0, 100], [1, 1, 101]]))
    _, vs, fired = trajectory(model_of(net), 2, {0: [0, 1]})
    # vth << 6 = 6400. neuron 0: v = 100 * 64 = 6400, not > 6400: no spike, v stays 6400
    # neuron 1: v = 101 * 64 = 6464 > 6400: spike
    assert fired[1] == [1]
    assert vs[1] == [6400, 0]


def test_reset_to_zero():
    net = Network("reset")
    net.population("n", 1, dv=0, bias_mant=1000, vth=20)
    _, vs, fired = trajectory(model_of(net), 5)
    # vth << 6 = 1280; bias 1000, no leak: tick 0 v = 1000; tick 1: 2000 > 1280 -> spike, v = 0
    # tick 2: 0 + 1000 = 1000 (restarts from 0); tick 3: spike; tick 4: 1000
    assert [v[0] for v in vs] == [1000, 0, 1000, 0, 1000]
    assert fired == [[], [0], [], [0], []]


def test_refractory_period():
    net = Network("ref")
    inp = net.inputs("in", 1)
    pop = net.population("n", 1, du=0, dv=0, bias_mant=1000, vth=15, refractory=2)
    net.connect(inp, pop, FromList([[0, 0, 10]]))
    us, vs, fired = trajectory(model_of(net), 5, {0: [0]})
    # vth << 6 = 960. tick 0: u = 0, v = 1000 > 960 -> spike, ref = 2
    # tick 1: a_in = 10: u = 640; refractory: v = 0 (would be 1640 > 960), ref = 1
    # tick 2: u = 640 * 4095 >> 12 = 2_620_800 >> 12 = 639 (4096 * 639 = 2_617_344, rem. 3456);
    #         v = 0, ref = 0
    # tick 3: u = 639 * 4095 >> 12 = 2_616_705 >> 12 = 638 (4096 * 638 = 2_613_248, rem. 3457);
    #         v = 0 + 638 + 1000 = 1638 > 960 -> spike again
    # tick 4: u = 638 * 4095 >> 12 = 2_612_610 >> 12 = 637; v = 0 (refractory)
    assert fired == [[0], [], [], [0], []]
    assert [u[0] for u in us] == [0, 640, 639, 638, 637]
    assert [v[0] for v in vs] == [0, 0, 0, 0, 0]


def test_delay_spike_at_t_arrives_at_t_plus_d():
    net = Network("delay")
    inp = net.inputs("in", 4)
    pop = net.population("n", 5, du=4095, dv=4095, vth=VTH_MAX)
    relay = net.population("relay", 1, du=4095, dv=4095, vth=0)
    # input d-1 -> neuron d-1 with delay d (d = 1..4); input 0 -> relay (delay 1) -> neuron 4 (delay 3)
    net.connect(inp, pop, FromList([[d - 1, d - 1, 10 * d, d] for d in range(1, 5)]))
    net.connect(inp, relay, FromList([[0, 0, 1, 1]]))
    net.connect(relay, pop, FromList([[0, 4, 50, 3]]))
    us, _, fired = trajectory(model_of(net), 12, {2: [0, 1, 2, 3]})
    # input spike at tick 2 with delay d: u = 10 d * 64 at tick 2 + d only
    for d in range(1, 5):
        assert [t for t in range(12) if us[t][d - 1]] == [2 + d]
        assert us[2 + d][d - 1] == 640 * d
    # relay: a_in = 1 at tick 3, v = 64 > 0 -> spikes at tick 3; arrives at neuron 4 at 3 + 3 = 6
    assert fired[3] == [5]
    assert [t for t in range(12) if us[t][4]] == [6] and us[6][4] == 50 * 64


def _trace_network(mode):
    net = Network("trace")
    inp = net.inputs("in", 1)
    pop = net.population("n", 1, du=4095, dv=4095, vth=0)
    rule = STDPRule(a_plus=0, a_minus=0, pre_decay=1000, pre_impulse=200, post_decay=1000,
                    post_impulse=200, mode=mode)
    net.connect(inp, pop, FromList([[0, 0, 1]]), stdp=rule)
    return GoldenModel(compile_network(net, CoreConfig(n_neurons=1, n_inputs=1)))


def test_trace_decay_and_impulse_all_to_all_saturates_at_255():
    model = _trace_network("all-to-all")
    xs, ys = [], []
    for t in range(4):
        model.step([0] if t < 2 else [])
        xs.append(int(model.x[0]))
        ys.append(int(model.y[0]))
    # tick 0: x = 0 + 200 = 200
    # tick 1: decay 200 * (4096 - 1000) >> 12 = 619_200 >> 12 = 151 (4096 * 151 = 618_496,
    #         rem. 704); impulse: min(151 + 200, 255) = 255 (saturated)
    # tick 2: 255 * 3096 = 789_480 >> 12 = 192 (4096 * 192 = 786_432, rem. 3048)
    # tick 3: 192 * 3096 = 594_432 >> 12 = 145 (4096 * 145 = 593_920, rem. 512)
    assert xs == [200, 255, 192, 145]
    # the neuron (vth 0) spikes at ticks 1 and 2 (a_in = 1 from ticks 0 and 1):
    # y: tick 1: 200; tick 2: 151 + 200 -> 255; tick 3: 192
    assert ys == [0, 200, 255, 192]


def test_trace_decay_and_impulse_nearest():
    model = _trace_network("nearest")
    xs = []
    for t in range(4):
        model.step([0] if t < 2 else [])
        xs.append(int(model.x[0]))
    # tick 0: x = 200; tick 1: decays to 151, impulse sets 200; tick 2: 151;
    # tick 3: 151 * 3096 = 467_496 >> 12 = 114 (4096 * 114 = 466_944, rem. 552)
    assert xs == [200, 200, 151, 114]
    assert int(model.y[0]) == 151


def _pairing_network(w_min, w_max, weight):
    """Input 0 -> neuron 0 plastic; input 1 -> neuron 0 strong, non-plastic (forces a spike).
    The neuron spikes iff a_in > 200 (du = dv = 4095, vth = 200)."""
    net = Network("pair")
    inp = net.inputs("in", 2)
    pop = net.population("n", 1, du=4095, dv=4095, vth=200)
    rule = STDPRule(a_plus=5, a_minus=-5, lr_shift=4, w_min=w_min, w_max=w_max,
                    pre_decay=1024, post_decay=1024, pre_impulse=128, post_impulse=128)
    net.connect(inp, pop, FromList([[0, 0, weight]]), stdp=rule, name="plastic")
    net.connect(inp, pop, FromList([[1, 0, 100]]), weight_exp=2, name="force")
    return GoldenModel(compile_network(net, CoreConfig(n_neurons=1, n_inputs=2), lfsr_seed=1))


# LFSR from seed 1: draw 1 = (1 >> 1) ^ 0x80200003 = 0x80200003
#                   draw 2 = (0x80200003 >> 1) ^ 0x80200003 = 0x40100001 ^ 0x80200003 = 0xC0300002
#                   draw 3 = 0xC0300002 >> 1 = 0x60180001 (even state: no taps)
# Protocol: pre (input 0) at tick 0; force at tick 1 -> post spike at tick 2; pre at tick 4.
# Traces (decay 1024: factor 3072): 128 -> 96 -> 72 (128 * 3072 >> 12 = 96, 96 * 3072 >> 12 = 72).
# tick 0, LTD: y = 0, p = -5 * 0 = 0, draw 1: (0 + (0x80200003 & 15 = 3)) >> 4 = 0
# tick 2, LTP: x = 72, p = 5 * 72 = 360, draw 2: (360 + (0xC0300002 & 15 = 2)) >> 4 = 362 >> 4 = 22
# tick 4, LTD: y = 72, p = -5 * 72 = -360, draw 3: (-360 + 1) >> 4 = -359 >> 4 = -23 (floor)
PROTOCOL = {0: [0], 1: [1], 4: [0]}


def _run_protocol(model):
    weights = []
    for t in range(6):
        model.step(PROTOCOL.get(t, []))
        weights.append(int(model.projection_weights("plastic")[2][0]))
    return weights


def test_ltd_and_ltp_update_with_known_lfsr_draws():
    model = _pairing_network(-128, 127, 10)
    weights = _run_protocol(model)
    # 10 -> +0 at tick 0 -> +22 at tick 2 = 32 -> -23 at tick 4 = 9
    assert weights == [10, 10, 32, 32, 9, 9]
    assert model.lfsr_state == 0x60180001
    assert model.counters["plastic_updates"] == 3


def test_weight_clips_at_bounds():
    model = _pairing_network(12, 30, 12)
    weights = _run_protocol(model)
    # 12 + 0 = 12; 12 + 22 = 34 -> clipped to w_max 30; 30 - 23 = 7 -> clipped to w_min 12
    assert weights == [12, 12, 30, 30, 12, 12]


# --- the examples written in docs/spec.md, section by section --------------------------------------


def _one_tick(u, v, a_in, du, dv, vth, bias, ref=0, refractory=0):
    out = lif_step(np.array([u]), np.array([v]), np.array([ref]), np.array([a_in]), du, dv, vth,
                   bias, refractory)
    return tuple(int(x[0]) for x in out)


def test_spec_2_delivery_at_t_plus_delay():
    # axon 0 spikes at tick 3; synapse delay 2, weight 10, exponent 0, to neuron 5:
    # a_in of neuron 5 is 10 at tick 5 (u = 10 * 64 = 640 with du = 4095), 0 at ticks 3, 4, 6
    net = Network("spec2")
    inp = net.inputs("in", 1)
    pop = net.population("n", 6, du=4095, dv=4095, vth=VTH_MAX)
    net.connect(inp, pop, FromList([[0, 5, 10, 2]]))
    us, _, _ = trajectory(model_of(net), 7, {3: [0]})
    assert [us[t][5] for t in range(7)] == [0, 0, 0, 0, 0, 640, 0]


def test_spec_3_1_decays():
    # 1000 * (4096 - 410) = 1000 * 3686 = 3_686_000 >> 12 = 899 (4096 * 899 = 3_682_304)
    assert _one_tick(1000, 0, 0, 409, 0, VTH_MAX, 0)[0] == 899
    assert _one_tick(-1000, 0, 0, 409, 0, VTH_MAX, 0)[0] == -899
    # 10000 * 3996 = 39_960_000 >> 12 = 9755 (4096 * 9755 = 39_956_480); u = 0 after du = 4095
    assert _one_tick(0, 10000, 0, 4095, 100, VTH_MAX, 0)[1] == 9755


def test_spec_3_1_one_tick():
    # u' = 899 + 20 * 64 = 2179; bias = 3 << 2 = 12; v: 5000 * 3996 = 19_980_000 >> 12 = 4877;
    # v' = 4877 + 2179 + 12 = 7068 > 100 * 64 = 6400: fires, v' = 0, u' stays 2179
    u, v, ref, spiked = _one_tick(1000, 5000, 20, 409, 100, 100, 12)
    assert (u, v, ref, spiked) == (2179, 0, 0, 1)


def test_spec_3_1_threshold():
    # v' = 6400 (= 100 * 64) does not fire, 6401 fires (dv = 4095 and u = 0: v' = v0 * 1 >> 12 +
    # bias, so the bias sets v' exactly)
    assert _one_tick(0, 0, 0, 4095, 4095, 100, 6400)[3] == 0
    assert _one_tick(0, 0, 0, 4095, 4095, 100, 6401)[3] == 1


def test_spec_3_2_clip():
    # spec: v = 0, dv = 0, u' = 8_000_000, bias = 524_160 (4095 << 7): v' = 8_388_607.
    # The same sum with the 8_000_000 carried by v instead of u' (u = 0, a_in = 0, du = 4095):
    # decay(8_000_000, 4096) + 0 + 524_160 = 8_524_160 -> clipped to 8_388_607; the threshold
    # 2**17 << 6 = 2**23 (beyond the network range) is above it, so v is visible.
    _, v, _, spiked = _one_tick(0, 8_000_000, 0, 4095, 0, 1 << 17, 524_160)
    assert v == 8_388_607 and not spiked


def test_spec_3_3_wrap_examples():
    # 8_388_607 * 4095 >> 12 = 8_386_559; + 100 * 64 = 8_392_959 > 2**23 -> -8_384_257
    assert _one_tick(8_388_607, 0, 100, 0, 0, VTH_MAX, 0)[0] == -8_384_257
    # 8_388_032 * 4095 >> 12 = 8_385_984; + 41 * 64 = 2_624 -> 8_388_608 = 2**23 stays
    assert _one_tick(8_388_032, 0, 41, 0, 0, VTH_MAX, 0)[0] == 8_388_608
    # -(8_388_544 * 4095 >> 12) = -8_386_496; - 33 * 64 = -2_112 -> -8_388_608 -> +8_388_608
    assert _one_tick(-8_388_544, 0, -33, 0, 0, VTH_MAX, 0)[0] == 8_388_608


def test_spec_3_4_refractory():
    # R = 2, spike at tick 10: ref 2 after tick 10, 1 after 11, 0 after 12 (v = 0 both ticks,
    # whatever the input); tick 13 integrates from v = 0 and fires again.
    # Input of 100 every tick from tick 9 (arrives 10..): v' = 100 * 64 = 6400 > 10 * 64.
    net = Network("spec34")
    inp = net.inputs("in", 1)
    pop = net.population("n", 1, du=4095, dv=4095, vth=10, refractory=2)
    net.connect(inp, pop, FromList([[0, 0, 100]]))
    model = model_of(net)
    refs, vs, fired = [], [], []
    for t in range(15):
        fired.append(model.step([0] if t >= 9 else []).tolist() == [0])
        refs.append(int(model.ref[0]))
        vs.append(int(model.v[0]))
    assert [t for t in range(15) if fired[t]] == [10, 13]
    assert refs[10:14] == [2, 1, 0, 2]
    assert vs[10:15] == [0, 0, 0, 0, 0]
    assert model.u[0] == 6400      # u integrated normally through the refractory ticks


def test_spec_4_modular_sum():
    # +100 (exp 0) and -50 (exp 2) = 100 - 200 = -100 in either order;
    # 256 deliveries of 64 << 1 = 128: 32_768 wraps to -32_768, u = -2_097_152
    for order in ((0, 1), (1, 0)):
        net = Network("spec4")
        inp = net.inputs("in", 258)
        pop = net.population("n", 2, du=4095, dv=4095, vth=VTH_MAX)
        rows = {0: ([[0, 0, 100]], 0), 1: ([[1, 0, -50]], 2)}
        for k in order:
            net.connect(inp, pop, FromList(rows[k][0]), weight_exp=rows[k][1])
        net.connect(inp, pop, FromList([[a, 1, 64] for a in range(2, 258)]), weight_exp=1)
        with pytest.warns(InputWrapWarning, match=r"population 'n' neuron 1 \(up to \+32768\)"):
            model = GoldenModel(compile_network(net, CoreConfig(n_neurons=2, n_inputs=258)))
        model.step(list(range(258)))
        model.step([])
        assert model.u.tolist() == [-100 * 64, -2_097_152]
    # -32_769 wraps to +32_767
    assert _one_tick(0, 0, -32_769, 4095, 0, VTH_MAX, 0)[0] == 32_767 * 64


def test_spec_5_2_fan_out_segments():
    # input axon 3 -> neurons 10 and 300 (projection 0, delay 1), neuron 12 (delay 2):
    # segments (proj 0, delay 1, window 0: 10), (proj 0, delay 1, window 1: offset 44 = 300),
    # (proj 0, delay 2, window 0: 12)
    net = Network("spec52")
    inp = net.inputs("in", 4)
    pop = net.population("n", 301)
    net.connect(inp, pop, FromList([[3, 10, 1, 1], [3, 300, 1, 1], [3, 12, 1, 2]]))
    image = compile_network(net, CoreConfig(n_neurons=301, n_inputs=4, n_profiles=1))
    axon = image.table("axon")
    seg, syn = image.table("segment"), image.table("synapse")
    first, count = int(axon["seg_ptr"][3]), int(axon["seg_count"][3])
    got = []
    for k in range(first, first + count):
        targets = syn["target"][seg["syn_ptr"][k]:seg["syn_ptr"][k] + seg["syn_count"][k]].tolist()
        got.append((int(seg["projection"][k]), int(seg["delay_m1"][k]) + 1, int(seg["window"][k]), targets))
    assert got == [(0, 1, 0, [10]), (0, 1, 1, [44]), (0, 2, 0, [12])]


def test_spec_6_1_traces():
    # pre_decay 197: 128 * 3899 = 499_072 >> 12 = 121; + 128 = 249 (all-to-all);
    # 249 * 3899 = 970_851 >> 12 = 237; + 128 = 365 -> 255. Nearest: the impulse sets 128.
    for mode, expected in (("all-to-all", [128, 249, 255]), ("nearest", [128, 128, 128])):
        net = Network("spec61")
        inp = net.inputs("in", 1)
        pop = net.population("n", 1, vth=VTH_MAX)
        net.connect(inp, pop, FromList([[0, 0, 0]]), stdp=STDPRule(pre_decay=197, pre_impulse=128, mode=mode))
        model = GoldenModel(compile_network(net, CoreConfig(n_neurons=1, n_inputs=1)))
        xs = []
        for _ in range(3):
            model.step([0])
            xs.append(int(model.x[0]))
        assert xs == expected
        model.step([])
        # (the 237 of the spec is inside tick 2, before its impulse); a silent tick 3:
        # 255 * 3899 = 994_245 >> 12 = 242 (4096 * 242 = 991_232); nearest: 128 -> 121
        assert int(model.x[0]) == (242 if mode == "all-to-all" else 121)


def _spec_6_2_network(weight):
    net = Network("spec62")
    inp = net.inputs("in", 2)
    pop = net.population("n", 1, du=4095, dv=4095, vth=200)
    rule = STDPRule(a_plus=64, a_minus=-64, lr_shift=8, w_min=0, w_max=127, pre_decay=197,
                    post_decay=197, pre_impulse=128, post_impulse=128)
    net.connect(inp, pop, FromList([[0, 0, weight]]), stdp=rule, name="plastic")
    net.connect(inp, pop, FromList([[1, 0, 100]]), weight_exp=2, name="force")     # 400 > 200
    return GoldenModel(compile_network(net, CoreConfig(n_neurons=1, n_inputs=2)))


def test_spec_6_2_ltd_and_ltp():
    # LFSR from 0xACE1ACE1: draw 1 = (0xACE1ACE1 >> 1) ^ 0x80200003 = 0x5670D670 ^ 0x80200003
    # = 0xD650D673 (low 8 bits 0x73 = 115); draw 2 = 0x6B286B39 ^ 0x80200003 = 0xEB086B3A (0x3A = 58)
    model = _spec_6_2_network(50)
    model.step([1])            # tick 0: force
    model.step([])             # tick 1: post spike (y = 128); its LTP (x = 0) draws once
    assert int(model.y[0]) == 128 and model.projection_weights("plastic")[2].tolist() == [50]
    model.seed(0xACE1ACE1)
    model.step([0, 1])         # tick 2: y decays to 121; LTD: (-64 * 121 + 115) >> 8 = -7629 >> 8 = -30
    assert model.projection_weights("plastic")[2].tolist() == [20]
    assert model.lfsr_state == 0xD650D673
    fired = model.step([])     # tick 3: post spike, x = 128 -> 121; LTP: (7744 + 58) >> 8 = 30
    assert fired.tolist() == [0]
    assert model.projection_weights("plastic")[2].tolist() == [50]
    assert model.lfsr_state == 0xEB086B3A


def test_spec_6_2_bounds():
    # w = 120, LTP of +30 (x = 121, the second draw from 0xACE1ACE1) -> 150 -> w_max 127
    model = _spec_6_2_network(120)
    model.step([0, 1])         # tick 0: pre (LTD, y = 0: draw 1, (0 + 115) >> 8 = 0) and force
    model.step([])             # tick 1: post spike, x = 121: LTP with draw 2: +30 -> 127
    assert model.projection_weights("plastic")[2].tolist() == [127]
    assert model.lfsr_state == 0xEB086B3A
