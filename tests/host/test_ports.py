"""Finding boards (host.ports): find_boards, "auto" and board names in Device.open, the HELLO
probe and `python -m host list`, on faked port listings (pyserial's comports() as Linux, macOS
and Windows report an iCEBreaker, a ULX3S and other FTDI devices)."""

import json
import time

import pytest
from firmware import protocol as P
from host import Device, DeviceNotFoundError, find_boards
from host import ports
from host.__main__ import main as host_main
from sim.device_emulator import EmulatorServer
from tests.support.port_listings import DIGILENT, FT232R, GENERIC_FT2232H, ONBOARD, icebreaker, ulx3s, usb_port


@pytest.fixture
def listing(monkeypatch):
    """Set the ports pyserial lists: listing(ports)."""
    current = []
    monkeypatch.setattr(ports, "_comports", lambda: list(current))

    def set_ports(new):
        current[:] = new
    return set_ports


def test_no_board(listing):
    listing([ONBOARD, FT232R])
    assert find_boards() == []
    with pytest.raises(DeviceNotFoundError) as caught:
        Device.open("auto")
    text = str(caught.value)
    assert "no board found" in text and "icebreaker: FT2232H 0403:6010, interface B" in text
    assert "ulx3s: FT231X 0403:6015" in text
    assert "/dev/ttyS0" in text and "/dev/ttyUSB7 (0403:6001 FT232R USB UART)" in text
    with pytest.raises(DeviceNotFoundError, match="no icebreaker found"):
        Device.open("icebreaker")
    listing([])
    with pytest.raises(DeviceNotFoundError, match="Serial ports here: none"):
        ports.resolve_port("auto")


def test_one_icebreaker_is_its_second_port(listing):
    listing([ONBOARD, *icebreaker(0, "ib1A2B3C"), FT232R, *DIGILENT])
    found = find_boards()
    assert [(b.board, b.port, b.interface, b.named, b.serial_number) for b in found] == \
        [("icebreaker", "/dev/ttyUSB1", 1, True, "ib1A2B3C")]
    assert found[0].baudrate == P.DEFAULT_BAUD
    assert "interface B" in found[0].describe() and "'iCEBreaker V1.0e'" in found[0].describe()
    assert ports.resolve_port("auto") == ("/dev/ttyUSB1", P.DEFAULT_BAUD)
    assert ports.resolve_port("icebreaker", 1_000_000) == ("/dev/ttyUSB1", 1_000_000)
    here = ports.survey()
    assert "interface A, not the FPGA's UART" in here.not_uart["/dev/ttyUSB0"]
    assert not any("ttyUSB8" in b.port or "ttyUSB9" in b.port for b in found)     # the Digilent board
    with pytest.raises(DeviceNotFoundError, match="no ulx3s found"):
        ports.resolve_port("ulx3s")
    # a path, a URL or anything else is opened as given
    assert ports.resolve_port("/dev/ttyUSB0") == ("/dev/ttyUSB0", P.DEFAULT_BAUD)
    assert ports.resolve_port("socket://127.0.0.1:1", 9600) == ("socket://127.0.0.1:1", 9600)


def test_device_open_auto_opens_the_port_it_found(listing, tmp_path):
    listing(icebreaker(4, "ib77"))
    # the port does not exist here: the error shows that "auto" became /dev/ttyUSB5
    with pytest.raises(DeviceNotFoundError, match="cannot open /dev/ttyUSB5"):
        Device.open("auto", timeout=0.2, sysfs=str(tmp_path))


