"""Write the framework-made NIR graphs beside this file, with each framework's own simulation.

    pip install torch==2.13.0 snntorch==1.0.0 norse==1.1.0 nir==1.0.8   # not needed by the tests
    python tests/data/nir/make_framework_graphs.py

snntorch_*.nir come from snntorch.export_nir.export_to_nir (dt 1e-4 inside snnTorch) and
norse_*.nir from norse.torch.to_nir at dt 1e-3. Each *.npz holds the input spikes [steps,
inputs] the framework ran and what it produced: `spikes` [steps, outputs] of the last layer
and `v_<layer>` voltages [steps, neurons]. snnTorch's neurons run with reset_mechanism="zero"
and reset_delay=False, the NIR reset (snnTorch's own import sets the same); RSynaptic's graph
has no run (snnTorch 1.0.0's RSynaptic fails with init_hidden and reset_delay=False). Norse's LIFBoxCell
and LIBoxCell integrate by forward Euler, as NIR's convention; its LIFCell (current jumps)
and IAFCell (no dt) do not, so only their graphs are kept.
"""

from pathlib import Path

import nir
import numpy as np
import norse.torch as nt
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir

HERE = Path(__file__).resolve().parent
STEPS = 80


def spikes_in(n, seed, p=0.3):
    return (np.random.default_rng(seed).random((STEPS, n)) < p).astype(np.float32)


def scale_weights(net, factor):
    with torch.no_grad():
        for m in net:
            if isinstance(m, torch.nn.Linear):
                m.weight.mul_(factor)
                if m.bias is not None:
                    m.bias.mul_(0.2)


def snntorch_run(net, x, layers):
    """Step the network, collecting each named layer's membrane and the last spikes."""
    for m in net:
        if hasattr(m, "reset_mechanism"):
            m.reset_mechanism, m.reset_delay = "zero", False
        if hasattr(m, "init_hidden") and m.init_hidden:
            m.reset_hidden()
    volts = {k: [] for k in layers}
    out = []
    with torch.no_grad():
        for t in range(STEPS):
            h = torch.from_numpy(x[t])
            for k, m in enumerate(net):
                h = m(h)
                if isinstance(h, tuple):
                    h = h[0]
                if str(k) in layers:
                    volts[str(k)].append(m.mem.clone().numpy().reshape(-1))
            out.append(h.numpy().reshape(-1) > 0)
    return np.array(out), {f"v_{k}": np.array(v) for k, v in volts.items()}


