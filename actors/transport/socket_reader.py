"""The read side of one WebSocket, driven by the event loop (a libev io watcher), with no greenlet.

The connection's actor runs its mailbox loop in the socket's own request greenlet; the reader is a
callback that the loop calls when bytes arrive: it parses whole messages (size limit checked from
each header), answers pings, echoes a close, and tells the actor the rest. One greenlet per socket,
as in a plain gevent-websocket server, instead of a reader and an actor greenlet each.

While the actor has more than ``HIGH_WATER`` frames unhandled the watcher is stopped, so a client
flooding the socket meets TCP back-pressure rather than an unbounded mailbox; the actor resumes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent

from .framing import (
    CLOSE_INVALID_DATA,
    CLOSE_NORMAL,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameParser,
    encode_frame,
    parse_close,
)
from .outlet import Outlet

HIGH_WATER = 64
LOW_WATER = 16


def _echoable(code: int) -> bool:
    return 1000 <= code <= 1003 or 1007 <= code <= 1011 or 3000 <= code <= 4999


class SocketReader:
    """Parses frames as they arrive and hands them to the connection actor."""

    __slots__ = ("_raw", "_watcher", "_parser", "_outlet", "_deliver", "_end", "_inbox", "_pending",
                 "paused", "ended", "refused")

    def __init__(self, sock: Any, pending: bytes, max_message_bytes: int, outlet: Outlet,
                 deliver: Callable[[str | None], None], end: Callable[[int | None], None], inbox: Any) -> None:
        self._raw = getattr(sock, "_sock", sock)
        self._watcher: Any = None
        self._parser = FrameParser(max_message_bytes)
        self._outlet = outlet
        self._deliver = deliver
        self._end = end
        self._inbox = inbox
        self._pending = pending
        self.paused = False
        self.ended = False
        self.refused = False
        """True when the reader stopped on a protocol violation while the peer may still be sending."""

    def start(self) -> None:
        self._watcher = gevent.get_hub().loop.io(self._raw.fileno(), 1)
        self._watcher.start(self._readable)
        pending, self._pending = self._pending, b""
        if pending:
            self._consume(pending)

    def resume_if_drained(self) -> None:
        if self.paused and not self.ended and self._inbox.qsize() <= LOW_WATER:
            self.paused = False
            self._watcher.start(self._readable)

    def close(self) -> None:
        self.ended = True
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    def _readable(self) -> None:
        try:
            data = self._raw.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self._finish(None)
            return
        if not data:
            self._finish(None)
            return
        self._consume(data)

    def _consume(self, data: bytes) -> None:
        outlet = self._outlet
        outlet.last_heard = time.monotonic()
        try:
            messages = self._parser.feed(data)
        except FrameError as exc:
            outlet.close(exc.close_code, exc.reason, discard=True)
            self.refused = True
            self._finish(exc.close_code)
            return
        for message in messages:
            opcode = message.opcode
            if opcode == OP_TEXT:
                try:
                    text = message.payload.decode("utf-8")
                except UnicodeDecodeError:
                    outlet.close(CLOSE_INVALID_DATA, "text frame is not valid UTF-8")
                    self.refused = True
                    self._finish(CLOSE_INVALID_DATA)
                    return
                self._deliver(text)
            elif opcode == OP_BINARY:
                self._deliver(None)
            elif opcode == OP_PING:
                outlet.offer(encode_frame(message.payload, OP_PONG))
            elif opcode == OP_CLOSE:
                code, _ = parse_close(message.payload)
                outlet.close(code if code is not None and _echoable(code) else CLOSE_NORMAL)
                self._finish(code)
                return
        if self._inbox.qsize() > HIGH_WATER and self._watcher is not None:
            self.paused = True
            self._watcher.stop()

    def _finish(self, code: int | None) -> None:
        if self.ended:
            return
        self.ended = True
        if self._watcher is not None:
            self._watcher.stop()
        self._end(code)
