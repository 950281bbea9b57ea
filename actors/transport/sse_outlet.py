"""The write side of one Server-Sent Events stream: an Outlet drained by the HTTP response.

Rooms, the hub and the ConnectionActor treat an SSE client exactly like a WebSocket one: they offer
the same pre-built frames to its outlet. What differs is the drain: the ``/sse`` response generator
takes the queued frames and re-encodes each as an SSE event (``event:``, ``id: room@epoch:offset``,
``data:``); a WebSocket ping becomes a comment line (the heartbeat) and a close frame ends the stream.
The bounds, coalescing, 4008 and the silent-peer cut all come from ``Outlet``. A stream whose client
stops reading blocks its generator in a write, so ``last_heard`` (refreshed each time the generator
comes back for more) goes stale and the heartbeat sweep cuts it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import gevent
from gevent.event import Event

from ..observability.metrics import Metrics
from .framing import OP_CLOSE, OP_PING, OP_TEXT, frame_payload, parse_close
from .outlet import Flusher, Outlet

_last: tuple[bytes | None, bytes] = (None, b"")


def sse_event(frame: bytes) -> bytes | None:
    """One WebSocket frame as SSE text; None for a close frame (the stream ends after it).

    Every SSE member of a room is handed the same frame object in a row, so the last conversion is
    kept and reused: one JSON parse per event, not per stream.
    """
    global _last
    if frame is _last[0]:
        return _last[1]
    opcode = frame[0] & 0x0F
    if opcode == OP_PING:
        chunk = b": ping\n\n"
    elif opcode == OP_CLOSE:
        return None
    elif opcode == OP_TEXT:
        payload = frame_payload(frame)
        head = json.loads(payload)
        lines = [b"event: " + head["type"].encode()]
        if "offset" in head and "room" in head:
            lines.append(f"id: {head['room']}@{head['epoch']}:{head['offset']}".encode())
        chunk = b"\n".join(lines) + b"\ndata: " + payload + b"\n\n"
    else:
        chunk = b""
    _last = (frame, chunk)
    return chunk


def close_event(frame: bytes) -> bytes:
    code, reason = parse_close(frame_payload(frame))
    return b"event: CLOSE\ndata: " + json.dumps({"code": code, "reason": reason}).encode() + b"\n\n"


class SseOutlet(Outlet):
    """An Outlet whose frames are pulled by ``next_chunk`` instead of written to a socket."""

    __slots__ = ("_wake", "_finished", "_watcher")

    def __init__(self, connection_id: str, sock: Any, flusher: Flusher, metrics: Metrics, **limits: Any) -> None:
        super().__init__(connection_id, sock, flusher, metrics, **limits)
        self._wake = Event()
        self._finished = False
        self._watcher: gevent.Greenlet | None = gevent.spawn(self._watch_peer)

    def _watch_peer(self) -> None:
        """An SSE client never sends; a read returning means it closed (or broke) the connection.

        Without this a departed client would be noticed only at the next write, up to a heartbeat later.
        """
        try:
            self._sock.recv(1)
        except OSError:
            pass
        self._watcher = None
        self.abort()

    def flush(self) -> None:
        self._dirty = False
        self._wake.set()

    def drain(self, timeout: float) -> None:
        """Nothing to wait for: the response generator is the writer."""

    def abort(self) -> None:
        super().abort()
        self._wake.set()

    def dispose(self) -> None:
        super().dispose()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not gevent.getcurrent():
            # dead before the request ends: pywsgi reads the socket once more, and two readers collide
            watcher.kill(block=True, timeout=1)
        self._wake.set()

    def next_chunk(self, timeout: float) -> bytes | None:
        """The queued frames as SSE text (b"" after ``timeout`` with nothing queued); None once finished."""
        self.last_heard = time.monotonic()  # the previous chunk was written: the client is reading
        if self._finished or self.closed:
            return None
        if not self._queue or self.held:
            if self.closing and not self._queue:
                return None
            self._wake.clear()
            self._wake.wait(timeout)
            if not self._queue or self.held:
                return None if (self.closed or (self.closing and not self._queue)) else b""
        entries = list(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        chunks = []
        for frame, _, _ in entries:
            chunk = sse_event(frame)
            if chunk is None:
                chunks.append(close_event(frame))
                self._finished = True
                break
            chunks.append(chunk)
        data = b"".join(chunks)
        self._metrics.bytes_out += len(data)
        return data
