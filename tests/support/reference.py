"""A plain scalar transcription of the axonite tick (the contract, phases 1..5).

Independent of the vectorized golden model: Python ints, one loop per neuron and one per
synaptic event. The network is read from the original `Network` object (pre/post indices,
weights, delays, rules of each projection) and the placement from the image's *symbols*
only; firmware/tables.py and sim/ are not used, except sim.lfsr.step (the scalar LFSR step).

Synapse addresses reproduce the compiler's documented layout: synapses sorted by
(source, projection, delay, target window = target >> (16 - weight_bits), target).
"""

from __future__ import annotations

from sim.lfsr import step as lfsr_step

UV_LIMIT = 1 << 23          # u lives in (-2**23, 2**23]
V_MAX = (1 << 23) - 1       # v clips to [-V_MAX, V_MAX]
TRACE_MAX = 255
# spec §7; the model never overruns a tick or drops an event, so the last two stay 0
COUNTERS = ("ticks", "input_events", "spikes", "output_spikes", "synaptic_events", "plastic_updates",
            "overruns", "dropped")


def decay(x: int, factor: int) -> int:
    """sign(x) * ((|x| * factor) >> 12), truncation toward zero."""
    if x < 0:
        return -((-x * factor) >> 12)
    return (x * factor) >> 12


def wrap_a_in(a: int) -> int:
    """Two's complement wrap into 16 bits."""
    a &= 0xFFFF
    return a - 0x10000 if a >= 0x8000 else a


def wrap_u(u: int) -> int:
    """The representative of u modulo 2**24 in (-2**23, 2**23]."""
    return ((u + UV_LIMIT - 1) % (1 << 24)) - UV_LIMIT + 1


def clip(x: int, lo: int, hi: int) -> int:
    return lo if x < lo else hi if x > hi else x


def shifted(mant: int, exp: int) -> int:
    return mant << exp if exp >= 0 else mant >> -exp


def stochastic_round(p: int, s: int, r: int) -> int:
    return (p + (r & ((1 << s) - 1))) >> s


class Synapse:
    __slots__ = ("source", "target", "weight", "delay", "proj", "exp", "rule")

    def __init__(self, source, target, weight, delay, proj, exp, rule):
        self.source, self.target, self.weight, self.delay = source, target, weight, delay
        self.proj, self.exp, self.rule = proj, exp, rule


