"""Drive an rtl.core.Core through its ports: load an image, step ticks, read state back.

The driver talks to the simulator through a three-method adapter, so the same code serves the
Amaranth simulator (unit tests) and cocotb on Verilator (the regression):

    adapter.set(name, value)     # drive an input port at the next clock edge
    adapter.get(name) -> int     # sample an output port (two's complement not applied)
    await adapter.clock()        # advance one clock cycle
    await adapter.wait_low(name) # optional: wait until a port is 0, return the cycles
"""

from __future__ import annotations

import numpy as np

from firmware import formats as fmt
from firmware.run import normalize_inputs


class AmaranthAdapter:
    """The adapter for an Amaranth simulator testbench context; `dut` is a Core, whose ports
    go by their short names (rtl.core.interface: access_region, in_valid, out_ready, step)."""

    def __init__(self, ctx, dut):
        from rtl.core.interface import core_port

        self.ctx, self.dut = ctx, dut
        self._port = lambda name: core_port(dut, name)

    def set(self, name, value):
        self.ctx.set(self._port(name), int(value))

    def get(self, name):
        return int(self.ctx.get(self._port(name)))

    async def clock(self):
        await self.ctx.tick()


class CoreDriver:
    def __init__(self, adapter, config):
        self.io = adapter
        self.config = config
        self.regions = fmt.memory_map(config)

    async def idle(self, limit: int = 10_000_000) -> int:
        """Clock until the core is idle; return the cycles it took."""
        if hasattr(self.io, "wait_low"):      # the simulator can wait without waking per cycle
            return await self.io.wait_low("busy")
        for cycles in range(limit):
            if not self.io.get("busy"):
                return cycles
            await self.io.clock()
        raise TimeoutError(f"core still busy after {limit} cycles")

    async def write(self, region: str, words) -> None:
        r = self.regions[region]
        self.io.set("access_region", r.index)
        self.io.set("access_we", 1)
        for addr, word in enumerate(np.asarray(words, dtype=np.uint64)):
            self.io.set("access_addr", addr)
            self.io.set("access_wdata", int(word))
            await self.io.clock()
        self.io.set("access_we", 0)

    async def read(self, region: str, count: int | None = None) -> np.ndarray:
        r = self.regions[region]
        count = r.depth if count is None else count
        out = np.zeros(count, dtype=np.uint64)
        self.io.set("access_region", r.index)
        for addr in range(count):
            self.io.set("access_addr", addr)
            self.io.set("access_re", 1)
            await self.io.clock()
            self.io.set("access_re", 0)
            await self.io.clock()
            while not self.io.get("access_rvalid"):
                await self.io.clock()
            out[addr] = self.io.get("access_rdata")
        return out

    async def clear(self) -> None:
        self.io.set("clear", 1)
        await self.io.clock()
        self.io.set("clear", 0)
        await self.idle()

    async def load(self, image) -> None:
        """Write every table of the image, then clear the state (spec §8)."""
        for name in fmt.TABLE_REGIONS:
            await self.write(name, image.tables[name])
        await self.clear()

    @property
    def n_inputs(self) -> int:
        """The input axons a run names."""
        return self.config.n_inputs

    def entries(self, axons) -> np.ndarray:
        """The input entries of a tick's input axons (one core: the axons)."""
        return axons

    async def run(self, ticks: int, inputs=None) -> tuple[np.ndarray, list[int]]:
        """Run `ticks` ticks, one step per tick. Returns the output spikes as (tick, neuron)
        rows and the cycles each tick took."""
        times, axons = normalize_inputs(inputs, ticks, self.n_inputs)
        bounds = np.searchsorted(times, np.arange(ticks + 1))
        spikes, cycles = [], []
        for k in range(ticks):
            for axon in self.entries(axons[bounds[k]:bounds[k + 1]]):
                await self._push_input(int(axon), 0)
            await self._push_input(0, 1)
            self.io.set("step_ticks", 1)
            self.io.set("step", 1)
            await self.io.clock()
            self.io.set("step", 0)
            cycles.append(1 + await self.idle())
            spikes.extend(await self.drain_output())
        return np.array(spikes, dtype=np.int64).reshape(-1, 2), cycles

    async def drain_output(self) -> list[tuple[int, int]]:
        """Read the output FIFO until it stays empty for a few cycles."""
        out, quiet = [], 0
        while quiet < 3:
            if self.io.get("out_valid"):
                out.append((self.io.get("out_tick"), self.io.get("out_neuron")))
                self.io.set("out_ready", 1)
                await self.io.clock()
                self.io.set("out_ready", 0)
                quiet = 0
            else:
                await self.io.clock()
                quiet += 1
        return out

    async def queue_inputs(self, ticks: int, inputs=None) -> None:
        """Queue the input axons of `ticks` coming ticks, each group closed by a tick end."""
        times, axons = normalize_inputs(inputs, ticks, self.config.n_inputs)
        bounds = np.searchsorted(times, np.arange(ticks + 1))
        for k in range(ticks):
            for axon in axons[bounds[k]:bounds[k + 1]]:
                await self._push_input(int(axon), 0)
            await self._push_input(0, 1)

    async def _push_input(self, axon: int, tick_end: int) -> None:
        self.io.set("in_axon", axon)
        self.io.set("in_tick_end", tick_end)
        self.io.set("in_valid", 1)
        await self.io.clock()
        while not self.io.get("in_ready"):
            await self.io.clock()
        self.io.set("in_valid", 0)

    async def state(self) -> dict[str, np.ndarray]:
        """u, v, ref, x, y, acc (unpacked, signed), counters and the LFSR state, as the model
        names them."""
        c = self.config
        out = {}
        for region, key, field in (("state_u", "u", "u"), ("state_v", "v", "v"),
                                   ("state_ref", "ref", "ref"), ("trace_pre", "x", "x"),
                                   ("trace_post", "y", "y"), ("accumulator", "acc", "a_in")):
            words = await self.read(region)
            out[key] = self.regions[region].layout.unpack(words)[field]
        out["acc"] = out["acc"].reshape(c.max_delay, c.n_neurons)
        counters = await self.read("counters")
        out["counters"] = {name: int(v) for name, v in zip(fmt.COUNTERS, counters)}
        out["lfsr"] = int((await self.read("lfsr_state"))[0])
        return out

    async def weights(self, count: int) -> np.ndarray:
        words = await self.read("synapse", count)
        return self.regions["synapse"].layout.unpack(words)["weight"]


