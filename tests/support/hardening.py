"""What every property of the hardening suite shares (issue 12): the one checker of failures,
the budget of examples, and strategies of junk values.

assert_clean_failure(call) runs `call()`. It returns an Outcome: the value on success, or the
exception when that is one of the project's documented errors (firmware.errors, host.errors,
sim.model: all subclasses of firmware.errors.AxoniteError) whose message says something: not
empty, not a bare repr, a phrase that names something (a number, a quoted name, "field = value"
or "owner: problem"), and every fragment of `mentions` (the name or limit the API promises). Anything else (IndexError, KeyError, MemoryError, ZeroDivisionError, struct.error,
a TypeError from deep inside numpy ...) fails the test with its traceback.

The budget: in CI each property runs `n` examples, derandomized (the same examples on every
run, no example database), without deadlines. `pytest --hypothesis-profile=axonite-slow
tests/properties` runs SLOW_FACTOR times as many, random ones (the profile is registered in
tests/conftest.py, so that the option finds it before tests/properties is collected).
"""

from __future__ import annotations

import math
import re
import traceback
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from firmware.errors import AxoniteError

SLOW_PROFILE = "axonite-slow"
SLOW_FACTOR = 20

# Where the documented exception classes live: an AxoniteError from anywhere else is not one
# a user can look up.
DOCUMENTED_MODULES = ("firmware.errors", "host.errors", "sim.model")


def budget(n: int, **overrides) -> settings:
    """Settings for a property of `n` examples in CI (derandomized), SLOW_FACTOR x n random ones
    under the slow profile."""
    slow = settings.get_current_profile_name() == SLOW_PROFILE
    # no explain phase: it re-runs a failure hundreds of times to annotate lines (minutes here)
    return settings(max_examples=n * SLOW_FACTOR if slow else n, derandomize=not slow, database=None,
                    deadline=None, print_blob=slow, phases=[p for p in Phase if p != Phase.explain],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.large_base_example],
                    **overrides)


@dataclass
class Outcome:
    value: object = None
    error: AxoniteError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# A message "names something": a number (a value, a limit, an index), a quoted name, a
# "field = value", or the "owner: problem" form every refusal of the project takes.
_NAMES = re.compile(r"\d|'[^']*'|\"[^\"]+\"|`[^`]+`|\w+ = \S|^\S[^:]*: \S")
# A bare repr: <object at 0x...>, or Name(...) / 'text' and nothing else.
_BARE = re.compile(r"<[^>]* at 0x[0-9a-f]+>|[\w.]+\(.*\)|'[^']*'|\"[^\"]*\"", re.S)


def check_message(error: BaseException, mentions=()) -> str:
    """The message of a documented error, checked (see the module's docstring)."""
    text = str(error)
    where = f"{type(error).__name__}: {text!r}"
    assert text.strip(), f"{type(error).__name__} with an empty message"
    assert not _BARE.fullmatch(text.strip()), f"a bare repr for a message: {where}"
    assert len(text.split()) >= 3, f"a message of fewer than three words: {where}"
    assert _NAMES.search(text), f"a message that names nothing: {where}"
    for fragment in mentions:
        assert fragment in text, f"the message does not name {fragment!r}: {where}"
    return text


def documented(error: BaseException) -> bool:
    return isinstance(error, AxoniteError) and type(error).__module__ in DOCUMENTED_MODULES


def assert_clean_failure(call, mentions=(), label: str | None = None) -> Outcome:
    """call() succeeds (Outcome.value) or raises a documented error with a message that names
    something (Outcome.error); anything else fails the test, showing the traceback."""
    try:
        return Outcome(value=call())
    except Exception as error:   # noqa: BLE001 - the point is to see every exception
        if not documented(error):
            pytest.fail(f"{label or getattr(call, '__name__', 'the call')}: {type(error).__module__}."
                        f"{type(error).__name__} escaped:\n{traceback.format_exc()}", pytrace=False)
        check_message(error, mentions)
        return Outcome(error=error)


# --- junk values -------------------------------------------------------------------------------

class Opaque:
    """An object no API can mean to take."""

    def __repr__(self):
        return "Opaque()"


HUGE_INTS = (2**31, 2**32, 2**63 - 1, 2**63, 2**64, -2**63 - 1, 10**30, -10**30, 2**2000)
NUMPY_SCALARS = (np.int8(-1), np.int64(3), np.uint64(2**64 - 1), np.float32(np.nan), np.float64(2.0),
                 np.float64(2.5), np.bool_(True), np.float16(np.inf), np.complex64(1j))


