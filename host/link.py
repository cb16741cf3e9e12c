"""The host end of firmware/protocol/: frames, sequence numbers, the command window, credits,
and the bookkeeping of unsolicited SPIKES and REPORT frames."""

from __future__ import annotations

import collections
import time
import warnings

import numpy as np

from firmware import formats
from firmware import protocol as P

from .errors import (DeviceBusyError, DeviceError, DeviceTimeoutError, FrameError, LinkError,
                     ProtocolVersionError)



class OverrunWarning(UserWarning):
    pass


class LinkClient:
    """The host's end of one link: sends commands within the device's window, matches replies
    to them by seq, and keeps the SPIKES, progress, credits and REPORTs that arrive unasked.
    hello() opens the session; the device's window, credits and payload limit come from it."""

    def __init__(self, transport, timeout: float = 5.0):
        self.transport, self.url, self.timeout = transport, transport.url, timeout
        self.decoder = P.FrameDecoder()
        self.inbox: collections.deque = collections.deque()
        self.tx_seq = 0
        self.rx_seq: int | None = None       # the device's next frame number, once known
        self.pending: dict[int, P.Op] = {}   # seq -> opcode of commands awaiting their reply
        self.replies: dict[int, P.Frame] = {}
        self.window = 1                      # until HELLO tells the device's
        self.input_depth = 0
        self.max_payload = P.MAX_PAYLOAD     # the smaller of the host's and the device's
        self.sent_entries = 0                # INPUT entries sent, mod 2**32
        self.consumed = 0                    # entries the device consumed, mod 2**32
        self.device_tick = 0                 # from ACK and SPIKES
        self.progress: int | None = None     # tick of the last SPIKES frame since clear_spikes()
        self._times: list[np.ndarray] = []
        self._neurons: list[np.ndarray] = []
        self.reports: list[tuple[P.ReportKind, int, int]] = []
        self.closed = False

    # --- sending -------------------------------------------------------------------------------

    def send(self, op: P.Op, payload: bytes = b"") -> int:
        """Send a command (waiting while `window` commands await replies); return its seq."""
        deadline = time.monotonic() + self.timeout
        while len(self.pending) >= self.window:
            if not self.pump(deadline - time.monotonic()) and time.monotonic() >= deadline:
                oldest = next(iter(self.pending.items()))
                raise self.timeout_error(f"the reply to {oldest[1].name} (seq {oldest[0]})")
        seq = self.tx_seq
        self.tx_seq = (seq + 1) % P.SEQ_MODULO
        self.pending[seq] = op
        self.transport.write(P.encode_frame(op, seq, payload))
        return seq

    def wait(self, seq: int) -> P.Frame:
        """The reply to command `seq` (raises DeviceError if it is an ERROR)."""
        op = self.pending.get(seq)
        deadline = time.monotonic() + self.timeout
        while seq not in self.replies:
            if seq not in self.pending:
                raise LinkError(f"{self.url}: no command with seq {seq} awaits a reply")
            if not self.pump(max(0.0, deadline - time.monotonic())) and time.monotonic() >= deadline:
                raise self.timeout_error(f"the reply to {op.name} (seq {seq})")
        return self.replies.pop(seq)

    def wait_through_stale(self, seq: int) -> P.Frame:
        """The reply to command `seq` (the first of a session: HELLO), skipping what an earlier
        session left, for up to `timeout` s: a corrupt frame (the rest of one the device was
        sending when the port opened), and the ERROR the device sends for bytes it could not
        read (the garbage the first 0x00 ended). Past that, the last such error is raised
        rather than a timeout, since something did arrive. A refusal of the command itself, and
        a server's refusal of this connection (DeviceBusyError), are raised at once."""
        deadline = time.monotonic() + self.timeout
        last = None
        while True:
            try:
                return self.wait(seq)
            except (FrameError, DeviceError) as error:
                if (isinstance(error, DeviceError) and error.command is not None) \
                        or isinstance(error, DeviceBusyError) \
                        or seq not in self.pending or time.monotonic() >= deadline:
                    raise
                last = error
            except DeviceTimeoutError:
                if last is not None:       # the reply came, corrupt: say so rather than "no answer"
                    raise last from None
                raise

    def hello(self) -> P.DeviceInfo:
        """The handshake that opens a session: 0x00 (ending whatever partial frame the device
        holds), then HELLO, and its reply past what an earlier session left (wait_through_stale).
        Takes the device's window, credits, payload limit, queue counts and tick from the reply
        and returns what the device says of itself; a reply of the wrong size is a FrameError."""
        self.transport.write(bytes([P.DELIMITER]))
        seq = self.send(P.Op.HELLO)
        self.rx_seq = None
        frame = self.wait_through_stale(seq)
        try:
            info = P.parse_hello(frame.payload)
        except ValueError as error:
            raise FrameError(f"{self.url}: {error}") from None
        self.window = max(1, min(info.window, P.SEQ_MODULO // 2))
        self.input_depth = info.input_depth
        self.max_payload = min(info.max_payload, P.MAX_PAYLOAD)
        self.consumed = info.consumed
        self.sent_entries = formats.wrap32(info.consumed + info.queued)
        self.device_tick = info.tick
        return info

    def request(self, op: P.Op, payload: bytes = b"") -> P.Frame:
        return self.wait(self.send(op, payload))

    def send_input(self, entries) -> int:
        """Send input-queue entries in one INPUT frame, counted against the credits; its seq."""
        seq = self.send(P.Op.INPUT, P.encode_input_entries(entries))
        self.sent_entries = formats.wrap32(self.sent_entries + len(entries))
        return seq

    def answered(self, seq: int) -> bool:
        """Whether command `seq` no longer awaits its reply."""
        return seq not in self.pending

    def forget(self, seq: int) -> None:
        """Drop the reply to `seq` if it came (an ACK nobody waits for)."""
        self.replies.pop(seq, None)

    def drain(self) -> None:
        """Wait until every command sent has its reply."""
        deadline = time.monotonic() + self.timeout
        while self.pending:
            if self.pump(max(0.0, deadline - time.monotonic())):
                deadline = time.monotonic() + self.timeout
            elif time.monotonic() >= deadline:
                oldest = next(iter(self.pending.items()))
                raise self.timeout_error(f"the reply to {oldest[1].name} (seq {oldest[0]})")
        self.replies.clear()

    def timeout_error(self, what: str) -> DeviceTimeoutError:
        """The error for no answer within `timeout` while waiting for `what`."""
        return DeviceTimeoutError(
            f"{self.url}: no answer within {self.timeout} s while waiting for {what}. Is the device "
            f"powered and its bitstream loaded, the baud rate right, and no other program using the "
            f"port? (Device.open(url, timeout=...) sets the limit.)")

    # --- receiving -----------------------------------------------------------------------------

    def pump(self, timeout: float) -> bool:
        """Read until at least one complete frame has arrived or `timeout` s have passed, and
        handle every complete frame; return whether any frame was handled. A UART delivers a
        frame a few bytes at a time, so a read that ends inside a frame reads on. Raises on an
        ERROR, a corrupt frame or a lost frame; the frames after it stay queued for the next call."""
        deadline = time.monotonic() + max(0.0, timeout)
        while not self.inbox:
            left = deadline - time.monotonic()
            data = self.transport.read_some(max(0.0, left))
            if data:
                self.inbox.extend(self.decoder.feed(data))
            elif left <= 0:
                break
        handled = False
        while self.inbox:
            item = self.inbox.popleft()
            handled = True
            self._handle(item)
        return handled

    def _handle(self, item) -> None:
        if isinstance(item, P.BadFrame):
            self.rx_seq = None           # this loss is reported here; resynchronize on the next frame
            if item.code == P.ErrorCode.VERSION:
                raise ProtocolVersionError(
                    f"{self.url} speaks axonite link protocol version {item.version}; this host "
                    f"speaks version {P.PROTOCOL_VERSION}. Install the host library that matches the "
                    f"device's bitstream (or rebuild the bitstream).", P.PROTOCOL_VERSION, item.version)
            raise FrameError(f"{self.url}: a corrupt frame arrived from the device "
                             f"({item.code.name}: {item.reason}). Check the baud rate and the cable; the "
                             f"link resynchronizes at the next frame, so the operation may be retried.",
                             item.code)
        frame = item
        if self.rx_seq is not None and frame.seq != self.rx_seq:
            lost = (frame.seq - self.rx_seq) % P.SEQ_MODULO
            self.rx_seq = (frame.seq + 1) % P.SEQ_MODULO
            raise FrameError(f"{self.url}: {lost} frame(s) from the device were lost (sequence "
                             f"jumped to {frame.seq}); their spikes or replies are missing")
        self.rx_seq = (frame.seq + 1) % P.SEQ_MODULO
        op = frame.opcode
        if op == P.Op.SPIKES:
            try:
                tick, consumed, times, neurons = P.decode_spikes(frame.payload)
            except ValueError as error:
                raise FrameError(f"{self.url}: malformed SPIKES frame: {error}") from None
            self.device_tick = self.progress = tick
            self.consumed = consumed
            if times.size:
                self._times.append(times)
                self._neurons.append(neurons)
        elif op == P.Op.REPORT:
            if len(frame.payload) != P.REPORT.size:
                raise FrameError(f"{self.url}: REPORT frame of {len(frame.payload)} bytes, expected {P.REPORT.size}")
            kind, _, _, count, tick = P.REPORT.unpack(frame.payload)
            try:
                kind = P.ReportKind(kind)
            except ValueError:
                raise FrameError(f"{self.url}: REPORT of unknown kind {kind}") from None
            self.reports.append((kind, count, tick))
            if kind == P.ReportKind.OVERRUN:
                warnings.warn(f"{self.url}: {count} tick(s) up to tick {tick} took longer than the "
                              f"free-run period (counted in counters()['overruns']); choose a longer period",
                              OverrunWarning, stacklevel=2)
        elif op in (P.Op.ACK, P.Op.HELLO_REPLY, P.Op.READ_REPLY, P.Op.COUNTERS_REPLY, P.Op.ERROR):
            self._reply(frame)
        else:
            raise FrameError(f"{self.url}: the device sent {P.op_name(op)}, which is not a "
                             f"device-to-host opcode of protocol version {P.PROTOCOL_VERSION}")

    def _reply(self, frame: P.Frame) -> None:
        if frame.opcode == P.Op.ERROR:
            if len(frame.payload) < P.ERROR.size:
                raise FrameError(f"{self.url}: ERROR frame of {len(frame.payload)} bytes, expected at least {P.ERROR.size}")
            ref_seq, ref_op, code, valid, detail = P.ERROR.unpack_from(frame.payload)
            text = frame.payload[P.ERROR.size:].decode(errors="replace")
            try:
                code = P.ErrorCode(code)
                meaning = P.ERROR_TEXT[code]
            except ValueError:
                meaning = f"error code {code}"
            if not valid and code == P.ErrorCode.BUSY:      # the server refused this connection
                raise DeviceBusyError(
                    f"{self.url}: another client holds the device{' (' + text + ')' if text else ''}. "
                    f"Close the other connection (its Device.close(), or end the program that holds "
                    f"it), then open the device again.", code, detail, None, text)
            if not valid:
                raise DeviceError(
                    f"{self.url}: the device could not read a frame from this host ({meaning}; "
                    f"detail {detail}{': ' + text if text else ''}). Bytes were corrupted or lost on the "
                    f"way to the device: check the baud rate and the cable, then retry.",
                    code, detail, None, text)
            command = self._take_pending(ref_seq, ref_op)
            if command is None:
                return      # the refusal of a command of an earlier session, or of one already failed
            name = command.name
            raise DeviceError(f"{self.url}: the device refused {name} (seq {ref_seq}): {meaning}"
                              f"{' (' + text + ')' if text else f' (detail {detail})'}", code, detail, name, text)
        if len(frame.payload) < P.REPLY.size:
            raise FrameError(f"{self.url}: {frame.op_name} frame too short to name its command")
        ref_seq, ref_op = P.REPLY.unpack_from(frame.payload)
        if frame.opcode == P.Op.ACK:
            if len(frame.payload) != P.ACK.size:
                raise FrameError(f"{self.url}: ACK of {len(frame.payload)} bytes, expected {P.ACK.size}")
            _, _, _, tick, consumed = P.ACK.unpack(frame.payload)
            self.device_tick, self.consumed = tick, consumed
        if self._take_pending(ref_seq, ref_op) is None:
            return          # a reply to a command of an earlier session or one already failed
        self.replies[ref_seq] = frame

    def _take_pending(self, ref_seq: int, ref_op: int):
        """The command awaiting the reply to (seq, opcode), no longer pending; None when no
        command awaits it (a reply of an earlier session, or to a command already failed)."""
        command = self.pending.get(ref_seq)
        if command is None or command != ref_op:
            return None
        del self.pending[ref_seq]
        return command

    # --- spikes --------------------------------------------------------------------------------

    def clear_spikes(self) -> None:
        self._times.clear()
        self._neurons.clear()
        self.progress = None

    def take_spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """Spikes received so far (absolute device ticks, neuron numbers), then forgets them."""
        if not self._times:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        times, neurons = np.concatenate(self._times), np.concatenate(self._neurons)
        self._times.clear()
        self._neurons.clear()
        return times, neurons

    def resync(self) -> None:
        """After an interrupted operation: STOP the device (which answers after every earlier
        command), then forget the replies and spikes of the interrupted operation. The commands
        still awaiting replies are forgotten first: one the device could not read (ERROR with
        ref_valid 0) is never answered, and on a device of window 1 it would hold the STOP back
        for good. (STOP may then go beyond the window: the device's receive buffer holds one
        frame more, docs/protocol.md.) A 0x00 goes first: a frame whose delimiter was lost on the
        way would otherwise swallow the STOP."""
        deadline = time.monotonic() + self.timeout
        self.pending.clear()
        self.transport.write(bytes([P.DELIMITER]))
        seq = self.send(P.Op.STOP)
        while True:
            try:
                self.wait(seq)
                break
            except (DeviceError, FrameError):
                if seq not in self.pending or time.monotonic() > deadline:
                    raise
        self.pending.clear()
        self.replies.clear()
        self.clear_spikes()

    def credits(self, unsent: int = 0) -> int:
        return P.credits_free(self.input_depth, self.sent_entries + unsent, self.consumed)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()
