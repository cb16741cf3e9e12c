"""FTDI latency timer: the USB-serial driver holds received bytes up to `latency_timer` ms
(16 by default) before passing them on, so every round trip to a board costs about 16 ms.
Linux exposes it as /sys/bus/usb-serial/devices/<tty>/latency_timer; 1 ms is the minimum."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

WANTED_MS = 1


class LatencyTimerWarning(UserWarning):
    pass


def latency_timer_path(port: str, sysfs: str | os.PathLike = "/sys") -> Path | None:
    """The sysfs file of a USB-serial port's latency timer, or None if the port has none."""
    name = os.path.basename(os.path.realpath(port)) if os.path.isabs(port) else os.path.basename(port)
    if not name.startswith("ttyUSB"):
        return None
    path = Path(sysfs) / "bus" / "usb-serial" / "devices" / name / "latency_timer"
    return path if path.exists() else None


def check_latency_timer(port: str, sysfs: str | os.PathLike = "/sys", fix: bool = True) -> int | None:
    """Check (and, if `fix` and permitted, set to 1 ms) the latency timer of `port`.

    Returns the timer in ms after the check, or None when the port has no such timer (not an
    FTDI/USB-serial port, or not Linux). Warns with the command to run when it stays above 1 ms.
    """
    path = latency_timer_path(port, sysfs)
    if path is None:
        return None
    try:
        value = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    if value <= WANTED_MS:
        return value
    if fix:
        try:
            path.write_text(f"{WANTED_MS}\n")
            value = int(path.read_text().strip())
        except (OSError, ValueError):
            pass
    if value > WANTED_MS:
        warnings.warn(
            f"{port}: the FTDI latency timer is {value} ms, so every round trip to the board waits "
            f"up to {value} ms; this user may not change it. Run "
            f"`echo {WANTED_MS} | sudo tee {path}` (until unplugged), or add a udev rule: "
            f'ACTION=="add", SUBSYSTEM=="usb-serial", DRIVER=="ftdi_sio", ATTR{{latency_timer}}="{WANTED_MS}"',
            LatencyTimerWarning, stacklevel=3)
    return value
