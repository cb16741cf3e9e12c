"""Place a Network on several cores: compile_network(net, config, cores=K) or
compile_network(net, config, placement={...}) (docs/spec.md §12).

The many-core contract, as the compiler enforces it:
- a synapse whose source neuron and target lie on different cores (a *cut* synapse) is
  relayed: the spike of tick t is an input event of the target's core in tick t + 1, routed by
  that core's tables with delay d - 1. So a cut synapse needs delay >= 2, and it may not be
  plastic (the target's core sees the source's spike one tick late, so its traces could not
  pair it as one core does). Host input axons are never cut: each input group is replicated
  on every core where it has targets, and an input spike goes to every replica;
- with `exact` (the default), when some plastic projection rounds stochastically
  (lr_shift > 0), every plastic synapse targets one and the same core: that core's LFSR then
  draws exactly the sequence of one core. Without `exact`, each core's LFSR serves its own
  updates, and the rounding draws (not their distribution) depend on the partition.
A placement that breaks a rule raises PartitionError naming the projection, the neurons or
populations and the cores; a network that does not fit raises CapacityError naming the core
and the limit (CoreConfig.n_synapses, ...), as compile_network does for one core.

Automatic partitioning (cores=K): populations joined by projections that may not be cut
(plastic, or with a delay-1 synapse), and with `exact` all targets of stochastic plasticity,
form units that stay whole on one core; the other populations may be split into contiguous
pieces. Units go whole, those that must first, largest first, to the core they share the most synapses with among
those below the balanced load ceil(neurons / K) (ties: the least loaded, then the lowest
core); a unit that must stay whole and fits no core below that load takes the core with the
most room; the rest is split over the cores' remaining room, most room first.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from . import formats
from .config import CoreConfig
from .errors import CapacityError, ConfigError, InputWrapWarning, NetworkError, PartitionError
from .multicore import MAX_CORES, MultiImage
from .network import FromList, Inputs, Network

REMOTE = "@remote"        # suffix of a core's remote-axon group and of a projection's cut part
IDLE = "@idle"            # the one silent neuron of a core that holds none of the network's


class _Projection:
    """A projection's connections with their global checks done (weights, delays)."""

    def __init__(self, proj, config: CoreConfig):
        self.proj = proj
        self.pre_idx, self.post_idx = proj.pre_idx, proj.post_idx
        self.weights = proj.weights(config.weight_bits)      # NetworkError naming the projection
        self.delays = proj.delays(config.max_delay)
        self.from_neurons = not isinstance(proj.pre, Inputs)


def _check_arguments(network, config, cores, placement, exact):
    if not isinstance(network, Network):
        raise NetworkError(f"compile_network: network is a {type(network).__name__}, not a firmware.Network")
    if cores is not None and (not isinstance(cores, (int, np.integer)) or isinstance(cores, (bool, np.bool_))
                              or not 1 <= cores <= MAX_CORES):
        raise NetworkError(f"compile_network: cores = {cores!r} must be an integer in [1, {MAX_CORES}]")
    if placement is not None and not isinstance(placement, dict):
        raise NetworkError(f"compile_network: placement is a {type(placement).__name__}; give a dict "
                           f"{{population name: core, or one core per neuron}}")
    if not isinstance(exact, bool):
        raise NetworkError(f"compile_network: exact = {exact!r} must be True or False")
    if not network.populations:
        raise NetworkError(f"network {network.name!r} has no population")


def _manual(network: Network, placement: dict, cores: int | None) -> tuple[dict, int]:
    """Per population (by id) the core of each neuron, from a {name: core or cores} dict."""
    pops = {p.name: p for p in network.populations}
    unknown = [name for name in placement if name not in pops]
    if unknown:
        raise NetworkError(f"placement names {unknown}, which are not populations of network "
                           f"{network.name!r} (its populations: {sorted(pops)})")
    missing = [name for name in pops if name not in placement]
    if missing:
        raise NetworkError(f"placement leaves out populations {missing}: give each population a core, "
                           f"or one core per neuron")
    top = MAX_CORES if cores is None else cores
    assign = {}
    for name, where in placement.items():
        pop = pops[name]
        arr = np.asarray(where)
        if arr.ndim == 0:
            arr = np.full(pop.size, arr)
        if arr.shape != (pop.size,) or arr.dtype.kind not in "iu":
            raise NetworkError(f"placement of population {name!r}: give one core (an integer) or "
                               f"{pop.size} integers, one per neuron; got {where!r:.80}")
        if arr.min() < 0 or arr.max() >= top:
            bad = arr[(arr < 0) | (arr >= top)][0]
            raise NetworkError(f"placement of population {name!r}: core {bad} is outside [0, {top - 1}]"
                               + ("" if cores is None else f" (cores = {cores})"))
        assign[id(pop)] = arr.astype(np.int64)
    used = max(int(a.max()) for a in assign.values()) + 1
    return assign, cores if cores is not None else used


