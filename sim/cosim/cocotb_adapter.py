"""The CoreDriver adapter for cocotb (imported only inside a cocotb simulation)."""

from cocotb.triggers import FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

CLOCK_PERIOD_NS = 10      # the HDL wrapper's `always #5 clk = ~clk` (sim/cosim/verilator.py)


class CocotbAdapter:
    """set/get/clock on the wrapper's signals; a 'clock' ends at the falling edge, so values
    read are settled after the rising edge and values written are seen by the next one."""

    def __init__(self, dut):
        self.dut = dut

    def set(self, name, value):
        getattr(self.dut, name).value = int(value)

    def get(self, name):
        return int(getattr(self.dut, name).value)

    async def clock(self):
        await FallingEdge(self.dut.clk)

    async def wait_low(self, name) -> int:
        """Wait, without waking per cycle, until `name` is 0 at a falling clock edge; return
        the cycles waited."""
        start = get_sim_time("ns")
        while self.get(name):
            await FallingEdge(getattr(self.dut, name))
            await FallingEdge(self.dut.clk)
        return round((get_sim_time("ns") - start) / CLOCK_PERIOD_NS)

    async def reset(self, cycles: int = 3):
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await FallingEdge(self.dut.clk)


async def start_core(dut, config):
    """Reset the core in the wrapper `dut` and return a CoreDriver for it."""
    from .core_driver import CoreDriver

    io = CocotbAdapter(dut)
    await io.reset()
    return CoreDriver(io, config)
