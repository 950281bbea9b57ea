"""The write side of one socket: the data path of the fan-out, owned by its ConnectionActor.

A room hands every member the same pre-built frame bytes through ``Outlet.offer`` (no mailbox hop
per member: a hop each cost 2/3 of the throughput). Frames queue on the outlet; one ``Flusher`` callback per
loop iteration writes each dirty outlet's queue with a single non-blocking ``send``, so a burst of
events costs one system call per socket rather than one per frame. Whatever the kernel does not
take goes to a writer greenlet spawned only for that socket, which waits for the socket to drain,
bounded by ``write_timeout``. The outlet never blocks the caller.

Bounds: frames and bytes queued per socket. Superseded updates (same ``key``) replace older queued
ones; essential frames are never dropped. Past the bound the socket is closed with 4008 and the
client resumes with ``since``. Everything runs on the one gevent thread, so no locks are needed as
long as ``offer`` never yields, and it does not.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import deque
from typing import Any

import gevent
from gevent.socket import wait_write

from ..observability.metrics import Metrics
from .framing import CLOSE_SLOW_CONSUMER, close_frame

log = logging.getLogger("realtime.outlet")


class _WriteTimeout(Exception):
    pass


class Flusher:
    """Writes every outlet that got frames during this loop iteration, once, at its end."""

    __slots__ = ("_dirty", "_scheduled", "_since", "_loop", "_metrics")

    def __init__(self, metrics: Metrics) -> None:
        self._dirty: list[Outlet] = []
        self._scheduled = False
        self._since = 0.0
        self._loop = gevent.get_hub().loop
        self._metrics = metrics

    def mark(self, outlet: Outlet) -> None:
        self._dirty.append(outlet)
        if not self._scheduled:
            self._scheduled = True
            self._since = time.perf_counter()
            self._loop.run_callback(self._run)

    def _run(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        since = self._since
        for outlet in dirty:
            outlet.flush()
        self._metrics.flush_delays.append(time.perf_counter() - since)


class Outlet:
    """Bounded, coalescing, non-blocking writer for one WebSocket."""

    __slots__ = ("connection_id", "_sock", "_raw", "_flusher", "_metrics", "_queue", "_queued_bytes",
                 "_backlog", "_dirty", "_held", "_writer", "_closer", "closing", "closed", "close_code", "close_reason",
                 "last_heard", "_max_frames", "_max_bytes", "_write_timeout", "_close_timeout")

    def __init__(self, connection_id: str, sock: Any, flusher: Flusher, metrics: Metrics, *, max_frames: int,
                 max_bytes: int, write_timeout: float, close_timeout: float, held: bool = True) -> None:
        self.connection_id = connection_id
        self._sock = sock
        self._raw = getattr(sock, "_sock", sock)  # the non-blocking OS socket under gevent's wrapper
        self._flusher = flusher
        self._metrics = metrics
        self._queue: deque[tuple[bytes, str | None, str | None]] = deque()
        self._queued_bytes = 0
        self._backlog: memoryview | None = None
        self._dirty = False
        self._held = held
        """Held until ``release`` (CONNECTED first); the conformance echo has nothing to send first."""
        self._writer: gevent.Greenlet | None = None
        self._closer: gevent.Greenlet | None = None
        self.closing = False
        self.closed = False
        self.close_code: int | None = None
        self.close_reason = ""
        """The reason sent with ``close_code``: what the trace of a closed connection says."""
        self.last_heard = time.monotonic()
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._write_timeout = write_timeout
        self._close_timeout = close_timeout

    # --- the data path ---------------------------------------------------------------------------

    def offer(self, frame: bytes, type_: str | None = None, key: str | None = None, now: bool = False) -> bool:
        """Queue one frame; False if the socket is closing.

        ``type_`` (an event type) is kept for delivery tracking; ``key`` marks a frame that a newer
        frame with the same key supersedes while this socket is backed up. ``now``: the sender has
        nothing more for this socket in this loop iteration, so a socket with nothing queued is
        written at once instead of at the iteration's end (the Flusher): there is nothing to coalesce,
        and the frame leaves as soon as it is ready.
        """
        if self.closing:
            return False
        queue = self._queue
        if key is not None and queue and (self._writer is not None or self._held):
            self._supersede(key)
        queue.append((frame, type_, key))
        self._queued_bytes += len(frame)
        self._metrics.frames_out += 1
        if len(queue) > self._max_frames or self._queued_bytes > self._max_bytes:
            if self._writer is None and not self._held:
                self.flush()  # a burst to a reading socket: let the kernel take it before judging
            if len(self._queue) > self._max_frames or self._queued_bytes > self._max_bytes:
                self._overflow()
                return False
        if not self._dirty and self._writer is None and not self._held:
            if now:
                self.flush()  # only this frame is queued: nothing dirty, held or being written came before it
            else:
                self._dirty = True
                self._flusher.mark(self)
        return True

    def replay(self, frames: list[bytes]) -> None:
        """Queue a recovery replay; bounded by the room's history size, not by the outbox bound."""
        if self.closing:
            return
        for frame in frames:
            self._queue.append((frame, None, None))
            self._queued_bytes += len(frame)
        self._metrics.frames_out += len(frames)
        if frames and not self._dirty and self._writer is None and not self._held:
            self._dirty = True
            self._flusher.mark(self)

    def release(self, first: bytes) -> None:
        """Put ``first`` (CONNECTED) ahead of anything rooms queued meanwhile, and write them now.

        Now, not at the end of the loop iteration: a connecting client waits for this frame, and
        everything held goes out in the same write anyway.
        """
        self._queue.appendleft((first, None, None))
        self._queued_bytes += len(first)
        self._metrics.frames_out += 1
        self._held = False
        if not self._dirty and self._writer is None:
            self.flush()

    def flush(self) -> None:
        """Write what is queued with one non-blocking send; hand any rest to a writer greenlet."""
        self._dirty = False
        if self._writer is not None or self.closed or self._held or not self._queue:
            return
        data = self._take()
        self._metrics.writes_out += 1
        try:
            sent = self._raw.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._broken()
            return
        self._metrics.bytes_out += sent
        if sent < len(data):
            self._backlog = memoryview(data)[sent:]
            self._writer = gevent.spawn(self._drain)
        elif self.closing and not self._queue:
            self._after_close_frame()

    # --- closing ---------------------------------------------------------------------------------

    def close(self, code: int, reason: str = "", *, discard: bool = False) -> None:
        """Send a close frame after what is queued (or instead of it, with ``discard``)."""
        if self.closing or self.closed:
            return
        if discard:
            self._drop_queued()
        self._held = False
        self.close_code = code
        self.close_reason = reason
        self._queue.append((close_frame(code, reason), None, None))
        self._queued_bytes += 2 + len(reason)
        self.closing = True
        if not self._dirty and self._writer is None:
            self._dirty = True
            self._flusher.mark(self)

    def abort(self) -> None:
        """Cut the TCP connection now; the reader sees EOF and the connection cleans up."""
        self.closing = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def drain(self, timeout: float) -> None:
        """Wait (bounded) until what is queued has been written; used just before the socket is closed."""
        deadline = time.monotonic() + timeout
        while (self._queue or self._writer is not None) and not self.closed and time.monotonic() < deadline:
            if self._writer is None:
                self.flush()
            if self._writer is not None:
                self._writer.join(max(0.0, deadline - time.monotonic()))

    def dispose(self) -> None:
        """The socket is gone: refuse further frames and stop this outlet's greenlets."""
        self.closing = True
        self.closed = True
        self._drop_queued()
        self._backlog = None
        for greenlet in (self._writer, self._closer):
            if greenlet is not None and greenlet is not gevent.getcurrent():
                greenlet.kill(block=False)
        self._writer = self._closer = None

    @property
    def held(self) -> bool:
        """True until ``release``: frames queue but nothing is written before CONNECTED."""
        return self._held

    @property
    def queued(self) -> int:
        return len(self._queue)

    # --- internals -------------------------------------------------------------------------------

    def _take(self) -> bytes:
        queue = self._queue
        if len(queue) == 1:
            data = queue.popleft()[0]
        else:
            data = b"".join([entry[0] for entry in queue])
            queue.clear()
        self._queued_bytes = 0
        return data

    def _supersede(self, key: str) -> None:
        kept = [entry for entry in self._queue if entry[2] != key]
        if len(kept) != len(self._queue):
            for entry in self._queue:
                if entry[2] == key and entry[1] is not None:
                    self._metrics.of(entry[1]).coalesced += 1
            self._queue.clear()  # in place: ``offer`` holds this deque and appends the newer frame to it
            self._queue.extend(kept)
            self._queued_bytes = sum(len(entry[0]) for entry in kept)

    def _drop_queued(self) -> None:
        """Empty the queue, counting the event frames in it as ``dropped``."""
        for _, type_, _ in self._queue:
            if type_ is not None:
                self._metrics.of(type_).dropped += 1
        self._queue.clear()
        self._queued_bytes = 0

    def _overflow(self) -> None:
        self._metrics.slow_consumers_closed += 1
        log.info("connection %s: outbox over its bound (%d frames, %d bytes); closing with 4008",
                 self.connection_id, len(self._queue), self._queued_bytes)
        self.close(CLOSE_SLOW_CONSUMER, "slow consumer", discard=True)

    def _drain(self) -> None:
        """Writer greenlet: finish the backlog, then whatever queued meanwhile, each step time-bounded."""
        try:
            while True:
                backlog = self._backlog
                while backlog:
                    self._metrics.writes_out += 1
                    try:
                        sent = self._raw.send(backlog)
                    except BlockingIOError:
                        sent = 0
                    if sent:
                        self._metrics.bytes_out += sent
                        backlog = self._backlog = backlog[sent:]
                    else:
                        wait_write(self._raw.fileno(), timeout=self._write_timeout, timeout_exc=_WriteTimeout)
                self._backlog = None
                if not self._queue:
                    break
                self._backlog = memoryview(self._take())
        except _WriteTimeout:
            self._metrics.write_timeouts += 1
            log.info("connection %s: write blocked for %.1fs; aborting", self.connection_id, self._write_timeout)
            self._writer = None
            self.abort()
            return
        except OSError:
            self._writer = None
            self._broken()
            return
        self._writer = None
        if self.closing:
            self._after_close_frame()

    def _after_close_frame(self) -> None:
        if self._closer is None and not self.closed:
            self._closer = gevent.spawn_later(self._close_timeout, self._close_expired)

    def _close_expired(self) -> None:
        self._closer = None
        self.abort()

    def _broken(self) -> None:
        self._drop_queued()
        self.abort()
