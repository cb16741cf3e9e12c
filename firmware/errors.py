"""Exceptions that name the offending thing and the limit it broke."""

import os


class AxoniteError(Exception):
    """Base class of every error axonite raises on purpose."""


class ConfigError(AxoniteError, ValueError):
    """A core configuration that cannot exist (widths, capacities)."""


class NetworkError(AxoniteError, ValueError):
    """A network with a bad parameter; the message names the population or projection."""


class CapacityError(NetworkError):
    """A network that does not fit the core configuration; the message names the limit."""


class PartitionError(CapacityError):
    """A network that cannot be placed on several cores under the many-core contract (spec §12):
    a placement that cuts a synapse that may not cross cores (delay 1, or plastic), one that
    spreads stochastically rounded plasticity over several cores when results must not depend
    on the partition, or a group of populations that must share a core and does not fit one.
    The message names the projection or populations, the cores and the rule."""


class ImageError(AxoniteError, ValueError):
    """An image file that is corrupt, truncated, of another version, or for another core."""


class SymbolError(AxoniteError, KeyError, IndexError):
    """A name an image's symbols do not have (input group, population, projection), or an
    index outside a group; the message lists what there is. A KeyError and an IndexError too,
    so `except KeyError` and `except IndexError` keep working."""

    def __str__(self):   # KeyError's own str() would quote the message
        return str(self.args[0]) if self.args else ""


class InputError(AxoniteError, ValueError):
    """Host input spikes that are not exactly axon numbers of the core at ticks of the run (a
    fraction, a boolean, a string, NaN, an axon or tick out of range, an ill-shaped collection,
    a repeat), or a tick count a run cannot have."""


class RasterTooLargeError(AxoniteError, MemoryError):
    """A dense raster asked of a RunResult whose ticks x columns exceed RunResult.MAX_RASTER_CELLS."""


class InputWrapWarning(UserWarning):
    """A network whose summed synaptic input to a neuron in one tick can leave the 16-bit range
    [-32768, 32767]: axonite wraps it (spec §4), Lava's Dense does not, so there the network
    behaves differently from its Lava original. The message names the neurons and the bound."""


class NIRError(NetworkError):
    """A NIR graph the core cannot express, or a network NIR cannot hold; the message names the
    node, the parameter and the limit."""


def show_path(path) -> str:
    """A path as a message names it: as it is, or quoted (repr) when it is empty, has blanks
    at either end, or holds a character that does not print (a newline would split the
    message's line)."""
    text = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    return text if text and text.isprintable() and text == text.strip() else repr(text)


def one_line(message) -> str:
    """A message on one line (a command line's error is one line): its lines joined by blanks."""
    return " ".join(str(message).splitlines())
