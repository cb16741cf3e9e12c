"""The core configuration: the capacities and widths a core (model or RTL) is built with."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from . import formats
from .errors import ConfigError


@dataclass(frozen=True)
class CoreConfig:
    """Capacities of one core. The golden model accepts any size; a board build checks that
    the configuration fits its FPGA.

    n_neurons:     CUBA-LIF neurons (time-multiplexed in hardware)
    n_inputs:      host input axons (sources 0 .. n_inputs-1; neuron k is source n_inputs + k)
    n_synapses:    synapse words (16 bits each: weight mantissa + target offset)
    n_segments:    fan-out segments (a source's synapses grouped by projection, delay, window)
    n_reverse:     reverse-index entries (one per plastic synapse)
    n_profiles:    distinct neuron parameter sets (du, dv, vth, bias_exp, refractory)
    n_projections: projections (each has a weight exponent and its STDP parameters)
    weight_bits:   signed weight mantissa width; the target offset gets 16 - weight_bits
    max_delay:     largest synaptic delay in ticks (delays are 1 .. max_delay)
    """

    n_neurons: int = 256
    n_inputs: int = 256
    n_synapses: int = 32768
    n_segments: int = 4096
    n_reverse: int = 16384
    n_profiles: int = 16
    n_projections: int = 16
    weight_bits: int = 8
    max_delay: int = 4

    def __post_init__(self):
        for name in ("n_neurons", "n_inputs", "n_synapses", "n_segments", "n_reverse",
                     "n_profiles", "n_projections", "max_delay"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"core configuration: {name} = {value!r} must be an integer >= 1")
        bits = self.weight_bits
        if not isinstance(bits, int) or isinstance(bits, bool):
            raise ConfigError(f"core configuration: weight_bits = {bits!r} must be an integer in "
                              f"[{formats.WEIGHT_BITS_MIN}, {formats.WEIGHT_BITS_MAX}]")
        if not formats.WEIGHT_BITS_MIN <= bits <= formats.WEIGHT_BITS_MAX:
            raise ConfigError(
                f"core configuration: weight_bits = {bits} is outside "
                f"[{formats.WEIGHT_BITS_MIN}, {formats.WEIGHT_BITS_MAX}]")
        if self.n_profiles > 256 or self.n_projections > 256:
            raise ConfigError("core configuration: n_profiles and n_projections are at most 256")
        if self.max_delay > 64:
            raise ConfigError(f"core configuration: max_delay = {self.max_delay} exceeds 64")
        try:
            formats.memory_map(self)
        except ValueError as error:   # a word layout wider than 64 bits
            raise ConfigError(f"core configuration {self}: {error}") from None

    @property
    def n_sources(self) -> int:
        return self.n_inputs + self.n_neurons

    @property
    def target_bits(self) -> int:
        """Width of a synapse's target offset inside its segment's window of neurons."""
        return formats.SYNAPSE_WORD_BITS - self.weight_bits

    @property
    def window_size(self) -> int:
        return 1 << self.target_bits

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CoreConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"core configuration: a dict of fields, not a {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"core configuration: unknown fields {sorted(map(str, unknown))}; "
                              f"known: {sorted(known)}")
        return cls(**data)

    @staticmethod
    def json_fields(text: str) -> dict:
        """The fields of a JSON object, e.g. '{"n_neurons": 512}' (a command line's --config),
        not yet checked (from_dict does that)."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"core configuration {text!r} is not valid JSON ({error})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"core configuration {text!r} must be a JSON object of CoreConfig "
                              f"fields, e.g. '{{\"n_neurons\": 512}}'")
        return data

    @classmethod
    def from_json(cls, text: str) -> "CoreConfig":
        return cls.from_dict(cls.json_fields(text))
