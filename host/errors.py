"""Exceptions of the host library. Each message says what happened and what to do about it."""

from __future__ import annotations

from firmware.errors import AxoniteError, ConfigError


class LinkError(AxoniteError, RuntimeError):
    """The link to a device failed: no answer, a corrupt frame, a refused command."""


class DeviceNotFoundError(LinkError):
    """The URL names no reachable device (no such port, connection refused)."""


class DeviceTimeoutError(LinkError, TimeoutError):
    """The device did not answer in time."""


class FrameError(LinkError):
    """A frame from the device failed its checks (CRC, byte stuffing, length)."""

    def __init__(self, message: str, code=None):
        super().__init__(message)
        self.code = code


class ProtocolVersionError(LinkError):
    """Host and device speak different protocol versions."""

    def __init__(self, message: str, host_version: int, device_version: int):
        super().__init__(message)
        self.host_version, self.device_version = host_version, device_version


class DeviceError(LinkError):
    """The device answered a command with an ERROR frame."""

    def __init__(self, message: str, code=None, detail: int = 0, command: str | None = None,
                 text: str = ""):
        super().__init__(message)
        self.code, self.detail, self.command, self.text = code, detail, command, text


class DeviceBusyError(DeviceError):
    """Another client holds the device: its TCP server (sim.device_emulator, sim.board)
    serves one at a time and refused this connection."""


class SpikesLostError(LinkError):
    """The device counted input or output events it could not keep (an overflow). `result`
    holds what did arrive; `reports` the device's reports."""

    def __init__(self, message: str, result=None, reports=()):
        super().__init__(message)
        self.result, self.reports = result, list(reports)


class ConfigMismatchError(ConfigError):
    """An image compiled for one core configuration loaded onto a device built with another."""
