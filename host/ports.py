"""Finding boards: which serial ports are axonite boards, and which one "auto" means.

    find_boards(board=None, probe=False, timeout=0.5) -> list[FoundBoard]
    survey() -> Survey                                      the boards, and what the other serial
                                                            ports are
    resolve_port(url, baudrate=None) -> (port, baudrate)   "auto" or a board name -> the port of
                                                            the only such board; other URLs as given
    probe_port(port, baudrate, timeout) -> Answer           a quick HELLO: does an axonite bitstream
                                                            answer? (it never waits much longer
                                                            than `timeout`, and changes nothing on
                                                            the device)

A board is recognised by its USB-serial bridge (boards.registry, `Board.usb`): the vendor and
product ids, the interface that carries the FPGA's UART (the iCEBreaker's FT2232H has two: A
programs the flash, B is the UART) and the product string its EEPROM holds ("iCEBreaker
V1.0e"). The interface comes from pyserial's `location` (Linux, Windows: "1-1.4:1.1" is
interface 1), else from the port's name (macOS: /dev/cu.usbserial-<serial><0|1|A|B>) or from
the letter FTDI's Windows driver appends to the serial number. A port with a board's ids whose
product string is the chip's factory one ("Dual RS232-HS") or absent is a board whose EEPROM
names nothing, or another device with the same chip: it is listed as such (`named` False) and
"auto" takes it only when no port names a board.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from firmware import protocol as P
from firmware.config import CoreConfig
from firmware.errors import ConfigError

from .errors import DeviceError, DeviceNotFoundError, DeviceTimeoutError, FrameError, LinkError, \
    ProtocolVersionError

PROBE_TIMEOUT_S = 0.5
AUTO = "auto"
_LOCATION_INTERFACE = re.compile(r":[^:.]*\.(\d+)$")      # "1-1.4:1.1", Windows "1-1.4:x.1"
_LETTERS = "ABCD"


@dataclass
class Answer:
    """What a port said to HELLO. status: "axonite" (a HELLO_REPLY: `info`, `config`),
    "version" (an axonite device of another protocol version), "foreign" (bytes, but no frame
    of this protocol), "corrupt" (frames that failed their checks), "refused" (an ERROR frame),
    "silent" (nothing at all), "unavailable" (the port did not open)."""

    status: str
    text: str
    info: P.DeviceInfo | None = None
    config: CoreConfig | None = None
    bytes_received: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "axonite"


@dataclass
class FoundBoard:
    board: str                      # boards.registry name
    port: str                       # the UART's serial port
    baudrate: int                   # the board's default baud rate
    serial_number: str | None = None
    location: str | None = None
    product: str | None = None
    interface: int | None = None    # USB interface of the port (None: not known)
    named: bool = True              # the product string names the board (else: its ids only)
    answer: Answer | None = None    # with probe=True

    def describe(self) -> str:
        what = [f"serial {self.serial_number}" if self.serial_number else "no serial number"]
        if self.product:
            what.append(repr(self.product) if self.named else
                        f"{self.product!r}, the chip's factory name: the board or another device with its chip")
        elif not self.named:
            what.append("no product string: the board or another device with its chip")
        if self.interface is not None:
            what.append(f"interface {_LETTERS[self.interface] if self.interface < 4 else self.interface}")
        if self.location:
            what.append(f"USB {self.location}")
        text = f"{self.board} at {self.port} ({', '.join(what)})"
        if self.answer is not None:
            text += f": {self.answer.text}"
        return text

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("board", "port", "baudrate", "serial_number", "location",
                                            "product", "interface", "named")}
        if self.answer is not None:
            out["answer"] = {"status": self.answer.status, "text": self.answer.text,
                             "config": self.answer.config.to_dict() if self.answer.config else None}
        return out


@dataclass
class Survey:
    boards: list[FoundBoard] = field(default_factory=list)
    # the other serial ports, each with what it is (another interface of a board, another device)
    others: list[str] = field(default_factory=list)
    # port -> what it is, for the ports that are a board's other interface (not its UART)
    not_uart: dict[str, str] = field(default_factory=dict)


def _known_boards():
    from boards.registry import BOARDS       # amaranth-boards: imported only when boards are looked for
    return [b for b in BOARDS.values() if b.usb is not None]


def _comports():
    from serial.tools import list_ports
    return list_ports.comports()


def _interface(info, usb) -> int | None:
    """The USB interface number of port `info`, or None when nothing tells."""
    m = _LOCATION_INTERFACE.search(info.location or "")
    if m:
        return int(m.group(1))
    if usb.interfaces == 1:
        return 0
    serial_number = info.serial_number or ""
    name = os.path.basename(info.device)
    if serial_number and serial_number in name:
        tail = name.rsplit(serial_number, 1)[1]
        if tail.isdigit():
            return int(tail)
        if len(tail) == 1 and tail.upper() in _LETTERS:
            return _LETTERS.index(tail.upper())
    # FTDI's Windows driver hides the location and appends the channel's letter to the serial
    # number of each port.
    if info.location is None and len(serial_number) > 1 and serial_number[-1].upper() in _LETTERS[:usb.interfaces]:
        return _LETTERS.index(serial_number[-1].upper())
    return None


def _match(info, usb) -> bool | None:
    """True when the port's strings name the board, False when it has the board's ids and only
    the chip's factory product string (or none), None when it is not this board."""
    if info.vid != usb.vid or info.pid != usb.pid:
        return None
    words = " ".join(s for s in (info.product, info.manufacturer, info.interface) if s).lower()
    if any(name in words for name in usb.names):
        return True
    if not info.product or info.product.strip().lower() in usb.generic_products:
        return False
    return None


