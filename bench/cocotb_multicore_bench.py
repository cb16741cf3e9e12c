"""cocotb side of bench/multicore.py: the crossing network (bench/networks.py) on a Verilated
MultiCore, every cycle of each tick sorted into feeding (the device's FEED states), the cores
running (STEP, BARRIER while a core is busy) and the barrier's wait for the router after the
last core is done; the packets the router carried, counted per cycle.

Reads AXONITE_BENCH (JSON: config, cores, workloads), writes AXONITE_BENCH_OUT (JSON)."""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge

from firmware import CoreConfig
from bench.networks import crossing_network
from sim.cosim.cocotb_adapter import CocotbAdapter
from sim.cosim.core_driver import MultiCoreDriver
from sim.multicore import MultiCoreModel

FEED_STATES = (1, 2, 3)          # FEED_HOST, FEED_REMOTE, FEED_END (rtl/multicore/device.py)


class Monitor:
    def __init__(self, dut, cores):
        self.top, self.cores = dut.core, cores
        self.counts = dict.fromkeys(("feed", "cores", "barrier", "packets", "routing"), 0)
        self.running = True

    async def watch(self):
        top = self.top
        units = [getattr(top, f"route_{k}") for k in range(self.cores)]
        busy = [getattr(top, f"core_{k}").control__busy for k in range(self.cores)]
        while self.running:
            await FallingEdge(top.clk)
            state = int(top.fsm_state.value)
            if state in FEED_STATES:
                self.counts["feed"] += 1
            elif state != 0:
                self.counts["cores" if any(int(b.value) for b in busy) else "barrier"] += 1
            taken = sum(int(u.packet_valid.value) & int(u.packet_ready.value) for u in units)
            self.counts["packets"] += taken
            self.counts["routing"] += any(int(u.busy.value) for u in units)


@cocotb.test()
async def multicore_bench(dut):
    spec = json.loads(os.environ["AXONITE_BENCH"])
    config, cores = CoreConfig.from_dict(spec["config"]), spec["cores"]
    io = CocotbAdapter(dut)
    await io.reset()
    driver = MultiCoreDriver(io, config, cores)
    out = []
    for load in spec["workloads"]:
        multi = crossing_network(config, cores, load["spikers"], load["fanout"])
        await driver.load(multi)
        monitor = Monitor(dut, cores)
        task = cocotb.start_soon(monitor.watch())
        ticks = load["ticks"]
        got, cycles = await driver.run(ticks, np.zeros((ticks, 0), bool))
        monitor.running = False
        await task
        want = MultiCoreModel(multi).run(ticks, np.zeros((ticks, 0), bool))
        assert np.array_equal(np.sort(multi.global_of_device(got[:, 1])), np.sort(want.neurons)), \
            "the RTL's spikes differ from the model's"
        out.append({**load, "ticks": ticks, "cycles": int(np.sum(cycles)), **monitor.counts})
    with open(os.environ["AXONITE_BENCH_OUT"], "w") as f:
        json.dump(out, f)