class MultiCoreDriver(CoreDriver):
    """Drive an rtl.multicore.MultiCore of `cores` cores: a MultiImage loaded core by core
    (access_core), global input axons sent to every replica (firmware.multicore.MultiImage
    .device_axons), spikes in device numbering (map them with MultiImage.global_of_device)."""

    def __init__(self, adapter, config, cores: int):
        super().__init__(adapter, config)
        self.cores = cores
        self.regions = fmt.memory_map(config, cores)
        self.multi = None

    def select(self, core: int) -> None:
        """The core the access port reaches from now on."""
        self.io.set("access_core", core)

    async def load(self, multi) -> None:
        """Every core's tables and routing table, then clear (spec §8, §12.7); the device's
        cores beyond the image's get the idle image and no routes (as host.Device loads them)."""
        from firmware.partition import idle_image

        idle = idle_image(self.config) if multi.cores < self.cores else None
        for k in range(self.cores):
            image = multi.images[k] if k < multi.cores else idle
            self.select(k)
            for name in fmt.TABLE_REGIONS:
                await self.write(name, image.tables[name])
            routes = (multi.route_words(k, self.cores) if k < multi.cores
                      else np.zeros(self.regions["route"].depth, np.uint64))
            await self.write("route", routes)
        self.multi = multi
        await self.clear()

    @property
    def n_inputs(self) -> int:
        return self.multi.n_inputs

    def entries(self, axons) -> np.ndarray:
        return self.multi.device_axons(axons)

    async def core_states(self) -> list[dict[str, np.ndarray]]:
        """CoreDriver.state of each core of the image."""
        states = []
        for k in range(self.multi.cores):
            self.select(k)
            states.append(await self.state())
        return states
