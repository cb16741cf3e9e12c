"""Several devices running one partitioned network in lock-step (docs/spec.md §12), the host
relaying the spikes that cross devices every tick.

    multi = compile_network(net, config, cores=3)             # one core per device
    with Cluster.open(["emulator://", "socket://127.0.0.1:7777", "rfc2217://lab:4000"], config) as cluster:
        cluster.load(multi)
        result = cluster.run(100, {0: [1, 2]})                 # global input axons and neurons
        cluster.weights("plastic"), cluster.counters()

Each device holds one core of the MultiImage (device k core k); any mix of Device URLs works
("model", "emulator://", "socket://...", serial ports, and boards on other machines through
pyserial's rfc2217:// or a ser2net socket://). Every tick t, for every device at once (one
thread per device): its input axons are the replicas of the host's inputs of tick t and the
remote axons of the spikes other devices' neurons fired in tick t - 1, ascending; it runs the
tick and reports its spikes. The neurons with targets on other devices are reported as
outputs too (the host loads each core's image with their output flag set, and keeps them out
of the result): the host maps them through the core's routing table to the next tick's inputs
of their destinations. Results equal the golden model's on one core (MultiCoreModel's, within
§12's guarantee), whatever devices hold the cores.

The cost: one round trip to every device per tick (they run in parallel), so a cluster runs at
most 1 / (the slowest device's round trip) ticks per second; bench/cluster.py measures it.
"""

from __future__ import annotations

import concurrent.futures
import os

import numpy as np

from firmware import formats
from firmware.errors import ConfigError
from firmware.image import Image
from firmware.multicore import MultiImage, deliver, network_counters, route_packets
from firmware.network import Network
from firmware.run import InputError, RunResult, check_ticks, input_groups, normalize_inputs

from .device import Device
from .errors import ConfigMismatchError, LinkError
from .multicore import gather_weights


def _with_exports(image: Image, exported: np.ndarray) -> Image:
    """`image` with the output flag also set on the neurons `exported` (bool per neuron)."""
    layout = formats.memory_map(image.config)["neuron"].layout
    fields = layout.unpack(image.tables["neuron"])
    fields["output"] = (fields["output"].astype(bool) | exported[:fields["output"].size]).astype(np.int64)
    tables = dict(image.tables)
    tables["neuron"] = layout.pack(**fields)
    return Image(image.config, tables, image.symbols)


