"""compile_network under fuzzing (firmware/compiler.py, firmware/config.py): valid networks
compiled for random core configurations, valid and not, with valid and junk LFSR seeds.

A configuration is built or refused with ConfigError naming the field; a compile succeeds or
refuses with NetworkError (CapacityError naming the CoreConfig field it overflows); an image
that compiled fits its configuration, runs on the golden model, and survives a save and load
when the protocol can address it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from firmware import CapacityError, CoreConfig, Image, NetworkError, compile_network, formats
from firmware.image import IMAGE_LIMITS
from sim import GoldenModel
from tests.support.hardening import assert_clean_failure, budget, junk_values, networks, valid_or_junk, weighted

pytestmark = pytest.mark.filterwarnings("ignore::firmware.errors.InputWrapWarning")

FIELDS = {   # field: (what a small core may take, what fits every network of hardening.networks())
    "n_neurons": (1, 16, 40), "n_inputs": (1, 12, 24), "n_synapses": (1, 200, 600),
    "n_segments": (1, 100, 200), "n_reverse": (1, 200, 300), "n_profiles": (1, 16, 20),
    "n_projections": (1, 4, 6), "weight_bits": (2, 6, 8), "max_delay": (1, 2, 4),
}
BEYOND = {"n_profiles": 257, "n_projections": 257, "weight_bits": 9, "max_delay": 65,
          "n_synapses": 2**40, "n_inputs": IMAGE_LIMITS["n_inputs"] + 1}


@st.composite
def config_fields(draw):
    """Fields of a CoreConfig: roomy or tight ones (capacity refusals), or, in a fuzzed
    configuration, some junk."""
    fuzz = draw(st.booleans())
    fields = {}
    for name, (lo, roomy, hi) in FIELDS.items():
        if not draw(st.integers(0, 3)):
            continue                     # the default
        valid = st.one_of(st.integers(roomy, hi), st.integers(roomy, hi), st.integers(lo, hi))
        junk = st.sampled_from([0, -1, BEYOND.get(name, 0), 1.0, "8", np.int64(4), True, None, 2**70])
        if name not in ("n_neurons", "n_inputs"):   # a core of 2**40 neurons would be allocated
            junk = st.one_of(junk, junk_values(allow_arrays=False))
        fields[name] = draw(weighted((2, valid), (1, junk)) if fuzz else valid)
    return fields


@budget(120)
@given(net=networks(), fields=config_fields(),
       seed=valid_or_junk(st.integers(1, 2**32 - 1), 5))
def test_compile_fits_its_configuration_or_names_the_limit(net, fields, seed):
    made = assert_clean_failure(lambda: CoreConfig(**fields), label="CoreConfig")
    if not made.ok:
        assert any(name in str(made.error) for name in fields), made.error
        event("config refused")
        return
    config = made.value
    compiled = assert_clean_failure(lambda: compile_network(net, config, lfsr_seed=seed), label="compile")
    if not compiled.ok:
        event(f"compile refused: {type(compiled.error).__name__}")
        # the compiler's refusals are its own (an ImageError would be a table it built wrong)
        assert isinstance(compiled.error, NetworkError), compiled.error
        if isinstance(compiled.error, CapacityError):
            assert "CoreConfig.n_" in str(compiled.error), compiled.error
        return
    event("compiled")
    image = compiled.value
    assert image.config == config
    usage = image.symbols["usage"]
    for what, field in (("neurons", "n_neurons"), ("synapses", "n_synapses"), ("segments", "n_segments"),
                        ("reverse", "n_reverse"), ("profiles", "n_profiles")):
        assert usage[what] <= getattr(config, field)
    model = GoldenModel(image)
    model.run(3, {0: list(range(config.n_inputs))})
    if all(getattr(config, k) <= v for k, v in IMAGE_LIMITS.items()):
        again = Image.from_bytes(image.to_bytes())
        assert again.config == config and again.symbols == image.symbols


@budget(40)
@given(network=junk_values(allow_arrays=False), config=st.one_of(st.none(), junk_values(allow_arrays=False)))
def test_compile_refuses_what_is_not_a_network_or_a_configuration(network, config):
    outcome = assert_clean_failure(lambda: compile_network(network, config))
    assert not outcome.ok


@budget(60)
@given(data=st.one_of(st.dictionaries(st.sampled_from([f.name for f in dataclasses.fields(CoreConfig)] + ["bogus"]),
                                      st.one_of(st.integers(-3, 300), junk_values(allow_arrays=False)), max_size=4),
                      junk_values()))
def test_config_from_dict_builds_or_names_the_field(data):
    outcome = assert_clean_failure(lambda: CoreConfig.from_dict(data), label="CoreConfig.from_dict")
    if outcome.ok:
        assert outcome.value == CoreConfig(**data)
        formats.memory_map(outcome.value)
