"""The read side of one WebSocket, driven by the event loop (a libev io watcher), with no greenlet.

The connection's actor runs its mailbox loop in the socket's own request greenlet; the reader is a
callback that the loop calls when bytes arrive: it parses whole messages, charges every frame to the
socket's ``FrameBudget``, answers pings, and hands the rest on (``deliver``). One greenlet per socket,
as in a plain gevent-websocket server, instead of a reader and an actor greenlet each.

It never closes the socket itself: a close (the peer's, echoed, or a refusal) is handed on with
``end`` after every message read before it, so what the client sent first is answered first.

Limits, each because one socket must not be able to stall the server: the frame rate (every frame,
fragments and control frames included), the fragments of one message, the time one message may take
to arrive, and its size (checked from each header). Only a read that completes something (a whole
message, a control frame) counts as life for the heartbeat: a trickle of fragments does not.

While the actor has more than ``HIGH_WATER`` frames unhandled the watcher is stopped, so a client
flooding the socket meets TCP back-pressure rather than an unbounded mailbox; the actor resumes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent

from ..observability.metrics import Metrics
from .framing import (
    CLOSE_NORMAL,
    CLOSE_POLICY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    FrameParser,
    Message,
    encode_frame,
)
from .limits import FrameBudget, ReadLimits
from .outlet import Outlet

HIGH_WATER = 64
LOW_WATER = 16


class SocketReader:
    """Parses frames as they arrive and hands the data messages on (to the connection actor, or the echo)."""

    __slots__ = ("_raw", "_watcher", "_parser", "_budget", "_limits", "_metrics", "_outlet", "_deliver", "_end",
                 "_inbox", "_pending", "_charged", "_deadline", "_mark", "paused", "ended", "refused")

    def __init__(self, sock: Any, pending: bytes, outlet: Outlet, limits: ReadLimits, metrics: Metrics,
                 deliver: Callable[[Message, bool], None], end: Callable[[int | None, str], None],
                 inbox: Any = None) -> None:
        """``deliver(message, refused)``: a whole data message, ``refused`` when the rate limit refused it.
        ``end(code, reason)``: reading is over; ``code`` is the close code to answer with (None: none,
        the peer is gone). ``inbox``: the mailbox whose depth pauses reading (None: never paused)."""
        self._raw = getattr(sock, "_sock", sock)
        self._watcher: Any = None
        self._parser = FrameParser(limits.max_message_bytes, limits.max_fragments)
        self._budget = FrameBudget(limits.rate_per_second, limits.burst)
        self._limits = limits
        self._metrics = metrics
        self._outlet = outlet
        self._deliver = deliver
        self._end = end
        self._inbox = inbox
        self._pending = pending
        self._charged = 0
        """Frames of the parser's count already charged to the budget."""
        self._deadline: Any = None
        self._mark = -1
        """The parser's ``progress`` when the deadline was armed."""
        self.paused = False
        self.ended = False
        self.refused = False
        """True when the reader stopped on a violation while the peer may still be sending."""

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
            self._arm()

    def close(self) -> None:
        self.ended = True
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self._disarm()

    def _readable(self) -> None:
        try:
            data = self._raw.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self._finish(None, "")
            return
        if not data:
            self._finish(None, "")
            return
        self._consume(data)

    def _consume(self, data: bytes) -> None:
        parser = self._parser
        messages = parser.feed(data)
        if messages:
            self._outlet.last_heard = time.monotonic()  # only something whole counts as life
        budget, strikes = self._budget, self._limits.strikes
        for message in messages:
            refused = budget.take(message.frames - self._charged)
            self._charged = message.frames
            opcode = message.opcode
            if opcode == OP_CLOSE:
                self._peer_closed(message.payload)
                return
            if refused:
                self._metrics.rate_limited += refused
                if budget.strikes >= strikes:
                    self._refuse(CLOSE_POLICY, "rate limit exceeded repeatedly")
                    return
            if opcode < 0x8:
                self._deliver(message, bool(refused))
            elif opcode == OP_PING and not refused:
                self._outlet.offer(encode_frame(message.payload, OP_PONG))
        if parser.frames > self._charged:  # the fragments of a message still open
            refused = budget.take(parser.frames - self._charged)
            self._charged = parser.frames
            if refused:
                self._metrics.rate_limited += refused
                if budget.strikes >= strikes:
                    self._refuse(CLOSE_POLICY, "rate limit exceeded repeatedly")
                    return
        if parser.error is not None:
            self._refuse(parser.error.close_code, parser.error.reason)
            return
        self._arm()
        inbox = self._inbox
        if inbox is not None and inbox.qsize() > HIGH_WATER and self._watcher is not None:
            self.paused = True
            self._watcher.stop()
            self._disarm()

    def _peer_closed(self, payload: bytes) -> None:
        """The peer's close frame (already checked by the parser): echo its code, or 1000 without one."""
        code = (payload[0] << 8) | payload[1] if payload else CLOSE_NORMAL
        self._finish(code, "")

    def _arm(self) -> None:
        """Keep a deadline on the message being received: it must be whole within ``message_timeout``."""
        parser, timeout = self._parser, self._limits.message_timeout
        if not parser.busy or timeout <= 0:
            self._disarm()
            return
        if self._deadline is not None and self._mark == parser.progress:
            return  # the same message as before: its deadline stands
        self._disarm()
        self._mark = parser.progress
        self._deadline = gevent.get_hub().loop.timer(timeout)
        self._deadline.start(self._overdue)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.close()
            self._deadline = None

    def _overdue(self) -> None:
        """Runs in the event loop itself (a timer callback): the message did not arrive in time."""
        self._deadline = None
        if not self.ended and self._parser.busy and self._mark == self._parser.progress:
            self._refuse(CLOSE_POLICY, f"message not completed within {self._limits.message_timeout:g} s")

    def _refuse(self, code: int, reason: str) -> None:
        self.refused = True
        self._finish(code, reason)

    def _finish(self, code: int | None, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        if self._watcher is not None:
            self._watcher.stop()
        self._disarm()
        self._end(code, reason)