class Cluster:
    """Devices in lock-step, one core of a MultiImage each. Use Cluster.open(urls, config)."""

    def __init__(self, devices: list):
        if not devices or not all(isinstance(d, Device) for d in devices):
            raise ConfigError("Cluster: give one or more host.Device objects (Cluster.open takes URLs)")
        self.devices = list(devices)
        self.multi: MultiImage | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(devices))

    @classmethod
    def open(cls, urls, config=None, **options) -> "Cluster":
        """Device.open(url, config, **options) for every URL (closing those opened if one fails)."""
        if isinstance(urls, (str, os.PathLike)) or not urls:
            raise ConfigError("Cluster.open takes a list of device URLs, one per core")
        devices = []
        try:
            for url in urls:
                devices.append(Device.open(url, config, **options))
        except BaseException:
            for device in devices:
                device.close()
            raise
        return cls(devices)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        for device in self.devices:
            device.close()
        self._pool.shutdown(wait=True)

    # --- loading -------------------------------------------------------------------------------

    def load(self, what) -> MultiImage:
        """Load a MultiImage (or its .axm path, or a Network, compiled for as many cores as there
        are devices, with the first device's configuration) and reset every device."""
        if isinstance(what, Network):
            from firmware.compiler import compile_network
            what = compile_network(what, self.devices[0].config, cores=len(self.devices))
        elif isinstance(what, (str, os.PathLike)):
            what = MultiImage.load(what)
        if not isinstance(what, MultiImage):
            raise TypeError(f"Cluster.load takes a firmware.MultiImage, its path or a Network, not "
                            f"{type(what).__name__}")
        if what.cores != len(self.devices):
            raise ConfigMismatchError(f"the network is placed on {what.cores} cores, the cluster has "
                                      f"{len(self.devices)} devices (one core each)")
        self.multi, m = None, what
        self._routes = [m.routes(k) for k in range(m.cores)]
        self._global = [m.global_neurons(k) for k in range(m.cores)]
        self._outputs = m.output_ids
        self._is_output = np.zeros(m.n_neurons, bool)
        self._is_output[self._outputs] = True
        images = []
        for k, image in enumerate(m.images):
            ptr = self._routes[k][0]
            images.append(_with_exports(image, np.diff(ptr) > 0))
        list(self._pool.map(lambda pair: pair[0].load(pair[1]), zip(self.devices, images)))
        self.multi = m
        self._clear()
        return m

    def _need(self) -> MultiImage:
        if self.multi is None:
            raise LinkError("the cluster has no network loaded; call load(multi_image) first")
        return self.multi

    def _clear(self) -> None:
        self.tick = 0
        self._pending = [np.zeros(0, np.int64) for _ in self.devices]
        self._own = dict.fromkeys(formats.COUNTERS, 0)
        self.relayed = 0          # packets the host relayed between devices (one per destination)

    # --- running -------------------------------------------------------------------------------

    def _tick(self, axons: np.ndarray) -> np.ndarray:
        """One tick on every device; the global neurons that fired (ascending)."""
        m = self.multi
        core, local = m.replicas(axons)
        groups = [np.union1d(local[core == k], self._pending[k]) for k in range(m.cores)]
        results = list(self._pool.map(lambda k: self.devices[k].run(1, {0: groups[k]}), range(m.cores)))
        spiked = [result.neurons for result in results]
        self._pending = deliver([route_packets(self._routes[k], s) for k, s in enumerate(spiked)], m.cores)
        self.relayed += sum(p.size for p in self._pending)
        out = np.sort(np.concatenate([self._global[k][s] for k, s in enumerate(spiked)]))
        self._own["ticks"] += 1
        self._own["input_events"] += axons.size
        self._own["output_spikes"] += int(np.count_nonzero(self._is_output[out]))
        self.tick += 1
        return out

    def run(self, ticks: int, inputs=None) -> RunResult:
        """Run `ticks` ticks in lock-step; `inputs` name global input axons (the forms of
        Device.run), checked before anything runs (InputError). The result names global
        neurons, as MultiCoreModel.run's."""
        m = self._need()
        ticks = check_ticks(ticks)
        times, axons = normalize_inputs(inputs, ticks, m.n_inputs)
        self._check_queues(times, axons)
        start = self.tick
        fired_at, fired = [], []
        for k, group in enumerate(input_groups(times, axons, ticks)):
            spiked = self._tick(group)
            spiked = spiked[self._is_output[spiked]]
            if spiked.size:
                fired_at.append(k)
                fired.append(spiked)
        neurons = np.concatenate(fired) if fired else np.zeros(0, np.int64)
        return RunResult(start_tick=start, ticks=ticks, output_ids=self._outputs.copy(),
                         times=np.repeat(np.array(fired_at, np.int64), [f.size for f in fired]) + start,
                         neurons=neurons)

    def _check_queues(self, times: np.ndarray, axons: np.ndarray) -> None:
        """InputError, before anything runs, if a tick's input axons on some device (the
        replicas of the host's, and every remote axon it has, which may all fire at once)
        might not fit its input queue (with the end-of-tick marker)."""
        m = self.multi
        tick, core = np.repeat(times, m.input_ptr[axons + 1] - m.input_ptr[axons]), m.replicas(axons)[0]
        for k, device in enumerate(self.devices):
            depth = getattr(getattr(device, "link", None), "input_depth", None)
            if depth is None:
                continue
            host = int(np.bincount(tick[core == k]).max(initial=0))
            remote = int(np.count_nonzero(m.route_core == k))
            if host + remote + 1 > depth:
                raise InputError(f"device {k} ({device.url}) may get {host} input spikes and {remote} "
                                 f"remote ones in one tick, and its input queue holds {depth} entries "
                                 f"with the end-of-tick marker: spread the input spikes over more ticks")

    # --- read-back -----------------------------------------------------------------------------

    def weights(self, projection: str) -> np.ndarray:
        """Weight mantissas of a projection as a [pre, post] matrix, NaN where no synapse (as
        Device.weights), gathered from the devices that hold its parts."""
        return gather_weights(self._need(), projection, lambda k, name: self.devices[k].weights(name))

    def counters(self) -> dict[str, int]:
        """The network's counters (as MultiCoreModel.counters): ticks of device 0, the host input
        spikes and output spikes counted here (a device also counts the neurons it exports),
        the rest summed over the devices."""
        self._need()
        per_device = list(self._pool.map(lambda d: d.counters(), self.devices))
        return network_counters(per_device, self._own["input_events"]) | {"output_spikes": self._own["output_spikes"]}

    def reset(self, keep_weights: bool = False) -> None:
        """Every device to its reset state (weights as loaded, or kept), no spike in flight."""
        self._need()
        list(self._pool.map(lambda d: d.reset(keep_weights=keep_weights), self.devices))
        self._clear()


__all__ = ["Cluster"]
