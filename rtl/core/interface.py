"""The Core's interface: four groups of ports, each a signature of its own.

    core_signature(config, input_depth, step_bits)   the Core's signature, seen from the core:
        access    In(access_signature(config))      read and write every region between ticks
        inputs    In(input_signature(input_depth))  input axons for coming ticks
        outputs   Out(output_signature(config))     output spikes
        control   In(control_signature(step_bits))  run, stop, clear; status

Each group is written from the side that starts its transfers (as amaranth.lib.stream is): the
requester of an access, the source of the inputs, the core for the outputs, the controller
for control. A user of the core (the Link) declares `Out(core_signature(...).flip())` and is
connected to the Core with `wiring.connect`.

The co-simulation harness (sim/core_driver.py, the Verilator wrapper) names each port by a
short name, its group's prefix (SHORT_PREFIX) and its own: access_region, in_valid, out_ready,
step. `short_name` turns a flattened port name ("inputs__valid") into it, `core_port` finds a
Core's port by it.
"""

from __future__ import annotations

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware import formats as fmt
from firmware.config import CoreConfig

from .access import AccessPort

INPUT_ENTRY_BITS = 15       # an axon or a repeat count, as the wire's INPUT entries carry it


def access_signature(config: CoreConfig, cores: int = 1) -> wiring.Signature:
    """The access port, seen from the requester. Ignored while the core is busy. A device of
    `cores` > 1 cores (rtl.multicore) adds `core`, the core whose regions (formats.memory_map(
    config, cores), the routing table `route` included) the access reaches."""
    region_width, addr_width, data_width = AccessPort.widths(config, cores)
    members = {} if cores == 1 else {"core": Out(fmt.bits_for(cores))}
    return wiring.Signature(members | {
        "region": Out(region_width),    # the region's number (spec §9, formats.memory_map)
        "addr": Out(addr_width),        # the word's address in the region
        "wdata": Out(data_width),       # the word to write
        "we": Out(1),                   # write wdata to the word (not with `re`)
        "re": Out(1),                   # read the word: rdata with rvalid, 2 cycles later or,
        #                                 a counter, when its turn comes (up to 36 cycles)
        "rdata": In(data_width),        # the word read
        "rvalid": In(1),                # rdata holds the word read
    })


def input_signature(input_depth: int, cores: int = 1) -> wiring.Signature:
    """Input axons for coming ticks, seen from their source: each tick's axons ascending,
    closed by an entry with `tick_end` (`repeat` = k further empty ticks). On a device of
    `cores` > 1 cores `dropped` counts this cycle's drops (several cores drop at once)."""
    return wiring.Signature({
        "valid": Out(1),                        # an entry
        "axon": Out(INPUT_ENTRY_BITS),          # its axon (an out-of-range one is dropped)
        "tick_end": Out(1),                     # it closes its tick's group
        "repeat": Out(INPUT_ENTRY_BITS),        # with tick_end: k further empty ticks
        "ready": In(1),                         # the queue takes the entry
        "level": In(range(input_depth + 1)),    # entries queued, of input_depth
        "dropped": In(_count(cores + 1)),       # pulse: an axon out of order or range dropped
    })


def _count(most: int):
    """A one-cycle pulse on one core; on many, a count of up to `most` at once."""
    return 1 if most <= 2 else range(most + 1)


def output_signature(config: CoreConfig, cores: int = 1) -> wiring.Signature:
    """Output spikes, seen from the core: a FIFO of (tick, neuron). A device of `cores` > 1
    cores numbers a neuron `core << bits_for(n_neurons) | neuron` (firmware.protocol.cores)."""
    nb = fmt.bits_for(config.n_neurons) + (fmt.bits_for(cores) if cores > 1 else 0)
    return wiring.Signature({
        "valid": Out(1),                # a spike at the FIFO's head
        "neuron": Out(nb),              # its neuron
        "tick": Out(32),                # its tick (0 when the core keeps no ticks: output_tick)
        "ready": In(1),                 # take the head
        "push": Out(_count(cores)),     # pulse: a spike enters the FIFO ...
        "push_neuron": Out(nb),         # ... of this neuron (a reader counts before it takes;
        #                                 on many cores: the tick's largest so far)
        "lost": Out(_count(cores)),     # pulse: a spike found the FIFO full (counted in dropped)
    })


def control_signature(step_bits: int) -> wiring.Signature:
    """Running the core and its status, seen from the controller."""
    return wiring.Signature({
        "step": Out(1),                 # run step_ticks ticks
        "step_ticks": Out(step_bits),   # up to 2**step_bits - 1
        "freerun": Out(1),              # while high, a tick every `period` cycles
        "period": Out(32),              # cycles from tick start to tick start
        "clear": Out(1),                # zero the state, counters and tick (tables stay)
        "clear_counters": Out(1),       # zero the counters only
        "flush_inputs": Out(1),         # empty the input queue
        "busy": In(1),                  # a tick (or a clear) runs: the access port waits
        "tick": In(32),                 # ticks run since the last clear
        "consumed": In(32),             # input entries used since power-on (mod 2**32),
        #                                 flushed ones included
    })


def core_signature(config: CoreConfig, input_depth: int = 512, step_bits: int = 32,
                   cores: int = 1) -> wiring.Signature:
    """The Core's signature, seen from the core (module docstring); with `cores` > 1 that of a
    device of that many cores (rtl.multicore.MultiCore): the access port selects a core, input
    axons and output neurons are numbered by core (firmware.protocol.cores)."""
    return wiring.Signature({
        "access": In(access_signature(config, cores)),
        "inputs": In(input_signature(input_depth, cores)),
        "outputs": Out(output_signature(config, cores)),
        "control": In(control_signature(step_bits)),
    })


SHORT_PREFIX = {"access": "access_", "inputs": "in_", "outputs": "out_", "control": ""}


def short_name(flat: str) -> str:
    """A Core port's short name from its flattened name ("inputs__valid" -> "in_valid");
    any other name unchanged."""
    group, _, member = flat.partition("__")
    if group in SHORT_PREFIX and member and "__" not in member:
        return SHORT_PREFIX[group] + member
    return flat


def core_port(core, name: str):
    """The port of `core` (anything with the Core's signature) of short name `name`."""
    for group, prefix in sorted(SHORT_PREFIX.items(), key=lambda item: -len(item[1])):
        member = name[len(prefix):]
        if name.startswith(prefix) and member in core.signature.members[group].signature.members:
            return getattr(getattr(core, group), member)
    raise AttributeError(f"the core has no port named {name!r} (rtl.core.interface.SHORT_PREFIX)")
