"""Serial ports as pyserial's comports() lists them on Linux, for faked listings: an iCEBreaker,
a ULX3S and other FTDI devices."""

from serial.tools.list_ports_common import ListPortInfo


def usb_port(device, vid, pid, serial=None, location=None, product=None, manufacturer=None):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number, info.location = vid, pid, serial, location
    info.product, info.manufacturer = product, manufacturer
    info.apply_usb_info()
    return info


def icebreaker(n, serial, bus="1-1.4"):
    """An iCEBreaker as Linux lists it: /dev/ttyUSB<n> (interface A) and <n+1> (B, the UART)."""
    return [usb_port(f"/dev/ttyUSB{n + k}", 0x0403, 0x6010, serial, f"{bus}:1.{k}", "iCEBreaker V1.0e",
                     "1BitSquared") for k in (0, 1)]


def ulx3s(n, serial="D00123"):
    return [usb_port(f"/dev/ttyUSB{n}", 0x0403, 0x6015, serial, "3-2", "ULX3S FPGA 85K v3.0.8",
                     "FER-RADIONA-EMARD")]


FT232R = usb_port("/dev/ttyUSB7", 0x0403, 0x6001, "A50285BI", "1-3", "FT232R USB UART", "FTDI")
DIGILENT = [usb_port(f"/dev/ttyUSB{8 + k}", 0x0403, 0x6010, "210319A", f"1-5:1.{k}", "Digilent USB Device",
                     "Digilent") for k in (0, 1)]
GENERIC_FT2232H = [usb_port(f"/dev/ttyUSB{10 + k}", 0x0403, 0x6010, None, f"1-6:1.{k}", "Dual RS232-HS",
                            "FTDI") for k in (0, 1)]
ONBOARD = ListPortInfo("/dev/ttyS0", skip_link_detection=True)
