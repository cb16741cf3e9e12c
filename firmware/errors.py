"""Exceptions that name the offending thing and the limit it broke."""


class AxoniteError(Exception):
    """Base class of every error axonite raises on purpose."""


class ConfigError(AxoniteError, ValueError):
    """A core configuration that cannot exist (widths, capacities)."""


class NetworkError(AxoniteError, ValueError):
    """A network with a bad parameter; the message names the population or projection."""


class CapacityError(NetworkError):
    """A network that does not fit the core configuration; the message names the limit."""


class ImageError(AxoniteError, ValueError):
    """An image file that is corrupt, truncated, of another version, or for another core."""


class NIRError(NetworkError):
    """A NIR graph the core cannot express, or a network NIR cannot hold; the message names the
    node, the parameter and the limit."""