def junk_values(allow_arrays: bool = True) -> st.SearchStrategy:
    """Values no parameter should take silently: wrong types, NaN, infinities, huge and negative
    numbers, numpy scalars, strings, containers of the wrong shape."""
    simple = st.one_of(
        st.none(), st.booleans(), st.integers(-2**70, 2**70), st.sampled_from(HUGE_INTS),
        st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -0.0, 0.5]),
        st.text(max_size=4), st.binary(max_size=3), st.sampled_from(NUMPY_SCALARS),
        st.sampled_from([1j, Opaque(), {}, {"a": 1}, set(), frozenset({1}), slice(1), range(3), Ellipsis]))
    if not allow_arrays:
        return simple
    containers = st.one_of(
        st.lists(simple, max_size=4), st.tuples(simple, simple),
        st.sampled_from([[[1], [1, 2]], [[]], [[1, 2], [3]], [1, [2]], np.zeros((2, 3, 4)), np.zeros(0),
                         np.array(["a", "b"]), np.array([1.5, np.nan]), np.array([None, 1], dtype=object),
                         np.ones((1, 1), dtype=bool), np.array([2**63], dtype=np.uint64)]))
    return st.one_of(simple, containers)


def weighted(*options) -> st.SearchStrategy:
    """One of the strategies, drawn with the weights given: weighted((3, valid), (1, junk)).
    (st.one_of weighs every branch of its strategies alike, nested ones too, so a wide junk
    strategy would crowd out the rest.) Shrinks towards the first."""
    table = [strategy for weight, strategy in options for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda k: table[k])


def valid_or_junk(valid: st.SearchStrategy, one_in: int = 4) -> st.SearchStrategy:
    """A valid value, or junk once in `one_in` draws: what a fuzzed caller passes."""
    return weighted((one_in - 1, valid), (1, junk_values()))


# --- valid networks ----------------------------------------------------------------------------

@st.composite
def networks(draw, max_inputs: int = 6, max_neurons: int = 8, max_delay: int = 2, plastic: bool = True):
    """A valid firmware.Network, small and busy: 1-2 input groups of up to `max_inputs` axons,
    1-2 populations of up to `max_neurons` neurons, up to 4 projections of every connector
    (delays up to `max_delay`, STDP on some when `plastic`), some neurons recorded."""
    from firmware import AllToAll, FixedProbability, FromList, Network, OneToOne, STDPRule

    net = Network("fuzzed")
    sources, pops = [], []
    for k in range(draw(st.integers(1, 2))):
        sources.append(net.inputs(f"in{k}", draw(st.integers(1, max_inputs))))
    for k in range(draw(st.integers(1, 2))):
        pops.append(net.population(
            f"pop{k}", draw(st.integers(1, max_neurons)), du=draw(st.sampled_from([0, 400, 4095])),
            dv=draw(st.sampled_from([0, 200, 4095])), vth=draw(st.sampled_from([1, 10, 40, 200])),
            bias_mant=draw(st.sampled_from([0, 0, 3, -5])), refractory=draw(st.integers(0, 2))))
    trace = dict(pre_decay=draw(st.sampled_from([0, 197, 4095])), post_decay=197,
                 pre_impulse=draw(st.sampled_from([1, 128, 255])), post_impulse=128,
                 mode=draw(st.sampled_from(["all-to-all", "nearest"])))
    for k in range(draw(st.integers(0, 4))):
        pre = draw(st.sampled_from(sources + pops))
        post = draw(st.sampled_from(pops))
        kind = draw(st.sampled_from(["all", "one", "p", "list"]))
        if kind == "one" and pre.size != post.size:
            kind = "all"
        if kind == "list":
            pairs = draw(st.sets(st.tuples(st.integers(0, pre.size - 1), st.integers(0, post.size - 1)), max_size=6))
            connector = FromList([(a, b, draw(st.integers(-8, 30))) for a, b in sorted(pairs)] or [(0, 0, 1)])
        else:
            connector = {"all": AllToAll(), "one": OneToOne(), "p": FixedProbability(0.5, seed=k)}[kind]
        weight = None if kind == "list" else draw(st.integers(-8, 30))
        rule = None
        if plastic and draw(st.booleans()):
            rule = STDPRule(a_plus=draw(st.integers(-60, 60)), a_minus=draw(st.integers(-60, 60)),
                            lr_shift=draw(st.integers(0, 6)), w_min=-8, w_max=30, **trace)
        net.connect(pre, post, connector, weight=weight, weight_exp=draw(st.integers(0, 2)),
                    delay=None if kind == "list" else draw(st.integers(1, max_delay)), stdp=rule, name=f"proj{k}")
    for pop in pops:
        if draw(st.booleans()):
            net.record(pop)
        else:
            net.record(pop, sorted(draw(st.sets(st.integers(0, pop.size - 1), min_size=1))))
    return net


# --- raw frames to a device ----------------------------------------------------------------------