class _Units:
    """Union-find over populations (by position in network.populations)."""

    def __init__(self, n):
        self.parent = list(range(n))
        self.whole = [False] * n
        self.why = [""] * n

    def find(self, a):
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def join(self, a, b, why):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
            self.whole[ra] = True
            self.why[ra] = self.why[ra] or self.why[rb] or why
        elif a == b and not self.whole[ra]:
            self.whole[ra], self.why[ra] = True, why
        elif not self.why[ra]:
            self.why[ra] = why


def _automatic(network: Network, parts: list, config: CoreConfig, cores: int, stochastic: bool) -> dict:
    pops = network.populations
    index = {id(p): k for k, p in enumerate(pops)}
    total = sum(p.size for p in pops)
    cap = config.n_neurons
    if total > cores * cap:
        raise CapacityError(f"network {network.name!r}: needs {total} neurons, {cores} cores hold "
                            f"{cores * cap} ({cores} x CoreConfig.n_neurons = {cap})")
    units = _Units(len(pops))
    plastic_posts = []
    for part in parts:
        proj = part.proj
        if proj.stdp is not None and part.weights.size:
            plastic_posts.append(index[id(proj.post)])
        if not part.from_neurons or not part.weights.size:
            continue
        a, b = index[id(proj.pre)], index[id(proj.post)]
        if proj.stdp is not None:
            units.join(a, b, f"projection {proj.name!r} is plastic (a plastic synapse may not cross cores)")
        elif part.delays.min() < 2:
            units.join(a, b, f"projection {proj.name!r} has synapses of delay 1 (a synapse between cores "
                             f"needs delay >= 2)")
    if stochastic:
        why = ("they are targets of plastic projections with stochastic rounding (lr_shift > 0), whose "
               "synapses share one core's LFSR (exact=True)")
        for a in plastic_posts:
            units.join(plastic_posts[0], a, why)
    members: dict[int, list] = {}
    for k in range(len(pops)):
        members.setdefault(units.find(k), []).append(k)
    size = {r: sum(pops[k].size for k in ms) for r, ms in members.items()}
    # synapses between units (neuron to neuron): the affinity that keeps cut synapses few
    unit_of = np.array([units.find(k) for k in range(len(pops))])
    link = {}
    for part in parts:
        if part.from_neurons and part.weights.size:
            a, b = unit_of[index[id(part.proj.pre)]], unit_of[index[id(part.proj.post)]]
            if a != b:
                link[(a, b)] = link.get((a, b), 0) + part.weights.size
                link[(b, a)] = link.get((b, a), 0) + part.weights.size
    balanced = min(cap, math.ceil(total / cores))
    load = [0] * cores
    home: dict[int, int] = {}
    split = []
    whole_units = {r for r in members if units.whole[r] or len(members[r]) > 1}
    for r in sorted(members, key=lambda r: (r not in whole_units, -size[r], min(members[r]))):
        whole = r in whole_units

        def best(limit):
            fits = [k for k in range(cores) if load[k] + size[r] <= limit]
            affinity = lambda k: sum(link.get((r, u), 0) for u, c in home.items() if c == k)  # noqa: E731
            return max(fits, key=lambda k: (affinity(k), -load[k], -k)) if fits else None
        core = best(balanced)
        if core is None and whole:
            core = best(cap)
            if core is None:
                names = [pops[k].name for k in members[r]]
                raise PartitionError(
                    f"network {network.name!r}: populations {names} ({size[r]} neurons) must share one core "
                    f"({units.why[r] or 'they are one population'}), and no core has room for them: a core "
                    f"holds {cap} neurons (CoreConfig.n_neurons), the most left on any core is "
                    f"{cap - min(load)}")
        if core is None:
            split.append(r)
            continue
        home[r] = core
        load[core] += size[r]
    assign = {id(pops[k]): np.full(pops[k].size, home[r], np.int64) for r in home for k in members[r]}
    for r in split:                       # single populations that may be split into pieces
        pop = pops[members[r][0]]
        cores_of = np.zeros(pop.size, np.int64)
        at = 0
        for limit in (balanced, cap):
            while at < pop.size:
                room = [limit - load[k] for k in range(cores)]
                k = int(np.argmax(room))
                if room[k] <= 0:
                    break
                take = min(room[k], pop.size - at)
                cores_of[at:at + take] = k
                load[k] += take
                at += take
        assign[id(pop)] = cores_of
    return assign