def test_several_boards_are_named_not_guessed(listing):
    listing([*icebreaker(0, "ib1"), *icebreaker(2, "ib2", bus="1-2"), *ulx3s(4)])
    assert [(b.board, b.port) for b in find_boards()] == \
        [("icebreaker", "/dev/ttyUSB1"), ("icebreaker", "/dev/ttyUSB3"), ("ulx3s", "/dev/ttyUSB4")]
    assert [b.port for b in find_boards("icebreaker")] == ["/dev/ttyUSB1", "/dev/ttyUSB3"]
    with pytest.raises(DeviceNotFoundError) as caught:
        Device.open("auto")
    text = str(caught.value)
    assert "3 boards found" in text and "serial ib1" in text and "serial ib2" in text
    assert "Device.open('/dev/ttyUSB1')" in text
    with pytest.raises(DeviceNotFoundError, match="2 icebreakers found"):
        Device.open("icebreaker")
    assert ports.resolve_port("ulx3s") == ("/dev/ttyUSB4", P.DEFAULT_BAUD)
    with pytest.raises(Exception, match="unknown board 'nosuch'"):
        find_boards("nosuch")


def test_a_chip_with_its_factory_name_is_a_board_only_when_nothing_better_is_there(listing):
    listing([*GENERIC_FT2232H, FT232R])
    found = find_boards()
    assert [(b.port, b.named) for b in found] == [("/dev/ttyUSB11", False)]
    assert "factory name" in found[0].describe()
    assert ports.resolve_port("auto")[0] == "/dev/ttyUSB11"
    listing([*GENERIC_FT2232H, *icebreaker(0, "ib9")])
    assert len(find_boards()) == 2
    assert ports.resolve_port("auto")[0] == "/dev/ttyUSB1"      # the one that names itself


def test_macos_and_windows_listings(listing):
    # macOS: no interface in the location; the port's name ends in the interface's number
    listing([usb_port(f"/dev/cu.usbserial-ibQ0PF{k}", 0x0403, 0x6010, "ibQ0PF", "20-1.4",
                      "iCEBreaker V1.0e") for k in (0, 1)])
    assert [(b.port, b.interface) for b in find_boards()] == [("/dev/cu.usbserial-ibQ0PF1", 1)]
    # Windows, FTDI's driver: no location, the channel's letter after the serial number
    listing([usb_port(f"COM{5 + k}", 0x0403, 0x6010, f"ibQ0PF{letter}", None, None)
             for k, letter in enumerate("AB")])
    found = find_boards()
    assert [(b.port, b.interface, b.named) for b in found] == [("COM6", 1, False)]
    # Windows with interface A bound to WinUSB for the programmer: only the UART is a COM port
    listing([usb_port("COM6", 0x0403, 0x6010, "ibQ0PFB", None, None)])
    assert ports.resolve_port("auto")[0] == "COM6"


def test_probe_says_what_answers_and_never_hangs(listing, silent_server):
    with EmulatorServer(port=0) as emulator:
        listing([usb_port(emulator.url, 0x0403, 0x6010, "ibA", "1-1:1.1", "iCEBreaker V1.0e"),
                 usb_port(silent_server, 0x0403, 0x6010, "ibB", "1-2:1.1", "iCEBreaker V1.0e")])
        t0 = time.monotonic()
        found = find_boards(probe=True, timeout=0.3)
        elapsed = time.monotonic() - t0
    answers = {b.serial_number: b.answer for b in found}
    assert answers["ibA"].ok and answers["ibA"].config.n_neurons == 256
    assert "axonite protocol 1, EMULATOR" in answers["ibA"].text
    assert answers["ibB"].status == "silent"
    assert elapsed < 3, elapsed


def test_host_list_command(listing, capsys):
    listing([*icebreaker(0, "ib1A2B3C"), FT232R])
    assert host_main(["list", "--no-probe"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("icebreaker at /dev/ttyUSB1 (serial ib1A2B3C")
    assert "other serial ports: /dev/ttyUSB0 (icebreaker interface A" in out and "ttyUSB7" in out
    assert host_main(["list", "--no-probe", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["boards"][0]["port"] == "/dev/ttyUSB1" and data["boards"][0]["interface"] == 1
    listing([FT232R])
    assert host_main(["list", "--no-probe"]) == 1
    assert "no board found" in capsys.readouterr().out
