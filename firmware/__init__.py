"""What gets loaded into an axonite core: formats, the network API, the compiler, images, and
NIR graphs in and out (firmware.nir: from_nir, to_nir).

Pure Python + numpy (and nir for firmware.nir). rtl/, sim/ and host/ import their widths and
layouts from here.
"""

from .compiler import compile_network
from .config import CoreConfig
from .errors import (AxoniteError, CapacityError, ConfigError, ImageError, InputWrapWarning,
                     NetworkError, PartitionError, SymbolError)
from .image import Image
from .multicore import MultiImage
from .network import (AllToAll, FixedProbability, FromList, Inputs, Network, OneToOne, Population,
                      Projection, QuantizedWeights, STDPRule, du_from_tau, dv_from_tau,
                      quantize_weights)

__all__ = [
    "AllToAll", "AxoniteError", "CapacityError", "ConfigError", "CoreConfig", "FixedProbability",
    "FromList", "Image", "ImageError", "InputWrapWarning", "Inputs", "MultiImage", "Network", "NetworkError",
    "OneToOne", "PartitionError", "Population", "Projection", "QuantizedWeights", "STDPRule", "SymbolError",
    "compile_network", "du_from_tau", "dv_from_tau", "quantize_weights",
]


def __getattr__(name):
    # from_nir and to_nir load nir (and h5py) on first use only.
    if name in ("from_nir", "to_nir"):
        from . import nir
        return getattr(nir, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
