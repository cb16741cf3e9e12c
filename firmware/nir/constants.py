"""The node kinds a NIR graph may hold, and the limits of the mapping (docs/nir.md)."""

from __future__ import annotations

from .. import formats

NEURONS = ("LIF", "CubaLIF", "IF", "LI", "CubaLI")
SPIKING = ("LIF", "CubaLIF", "IF")
WEIGHTED = ("Affine", "Linear", "Conv1d", "Conv2d")
LINEAR = WEIGHTED + ("Scale", "Flatten", "Delay", "SumPool2d", "AvgPool2d", "Identity")
SCALINGS = ("weights", "range", "native")

# The threshold's scale: v crosses at vth << 6 <= 2**21, a quarter of v's range, so that the
# current and a negative voltage have room to exceed a threshold or two before they wrap or clip.
VTH_CAP = 1 << 15
# to_nir writes a population without leak (dv = 0) with tau = 2**40 dt: one part in 1e12 of
# leak per step in float, dv = round(4096 dt / tau) = 0 again on import.
NO_LEAK_STEPS = 2.0**40
# Delays are given in seconds; a delay that is not a whole number of steps (beyond float noise)
# is refused rather than rounded.
STEP_TOLERANCE = 1e-6
# A node lowered to a dense matrix larger than this (conv over a large input) is refused.
DENSE_LIMIT = 50_000_000
META = "axonite_"             # prefix of the metadata keys to_nir writes
FORMAT_VERSION = 1

A_LO, A_HI = formats.signed_range(formats.A_IN_BITS)
BIAS_LO, BIAS_HI = formats.signed_range(formats.BIAS_MANT_BITS)
U_MAX = formats.UV_LIMIT - 1
VTH_MAX = (1 << formats.VTH_BITS) - 1
