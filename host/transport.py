"""Byte transports under the link: a pyserial port or URL, or an in-process emulator."""

from __future__ import annotations

import time

import serial

from .errors import DeviceNotFoundError, DeviceTimeoutError, LinkError

POSIX_POLL_S = 0.02


def _reason(error: Exception, verb: str) -> str:
    """pyserial's message without its own "read failed: " (we say it once)."""
    return str(error).removeprefix(f"{verb} failed: ")


class SerialTransport:
    """Any pyserial port or URL: /dev/ttyUSB0, COM3, socket://host:port, rfc2217://, loop://."""

    def __init__(self, url: str, baudrate: int = 1_000_000, write_timeout: float = 5.0):
        self.url = url
        try:
            self.port = serial.serial_for_url(url, baudrate=baudrate, timeout=POSIX_POLL_S,
                                              write_timeout=write_timeout)
        except (serial.SerialException, ValueError, OSError) as error:
            hint = ("is the simulated board running? start one with "
                    "`python -m sim.device_emulator --port PORT`" if url.startswith("socket://")
                    else "check the cable, the port name (ls /dev/ttyUSB* /dev/ttyACM*) and that no "
                         "other program holds the port")
            raise DeviceNotFoundError(f"cannot open {url}: {error}; {hint}") from None
        # A native port reports exactly how many bytes wait; URL handlers (socket://) do not.
        self._native = isinstance(self.port, serial.Serial)

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except serial.SerialTimeoutException:
            raise DeviceTimeoutError(f"{self.url}: writing {len(data)} bytes timed out; the device "
                                     f"does not accept data (flow control, or it hangs)") from None
        except (serial.SerialException, OSError) as error:
            raise LinkError(f"{self.url}: write failed: {_reason(error, 'write')}; the device "
                            f"disconnected") from None

    def read_some(self, timeout: float) -> bytes:
        """Wait up to `timeout` s for at least one byte; return everything available."""
        try:
            if self._native:
                deadline = time.monotonic() + timeout
                while True:
                    data = self.port.read(1)
                    if data:
                        waiting = self.port.in_waiting
                        return data + (self.port.read(waiting) if waiting else b"")
                    if time.monotonic() >= deadline:
                        return b""
            self.port.timeout = max(0.0, timeout)
            data = self.port.read(1)
            if data:
                self.port.timeout = 0
                data += self.port.read(1 << 16)
            return data
        except (serial.SerialException, OSError) as error:
            raise LinkError(f"{self.url}: read failed: {_reason(error, 'read')}; the device "
                            f"disconnected") from None

    def close(self) -> None:
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass


class LoopbackTransport:
    """An in-process DeviceEmulator behind the same byte interface (url "emulator://")."""

    def __init__(self, emulator, url: str = "emulator://"):
        self.emulator, self.url = emulator, url

    def write(self, data: bytes) -> None:
        self.emulator.receive(data)

    def read_some(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            out = self.emulator.take_output()
            if out:
                return out
            if not self.emulator.busy:
                time.sleep(max(0.0, deadline - time.monotonic()))
                return self.emulator.take_output()
            self.emulator.service()
            if time.monotonic() >= deadline:
                return self.emulator.take_output()

    def close(self) -> None:
        pass
