"""RedisListener: this process's one PUB/SUB connection to Redis, supervised.

A PUB/SUB connection can die quietly (a proxy drops it, ``CLIENT KILL TYPE pubsub``, a Redis restart)
while everything else about the process looks healthy; the events published meanwhile are simply
never seen here. So the listener is a loop that cannot end while the broker is open: every failure,
ours included, ends one session, and the next session connects again after a backoff with jitter
(so that a restarted Redis is not met by every process at the same instant), subscribes every
wanted channel again, and then tells the broker (``resubscribed``) so that it can hand each room a
checkpoint: whatever was published while nobody listened is refilled from the stream, or told.

Liveness is probed, not assumed: a ``PING`` on the connection every ``probe_interval``, and a read
that hears nothing (no event, no pong) for two intervals ends the session.

Reads happen in the listener's greenlet only; writes (SUBSCRIBE, UNSUBSCRIBE, PING) come from the
hub's greenlet and the prober, one at a time under a lock. ``subscribe`` waits (bounded) for Redis to
confirm, so that what a client is told after joining (CONNECTED, SUBSCRIBED) is true: every event
published from then on reaches this process.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event
from gevent.lock import Semaphore

log = logging.getLogger("realtime.redis")

SUBSCRIBE_BATCH = 500
"""Channels per SUBSCRIBE command when a session subscribes everything again."""

FIRST_RETRY = 0.05
"""Seconds before the first reconnect attempt: a killed connection comes back at once, a dead Redis is
retried with doubling waits up to ``reconnect_max``."""


class RedisListener:
    """Subscribes channels and hands every message to ``handle(channel, payload)``."""

    def __init__(self, connect: Callable[[float], Any], handle: Callable[[bytes, bytes], None],
                 resubscribed: Callable[[], None], *, probe_interval: float, reconnect_max: float,
                 subscribe_timeout: float) -> None:
        self._connect = connect
        self._handle = handle
        self._resubscribed = resubscribed
        self._probe_interval = probe_interval
        self._reconnect_max = reconnect_max
        self._subscribe_timeout = subscribe_timeout
        self._wanted: set[bytes] = set()
        self._waiters: dict[bytes, list[Event]] = {}
        self._conn: Any = None
        self._write_lock = Semaphore()
        self._closed = False
        self._runner: gevent.Greenlet | None = None
        self._prober: gevent.Greenlet | None = None
        self.connected = False
        self.sessions = 0
        self.last_heard = 0.0
        self.last_error: str | None = None
        self.messages = 0

    # --- the broker's calls ----------------------------------------------------------------------

    def start(self) -> None:
        self._runner = gevent.spawn(self._run)

    def close(self) -> None:
        self._closed = True
        for greenlet in (self._prober, self._runner):
            if greenlet is not None and greenlet is not gevent.getcurrent():
                greenlet.kill(block=True, timeout=2)
        self._prober = self._runner = None
        self._drop_connection()
        self._release_waiters()

    def subscribe(self, channel: bytes) -> None:
        """Subscribe and wait (at most ``subscribe_timeout``) until Redis confirms it.

        While disconnected it returns at once: the next session subscribes every wanted channel and
        the broker then checkpoints every room, which covers events published in between.
        """
        if channel in self._wanted:
            return
        self._wanted.add(channel)
        if not self.connected:
            return
        confirmed = Event()
        self._waiters.setdefault(channel, []).append(confirmed)
        if self._send("SUBSCRIBE", channel):
            confirmed.wait(self._subscribe_timeout)
        waiting = self._waiters.get(channel)
        if waiting is not None and confirmed in waiting:
            waiting.remove(confirmed)
            if not waiting:
                del self._waiters[channel]

    def unsubscribe(self, channel: bytes) -> None:
        if channel not in self._wanted:
            return
        self._wanted.discard(channel)
        if self.connected:
            self._send("UNSUBSCRIBE", channel)

    @property
    def channels(self) -> int:
        return len(self._wanted)

    def wanted(self) -> list[bytes]:
        return list(self._wanted)

    # --- the supervised loop ---------------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        while not self._closed:
            started = time.monotonic()
            try:
                self._session()
            except gevent.GreenletExit:
                raise
            except Exception as exc:  # noqa: BLE001 (any failure ends the session, never the listener)
                self.last_error = f"{type(exc).__name__}: {exc}"
                if not self._closed:
                    log.warning("Redis PUB/SUB connection lost (%s); reconnecting", self.last_error)
            self.connected = False
            self._stop_prober()
            self._drop_connection()
            self._release_waiters()
            if self._closed:
                return
            if time.monotonic() - started > 2 * self._probe_interval:
                attempt = 0  # it had been healthy: come back quickly
            delay = min(self._reconnect_max, FIRST_RETRY * 2 ** attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            gevent.sleep(delay)

    def _session(self) -> None:
        conn = self._connect(2 * self._probe_interval)  # a read that hears nothing for two probes fails
        conn.connect()
        self._conn = conn
        self.sessions += 1
        self.last_heard = time.monotonic()
        pending = set(self._wanted)
        with self._write_lock:
            self.connected = True
            channels = sorted(pending)
            for start in range(0, len(channels), SUBSCRIBE_BATCH):
                conn.send_command("SUBSCRIBE", *channels[start:start + SUBSCRIBE_BATCH])
        if self.sessions > 1:
            log.info("Redis PUB/SUB connection back; subscribing %d channels again", len(pending))
        if not pending:
            self._resubscribed()
        self._prober = gevent.spawn(self._probe, conn)
        while True:
            reply = conn.read_response(push_request=True)  # hiredis hands PUB/SUB replies as pushes
            self.last_heard = time.monotonic()
            if not isinstance(reply, list) or not reply:
                continue  # PONG before the first subscription
            kind = reply[0]
            if kind == b"message":
                self.messages += 1
                self._handle(reply[1], reply[2])
            elif kind == b"subscribe":
                channel = reply[1]
                for waiter in self._waiters.pop(channel, ()):
                    waiter.set()
                if pending:
                    pending.discard(channel)
                    if not pending:
                        self._resubscribed()

    def _probe(self, conn: Any) -> None:
        while True:
            gevent.sleep(self._probe_interval)
            if conn is not self._conn or not self._send("PING"):
                return

    def _send(self, *args: Any) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            with self._write_lock:
                conn.send_command(*args)
            return True
        except Exception as exc:  # noqa: BLE001 (the reader sees the broken connection and reconnects)
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._drop_connection()
            return False

    def _stop_prober(self) -> None:
        prober, self._prober = self._prober, None
        if prober is not None and prober is not gevent.getcurrent():
            prober.kill(block=False)

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self.connected = False
        if conn is not None:
            try:
                conn.disconnect()
            except Exception:  # noqa: BLE001
                pass

    def _release_waiters(self) -> None:
        waiters, self._waiters = self._waiters, {}
        for events in waiters.values():
            for event in events:
                event.set()

    def describe(self) -> dict[str, Any]:
        return {"connected": self.connected, "channels": len(self._wanted), "sessions": self.sessions,
                "messages": self.messages,
                "lastHeardSecondsAgo": round(time.monotonic() - self.last_heard, 3) if self.last_heard else None,
                "lastError": self.last_error}
