"""Host library: Device.open(url) over a serial port, the simulated board or the golden model.

    from host import Device
    with Device.open("socket://127.0.0.1:5555") as dev:    # "model", "emulator://", "/dev/ttyUSB1"
        dev.load(network)
        result = dev.run(100, inputs)

    find_boards()                     # the boards plugged in ("auto" opens the only one)
    python -m host doctor [URL]       # a layered self-test of a board (host/doctor.py)

docs/protocol.md describes the link; firmware/protocol/ defines it.
"""

from firmware.run import RunResult, SpikeMonitor

from .device import PROBES, Device
from .link_device import LinkDevice
from .model_device import ModelDevice
from .errors import (ConfigMismatchError, DeviceBusyError, DeviceError, DeviceNotFoundError,
                     DeviceTimeoutError, FrameError, LinkError, ProtocolVersionError, SpikesLostError)
from .latency import LatencyTimerWarning, check_latency_timer
from .link import OverrunWarning
from .ports import FoundBoard, find_boards

__all__ = [
    "ConfigMismatchError", "Device", "DeviceBusyError", "DeviceError", "DeviceNotFoundError",
    "DeviceTimeoutError", "FoundBoard", "FrameError", "LatencyTimerWarning", "LinkDevice", "LinkError",
    "ModelDevice", "OverrunWarning", "PROBES", "ProtocolVersionError", "RunResult", "SpikeMonitor",
    "SpikesLostError", "check_latency_timer", "find_boards",
]
