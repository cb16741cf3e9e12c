"""Place a Network into the tables of a core configuration (docs/spec.md §9).

Placement:
- input groups take input axons 0.. in creation order; populations take neurons 0.. likewise;
  source s is input s for s < n_inputs, else neuron s - n_inputs;
- neuron parameters are deduplicated into profiles (du, dv, vth, bias_exp, refractory);
  bias_mant and the output flag stay per neuron;
- a source's synapses are grouped into segments by (projection, delay, window of 2**target_bits
  neurons), segments ordered by projection, delay, window; synapses in a segment by target;
  a source's segments, and their synapses, are contiguous;
- the reverse index lists, per neuron, its plastic incoming synapses by ascending address.
Every limit that a network breaks raises CapacityError naming the limit and what broke it.
A network whose summed input to a neuron in one tick can leave the 16-bit range compiles, with
one InputWrapWarning (spec §4: axonite wraps that sum, Lava's Dense does not).
"""

from __future__ import annotations

import warnings

import numpy as np

from . import formats
from .config import CoreConfig
from .errors import CapacityError, ConfigError, InputWrapWarning, NetworkError
from .image import Image
from .network import Inputs, Network


def _pad(values: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, np.int64)
    out[:values.size] = values
    return out


def _capacity(what: str, needed: int, limit: int, culprit: str, field: str) -> None:
    if needed > limit:
        raise CapacityError(f"{culprit}: needs {needed} {what}, the core configuration holds "
                            f"{limit} (CoreConfig.{field})")


def _warn_input_wrap(network: Network, c: CoreConfig, first: dict, syn: dict, proj_rows: dict) -> None:
    """One InputWrapWarning if some neuron's input in one tick can leave [-2**15, 2**15 - 1]:
    every synapse may deliver in the same tick (each at most once: a source spikes at most once
    a tick, whatever the delays), a plastic one anything within its bounds w_min .. w_max."""
    if not syn["src"].size:
        return
    rows = {k: np.asarray(v, np.int64)[syn["proj"]] for k, v in proj_rows.items()}
    plastic = rows["plastic"] == 1
    high = np.where(plastic, rows["w_max"], syn["weight"]) << rows["weight_exp"]
    low = np.where(plastic, rows["w_min"], syn["weight"]) << rows["weight_exp"]
    # float sums are exact here: at most 2**32 synapses of at most 2**15 each
    up = np.bincount(syn["tgt"], np.maximum(high, 0), c.n_neurons).astype(np.int64)
    down = np.bincount(syn["tgt"], np.minimum(low, 0), c.n_neurons).astype(np.int64)
    lo, hi = formats.signed_range(formats.A_IN_BITS)
    bad = np.nonzero((up > hi) | (down < lo))[0]
    if not bad.size:
        return
    starts = [first[id(p)] for p in network.populations]
    shown = []
    for n in bad[:5]:
        k = int(np.searchsorted(starts, n, side="right")) - 1
        bounds = ([f"up to +{up[n]}"] if up[n] > hi else []) + ([f"down to {down[n]}"] if down[n] < lo else [])
        shown.append(f"population {network.populations[k].name!r} neuron {n - starts[k]} ({', '.join(bounds)})")
    warnings.warn(
        f"network {network.name!r}: the summed synaptic input of {bad.size} neuron{'s' * (bad.size > 1)} "
        f"in one tick can leave [{lo}, {hi}]: {'; '.join(shown)}{'; ...' if bad.size > 5 else ''}. axonite "
        f"wraps that sum at {formats.A_IN_BITS} bits (docs/spec.md §4), Lava's Dense does not, so there the "
        f"network behaves differently from a Lava one", InputWrapWarning, stacklevel=3)


