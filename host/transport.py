"""Byte transports under the link: a pyserial port or URL, or an in-process emulator.

    open_hint(port, error) -> str    what to do about a serial port that will not open
"""

from __future__ import annotations

import errno
import os
import platform
import time

import serial

from firmware.protocol import DEFAULT_BAUD

from .errors import DeviceNotFoundError, DeviceTimeoutError, LinkError

POSIX_POLL_S = 0.02
UDEV_RULES = "/etc/udev/rules.d/70-axonite.rules"


def _udev_rules() -> str:
    """One line per known board: its USB-serial bridge (tty, for this library) and its USB
    device (for the programmer, iceprog or openFPGALoader), to the logged-in user."""
    from boards.registry import BOARDS
    ids = sorted({(b.usb.vid, b.usb.pid) for b in BOARDS.values() if b.usb is not None})
    return "\n".join(f'SUBSYSTEMS=="usb", ATTRS{{idVendor}}=="{vid:04x}", ATTRS{{idProduct}}=="{pid:04x}", '
                     f'MODE="0660", TAG+="uaccess"' for vid, pid in ids)


def _group_of(port: str) -> str | None:
    try:
        import grp
        return grp.getgrgid(os.stat(port).st_gid).gr_name
    except (ImportError, KeyError, OSError):
        return None


def open_hint(port: str, error: BaseException | None = None, system: str | None = None) -> str:
    """What to try when serial port `port` does not open with `error`, for the user's OS
    (`system` as platform.system() names it): permissions (the group to join, or a udev rule),
    a port another program holds, a port that is not there."""
    system = system or platform.system()
    code = getattr(error, "errno", None)
    text = str(error or "")
    if code == errno.EACCES or (code is None and ("Permission" in text or "Access is denied" in text)):
        if system == "Linux":
            group = _group_of(port) or "dialout"
            return (f"this user may not open {port} (it belongs to group {group!r}). Join the group: "
                    f"`sudo usermod -aG {group} $USER` (Debian, Ubuntu, Fedora: dialout; Arch: uucp), "
                    f"then log out and in again; or give the board to whoever is logged in with a "
                    f"udev rule in {UDEV_RULES}:\n{_udev_rules()}\nthen `sudo udevadm control "
                    f"--reload-rules && sudo udevadm trigger` and plug the board in again")
        if system == "Windows":
            return (f"Windows refused {port}: another program has it open (a serial terminal, the "
                    f"Arduino IDE, another Python): close it. Windows lets one program at a time open a port")
        return (f"the system refused {port}: another program may hold it (`lsof {port}`); on macOS "
                f"open /dev/cu.* rather than /dev/tty.*")
    if code == errno.EBUSY:
        return (f"{port} is busy: another program has it open (a serial terminal, screen, minicom; on "
                f"Linux ModemManager probes new ports: `sudo systemctl stop ModemManager`); close it "
                f"(`fuser -v {port}` names it)")
    if code == errno.ENOENT or "FileNotFoundError" in text or "could not find" in text.lower():
        return (f"there is no {port}: is the board plugged in? `python -m host list` lists the boards "
                f"it finds")
    return ("check the cable, the port name (`python -m host list` lists the boards it finds) and "
            "that no other program holds the port")


def _reason(error: Exception, verb: str) -> str:
    """pyserial's message without its own "read failed: " (we say it once)."""
    return str(error).removeprefix(f"{verb} failed: ")


class SerialTransport:
    """Any pyserial port or URL: /dev/ttyUSB0, COM3, socket://host:port, rfc2217://, loop://."""

    def __init__(self, url: str, baudrate: int = DEFAULT_BAUD, write_timeout: float = 5.0):
        self.url = url
        try:
            self.port = serial.serial_for_url(url, baudrate=baudrate, timeout=POSIX_POLL_S,
                                              write_timeout=write_timeout)
        except (serial.SerialException, ValueError, OSError) as error:
            hint = ("is the simulated board running? start one with "
                    "`python -m sim.device_emulator --port PORT`" if url.startswith("socket://")
                    else open_hint(url, error))
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
