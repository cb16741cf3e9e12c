"""Device.open(url): one API over the golden model, the simulated board and a real board.

    with Device.open("socket://127.0.0.1:5555") as dev:     # or "/dev/ttyUSB1", or "model"
        dev.load(network)                                     # a firmware.Network, Image or .axi path
        result = dev.run(100, {0: [1, 2], 5: [3]})            # tick -> input axons
        result.times, result.neurons                          # one entry per output spike
        result.spikes                                         # the same as a bool raster [ticks, outputs]
        dev.weights("plastic")                                # [pre, post], NaN where no synapse
        dev.probe("v", "exc"), dev.counters()

URLs: "model" (the golden model in this process, no protocol), "emulator://" (the protocol
emulator in this process; "emulator://?cores=4" one of 4 cores), any pyserial port or URL: "/dev/ttyUSB1", "COM3",
"socket://127.0.0.1:5555" (python -m sim.device_emulator), "rfc2217://..."; "auto" or a board's
name ("icebreaker"): the port of the only such board plugged in (host.ports.find_boards).
The same network and inputs give the same spikes, weights and counters on every backend.

Device (here) is the common API; host/model_device.py is the golden model in this process,
host/link_device.py a device behind the link, whose runs host/scheduler.py schedules.
"""

from __future__ import annotations

import abc
import os
import urllib.parse
from dataclasses import fields
from typing import Iterable, Iterator

import numpy as np

from firmware import formats
from firmware.compiler import compile_network
from firmware.config import CoreConfig
from firmware.errors import CapacityError, ConfigError
from firmware.formats import MAX_RUN_TICKS
from firmware.image import Image
from firmware.multicore import MultiImage
from firmware.network import Network
from firmware.run import InputError, RunResult, check_ticks, normalize_inputs, tick_axons

from .errors import ConfigMismatchError, LinkError
from .latency import check_latency_timer
from .multicore import gather_weights
from .weights import check_weights, projection_layout, weight_matrix  # noqa: F401 (importable from here)
from .ports import resolve_port
from .transport import LoopbackTransport, SerialTransport

MULTI_SUFFIX = ".axm"      # a path ending so is a multi-core image file (firmware.MultiImage)
# Probe names -> (region, field): formats.STATE_FIELDS. x is per source (inputs, then neurons);
# acc is [max_delay, neurons].
PROBES = formats.STATE_FIELDS


EMULATOR_QUERY = ("cores", "input_depth", "window", "clock_hz", "max_payload")


