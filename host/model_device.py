"""ModelDevice: Device.open("model"), the golden model in this process behind the Device API
(no protocol, no link)."""

from __future__ import annotations

import numpy as np

from firmware import formats
from firmware.config import CoreConfig
from firmware.image import Image
from firmware.multicore import MultiImage
from firmware.run import RunResult
from sim.model import GoldenModel
from sim.multicore import MultiCoreModel

from .device import Device, n_inputs_of, stream_groups, weight_matrix
from .multicore import gather_state, scatter_weights
from .errors import LinkError
from .scheduler import next_group


class ModelDevice(Device):
    """The golden model in this process (no protocol). Opened with a config, it refuses images
    of another; opened without, it takes the configuration of the image it loads (a Network
    is compiled for CoreConfig()). A MultiImage runs on sim.multicore.MultiCoreModel, in its global
    numbering. fast=True runs sim.FastModel, whole runs at a time."""

    def __init__(self, config: CoreConfig | None = None, fast: bool = False):
        self.url, self._fixed, self._fast = "model", config, bool(fast)
        self.model: GoldenModel | None = None

    @property
    def config(self) -> CoreConfig | None:
        if self._fixed is not None:
            return self._fixed
        return self.image.config if self.image is not None else None

    def load(self, network_or_image) -> Image | MultiImage:
        image, what = self._as_image(network_or_image)
        self._check_image(image, what)
        if isinstance(image, MultiImage):
            self.model = MultiCoreModel(image, fast=self._fast)
            self.image, self._tables = image, None
            return image
        if self._fast:
            from sim.fast import FastModel
            self.model = FastModel(image)
        else:
            self.model = GoldenModel(image)
        self.image, self._tables = image, self.model.tables
        return image

    @property
    def _multi(self) -> MultiImage | None:
        return self.image if isinstance(self.image, MultiImage) else None

    def _need_model(self) -> GoldenModel:
        self._need_image()
        return self.model

    @property
    def tick(self) -> int:
        return self.model.tick if self.model is not None else 0

    def _run_events(self, ticks, times, axons):
        return self._need_model().run(ticks, (times, axons))

    def stream(self, inputs, block_ticks=64):
        model = self._need_model()
        groups = stream_groups(inputs, model.tick, n_inputs_of(self.image))
        block = []

        def emit():
            sizes = [g.size for g in block]
            times = np.repeat(np.arange(len(block), dtype=np.int64), sizes)
            result = self._run_events(len(block), times, np.concatenate(block))
            block.clear()
            return result
        while True:
            group, refused = next_group(groups)
            if group is None:
                break
            block.append(group)
            if len(block) >= block_ticks:
                yield emit()
        if block:
            yield emit()
        if refused is not None:
            raise refused

    def weights(self, projection: str, masked: bool = False):
        model, multi = self._need_model(), self._multi
        if multi is not None:
            return self._multi_weights(projection, masked, lambda k, name: weight_matrix(
                multi.images[k], model.cores[k].tables, name, model.cores[k].weights))
        return self._matrix(projection, model.weights, masked)

    def set_weights(self, projection: str, matrix) -> None:
        model, multi = self._need_model(), self._multi
        if multi is None:
            addr, w = self._new_weights(projection, matrix)
            model.weights[addr] = w
            return
        for k, addr, w in scatter_weights(multi, projection, matrix, [core.tables for core in model.cores]):
            model.cores[k].weights[addr] = w

    def probe(self, name: str, population: str | None = None) -> np.ndarray:
        self._check_probe(name)
        model, multi = self._need_model(), self._multi
        if multi is not None:
            values = gather_state(multi, name, lambda k: model.cores[k].state()[name])
        else:
            values = model.state()[name]
        return self._probe_slice(name, values, population)

    def counters(self, clear: bool = False) -> dict[str, int]:
        model = self._need_model()
        out = {name: int(model.counters.get(name, 0)) for name in formats.COUNTERS}
        if clear:
            model.counters = dict.fromkeys(formats.COUNTERS, 0)
        return out

    def reset(self, keep_weights: bool = False) -> None:
        """State, counters and tick to zero, LFSR to the image's seed; weights to the image's,
        or (keep_weights) as learned."""
        model = self._need_model()
        cores = model.cores if self._multi is not None else [model]
        weights = [core.weights.copy() for core in cores]
        model.reset()
        if keep_weights:
            for core, w in zip(cores, weights):
                core.weights[:] = w

    def seed(self, value: int) -> None:
        self._need_model().seed(self._check_seed(value))

    def freerun(self, period_cycles: int) -> None:
        raise LinkError("the 'model' backend has no clock to free-run; use run() or stream(), or "
                        "open a device (socket://..., a serial port, emulator://)")

    def stop(self) -> RunResult:
        raise LinkError("the 'model' backend does not free-run; nothing to stop")