def _check_cuts(network: Network, parts: list, assign: dict, exact: bool, stochastic: bool) -> None:
    plastic_cores = {}
    for part in parts:
        proj = part.proj
        post_core = assign[id(proj.post)][part.post_idx]
        if proj.stdp is not None and part.weights.size:
            for k in np.unique(post_core).tolist():
                plastic_cores.setdefault(k, proj.name)
        if not part.from_neurons:
            continue
        pre_core = assign[id(proj.pre)][part.pre_idx]
        cut = np.nonzero(pre_core != post_core)[0]
        if not cut.size:
            continue
        if proj.stdp is not None:
            q = cut[0]
            raise PartitionError(
                f"projection {proj.name!r} is plastic and its synapse ({part.pre_idx[q]}, {part.post_idx[q]}) "
                f"would cross from core {pre_core[q]} to core {post_core[q]}: a plastic synapse may not "
                f"cross cores (docs/spec.md §12); place {proj.pre.name!r} neuron {part.pre_idx[q]} and "
                f"{proj.post.name!r} neuron {part.post_idx[q]} on one core")
        short = cut[part.delays[cut] < 2]
        if short.size:
            q = short[0]
            raise PartitionError(
                f"projection {proj.name!r}: synapse ({part.pre_idx[q]}, {part.post_idx[q]}) has delay 1 and "
                f"would cross from core {pre_core[q]} to core {post_core[q]}: a synapse between cores needs "
                f"delay >= 2, since the spike reaches the other core one tick later (docs/spec.md §12); "
                f"place both neurons on one core or give the synapse delay 2 or more")
    if exact and stochastic and len(plastic_cores) > 1:
        shown = ", ".join(f"core {k} (projection {name!r})" for k, name in sorted(plastic_cores.items()))
        raise PartitionError(
            f"network {network.name!r}: plastic synapses with stochastic rounding target several cores "
            f"({shown}); for results independent of the partition (exact=True) every plastic synapse must "
            f"target one core, whose LFSR draws as one core's does (docs/spec.md §12). Place their targets "
            f"on one core, use lr_shift = 0, or pass exact=False (each core's LFSR rounds its own updates)")


def compile_multi(network: Network, config: CoreConfig | None = None, cores: int | None = None,
                  placement: dict | None = None, exact: bool = True,
                  lfsr_seed: int = formats.LFSR_DEFAULT_SEED) -> MultiImage:
    """Compile `network` onto `cores` cores of `config` (default CoreConfig()), placed
    automatically or by `placement` ({population name: core, or one core per neuron}; then
    `cores` defaults to the highest core named + 1). Every core's LFSR is seeded with
    `lfsr_seed`. Returns a MultiImage; see the module docstring for the rules and errors."""
    from .compiler import _warn_input_wrap, compile_network    # compiler imports this module
    if config is not None and not isinstance(config, CoreConfig):
        raise ConfigError(f"compile_network: config is a {type(config).__name__}, not a CoreConfig")
    c = config or CoreConfig()
    _check_arguments(network, c, cores, placement, exact)
    if cores is None and placement is None:
        raise NetworkError("compile_network: give cores=K or a placement to compile for several cores")
    parts = [_Projection(p, c) for p in network.projections]
    rules = [p.stdp for p in network.projections if p.stdp is not None]
    for rule, p in ((p.stdp, p) for p in network.projections if p.stdp is not None):
        if rule.trace_parameters() != rules[0].trace_parameters():
            raise NetworkError(f"projection {p.name!r}: its STDP trace parameters (decays, impulses, mode) "
                               f"differ from those of the first plastic projection; traces are the same on "
                               f"every core")
    stochastic = any(part.proj.stdp is not None and part.proj.stdp.lr_shift > 0 and part.weights.size
                     for part in parts)
    if placement is not None:
        assign, cores = _manual(network, placement, cores)
    else:
        assign = _automatic(network, parts, c, int(cores), stochastic)
    cores = int(cores)
    _check_cuts(network, parts, assign, exact, stochastic)
    return _build(network, c, cores, parts, assign, lfsr_seed, compile_network, _warn_input_wrap)