def _port_key(device: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", device)]


def survey(comports=None) -> Survey:
    """Every serial port, sorted: the boards' UARTs, and what the other ports are."""
    ports = sorted(_comports() if comports is None else comports, key=lambda p: _port_key(p.device))
    out = Survey()
    for info in ports:
        for board in _known_boards():
            usb = board.usb
            named = _match(info, usb)
            if named is None:
                continue
            interface = _interface(info, usb)
            if interface is not None and interface != usb.interface:
                what = (f"{board.name if named else usb.chip} interface "
                        f"{_LETTERS[interface] if interface < 4 else interface}, not the FPGA's UART: "
                        f"that is interface {_LETTERS[usb.interface]}")
                out.not_uart[info.device] = what
                out.others.append(f"{info.device} ({what})")
                break
            out.boards.append(FoundBoard(board.name, info.device, board.default_baud, info.serial_number,
                                         info.location, info.product, interface, named))
            break
        else:
            what = [f"{info.vid:04x}:{info.pid:04x}" if info.vid is not None else "",
                    info.product or (info.description if info.description != "n/a" else "") or ""]
            what = " ".join(w for w in what if w)
            out.others.append(f"{info.device} ({what})" if what else info.device)
    return out


def find_boards(board: str | None = None, probe: bool = False, timeout: float = PROBE_TIMEOUT_S,
                comports=None) -> list[FoundBoard]:
    """The boards plugged in (of kind `board` if given): one FoundBoard per FPGA UART, sorted by
    port. With `probe`, each is asked HELLO (`timeout` s at most) and `answer` says what it is."""
    if board is not None:
        _board_named(board)
    found = [b for b in survey(comports).boards if board is None or b.board == board]
    if probe:
        for b in found:
            b.answer = probe_port(b.port, b.baudrate, timeout)
    return found


def _board_named(name: str):
    from boards.registry import board
    return board(name)                     # BoardError naming the known boards


def board_names() -> tuple[str, ...]:
    return tuple(b.name for b in _known_boards())


def looked_for() -> str:
    """The boards find_boards looks for, and how it recognises each."""
    return "; ".join(f"{b.name}: {b.usb.chip} {b.usb.vid:04x}:{b.usb.pid:04x}"
                     + (f", interface {_LETTERS[b.usb.interface]}" if b.usb.interfaces > 1 else "")
                     for b in _known_boards())


def resolve_port(url: str, baudrate: int | None = None, comports=None) -> tuple[str, int]:
    """The port and baud rate to open for `url`: "auto" is the only board plugged in, a board's
    name ("icebreaker") the only board of that kind, at its default baud unless `baudrate`
    says otherwise; anything else is returned as given (with P.DEFAULT_BAUD by default).
    DeviceNotFoundError says what was found when there is no such board, or several."""
    if url != AUTO and ("://" in url or "/" in url or "\\" in url or os.path.exists(url)
                        or url not in board_names()):
        return url, baudrate or P.DEFAULT_BAUD
    kind = None if url == AUTO else url
    found = survey(comports)
    boards = [b for b in found.boards if kind is None or b.board == kind]
    named = [b for b in boards if b.named]
    candidates = named or boards
    what = "board" if kind is None else kind
    if len(candidates) == 1:
        return candidates[0].port, baudrate or candidates[0].baudrate
    if not candidates:
        others = "; ".join(found.others) if found.others else "none"
        raise DeviceNotFoundError(
            f"{url!r}: no {what} found (looked for {looked_for()}). Serial ports here: {others}. "
            f"Is the board plugged in (a data cable, not a charging one) and powered? On Linux "
            f"`lsusb` should list it; in WSL attach it with usbipd; in a VM pass the USB device "
            f"through. Or name the port: Device.open('/dev/ttyUSB1') / --device /dev/ttyUSB1")
    listing = "; ".join(b.describe() for b in candidates)
    raise DeviceNotFoundError(
        f"{url!r}: {len(candidates)} {what}s found: {listing}. Name the one to open by its port, "
        f"e.g. Device.open({candidates[0].port!r}) or --device {candidates[0].port}")


# --- HELLO probe ---------------------------------------------------------------------------------


class CountingTransport:
    """A transport that counts the bytes each way and keeps the first ones received, for
    diagnosis; everything else goes to the transport it wraps."""

    SAMPLE = 64

    def __init__(self, transport):
        self.transport, self.url = transport, transport.url
        self.bytes_in = self.bytes_out = 0
        self.sample = bytearray()

    def write(self, data: bytes) -> None:
        self.transport.write(data)
        self.bytes_out += len(data)

    def read_some(self, timeout: float) -> bytes:
        data = self.transport.read_some(timeout)
        self.bytes_in += len(data)
        if len(self.sample) < self.SAMPLE:
            self.sample += data[:self.SAMPLE - len(self.sample)]
        return data

    def close(self) -> None:
        self.transport.close()


def describe_hello(info: P.DeviceInfo, config: CoreConfig | None) -> str:
    kind = info.get("device_kind")
    kind = kind.name if hasattr(kind, "name") else f"device kind {kind}"
    text = f"axonite protocol {info['version']}, {kind}, {info['clock_hz'] / 1e6:g} MHz"
    if config is not None:
        text += (f"; {config.n_neurons} neurons, {config.n_inputs} inputs, {config.n_synapses} "
                 f"synapses")
    return text


def no_answer(error: BaseException, transport: CountingTransport) -> Answer:
    """Classify a HELLO that failed with `error` after `transport` saw what it saw."""
    n = transport.bytes_in
    if isinstance(error, ProtocolVersionError):
        return Answer("version", f"an axonite device of protocol version {error.device_version} (this "
                      f"host speaks {error.host_version}): an older or newer bitstream", bytes_received=n)
    if isinstance(error, DeviceError):
        return Answer("refused", f"answered HELLO with an ERROR frame: {error}", bytes_received=n)
    if isinstance(error, FrameError):
        return Answer("corrupt", f"frames arrive but fail their checks ({error})", bytes_received=n)
    if isinstance(error, DeviceNotFoundError):
        return Answer("unavailable", str(error))
    if n:
        return Answer("foreign", f"{n} bytes arrived, none of them an axonite frame (first: "
                      f"{bytes(transport.sample[:16]).hex(' ')})", bytes_received=n)
    if isinstance(error, DeviceTimeoutError):
        return Answer("silent", "no answer")
    return Answer("unavailable", str(error), bytes_received=n)


def probe_port(port: str, baudrate: int = P.DEFAULT_BAUD, timeout: float = PROBE_TIMEOUT_S) -> Answer:
    """Send HELLO to `port` and wait at most `timeout` s (plus the open) for the reply. Unlike
    Device.open it sends nothing else, so a board that is free-running keeps running."""
    from .link import LinkClient
    from .transport import SerialTransport

    try:
        transport = CountingTransport(SerialTransport(port, baudrate, write_timeout=timeout))
    except DeviceNotFoundError as error:
        return Answer("unavailable", str(error))
    link = LinkClient(transport, timeout)
    try:
        info = link.hello()
        try:
            config = info.config
        except ConfigError as error:
            return Answer("corrupt", f"an axonite HELLO_REPLY with an impossible configuration "
                          f"({error})", info, bytes_received=transport.bytes_in)
        return Answer("axonite", describe_hello(info, config), info, config, transport.bytes_in)
    except LinkError as error:
        return no_answer(error, transport)
    finally:
        link.close()
