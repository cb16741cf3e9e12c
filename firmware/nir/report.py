"""What from_nir did: per node, the core object, the parameters and their quantization error;
and the conversion between the graph's time steps and a run's ticks (inputs, output spikes)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import NIRError


@dataclass
class NodeMapping:
    """How one NIR node maps: `target` names the core object, `how` the parameters, and
    `errors` the largest relative error of each quantized parameter (0 = exact)."""

    node: str
    kind: str
    target: str
    how: str = ""
    errors: dict = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)


@dataclass
class PopulationMapping:
    """A neuron node as a population. `scale[i]` converts neuron i's voltage: v_float =
    v_core / scale[i]; `latency` is the ticks by which the population runs behind the graph."""

    node: str
    population: str
    kind: str
    size: int
    latency: int
    scale: np.ndarray
    vth: int
    spiking: bool


@dataclass
class OutputMapping:
    """An Output node: the population it reads, spikes (or, for an LI readout, voltages)."""

    node: str
    population: str
    latency: int
    reads: str                # "spikes" or "voltage"


@dataclass
class NIRReport:
    """What from_nir did: per node, the core object, the parameters and the quantization error."""

    dt: float
    scaling: str
    nodes: dict = field(default_factory=dict)          # node -> NodeMapping
    populations: dict = field(default_factory=dict)    # population name -> PopulationMapping
    inputs: dict = field(default_factory=dict)         # Input node -> (input group, shape)
    outputs: dict = field(default_factory=dict)        # Output node -> OutputMapping
    notes: list = field(default_factory=list)

    @property
    def max_error(self) -> float:
        return max((m.max_error for m in self.nodes.values()), default=0.0)

    @property
    def latency(self) -> dict:
        """Ticks by which each population runs behind the graph's time steps."""
        return {name: p.latency for name, p in self.populations.items()}

    def input_raster(self, inputs, image) -> np.ndarray:
        """The core's input raster [steps, n_inputs] from the graph's inputs: an array
        [steps, *shape] (graphs with one Input) or a dict {Input node: array}. Step k is tick k."""
        if not isinstance(inputs, dict):
            if len(self.inputs) != 1:
                raise NIRError(f"the graph has {len(self.inputs)} Input nodes {sorted(self.inputs)}; "
                               f"give a dict {{Input node: array}}")
            inputs = {next(iter(self.inputs)): inputs}
        unknown = set(inputs) - set(self.inputs)
        if unknown:
            raise NIRError(f"no Input nodes named {sorted(unknown)}; the graph has {sorted(self.inputs)}")
        arrays = {node: np.asarray(value) for node, value in inputs.items()}
        if any(a.ndim < 1 for a in arrays.values()):
            raise NIRError("inputs are arrays [steps, *shape]")
        steps = {a.shape[0] for a in arrays.values()}
        if len(steps) != 1:
            raise NIRError(f"inputs cover different numbers of steps: {sorted(steps)}")
        raster = np.zeros((steps.pop(), image.config.n_inputs), bool)
        for node, arr in arrays.items():
            group, shape = self.inputs[node]
            size, given = int(np.prod(shape)), int(np.prod(arr.shape[1:]))
            if given != size:
                raise NIRError(f"Input {node!r}: each step has {given} values, the node has shape "
                               f"{tuple(shape)} ({size})")
            raster[:, image.input_ids(group)] = arr.reshape(arr.shape[0], size) != 0
        return raster

    def output_spikes(self, result, image, output: str | None = None) -> np.ndarray:
        """An Output node's spikes [steps, size] from a run that started at tick 0: row k is
        the graph's step k, i.e. tick k + latency (a run of T ticks gives T - latency rows)."""
        spiking = {k: o for k, o in self.outputs.items() if o.reads == "spikes"}
        if output is None:
            if len(spiking) != 1:
                raise NIRError(f"the graph has {len(spiking)} spiking outputs {sorted(spiking)}; name one")
            output = next(iter(spiking))
        if output not in spiking:
            raise NIRError(f"no spiking Output named {output!r}; the graph has {sorted(spiking)}")
        o = spiking[output]
        ids = image.neuron_ids(o.population)
        column = {int(n): k for k, n in enumerate(result.output_ids)}
        missing = [int(n) for n in ids if int(n) not in column]
        if missing:
            raise NIRError(f"Output {output!r}: neurons {missing[:5]} of {o.population!r} are not recorded")
        spikes = result.spikes[:, [column[int(n)] for n in ids]]
        skip = o.latency - result.start_tick
        return spikes[max(skip, 0):]

    def __str__(self) -> str:
        lines = [f"NIR graph at dt = {self.dt:g} s, scaling {self.scaling!r}: "
                 f"{len(self.populations)} populations, largest relative error {self.max_error:.3g}"]
        for name, (group, shape) in self.inputs.items():
            lines.append(f"  Input {name!r} -> inputs {group!r} ({int(np.prod(shape))} axons, shape {tuple(shape)})")
        for m in self.nodes.values():
            if m.kind in ("Input", "Output"):
                continue
            err = ", ".join(f"{k} {v:.3g}" for k, v in m.errors.items()) or "exact"
            lines.append(f"  {m.kind} {m.node!r} -> {m.target}: {m.how} [error: {err}]")
        for name, o in self.outputs.items():
            lines.append(f"  Output {name!r} <- {o.reads} of {o.population!r}, {o.latency} ticks behind")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