def compile_network(network: Network, config: CoreConfig | None = None,
                    lfsr_seed: int = formats.LFSR_DEFAULT_SEED, *, cores: int | None = None,
                    placement: dict | None = None, exact: bool = True):
    """Compile `network` for `config` (default: CoreConfig()) into an Image; with `cores` or
    `placement`, onto several cores of `config` into a firmware.MultiImage (firmware.partition,
    docs/spec.md §12; `exact`: refuse a placement whose results would depend on the partition)."""
    if cores is not None or placement is not None:
        from .partition import compile_multi
        return compile_multi(network, config, cores=cores, placement=placement, exact=exact,
                             lfsr_seed=lfsr_seed)
    if not isinstance(network, Network):
        raise NetworkError(f"compile_network: network is a {type(network).__name__}, not a firmware.Network")
    if config is not None and not isinstance(config, CoreConfig):
        raise ConfigError(f"compile_network: config is a {type(config).__name__}, not a CoreConfig")
    c = config or CoreConfig()
    if not isinstance(lfsr_seed, (int, np.integer)) or isinstance(lfsr_seed, (bool, np.bool_)):
        raise NetworkError(f"lfsr_seed = {lfsr_seed!r} must be an integer in [1, 2**32 - 1]")
    if not 0 < lfsr_seed < (1 << formats.LFSR_BITS):
        raise NetworkError(f"lfsr_seed = {lfsr_seed} must be in [1, 2**32 - 1] (0 stalls the LFSR)")
    if not network.populations:
        raise NetworkError(f"network {network.name!r} has no population")

    # --- placement of inputs and neurons -----------------------------------------------------
    first, at = {}, 0
    for group in network.input_groups:
        first[id(group)] = at
        at += group.size
        _capacity("input axons", at, c.n_inputs, f"inputs {group.name!r}", "n_inputs")
    at = 0
    for pop in network.populations:
        first[id(pop)] = at
        at += pop.size
        _capacity("neurons", at, c.n_neurons, f"population {pop.name!r}", "n_neurons")
    n_used = at

    def source_ids(group, idx):
        base = first[id(group)]
        return base + idx if isinstance(group, Inputs) else c.n_inputs + base + idx

    # --- neuron parameters and profiles ------------------------------------------------------
    params = {k: np.concatenate([p.params[k] for p in network.populations])
              for k in ("du", "dv", "vth", "bias_exp", "refractory", "bias_mant")}
    output = np.concatenate([p.recorded for p in network.populations]).astype(np.int64)
    keys = np.stack([params[k] for k in ("du", "dv", "vth", "bias_exp", "refractory")], axis=1)
    profiles, profile_of = np.unique(keys, axis=0, return_inverse=True)
    profile_of = profile_of.reshape(-1)
    if len(profiles) > c.n_profiles:
        owners = [p.name for p in network.populations]
        raise CapacityError(f"populations {owners}: {len(profiles)} distinct parameter sets "
                            f"(du, dv, vth, bias_exp, refractory), the core holds {c.n_profiles} "
                            f"profiles (CoreConfig.n_profiles)")

    # --- projections -------------------------------------------------------------------------
    _capacity("projections", len(network.projections), c.n_projections,
              f"network {network.name!r}", "n_projections")
    columns = {k: [] for k in ("src", "tgt", "weight", "delay", "proj")}
    proj_rows = {k: [] for k in ("weight_exp", "plastic", "a_plus", "a_minus", "lr_shift", "w_min", "w_max")}
    trace_params, trace_owner = None, None
    symbols_proj = []
    for proj in network.projections:
        owner = f"projection {proj.name!r}"
        weights = proj.weights(c.weight_bits)
        delays = proj.delays(c.max_delay)
        top = formats.max_weight_exp(c.weight_bits)
        if not isinstance(proj.weight_exp, (int, np.integer)) or not 0 <= proj.weight_exp <= top:
            raise NetworkError(f"{owner}: weight_exp = {proj.weight_exp!r} is outside [0, {top}] "
                               f"(weight << weight_exp must fit the {formats.A_IN_BITS}-bit input)")
        rule = proj.stdp
        if rule is not None:
            rule.check(owner, c.weight_bits)
            if weights.size and (weights.min() < rule.w_min or weights.max() > rule.w_max):
                raise NetworkError(f"{owner}: initial weights span [{weights.min()}, {weights.max()}], "
                                   f"outside the STDP bounds [{rule.w_min}, {rule.w_max}]")
            if trace_params is None:
                trace_params, trace_owner = rule.trace_parameters(), proj.name
            elif rule.trace_parameters() != trace_params:
                raise NetworkError(f"{owner}: its STDP trace parameters (decays, impulses, mode) differ "
                                   f"from those of projection {trace_owner!r}; traces are core-wide")
        columns["src"].append(source_ids(proj.pre, proj.pre_idx))
        columns["tgt"].append(first[id(proj.post)] + proj.post_idx)
        columns["weight"].append(weights)
        columns["delay"].append(delays)
        columns["proj"].append(np.full(weights.size, proj.index, np.int64))
        for key in proj_rows:
            if key == "weight_exp":
                proj_rows[key].append(proj.weight_exp)
            elif key == "plastic":
                proj_rows[key].append(int(rule is not None))
            else:
                proj_rows[key].append(getattr(rule, key) if rule is not None else 0)
        symbols_proj.append({"name": proj.name, "index": proj.index, "pre": proj.pre.name,
                             "post": proj.post.name, "plastic": rule is not None,
                             "synapses": int(weights.size)})
    syn = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in columns.items()}
    n_syn = syn["src"].size
    _capacity("synapses", n_syn, c.n_synapses, f"network {network.name!r}", "n_synapses")

    # --- segments ----------------------------------------------------------------------------
    window = syn["tgt"] >> c.target_bits
    order = np.lexsort((syn["tgt"], window, syn["delay"], syn["proj"], syn["src"]))
    syn = {k: v[order] for k, v in syn.items()}
    window = window[order]
    key = np.stack([syn["src"], syn["proj"], syn["delay"], window], axis=1)
    starts = np.nonzero(np.concatenate([[True], np.any(key[1:] != key[:-1], axis=1)]))[0] if n_syn else np.zeros(0, np.int64)
    n_seg = starts.size
    _capacity("fan-out segments", n_seg, c.n_segments, f"network {network.name!r}", "n_segments")
    seg_count = np.diff(np.concatenate([starts, [n_syn]])).astype(np.int64)
    seg_src = syn["src"][starts]
    axon_count = np.bincount(seg_src, minlength=c.n_sources)
    axon_ptr = np.concatenate([[0], np.cumsum(axon_count)[:-1]])

    # --- reverse index of plastic synapses -----------------------------------------------------
    plastic = np.asarray(proj_rows["plastic"], np.int64)[syn["proj"]] == 1 if n_syn else np.zeros(0, bool)
    rev_addr = np.nonzero(plastic)[0]
    rev_addr = rev_addr[np.argsort(syn["tgt"][rev_addr], kind="stable")]
    _capacity("reverse-index entries (plastic synapses)", rev_addr.size, c.n_reverse,
              f"network {network.name!r}", "n_reverse")
    rev_count = np.bincount(syn["tgt"][rev_addr], minlength=c.n_neurons)
    rev_ptr = np.concatenate([[0], np.cumsum(rev_count)[:-1]])

    # --- pack the tables -----------------------------------------------------------------------
    lay = formats.layouts(c)
    pd = trace_params or (0, 0, 0, 0, "all-to-all")
    tables = {
        "profile": lay["profile"].pack(du=profiles[:, 0], dv=profiles[:, 1], vth=profiles[:, 2],
                                       bias_exp=profiles[:, 3], refractory=profiles[:, 4]),
        # Per-neuron and per-source tables are written in full, so that loading an image
        # leaves nothing of a previous one behind (unused neurons: bias 0, profile 0, no output).
        "neuron": lay["neuron"].pack(bias_mant=_pad(params["bias_mant"], c.n_neurons),
                                     profile=_pad(profile_of, c.n_neurons), output=_pad(output, c.n_neurons)),
        "axon": lay["axon"].pack(seg_ptr=axon_ptr, seg_count=axon_count),
        "segment": lay["segment"].pack(syn_ptr=starts, syn_count=seg_count, window=window[starts],
                                       delay_m1=syn["delay"][starts] - 1, projection=syn["proj"][starts]),
        "synapse": lay["synapse"].pack(weight=syn["weight"], target=syn["tgt"] & (c.window_size - 1)),
        "projection": lay["projection"].pack(**{k: np.asarray(v, np.int64) for k, v in proj_rows.items()}),
        "reverse_ptr": lay["reverse_ptr"].pack(rev_ptr=rev_ptr, rev_count=rev_count),
        "reverse": lay["reverse"].pack(synapse=rev_addr, source=syn["src"][rev_addr],
                                       projection=syn["proj"][rev_addr]),
        "stdp": lay["stdp"].pack(pre_decay=[pd[0]], pre_impulse=[pd[1]], post_decay=[pd[2]],
                                 post_impulse=[pd[3]], mode=[formats.TRACE_MODES[pd[4]]]),
        "lfsr_seed": lay["lfsr_seed"].pack(seed=[lfsr_seed]),
    }
    symbols = {
        "network": network.name,
        "inputs": [{"name": g.name, "first": first[id(g)], "size": g.size} for g in network.input_groups],
        "populations": [{"name": p.name, "first": first[id(p)], "size": p.size} for p in network.populations],
        "projections": symbols_proj,
        "usage": {"neurons": n_used, "synapses": int(n_syn), "segments": int(n_seg),
                  "reverse": int(rev_addr.size), "profiles": int(len(profiles))},
    }
    image = Image(c, tables, symbols)
    _warn_input_wrap(network, c, first, syn, proj_rows)
    return image
