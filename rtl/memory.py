"""The memory seam: every table and state region of the core is built here.

In simulation each region is an `amaranth.lib.memory.Memory` with one read port and one write
port (what an iCE40 EBR offers). A board build replaces `make_memory` with a mapping onto
SB_SPRAM256KA / EBR primitives at this same seam; the core sees only the two ports.
"""

from __future__ import annotations

from amaranth.hdl import unsigned
from amaranth.lib.memory import Memory


class SimpleMemory:
    """A memory with one write port and one synchronous read port. `transparent` makes the read
    port return the word written in the same cycle (back-to-back read-modify-write needs it)."""

    def __init__(self, width: int, depth: int, transparent: bool = False):
        self.memory = Memory(shape=unsigned(width), depth=depth, init=[])
        self.write = self.memory.write_port()
        self.read = self.memory.read_port(transparent_for=(self.write,) if transparent else ())


def make_memory(width: int, depth: int, transparent: bool = False) -> SimpleMemory:
    return SimpleMemory(width, depth, transparent)
