"""Build a small learning network, compile it for a core, save the image, run the golden model.

    python examples/quickstart.py
"""

import numpy as np

from firmware import (CoreConfig, FixedProbability, Image, Network, OneToOne, STDPRule,
                      compile_network, du_from_tau, dv_from_tau)
from sim import GoldenModel

net = Network("quickstart")
pixels = net.inputs("pixels", 64)
exc = net.population("exc", 32, du=du_from_tau(5.0), dv=dv_from_tau(20.0), vth=120, refractory=2)
inh = net.population("inh", 32, du=4095, dv=dv_from_tau(10.0), vth=40)
stdp = STDPRule.from_float(tau_plus=20.0, tau_minus=20.0, a_plus=1.0, a_minus=-1.05, w_max=127)
learned = net.connect(pixels, exc, FixedProbability(0.5, seed=7), weight=40, stdp=stdp, name="learned")
net.connect(exc, inh, OneToOne(), weight=100)
net.connect(inh, exc, FixedProbability(0.5, seed=8), weight=-60, delay=2)
net.record(exc)

image = compile_network(net, CoreConfig())        # the default iCEBreaker-sized core
image.save("quickstart.axi")
model = GoldenModel(Image.load("quickstart.axi"))

rng = np.random.default_rng(1)
inputs = rng.random((500, 64)) < 0.05              # Poisson-like input raster [tick, axon]
result = model.run(500, inputs)

pre, post, weights = model.projection_weights("learned")
print(f"{result.times.size} output spikes from {len(result.output_ids)} neurons in 500 ticks")
print(f"weights of 'learned': mean {weights.mean():.1f} (started at 40), min {weights.min()}, max {weights.max()}")
print("counters:", model.counters)