def main():
    torch.manual_seed(0)
    # snnTorch Leaky with per-neuron beta and threshold (learnable, so exported as arrays)
    net = torch.nn.Sequential(
        torch.nn.Linear(6, 5),
        snn.Leaky(beta=torch.linspace(0.8, 0.95, 5), threshold=torch.linspace(0.5, 1.0, 5), learn_beta=True,
                  learn_threshold=True, init_hidden=True),
        torch.nn.Linear(5, 3),
        snn.Leaky(beta=torch.full((3,), 0.8), threshold=torch.full((3,), 0.5), learn_beta=True,
                  learn_threshold=True, init_hidden=True, output=True))
    scale_weights(net, 2.0)
    nir.write(HERE / "snntorch_leaky.nir", export_to_nir(net, torch.zeros(6)), compression=None)
    x = spikes_in(6, 1)
    spikes, volts = snntorch_run(net, x, ("1", "3"))
    np.savez(HERE / "snntorch_leaky.npz", inputs=x, spikes=spikes, **volts)

    # snnTorch Leaky with scalar beta and threshold: the parameters are shape () arrays, which
    # nir's own type inference rejects (snnTorch issue 410); written without it
    net = torch.nn.Sequential(torch.nn.Linear(6, 4), snn.Leaky(beta=0.9, threshold=1.0, init_hidden=True, output=True))
    scale_weights(net, 2.0)
    infer = nir.NIRGraph.infer_types
    nir.NIRGraph.infer_types = lambda self: None
    try:
        graph = export_to_nir(net, torch.zeros(6))
    finally:
        nir.NIRGraph.infer_types = infer
    nir.write(HERE / "snntorch_leaky_scalar.nir", graph, compression=None)   # scalars take no gzip
    spikes, volts = snntorch_run(net, x, ("1",))
    np.savez(HERE / "snntorch_leaky_scalar.npz", inputs=x, spikes=spikes, **volts)

    # snnTorch Synaptic (CubaLIF with r = tau_mem/dt, w_in = tau_syn/dt)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 3),
        snn.Synaptic(alpha=torch.full((3,), 0.7), beta=torch.full((3,), 0.9), threshold=torch.ones(3),
                     learn_alpha=True, learn_beta=True, learn_threshold=True, init_hidden=True, output=True))
    scale_weights(net, 1.5)
    nir.write(HERE / "snntorch_synaptic.nir", export_to_nir(net, torch.zeros(4)), compression=None)
    x = spikes_in(4, 2)
    spikes, volts = snntorch_run(net, x, ("1",))
    np.savez(HERE / "snntorch_synaptic.npz", inputs=x, spikes=spikes, **volts)

    # snnTorch RSynaptic: a recurrent CubaLIF (nirtorch flattens its subgraph into "1.lif", "1.w_rec")
    net = torch.nn.Sequential(torch.nn.Linear(4, 5),
                              snn.RSynaptic(alpha=0.7, beta=0.9, linear_features=5, init_hidden=True, output=True))
    scale_weights(net, 1.5)
    nir.write(HERE / "snntorch_rsynaptic.nir", export_to_nir(net, torch.zeros(4)), compression=None)

    # Norse 1.1.0 at dt 1e-3: tau written as dt / tau_mem_inv (norse/norse#411)
    dt = 1e-3
    torch.manual_seed(1)
    lifbox = torch.nn.Sequential(torch.nn.Linear(5, 4), nt.LIFBoxCell(nt.LIFBoxParameters(
        tau_mem_inv=torch.full((4,), 100.0), v_th=torch.full((4,), 0.5), v_leak=torch.zeros(4),
        v_reset=torch.zeros(4)), dt=dt))
    scale_weights(lifbox, 20.0)
    nir.write(HERE / "norse_lifbox.nir", nt.to_nir(lifbox, torch.zeros(5), dt=dt), compression=None)
    x = spikes_in(5, 3)
    state, out, volts = None, [], []
    with torch.no_grad():
        for t in range(STEPS):
            z, state = lifbox[1](lifbox[0](torch.from_numpy(x[t])), state)
            out.append(z.numpy() > 0)
            volts.append(state.v.numpy().copy())
    np.savez(HERE / "norse_lifbox.npz", inputs=x, spikes=np.array(out), v_1=np.array(volts))
    li = torch.nn.Sequential(torch.nn.Linear(5, 3), nt.LIBoxCell(nt.LIBoxParameters(
        tau_mem_inv=torch.full((3,), 50.0), v_leak=torch.zeros(3)), dt=dt))
    nir.write(HERE / "norse_li.nir", nt.to_nir(li, torch.zeros(5), dt=dt), compression=None)
    lif = torch.nn.Sequential(torch.nn.Linear(5, 4, bias=False), nt.LIFCell(nt.LIFParameters(
        tau_syn_inv=torch.full((4,), 200.0), tau_mem_inv=torch.full((4,), 100.0), v_th=torch.full((4,), 0.3),
        v_leak=torch.zeros(4), v_reset=torch.zeros(4)), dt=dt))
    nir.write(HERE / "norse_lif.nir", nt.to_nir(lif, torch.zeros(5), dt=dt), compression=None)
    iaf = torch.nn.Sequential(torch.nn.Linear(5, 4), nt.IAFCell(nt.IAFParameters(
        v_th=torch.full((4,), 1.0), v_reset=torch.zeros(4)), dt=dt))
    nir.write(HERE / "norse_iaf.nir", nt.to_nir(iaf, torch.zeros(5), dt=dt), compression=None)


if __name__ == "__main__":
    main()