def emulator_query(url: str) -> dict[str, int]:
    """The DeviceEmulator options of an "emulator://?cores=4&input_depth=256" URL (each one of
    EMULATOR_QUERY, a decimal integer, once); ConfigError naming what is wrong. The emulator
    checks each value's range."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.netloc or parsed.path not in ("", "/") or parsed.fragment:
        raise ConfigError(f"{url!r}: an emulator URL is emulator:// with options after '?', e.g. "
                          f"emulator://?cores=4")
    options = {}
    for item in filter(None, parsed.query.split("&")):
        name, _, value = item.partition("=")
        if name not in EMULATOR_QUERY or name in options or not value.isdigit() or not value.isascii():
            raise ConfigError(f"{url!r}: {item!r} is not an option of the emulator; give each of "
                              f"{', '.join(EMULATOR_QUERY)} at most once, as name=integer")
        options[name] = int(value)
    return options


def stream_groups(inputs: Iterable, start: int, n_inputs: int) -> Iterator[np.ndarray]:
    """stream()'s items as checked, sorted input axons, one item per tick from tick `start`
    (firmware.run.tick_axons: the checks of run()); a bad item, or more than MAX_RUN_TICKS of
    them, raises InputError when it is reached."""
    for k, item in enumerate(inputs):
        if k >= MAX_RUN_TICKS:
            raise InputError(f"a stream runs at most {MAX_RUN_TICKS} ticks (the device's tick counter is "
                             f"{formats.TICK_BITS} bits); start another stream() for more")
        yield tick_axons(item, start + k, n_inputs)


def n_inputs_of(image) -> int:
    """The input axons a run of `image` names: its core's, or a MultiImage's global ones."""
    return image.n_inputs if isinstance(image, MultiImage) else image.config.n_inputs


def _config_mismatch(image_config: CoreConfig, device_config: CoreConfig, what: str, where: str) -> str:
    diffs = [f"{f.name}: image {getattr(image_config, f.name)}, device {getattr(device_config, f.name)}"
             for f in fields(CoreConfig) if getattr(image_config, f.name) != getattr(device_config, f.name)]
    return (f"{what} was compiled for {image_config} but the device at {where} is {device_config} "
            f"({'; '.join(diffs)}). Recompile the network for the device: "
            f"compile_network(network, device.config), or pass the Network to load().")


class Device(abc.ABC):
    """The common API. Use Device.open(url)."""

    url: str
    config: CoreConfig | None
    image: Image | None = None

    @staticmethod
    def open(url: str, config: CoreConfig | None = None, timeout: float = 5.0, baudrate: int | None = None,
             sysfs: str = "/sys", fast: bool = False, **emulator_options) -> "Device":
        """Open a device.

        url:      "model", "emulator://", a serial port path, a pyserial URL (socket://...),
                  "auto" (the only board plugged in) or a board's name ("icebreaker", "ulx3s":
                  the only one of that kind); host.find_boards() lists what is there
        config:   for "model" / "emulator://": the core configuration (default CoreConfig());
                  for a real device it comes from the device itself
        timeout:  seconds without an answer before DeviceTimeoutError
        baudrate: serial ports only; default the bitstreams' (firmware.protocol.DEFAULT_BAUD)
        fast:     "model" only: run on sim.FastModel (numba; the same results, bit for bit)
        A config that is not a CoreConfig raises ConfigError; a timeout that is not a positive
        finite number of seconds, ValueError (a NaN one would wait forever).
        """
        from .link_device import LinkDevice        # they are Devices: imported once this module is
        from .model_device import ModelDevice      # (host/__init__.py imports them at once anyway)

        if config is not None and not isinstance(config, CoreConfig):
            raise ConfigError(f"Device.open: config is a {type(config).__name__}, not a CoreConfig")
        if (isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.integer, np.floating))
                or not 0 < timeout < float("inf")):
            raise ValueError(f"Device.open: timeout = {timeout!r} must be a positive, finite number of seconds")
        if url in ("model", "model://"):
            return ModelDevice(config, fast=fast)
        if url.startswith("emulator://"):
            from sim.emulator import DeviceEmulator
            emulator = DeviceEmulator(config or CoreConfig(), **(emulator_query(url) | emulator_options))
            return LinkDevice(LoopbackTransport(emulator, url), timeout)
        url, baudrate = resolve_port(url, baudrate)      # "auto", a board's name: its port
        if "://" not in url:
            check_latency_timer(url, sysfs)
        return LinkDevice(SerialTransport(url, baudrate), timeout)

    # --- context manager ---------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        pass

    # --- shared helpers ------------------------------------------------------------------------

    def _as_image(self, what) -> tuple[Image | MultiImage, str]:
        """What load() takes, as an Image or a MultiImage (a Network compiled for one core; on a
        device of K > 1 cores, for its K cores when it does not fit one)."""
        if isinstance(what, Network):
            config = self.config or CoreConfig()
            cores = getattr(self, "cores", 1)
            try:
                return compile_network(what, config), f"network {what.name!r}"
            except CapacityError:
                if cores == 1:
                    raise
            return compile_network(what, config, cores=cores), f"network {what.name!r} on {cores} cores"
        if isinstance(what, Image):
            return what, "image"
        if isinstance(what, MultiImage):
            return what, f"multi-core image of {what.cores} cores"
        if isinstance(what, (str, os.PathLike)):
            if os.fspath(what).endswith(MULTI_SUFFIX):
                return MultiImage.load(what), f"multi-core image {str(what)!r}"
            return Image.load(what), f"image {str(what)!r}"
        raise TypeError(f"load() takes a firmware.Network, a firmware.Image, a firmware.MultiImage or an "
                        f"image path, not {type(what).__name__}")

    def _check_image(self, image: Image | MultiImage, what: str) -> None:
        fixed = getattr(self, "_fixed", self.config)
        if fixed is not None and image.config != fixed:
            raise ConfigMismatchError(_config_mismatch(image.config, fixed, what, self.url))
        cores = getattr(self, "cores", None)
        if cores is not None and isinstance(image, MultiImage) and image.cores > cores:
            raise ConfigMismatchError(f"the {what} is placed on {image.cores} cores, but the device at "
                                      f"{self.url} has {cores}; compile it for at most {cores} cores: "
                                      f"compile_network(network, device.config, cores={cores})")

    def _need_image(self) -> Image | MultiImage:
        if self.image is None:
            raise LinkError(f"{self.url}: no network is loaded; call load(network_or_image) first")
        return self.image

    @property
    def output_ids(self) -> np.ndarray:
        return self._need_image().output_ids

    def _matrix(self, name, weights_by_addr, masked):
        return weight_matrix(self._need_image(), self._tables, name, weights_by_addr, masked)

    def _new_weights(self, name, matrix):
        """Validate a weight matrix for projection `name`: (addresses, mantissas)."""
        return check_weights(self._need_image(), self._tables, name, matrix)

    def _multi_weights(self, projection: str, masked: bool, part):
        """A MultiImage's projection matrix (as weights()) from `part(core, name)`, each part's."""
        out = gather_weights(self._need_image(), projection, part)
        if not masked:
            return out
        m = np.ma.masked_all(out.shape, dtype=np.int64)
        has = ~np.isnan(out)
        m[has] = out[has].astype(np.int64)
        return m

    @staticmethod
    def _check_probe(name: str) -> None:
        if name not in PROBES:
            raise KeyError(f"no state named {name!r}; probe one of {sorted(PROBES)}")

    def _probe_slice(self, name, values, population):
        if population is None:
            return values
        image = self._need_image()
        if name == "x":
            try:
                return values[image.input_ids(population)]
            except KeyError:
                return values[n_inputs_of(image) + image.neuron_ids(population)]
        ids = image.neuron_ids(population)
        return values[..., ids]

    @staticmethod
    def _check_seed(value: int) -> int:
        if not isinstance(value, (int, np.integer)) or not 0 < int(value) < (1 << formats.LFSR_BITS):
            raise ValueError(f"LFSR seed {value!r} must be an integer in [1, 2**32 - 1] (0 would stall the LFSR)")
        return int(value)

    def check_inputs(self, times: np.ndarray) -> None:
        """InputError, before anything runs, if the device cannot take input spikes at `times`
        (ticks from its current one): a tick with more than its input queue holds. The model
        takes any."""

    def run(self, ticks: int, inputs=None) -> RunResult:
        """Run `ticks` ticks (0 .. formats.MAX_RUN_TICKS). `inputs` (relative to this run's
        first tick): None, a dict {tick: axons}, a (times, axons) pair, a raster [ticks, axons]
        (a 2-D numpy array of booleans or 0/1), or one collection of axons per tick; checked
        by firmware.run.normalize_inputs, and refused (InputError) before anything runs. Returns
        the output spikes as events; memory grows with the spikes, not the ticks."""
        ticks = check_ticks(ticks)
        times, axons = normalize_inputs(inputs, ticks, n_inputs_of(self._need_image()))
        return self._run_events(ticks, times, axons)

    @abc.abstractmethod
    def stream(self, inputs: Iterable, block_ticks: int = 64) -> Iterator[RunResult]:
        """Continuous input and output. `inputs` is any iterable (a generator may produce it as
        it goes) with one item per tick: the input axons of that tick (an empty collection or
        None for none), checked as run() checks them. Yields RunResults of consecutive tick
        ranges as their ticks complete, until the inputs end. Concatenated, they equal run()
        with the same inputs; where the blocks start and end depends on the backend (the model
        yields every `block_ticks` ticks, a device as its reports arrive). A bad item (or one
        beyond MAX_RUN_TICKS ticks) raises InputError naming its tick once the ticks before it
        have run and been yielded: nothing before it is lost, nothing of it runs."""
