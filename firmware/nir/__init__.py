"""NIR in and out: graphs from snnTorch, Norse, Lava-dl, Sinabs or Rockpool on the core, and ours
handed back (docs/nir.md states the convention, the equations and the measured errors).

    network, report = from_nir(nir.read("model.nir"), dt=1e-4)   # a Network, and what mapped how
    image = compile_network(network)
    nir.write("ours.nir", to_nir(network, dt=1e-4))

    python -m firmware.nir info model.nir --dt 1e-4     # what maps, how, and with what error

NIR is continuous in time and carries no dt. The convention: forward Euler at the user's dt; a
spike is a unit value held for one step; the synaptic current is updated before the voltage,
which uses the new current (as Loihi, Lava and snnTorch's Synaptic do); a loop without a
Delay node takes one step. The core delivers every spike one tick or more later, so a population L hops from
the inputs runs L ticks behind the float graph: `report.latency` says by how much, and
`report.output_spikes` aligns a run with the graph's time steps.

Depends only on `nir`, numpy and the firmware package.

The package: constants.py (node kinds, limits), graph.py (reading a file, flattening a graph,
shapes), maps.py (linear maps between neurons, timing), params.py (neuron parameters and
scales), importer.py (from_nir), export.py (to_nir), report.py (NIRReport), cli.py (the
command line; `python -m firmware.nir` runs it).
"""

from .cli import INFO_DT, graph_dt, main, network_from
from .constants import (DENSE_LIMIT, FORMAT_VERSION, LINEAR, META, NEURONS, NO_LEAK_STEPS, SCALINGS, SPIKING,
                        STEP_TOLERANCE, VTH_CAP, WEIGHTED)
from .export import to_nir
from .graph import read
from .importer import from_nir
from .report import NIRReport, NodeMapping, OutputMapping, PopulationMapping

__all__ = ["DENSE_LIMIT", "FORMAT_VERSION", "INFO_DT", "LINEAR", "META", "NEURONS", "NIRReport", "NO_LEAK_STEPS",
           "NodeMapping", "OutputMapping", "PopulationMapping", "SCALINGS", "SPIKING", "STEP_TOLERANCE", "VTH_CAP",
           "WEIGHTED", "from_nir", "graph_dt", "main", "network_from", "read", "to_nir"]
