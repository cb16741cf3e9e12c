"""Port signatures shared by the gateware, and the engines' small helpers.

Memory ports, seen from the engine that drives them: an engine that reads a region has a
member `Out(read_port(addr_width, width))`: it drives `addr` and receives `data` one cycle
later. One that writes has `Out(write_port(...))`. The core connects each engine's ports to
the region's memory during the engine's phase.

`flow_signature`: a stream without backpressure (the neuron datapath, the UART receiver).
"""

from amaranth.hdl import Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


def read_port(addr_width: int, width: int) -> wiring.Signature:
    return wiring.Signature({"addr": Out(max(1, addr_width)), "data": In(width)})


def write_port(addr_width: int, width: int) -> wiring.Signature:
    return wiring.Signature({"addr": Out(max(1, addr_width)), "data": Out(width), "en": Out(1)})


def flow_signature(layout) -> wiring.Signature:
    """A stream without backpressure: `payload` is meaningful in the cycles where `valid` is 1.

    (Like amaranth.lib.stream with always_ready=True, whose constant `ready` member stops
    amaranth 0.5's Verilog export of a top-level component.)
    """
    return wiring.Signature({"valid": Out(1), "payload": Out(layout)})


def done_when_idle(m, busy, done) -> None:
    """Drive `done` as a one-cycle pulse in the cycle after `busy` falls (the engine contract:
    `start` a pulse, `busy` while working, `done` once everything is written)."""
    was_busy = Signal()
    m.d.sync += was_busy.eq(busy)
    m.d.comb += done.eq(was_busy & ~busy)


def delayed(m, signal, cycles: int, name: str) -> list:
    """`signal` delayed by 1 .. `cycles` cycles (registers with a reset), as a list."""
    out, prev = [], signal
    for k in range(1, cycles + 1):
        reg = Signal.like(signal, name=f"{name}_{k}")
        m.d.sync += reg.eq(prev)
        out.append(reg)
        prev = reg
    return out