class ReferenceCore:
    def __init__(self, network, symbols: dict, config, lfsr_seed: int):
        c = self.config = config
        self.n_inputs, self.n_neurons = c.n_inputs, c.n_neurons
        self.n_sources = c.n_inputs + c.n_neurons
        first = {g["name"]: g["first"] for g in symbols["inputs"]}
        first.update({g["name"]: g["first"] for g in symbols["populations"]})
        n = self.n_neurons
        self.du, self.dv, self.vth = [0] * n, [0] * n, [0] * n
        self.bias, self.refractory, self.output = [0] * n, [0] * n, [False] * n
        for pop in network.populations:
            base = first[pop.name]
            for i in range(pop.size):
                p = {k: int(v[i]) for k, v in pop.params.items()}
                k = base + i
                self.du[k], self.dv[k], self.vth[k] = p["du"], p["dv"], p["vth"]
                self.bias[k] = shifted(p["bias_mant"], p["bias_exp"])
                self.refractory[k] = p["refractory"]
                self.output[k] = bool(pop.recorded[i])

        target_bits = 16 - c.weight_bits
        keyed = []
        self.trace = None
        self.projection_names = [p.name for p in network.projections]
        for proj in network.projections:
            pre_base = first[proj.pre.name]
            if proj.pre in network.populations:
                pre_base += c.n_inputs
            post_base = first[proj.post.name]
            weights = [int(w) for w in proj.weights(c.weight_bits)]
            delays = [int(d) for d in proj.delays(c.max_delay)]
            rule = proj.stdp
            if rule is not None and self.trace is None:
                self.trace = (rule.pre_decay, rule.pre_impulse, rule.post_decay, rule.post_impulse,
                              rule.mode)
            for k in range(len(weights)):
                src = pre_base + int(proj.pre_idx[k])
                tgt = post_base + int(proj.post_idx[k])
                syn = Synapse(src, tgt, weights[k], delays[k], proj.index, int(proj.weight_exp), rule)
                keyed.append(((src, proj.index, delays[k], tgt >> target_bits, tgt), syn))
        keyed.sort(key=lambda item: item[0])
        self.synapses = [syn for _, syn in keyed]
        self.fanout = [[] for _ in range(self.n_sources)]
        self.reverse = [[] for _ in range(n)]
        for addr, syn in enumerate(self.synapses):
            self.fanout[syn.source].append(addr)
            if syn.rule is not None:
                self.reverse[syn.target].append(addr)
        self.pre_decay, self.pre_impulse, self.post_decay, self.post_impulse, mode = (
            self.trace or (0, 0, 0, 0, "all-to-all"))
        self.nearest = mode == "nearest"

        self.tick = 0
        self.u, self.v, self.ref = [0] * n, [0] * n, [0] * n
        self.x, self.y = [0] * self.n_sources, [0] * n
        self.acc = [[0] * n for _ in range(c.max_delay)]
        self.weights = [s.weight for s in self.synapses]
        self.lfsr = lfsr_seed
        self.counters = dict.fromkeys(COUNTERS, 0)
        # what the run exercised (so that a scenario can check it covered its rule)
        self.seen = dict.fromkeys(("u_wrap", "a_in_wrap", "v_clip_low", "v_clip_high",
                                   "refractory_hold", "w_min_hit", "w_max_hit"), 0)

    def _impulse(self, trace: int, impulse: int) -> int:
        return impulse if self.nearest else min(trace + impulse, TRACE_MAX)

    def _learn(self, addr: int, product: int) -> None:
        rule = self.synapses[addr].rule
        self.lfsr = lfsr_step(self.lfsr)
        w = self.weights[addr] + stochastic_round(product, rule.lr_shift, self.lfsr)
        if w <= rule.w_min:
            self.seen["w_min_hit"] += w < rule.w_min
            w = rule.w_min
        if w >= rule.w_max:
            self.seen["w_max_hit"] += w > rule.w_max
            w = rule.w_max
        self.weights[addr] = w

    def step(self, input_axons) -> list[int]:
        c = self.config
        slot = self.tick % c.max_delay
        # Phase 1: neurons.
        spiked = []
        for j in range(self.n_neurons):
            raw = self.acc[slot][j]
            self.acc[slot][j] = 0
            a_in = wrap_a_in(raw)
            self.seen["a_in_wrap"] += a_in != raw
            u_raw = decay(self.u[j], 4096 - (self.du[j] + 1)) + a_in * 64
            u = wrap_u(u_raw)
            self.seen["u_wrap"] += u != u_raw
            v_raw = decay(self.v[j], 4096 - self.dv[j]) + u + self.bias[j]
            v = clip(v_raw, -V_MAX, V_MAX)
            self.seen["v_clip_low"] += v_raw < -V_MAX
            self.seen["v_clip_high"] += v_raw > V_MAX
            self.u[j] = u
            if self.ref[j] > 0:
                self.v[j] = 0
                self.ref[j] -= 1
                self.seen["refractory_hold"] += 1
            elif v > self.vth[j] * 64:
                spiked.append(j)
                self.v[j] = 0
                self.ref[j] = self.refractory[j]
            else:
                self.v[j] = v
        # Phase 2: trace decay.
        for s in range(self.n_sources):
            self.x[s] = (self.x[s] * (4096 - self.pre_decay)) >> 12
        for j in range(self.n_neurons):
            self.y[j] = (self.y[j] * (4096 - self.post_decay)) >> 12
        # Phase 3: routing, in order: inputs ascending, then spiking neurons ascending.
        events = sorted(int(a) for a in input_axons) + [self.n_inputs + j for j in spiked]
        ltd = []
        for s in events:
            for addr in self.fanout[s]:
                syn = self.synapses[addr]
                arrival = (self.tick + syn.delay) % c.max_delay
                self.acc[arrival][syn.target] += self.weights[addr] << syn.exp
                self.counters["synaptic_events"] += 1
                if syn.rule is not None:
                    ltd.append(addr)
        # Phase 4: LTD (routing order), then LTP (spiking neurons ascending, addresses ascending).
        for addr in ltd:
            syn = self.synapses[addr]
            self._learn(addr, syn.rule.a_minus * self.y[syn.target])
        n_ltp = 0
        for j in spiked:
            for addr in self.reverse[j]:
                syn = self.synapses[addr]
                self._learn(addr, syn.rule.a_plus * self.x[syn.source])
                n_ltp += 1
        # Phase 5: impulses.
        for s in events:
            self.x[s] = self._impulse(self.x[s], self.pre_impulse)
        for j in spiked:
            self.y[j] = self._impulse(self.y[j], self.post_impulse)

        k = self.counters
        k["ticks"] += 1
        k["input_events"] += len(input_axons)
        k["spikes"] += len(spiked)
        k["output_spikes"] += sum(1 for j in spiked if self.output[j])
        k["plastic_updates"] += len(ltd) + n_ltp
        self.tick += 1
        return spiked

    def run(self, raster) -> list[list[int]]:
        """raster: a list of per-tick lists of input axons. Returns per-tick spiking neurons."""
        return [self.step(axons) for axons in raster]

    def projection_weights(self, index: int):
        """(source, target, weight) of a projection's synapses, sorted by (source, target)."""
        rows = [(s.source, s.target, self.weights[a]) for a, s in enumerate(self.synapses)
                if s.proj == index]
        return sorted(rows)
