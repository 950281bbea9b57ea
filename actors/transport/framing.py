"""RFC 6455 framing, written here rather than taken from gevent-websocket.

Why our own: gevent-websocket unmasks in a per-byte Python loop, reads any frame whole before
anyone can refuse it, writes close codes wrongly and has no send lock (measured: docs/architecture.md,
"Traps we measured"). We keep its handshake and do the frames: the size is checked from the header before the
payload is read, unmasking is one big-integer XOR, and every outbound frame is built once as
bytes so a room can hand the same object to every member.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED = 1003
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_TOKEN_EXPIRED = 4001
CLOSE_SLOW_CONSUMER = 4008

_PACK_16 = struct.Struct("!BBH").pack
_PACK_64 = struct.Struct("!BBQ").pack


def encode_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """One unmasked, unfragmented server frame, header included."""
    length = len(payload)
    first = 0x80 | opcode
    if length < 126:
        return bytes((first, length)) + payload
    if length < 65536:
        return _PACK_16(first, 126, length) + payload
    return _PACK_64(first, 127, length) + payload


def text_frame(text: str) -> bytes:
    return encode_frame(text.encode("utf-8"), OP_TEXT)


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame with the two-byte code first (what gevent-websocket gets wrong)."""
    return encode_frame(struct.pack("!H", code) + reason.encode("utf-8")[:123], OP_CLOSE)


PING_FRAME = encode_frame(b"", OP_PING)


def unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR with the 4-byte mask as one integer operation (about 100x the per-byte loop)."""
    n = len(payload)
    if n == 0:
        return payload
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "little")
    return (int.from_bytes(payload, "little") ^ key).to_bytes(n, "little")


class FrameError(Exception):
    """The peer broke the protocol; ``close_code`` says how to answer."""

    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Message:
    """A whole inbound message (fragments joined) or a control frame."""

    opcode: int
    payload: bytes


class FrameReader:
    """Reads client frames from a blocking (gevent) file, refusing oversize ones before reading them."""

    def __init__(self, read: Callable[[int], bytes], max_message_bytes: int) -> None:
        self._read = read
        self._max = max_message_bytes
        self._parts: list[bytes] = []
        self._first_opcode: int | None = None
        self._size = 0

    def _exact(self, n: int) -> bytes:
        data = self._read(n)
        if len(data) != n:
            raise EOFError("peer closed the connection")
        return data

    def _frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = self._exact(2)
        fin, opcode, length = bool(b0 & 0x80), b0 & 0x0F, b1 & 0x7F
        if b0 & 0x70:
            raise FrameError(CLOSE_PROTOCOL_ERROR, "reserved bits set")
        if not b1 & 0x80:
            raise FrameError(CLOSE_PROTOCOL_ERROR, "client frames must be masked")
        if opcode >= 0x8:
            if length > 125 or not fin:
                raise FrameError(CLOSE_PROTOCOL_ERROR, "invalid control frame")
        elif length == 126:
            (length,) = struct.unpack("!H", self._exact(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._exact(8))
        if length > self._max - self._size and opcode < 0x8:
            raise FrameError(CLOSE_TOO_BIG, f"message larger than {self._max} bytes")
        mask = self._exact(4)
        return fin, opcode, unmask(self._exact(length), mask) if length else b""

    def read_message(self) -> Message:
        """The next data message or control frame; raises EOFError or FrameError.

        A control frame may arrive between the fragments of a message (RFC 6455 5.4): it is
        returned at once and the fragments read so far are kept for the next call.
        """
        while True:
            fin, opcode, payload = self._frame()
            if opcode >= 0x8:
                if opcode not in (OP_CLOSE, OP_PING, OP_PONG):
                    raise FrameError(CLOSE_PROTOCOL_ERROR, f"unknown control opcode {opcode}")
                return Message(opcode, payload)
            if opcode == OP_CONTINUATION:
                if self._first_opcode is None:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "continuation without a start")
            elif opcode in (OP_TEXT, OP_BINARY):
                if self._first_opcode is not None:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one")
                self._first_opcode = opcode
            else:
                raise FrameError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
            self._size += len(payload)
            if self._size > self._max:
                raise FrameError(CLOSE_TOO_BIG, f"message larger than {self._max} bytes")
            self._parts.append(payload)
            if fin:
                message = Message(self._first_opcode, b"".join(self._parts))
                self._parts, self._first_opcode, self._size = [], None, 0
                return message


class _Pending:
    """The bytes a FrameParser holds, and what its reader took of them in the current attempt.

    Apart from the parser so that the reader's ``read`` (a bound method of this) does not point back
    at the parser: no reference cycle, so a closed connection's parser is freed at once, not by a
    garbage collection.
    """

    __slots__ = ("data", "taken")

    def __init__(self) -> None:
        self.data = b""
        self.taken: list[bytes] = []

    def take(self, n: int) -> bytes:
        if len(self.data) < n:
            raise _NeedMore
        chunk, self.data = self.data[:n], self.data[n:]
        self.taken.append(chunk)
        return chunk


class FrameParser:
    """Incremental: ``feed`` what the socket gave, get whole messages back; same rules as FrameReader.

    Used by the event-driven reader, which has no greenlet to block in. The size limit is applied as
    soon as a header is complete, before any of its payload is buffered.
    """

    __slots__ = ("_pending", "_reader")

    def __init__(self, max_message_bytes: int) -> None:
        self._pending = _Pending()
        self._reader = FrameReader(self._pending.take, max_message_bytes)

    def feed(self, data: bytes) -> list[Message]:
        pending, reader = self._pending, self._reader
        pending.data = pending.data + data if pending.data else data
        messages: list[Message] = []
        while pending.data:
            pending.taken = []
            state = (reader._parts[:], reader._first_opcode, reader._size)
            try:
                messages.append(reader.read_message())
            except _NeedMore:
                pending.data = b"".join(pending.taken) + pending.data  # not a whole frame yet: put it back
                reader._parts, reader._first_opcode, reader._size = state
                break
        return messages


class _NeedMore(Exception):
    pass


def frame_payload(frame: bytes) -> bytes:
    """The payload of an unmasked frame built by ``encode_frame``."""
    length = frame[1] & 0x7F
    return frame[2 + (2 if length == 126 else 8 if length == 127 else 0):]


def parse_close(payload: bytes) -> tuple[int | None, str]:
    if len(payload) < 2:
        return None, ""
    (code,) = struct.unpack("!H", payload[:2])
    return code, payload[2:].decode("utf-8", "replace")
