"""What gets loaded into an axonite core: formats, the network API, the compiler, images.

Pure Python + numpy. rtl/, sim/ and host/ import their widths and layouts from here.
"""

from .compiler import compile_network
from .config import CoreConfig
from .errors import (AxoniteError, CapacityError, ConfigError, ImageError, InputWrapWarning,
                     NetworkError, SymbolError)
from .image import Image
from .network import (AllToAll, FixedProbability, FromList, Inputs, Network, OneToOne, Population,
                      Projection, QuantizedWeights, STDPRule, du_from_tau, dv_from_tau,
                      quantize_weights)

__all__ = [
    "AllToAll", "AxoniteError", "CapacityError", "ConfigError", "CoreConfig", "FixedProbability",
    "FromList", "Image", "ImageError", "InputWrapWarning", "Inputs", "Network", "NetworkError",
    "OneToOne", "Population", "Projection", "QuantizedWeights", "STDPRule", "SymbolError",
    "compile_network", "du_from_tau", "dv_from_tau", "quantize_weights",
]
