"""RFC 6455 framing, written here rather than taken from gevent-websocket.

Why our own: gevent-websocket unmasks in a per-byte Python loop, reads any frame whole before
anyone can refuse it, writes close codes wrongly and has no send lock (measured: docs/architecture.md,
"Traps we measured"). We keep its handshake and do the frames: the size is checked from the header before the
payload is read, unmasking is one big-integer XOR, and every outbound frame is built once as
bytes so a room can hand the same object to every member.
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass
from typing import Any

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
    """The peer broke the protocol or a limit; ``close_code`` says how to answer."""

    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Message:
    """A whole inbound message (fragments joined) or a control frame.

    ``text`` is the decoded text of a text message (its ``payload`` is then empty: the bytes were
    decoded as they came and are not kept twice); ``frames`` is the parser's count of whole frames at
    the one that completed this message, so a reader can charge every frame, fragments included.
    """

    opcode: int
    payload: bytes
    text: str | None = None
    frames: int = 0


def valid_close_code(code: int) -> bool:
    """A code a peer may send in a close frame (RFC 6455 7.4.1, 7.4.2 and the IANA registry).

    1004, 1005, 1006 and 1015 are reserved (never on the wire); 1016-2999 are unassigned or for
    extensions and 0-999 unused, so a peer that sends one broke the protocol.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def check_close_payload(payload: bytes) -> None:
    """Raise the FrameError a malformed close frame earns: 1002 for a bad code, 1007 for a reason that is not UTF-8."""
    if not payload:
        return
    if len(payload) == 1:
        raise FrameError(CLOSE_PROTOCOL_ERROR, "close frame with a one-byte payload")
    code = (payload[0] << 8) | payload[1]
    if not valid_close_code(code):
        raise FrameError(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError(CLOSE_INVALID_DATA, "close reason is not valid UTF-8") from None


_utf8_decoder = codecs.getincrementaldecoder("utf-8")


class FrameParser:
    """Incremental RFC 6455 parser of client frames: ``feed`` what the socket gave, get whole messages.

    Linear in the bytes received: every byte is unmasked once and kept once until its message is
    whole; between reads only a partial header (at most 14 bytes) and the pieces of the message being
    received are held, never the bytes already parsed. A message's size is checked as soon as a frame
    header is complete, before any of its payload is kept; a fragmented text message is UTF-8 checked
    as its bytes arrive, so a bad one fails at once (1007), not when its last fragment comes.

    A protocol error does not lose what came before it in the same read: ``feed`` returns the messages
    parsed up to the error and keeps the error in ``error`` (the reader answers them first, then
    closes); after an error nothing more is parsed.
    """

    __slots__ = ("_max", "_max_fragments", "_head", "_remaining", "_fin", "_opcode", "_mask", "_seen",
                 "_control", "_first_opcode", "_parts", "_size", "_fragments", "_decoder", "frames", "progress",
                 "error")

    def __init__(self, max_message_bytes: int, max_fragments: int = 0) -> None:
        self._max = max_message_bytes
        self._max_fragments = max_fragments
        """Frames one data message may take; 0 for no limit."""
        self._head = b""
        self._remaining = -1
        """Payload bytes still to come of the current frame; -1 while reading a header."""
        self._fin = False
        self._opcode = 0
        self._mask = b""
        self._seen = 0
        """Payload bytes of the current frame already read (the mask's phase)."""
        self._control: list[bytes] = []
        self._first_opcode: int | None = None
        self._parts: list[Any] = []
        """The open data message: bytes pieces, or str pieces once a text message is decoded incrementally."""
        self._size = 0
        self._fragments = 0
        self._decoder: Any = None
        self.frames = 0
        """Whole frames parsed so far (control frames and every fragment)."""
        self.progress = 0
        """Counts each whole data message, and each frame completed with no message open: a reader's
        deadline for an unfinished message restarts only when this moves, not on pings in between."""
        self.error: FrameError | None = None

    @property
    def busy(self) -> bool:
        """Something is half received: a header, a frame's payload, or a fragmented message."""
        return self._remaining >= 0 or bool(self._head) or self._first_opcode is not None

    def feed(self, data: bytes) -> list[Message]:
        messages: list[Message] = []
        if self.error is None and data:
            try:
                self._parse(data, messages)
            except FrameError as exc:
                self.error = exc
                self._parts, self._control, self._head, self._decoder = [], [], b"", None
        return messages

    def _parse(self, data: bytes, messages: list[Message]) -> None:
        if self._head:
            data = self._head + data
            self._head = b""
        i, n = 0, len(data)
        while i < n:
            remaining = self._remaining
            if remaining < 0:
                i = self._header(data, i, n)
                if i < 0:
                    return
                if self._remaining == 0:
                    self._end_frame(messages)
                continue
            take = remaining if remaining <= n - i else n - i
            chunk = data[i:i + take] if take != n or i else data
            i += take
            self._payload(chunk)
            if self._remaining == 0:
                self._end_frame(messages)

    def _header(self, data: bytes, i: int, n: int) -> int:
        """Read one frame header at ``i``; the index after it, or -1 when it is not all here yet (kept)."""
        if n - i < 2:
            self._head = data[i:]
            return -1
        b0, b1 = data[i], data[i + 1]
        opcode = b0 & 0x0F
        length = b1 & 0x7F
        if b0 & 0x70:
            raise FrameError(CLOSE_PROTOCOL_ERROR, "reserved bits set")
        if not b1 & 0x80:
            raise FrameError(CLOSE_PROTOCOL_ERROR, "client frames must be masked")
        fin = bool(b0 & 0x80)
        if opcode >= 0x8:
            if opcode > OP_PONG:
                raise FrameError(CLOSE_PROTOCOL_ERROR, f"unknown control opcode {opcode}")
            if length > 125 or not fin:
                raise FrameError(CLOSE_PROTOCOL_ERROR, "invalid control frame")
        else:
            if opcode == OP_CONTINUATION:
                if self._first_opcode is None:
                    raise FrameError(CLOSE_PROTOCOL_ERROR, "continuation without a start")
                if self._max_fragments and self._fragments >= self._max_fragments:
                    raise FrameError(CLOSE_POLICY, f"message in more than {self._max_fragments} fragments")
            elif opcode > OP_BINARY:
                raise FrameError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
            elif self._first_opcode is not None:
                raise FrameError(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one")
        start = i + 2
        if length == 126:
            if n - start < 2:
                self._head = data[i:]
                return -1
            length = (data[start] << 8) | data[start + 1]
            start += 2
        elif length == 127:
            if n - start < 8:
                self._head = data[i:]
                return -1
            length = int.from_bytes(data[start:start + 8], "big")
            if length >> 63:
                raise FrameError(CLOSE_PROTOCOL_ERROR, "frame length with the most significant bit set")
            start += 8
        if opcode < 0x8 and length > self._max - self._size:
            raise FrameError(CLOSE_TOO_BIG, f"message larger than {self._max} bytes")
        if n - start < 4:
            self._head = data[i:]
            return -1
        self._mask = data[start:start + 4]
        self._fin = fin
        self._opcode = opcode
        self._remaining = length
        self._seen = 0
        if opcode < 0x8:
            if opcode != OP_CONTINUATION:
                self._first_opcode = opcode
            self._fragments += 1
            self._size += length
        return start + 4

    def _payload(self, chunk: bytes) -> None:
        seen = self._seen
        phase = seen & 3
        mask = self._mask if not phase else self._mask[phase:] + self._mask[:phase]
        plain = unmask(chunk, mask)
        self._seen = seen + len(chunk)
        self._remaining -= len(chunk)
        if self._opcode >= 0x8:
            self._control.append(plain)
        elif self._first_opcode == OP_TEXT and (self._decoder is not None or self._remaining or not self._fin
                                                or seen or self._parts):
            self._decode(plain, final=False)
        else:
            self._parts.append(plain)

    def _decode(self, plain: bytes, final: bool) -> None:
        """Decode the next bytes of a text message that arrives in pieces, failing at the first bad byte."""
        decoder = self._decoder
        if decoder is None:
            decoder = self._decoder = _utf8_decoder("strict")
            if self._parts:  # bytes kept before we knew the message would come in pieces
                plain = b"".join(self._parts) + plain
                self._parts = []
        try:
            text = decoder.decode(plain, final)
        except UnicodeDecodeError:
            raise FrameError(CLOSE_INVALID_DATA, "text message is not valid UTF-8") from None
        if text:
            self._parts.append(text)
        if not final:
            held = decoder.getstate()[0]
            # CPython's decoder rejects every impossible prefix at once except a surrogate's (ED A0..BF)
            if len(held) >= 2 and held[0] == 0xED and held[1] >= 0xA0:
                raise FrameError(CLOSE_INVALID_DATA, "text message is not valid UTF-8")

    def _end_frame(self, messages: list[Message]) -> None:
        self._remaining = -1
        self.frames += 1
        opcode = self._opcode
        if opcode >= 0x8:
            control = self._control
            payload = control[0] if len(control) == 1 else b"".join(control)
            self._control = []
            if opcode == OP_CLOSE:
                check_close_payload(payload)
            if self._first_opcode is None:
                self.progress += 1
            messages.append(Message(opcode, payload, None, self.frames))
            return
        if not self._fin:
            return
        parts = self._parts
        if self._first_opcode == OP_TEXT:
            if self._decoder is not None:
                self._decode(b"", final=True)
                text = "".join(parts)
            else:
                try:
                    text = (parts[0] if len(parts) == 1 else b"".join(parts)).decode("utf-8")
                except UnicodeDecodeError:
                    raise FrameError(CLOSE_INVALID_DATA, "text message is not valid UTF-8") from None
            message = Message(OP_TEXT, b"", text, self.frames)
        else:
            message = Message(OP_BINARY, parts[0] if len(parts) == 1 else b"".join(parts), None, self.frames)
        self._parts, self._first_opcode, self._size, self._fragments, self._decoder = [], None, 0, 0, None
        self.progress += 1
        messages.append(message)


def frame_payload(frame: bytes) -> bytes:
    """The payload of an unmasked frame built by ``encode_frame``."""
    length = frame[1] & 0x7F
    return frame[2 + (2 if length == 126 else 8 if length == 127 else 0):]


def parse_close(payload: bytes) -> tuple[int | None, str]:
    if len(payload) < 2:
        return None, ""
    (code,) = struct.unpack("!H", payload[:2])
    return code, payload[2:].decode("utf-8", "replace")
