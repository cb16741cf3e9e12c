"""A device of K cores (spec §12.7) on the wire: one device, its cores' axons and neurons
numbered by core.

    device_axon(config, core, axon)      core << bits_for(n_inputs) | axon: an INPUT entry's axon
    device_neuron(config, core, neuron)  core << bits_for(n_neurons) | neuron: a SPIKES neuron
    split_axon / split_neuron            the inverse: (core, axon), (core, neuron)
    check_cores(config, cores)           the number of cores the wire can address
    check_spike_record(config, cores, max_payload)   a tick's SPIKES record fits the frame

HELLO_REPLY announces the cores in its `n_cores` field (0 from a one-core device: read as 1).
SELECT_CORE picks the core whose regions READ, WRITE, COUNTERS and SEED reach.
"""

from __future__ import annotations

import numpy as np

from .. import formats
from ..errors import ConfigError
from .payloads import MAX_AXON, MAX_NEURON, SPIKE_RECORD, SPIKES

MAX_CORES = 256           # a SELECT_CORE names its core in one byte


def axon_bits(config) -> int:
    return formats.bits_for(config.n_inputs)


def neuron_bits(config) -> int:
    return formats.bits_for(config.n_neurons)


def check_cores(config, cores) -> int:
    """`cores` if a device of that many cores of `config` can be addressed on the wire (INPUT
    entries carry 15-bit axons, SPIKES records 16-bit neurons), else ConfigError naming the
    limit."""
    if not isinstance(cores, (int, np.integer)) or isinstance(cores, bool) or not 1 <= cores <= MAX_CORES:
        raise ConfigError(f"cores = {cores!r} must be an integer in [1, {MAX_CORES}]")
    cores = int(cores)
    if cores > 1 and (cores << axon_bits(config)) > MAX_AXON + 1:
        raise ConfigError(f"{cores} cores of {config.n_inputs} input axons need device axon numbers up to "
                          f"{(cores << axon_bits(config)) - 1}; an INPUT entry carries at most {MAX_AXON}")
    if cores > 1 and (cores << neuron_bits(config)) > MAX_NEURON + 1:
        raise ConfigError(f"{cores} cores of {config.n_neurons} neurons need device neuron numbers up to "
                          f"{(cores << neuron_bits(config)) - 1}; a SPIKES record carries at most {MAX_NEURON}")
    return cores


def check_spike_record(config, cores: int, max_payload: int) -> None:
    """ConfigError unless a SPIKES frame of `max_payload` bytes holds a tick's record of a
    device of `cores` > 1 cores of `config` (its bitmap of every device neuron number: a device
    sends a tick's record whole)."""
    record = SPIKE_RECORD.size + ((cores << neuron_bits(config)) - 1) // 8 + 1
    if cores > 1 and SPIKES.size + record > max_payload:
        raise ConfigError(f"a tick's spike record of {cores} cores of {config.n_neurons} neurons takes up to "
                          f"{record} bytes; a SPIKES frame of max_payload = {max_payload} holds "
                          f"{max_payload - SPIKES.size}")


def device_axon(config, core, axon):
    """The INPUT entry axon of input axon `axon` of core `core` (ints or integer arrays)."""
    return (np.asarray(core, dtype=np.int64) << axon_bits(config)) | np.asarray(axon, dtype=np.int64)


def device_neuron(config, core, neuron):
    """The SPIKES neuron number of neuron `neuron` of core `core` (ints or integer arrays)."""
    return (np.asarray(core, dtype=np.int64) << neuron_bits(config)) | np.asarray(neuron, dtype=np.int64)


def split_axon(config, axon):
    """(core, axon) of a device axon number."""
    axon = np.asarray(axon, dtype=np.int64)
    return axon >> axon_bits(config), axon & ((1 << axon_bits(config)) - 1)


def split_neuron(config, neuron):
    """(core, neuron) of a device neuron number."""
    neuron = np.asarray(neuron, dtype=np.int64)
    return neuron >> neuron_bits(config), neuron & ((1 << neuron_bits(config)) - 1)
