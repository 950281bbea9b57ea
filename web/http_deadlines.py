"""Deadlines for an HTTP connection until its request is in, and a bound on connections still waiting.

pywsgi reads a request's line and headers with no time limit, and a kept-alive connection waits for its
next request forever; none of these sockets counts toward ``MAX_CONNECTIONS`` (a WebSocket counts only
once it is upgraded), and none needs a token. One byte every few seconds (slowloris), a silent socket
or half a header block held a greenlet and a file descriptor each for as long as the client liked.

So a connection that is *waiting* (connected, or idle between requests, or still sending a request's
line and headers) has a deadline, and there is a bound on how many may wait at once:

- ``HTTP_HEADER_TIMEOUT``: from connecting, or from the first byte of a kept-alive connection's next
  request, to the blank line that ends the headers. A deadline for the whole header block, not for
  each read: a trickle keeps every single read short.
- ``HTTP_IDLE_TIMEOUT``: how long a kept-alive connection may wait for its next request.
- ``MAX_PENDING_CONNECTIONS``: waiting connections at most; a new one past it closes the one that has
  waited longest. A real client sends its request within milliseconds, so the ones closed are those
  that were going to time out anyway, and a flood cannot keep a real request out.

A connection past its deadline (or pushed out) is closed without an answer: its read side is shut down,
so the read it is blocked in returns, and the handler ends. Once the headers are in, nothing here applies:
the request runs, a WebSocket lives for hours.
"""

from __future__ import annotations

import socket
from typing import Any

from gevent import get_hub
from geventwebsocket.handler import WebSocketHandler

HEADER = "header"
IDLE = "idle"
EVICTED = "evicted"


class _Cut(BaseException):
    """The connection was cut while its request was being read (a BaseException: pywsgi would answer any
    Exception from ``read_request`` with a 400 and a printed traceback)."""


class WaitingConnections:
    """The connections of one server that have not finished sending a request; the oldest goes first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._waiting: dict[DeadlineHandler, None] = {}  # insertion order: the longest waiting first
        self.cut = {HEADER: 0, IDLE: 0, EVICTED: 0}

    def __len__(self) -> int:
        return len(self._waiting)

    def enter(self, handler: DeadlineHandler) -> None:
        self._waiting.pop(handler, None)
        while len(self._waiting) >= self.limit:
            oldest = next(iter(self._waiting))
            oldest.cut(EVICTED)
        self._waiting[handler] = None

    def leave(self, handler: DeadlineHandler) -> None:
        self._waiting.pop(handler, None)

    def snapshot(self) -> dict[str, int]:
        """For ``GET /api/ws``: waiting now, the bound, and how many were cut for each reason since start."""
        return {"pending": len(self._waiting), "maxPending": self.limit, "headerTimeouts": self.cut[HEADER],
                "idleTimeouts": self.cut[IDLE], "evicted": self.cut[EVICTED]}


class DeadlineHandler(WebSocketHandler):
    """gevent-websocket's handler with the deadlines above; the server sets the class attributes."""

    waiting: WaitingConnections = WaitingConnections(1_000)
    header_timeout = 10.0
    idle_timeout = 15.0
    _timer: Any = None
    _cut_reason: str | None = None
    _requests = 0

    def handle_one_request(self) -> Any:
        self.waiting.enter(self)
        try:
            if self._requests and not self._next_request_begins():
                return None
            self._requests += 1
            self._arm(self.header_timeout, HEADER)
            try:
                result = super().handle_one_request()
            except _Cut:
                return None
            if self._cut_reason is not None and result is not True:
                return None  # cut while reading: nothing is written to a socket shut down for reading
            return result
        finally:
            self._stop_waiting()

    def read_request(self, raw_requestline: str) -> Any:
        try:
            if self._cut_reason is not None:
                raise _Cut
            try:
                ok = super().read_request(raw_requestline)
            except OSError:
                # gevent's shutdown() wakes the blocked read with "File descriptor was closed in another
                # greenlet"; pywsgi would print that as a traceback and answer 400 to a socket we cut
                if self._cut_reason is not None:
                    raise _Cut from None
                raise
            if self._cut_reason is not None:  # the last bytes came in with the shutdown: still cut
                raise _Cut
            return ok
        finally:
            self._stop_waiting()  # the headers are in: the request runs without a deadline from here

    def _next_request_begins(self) -> bool:
        """Wait (at most the idle timeout) for the first byte of a kept-alive connection's next request."""
        self._arm(self.idle_timeout, IDLE)
        try:
            return bool(self.rfile.peek(1)) and self._cut_reason is None
        except (OSError, ValueError):
            return False

    def _arm(self, seconds: float, reason: str) -> None:
        if self._timer is not None:
            self._timer.close()
        self._timer = get_hub().loop.timer(seconds)
        self._timer.start(self.cut, reason)

    def _stop_waiting(self) -> None:
        if self._timer is not None:
            self._timer.close()
            self._timer = None
        self.waiting.leave(self)

    def cut(self, reason: str) -> None:
        """Close the connection's read side, so the read its handler is blocked in returns at once.

        Runs in the event loop (a timer) or in another connection's greenlet (eviction): only
        non-blocking calls here.
        """
        if self._cut_reason is not None:
            return
        self._cut_reason = reason
        self.waiting.cut[reason] += 1
        self._stop_waiting()
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):  # already closed, or the handler has let go of it
            pass
