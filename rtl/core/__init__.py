"""The axonite core (docs/rtl.md): the engines of a tick around the tables of spec §9.

    core           Core: the memories, the engines, the per-phase wiring of their ports
    interface      the Core's signature (access, input, output and control ports)
    tick           TickController: the phases of a tick; step, free-run, overruns
    inputs         InputStage (PREPARE): the tick's host input axons into the event list
    neuron_engine  NeuronEngine (NEURON): every neuron through the datapath, and the traces
    neuron         LIFDatapath: the CUBA-LIF arithmetic of spec §3, pipelined
    router         Router (ROUTE): events -> synapses -> accumulators, LTD
    plasticity     the weight update of spec §6.2 (shared by LTD and LTP), LTPEngine (LTP)
    trace          trace decay; TraceImpulse (IMPULSE)
    lfsr           LFSR: the stochastic-rounding draws
    access         AccessPort: every region readable and writable between ticks
    counters       Counters: the 64-bit event counters of spec §7
"""

from .core import Core

__all__ = ["Core"]