def idle_image(config: CoreConfig, lfsr_seed: int = formats.LFSR_DEFAULT_SEED):
    """The image of a core that holds nothing: one silent neuron (IDLE), as a MultiImage's core
    without a population has (a device's cores beyond a MultiImage's run it)."""
    from .compiler import compile_network
    network = Network(IDLE)
    network.population(IDLE, 1)
    return compile_network(network, config, lfsr_seed=lfsr_seed)


def _build(network, c, cores, parts, assign, lfsr_seed, compile_network, warn_input_wrap) -> MultiImage:
    pops, groups = network.populations, network.input_groups
    # members of each population per core, ascending (a core's numbering keeps the global order)
    local = {id(p): np.zeros(p.size, np.int64) for p in pops}
    for p in pops:
        for k in range(cores):
            on = assign[id(p)] == k
            local[id(p)][on] = np.arange(int(on.sum()))
    # which cores each input group reaches, and which remote neurons each core receives
    input_cores = {id(g): set() for g in groups}
    remote = [{} for _ in range(cores)]             # core -> {id(pop): set of neuron indices}
    for part in parts:
        post_core = assign[id(part.proj.post)][part.post_idx]
        if not part.from_neurons:
            input_cores[id(part.proj.pre)].update(np.unique(post_core).tolist())
            continue
        cut = assign[id(part.proj.pre)][part.pre_idx] != post_core
        for k in np.unique(post_core[cut]).tolist():
            remote[k].setdefault(id(part.proj.pre), set()).update(
                np.unique(part.pre_idx[cut & (post_core == k)]).tolist())
    for g in groups:
        if not input_cores[id(g)]:
            input_cores[id(g)].add(0)               # an input without targets still exists once
    remote = [{key: np.array(sorted(v), np.int64) for key, v in r.items()} for r in remote]

    images, sub_groups, proj_parts = [], [], {p.name: [] for p in network.projections}
    for k in range(cores):
        sub = Network(network.name)
        mine = {}
        for g in groups:
            if k in input_cores[id(g)]:
                mine[("in", id(g))] = sub.inputs(g.name, g.size)
        for p in pops:
            if id(p) in remote[k]:
                mine[("remote", id(p))] = sub.inputs(p.name + REMOTE, remote[k][id(p)].size)
        for p in pops:
            idx = np.nonzero(assign[id(p)] == k)[0]
            if not idx.size:
                continue
            piece = sub.population(p.name if idx.size == p.size else f"{p.name}@{k}", idx.size,
                                   **{key: v[idx] for key, v in p.params.items()})
            mine[("pop", id(p))] = piece
            if p.recorded[idx].any():
                sub.record(piece, np.nonzero(p.recorded[idx])[0])
        for part in parts:
            proj = part.proj
            post_core = assign[id(proj.post)][part.post_idx]
            here = post_core == k
            if ("pop", id(proj.post)) not in mine:
                continue
            post = mine[("pop", id(proj.post))]
            post_local = local[id(proj.post)][part.post_idx]
            if part.from_neurons:
                same = assign[id(proj.pre)][part.pre_idx] == k
                pieces = [(here & same, mine.get(("pop", id(proj.pre))), local[id(proj.pre)][part.pre_idx],
                           proj.stdp, 0, proj.name)]
                if id(proj.pre) in remote[k]:
                    position = np.searchsorted(remote[k][id(proj.pre)], part.pre_idx)
                    pieces.append((here & ~same, mine[("remote", id(proj.pre))], position, None, 1,
                                   proj.name + REMOTE))
            else:
                pieces = [(here, mine.get(("in", id(proj.pre))), part.pre_idx, proj.stdp, 0, proj.name)]
            for mask, pre, pre_local, rule, less, name in pieces:
                # a projection without synapses goes to the first core that has both its groups
                empty_here = not part.weights.size and pre is not None and not proj_parts[proj.name]
                if not mask.any() and not empty_here:
                    continue
                rows = np.stack([pre_local[mask], post_local[mask], part.weights[mask],
                                 part.delays[mask] - less], axis=1).reshape(-1, 4)
                sub.connect(pre, post, FromList(rows), weight_exp=proj.weight_exp, stdp=rule, name=name)
                proj_parts[proj.name].append([k, name])
        if not sub.populations:                 # an idle core: one neuron without input or bias
            sub.population(IDLE, 1)
        try:
            with warnings.catch_warnings():     # the one warning for the whole network comes below
                warnings.simplefilter("ignore", InputWrapWarning)
                images.append(compile_network(sub, c, lfsr_seed=lfsr_seed))
        except CapacityError as error:
            raise type(error)(f"core {k} of {cores}: {error}") from None
        sub_groups.append(mine)

    # --- the maps ------------------------------------------------------------------------------
    first_in, at = {}, 0
    for g in groups:
        first_in[id(g)], at = at, at + g.size
    n_inputs = at
    first_pop, at = {}, 0
    for p in pops:
        first_pop[id(p)], at = at, at + p.size
    n_neurons = at
    neuron_core = np.concatenate([assign[id(p)] for p in pops])
    neuron_local = np.zeros(n_neurons, np.int64)
    for p in pops:
        for k in range(cores):
            on = np.nonzero(assign[id(p)] == k)[0]
            if on.size:
                name = p.name if on.size == p.size else f"{p.name}@{k}"
                neuron_local[first_pop[id(p)] + on] = images[k].neuron_ids(name)
    replicas = [[] for _ in range(n_inputs)]
    for g in groups:
        for k in sorted(input_cores[id(g)]):
            for i, axon in enumerate(images[k].input_ids(g.name).tolist()):
                replicas[first_in[id(g)] + i].append((k, axon))
    input_ptr = np.concatenate([[0], np.cumsum([len(r) for r in replicas])])
    input_core = np.array([k for r in replicas for k, _ in r], np.int64)
    input_axon = np.array([a for r in replicas for _, a in r], np.int64)
    # routing: per core, per neuron, one entry per destination core holding it as a remote axon
    dests = [[[] for _ in range(c.n_neurons)] for _ in range(cores)]
    for k in range(cores):
        for p in pops:
            if id(p) not in remote[k]:
                continue
            idx = remote[k][id(p)]
            axons = images[k].input_ids(p.name + REMOTE)
            src = first_pop[id(p)] + idx
            for n, axon in zip(src.tolist(), axons.tolist()):
                dests[neuron_core[n]][neuron_local[n]].append((k, axon))
    route_ptr = np.zeros((cores, c.n_neurons + 1), np.int64)
    route_core, route_axon, at = [], [], 0
    for k in range(cores):
        for j in range(c.n_neurons):
            route_ptr[k, j] = at
            for dest, axon in sorted(dests[k][j]):
                route_core.append(dest)
                route_axon.append(axon)
                at += 1
        route_ptr[k, -1] = at

    # --- the network's names, and the one InputWrapWarning -----------------------------------
    symbols = {
        "network": network.name,
        "inputs": [{"name": g.name, "first": first_in[id(g)], "size": g.size} for g in groups],
        "populations": [{"name": p.name, "first": first_pop[id(p)], "size": p.size} for p in pops],
        "projections": [{"name": part.proj.name, "index": part.proj.index, "pre": part.proj.pre.name,
                         "post": part.proj.post.name, "plastic": part.proj.stdp is not None,
                         "synapses": int(part.weights.size), "parts": proj_parts[part.proj.name]}
                        for part in parts],
        "placement": {p.name: sorted(set(assign[id(p)].tolist())) for p in pops},
    }
    multi = MultiImage(c, images, symbols, neuron_core, neuron_local, input_ptr, input_core, input_axon,
                       route_ptr, np.array(route_core, np.int64), np.array(route_axon, np.int64))
    if parts:
        syn = {"src": np.concatenate([part.pre_idx for part in parts]),
               "tgt": np.concatenate([first_pop[id(part.proj.post)] + part.post_idx for part in parts]),
               "weight": np.concatenate([part.weights for part in parts]),
               "proj": np.concatenate([np.full(part.weights.size, k, np.int64) for k, part in enumerate(parts)])}
        rows = {"weight_exp": [p.proj.weight_exp for p in parts],
                "plastic": [int(p.proj.stdp is not None) for p in parts],
                "w_min": [p.proj.stdp.w_min if p.proj.stdp else 0 for p in parts],
                "w_max": [p.proj.stdp.w_max if p.proj.stdp else 0 for p in parts]}
        scope = CoreConfig(n_neurons=max(1, n_neurons), n_inputs=max(1, n_inputs))
        warn_input_wrap(network, scope, first_pop, syn, rows)
    return multi