@st.composite
def wire_events(draw, config, max_ticks: int = 6):
    """Bytes a host might send a device, one event: random bytes, a valid frame of any opcode
    with any payload, or a command with random fields (WRITE/READ of any region, address,
    count and words; INPUT entries; STEP, FREERUN, STOP, RESET, SEED, COUNTERS), sometimes
    corrupted on the wire. Every event ends with the frame delimiter."""
    from firmware import formats
    from firmware import protocol as P

    regions = list(formats.memory_map(config).values())
    seq = draw(st.integers(0, 255))
    kind = draw(st.sampled_from(["write", "step", "write", "read", "input", "write", "freerun", "stop", "reset",
                                 "seed", "counters", "hello", "opcode", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=48)) + b"\0"
    if kind in ("write", "read"):
        # the tables and the last region most, then any, then none
        tables = [r.index for r in regions if r.name in formats.TABLE_REGIONS] + [len(regions) - 1] * 2
        index = draw(st.one_of(st.sampled_from(tables), st.sampled_from(tables), st.integers(0, len(regions) - 1),
                               st.sampled_from([len(regions), 255])))
        region = regions[index] if index < len(regions) else None
        nbytes = P.word_bytes(region) if region else draw(st.integers(0, 8))
        if region and not draw(st.integers(0, 7)):
            nbytes = draw(st.integers(0, 255))
        depth = region.depth if region else 8
        # at the start, the end (beyond what an image fills), outside
        addr = draw(st.one_of(st.integers(0, depth), st.sampled_from([0, depth // 2, depth - 1, depth]),
                              st.sampled_from([2**31, 2**32 - 1])))
        edges = [0, 0, 1, 1, depth - addr, depth + 1, 2**16 - 1]
        count = draw(st.one_of(st.integers(0, min(depth, 12)),
                               st.sampled_from([min(max(n, 0), 2**16 - 1) for n in edges])))
        payload = P.REGION_ACCESS.pack(index, nbytes, addr, count)
        if kind == "write":
            width = region.layout.width if region else 64
            words = draw(st.lists(st.one_of(st.integers(0, 2**width - 1), st.integers(0, 2**width - 1),
                                            st.integers(0, 2**64 - 1)), min_size=min(count, 40), max_size=min(count, 40)))
            data = P.pack_words(words, min(max(nbytes, 1), 8)) if words else b""
            if draw(st.integers(0, 7)) == 0:
                data = data[:draw(st.integers(0, len(data)))] + draw(st.binary(max_size=3))
            payload += data
        op = P.Op.WRITE if kind == "write" else P.Op.READ
    elif kind == "input":
        entries = draw(st.lists(st.one_of(st.integers(0, config.n_inputs + 2), st.integers(0, config.n_inputs + 2),
                                          st.integers(0, 3).map(lambda k: P.TICK_END | k), st.integers(0, 0xFFFF)),
                                max_size=24))
        op, payload = P.Op.INPUT, P.encode_input_entries(entries) + (b"\1" if draw(st.integers(0, 9)) == 0 else b"")
    elif kind == "step":
        op, payload = P.Op.STEP, P.STEP.pack(draw(st.one_of(st.integers(0, max_ticks), st.just(2**32 - 1))))
    elif kind == "freerun":
        op, payload = P.Op.FREERUN, P.FREERUN.pack(draw(st.sampled_from([0, 1, 1000, 10**6, 2**32 - 1])))
    elif kind == "seed":
        op, payload = P.Op.SEED, P.SEED.pack(draw(st.sampled_from([0, 1, 0xACE1, 2**32 - 1])))
    elif kind == "counters":
        op, payload = P.Op.COUNTERS, P.COUNTERS_REQUEST.pack(draw(st.integers(0, 255)))
    elif kind == "opcode":
        op, payload = draw(st.integers(0, 255)), draw(st.binary(max_size=24))
    else:
        op, payload = {"stop": P.Op.STOP, "reset": P.Op.RESET, "hello": P.Op.HELLO}[kind], b""
    if draw(st.integers(0, 9)) == 0:       # a payload of the wrong size for its opcode
        payload = payload + b"\0" if draw(st.booleans()) else payload[:-1]
    frame = bytearray(P.encode_frame(int(op), seq, payload[:P.MAX_PAYLOAD],
                                     version=P.PROTOCOL_VERSION if draw(st.integers(0, 15)) else 2))
    damage = draw(st.integers(0, 11))
    if damage == 0 and len(frame) > 2:          # a bit flipped on the line
        at = draw(st.integers(0, len(frame) - 2))
        frame[at] ^= 1 << draw(st.integers(0, 7))
    elif damage == 1 and len(frame) > 2:        # bytes lost
        del frame[draw(st.integers(0, len(frame) - 2))]
    return bytes(frame)
