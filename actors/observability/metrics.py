"""Process-wide counters read by ``GET /api/ws`` and, at scrape time, by ``GET /metrics``.

Plain integers on one object: every actor runs on the one gevent thread, so an increment is
atomic, and a counter costs one attribute add on the hot path. Nothing here formats or exports:
``prometheus.py`` reads these when Prometheus asks, so an unscraped server pays nothing more.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import deque

PUBLISH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Upper bounds (seconds) of the publish-duration histogram: a publish to a room of a few sockets
takes well under a millisecond here; one to 10,000 sockets, tens of milliseconds."""

NO_CLOSE_FRAME = 1006
"""The close code recorded for a connection that ended without a close frame (RFC 6455's 1006):
a dropped network, a heartbeat cut, a browser closing an SSE stream."""


class TypeCounts:
    """Delivery tracking for one event type."""

    __slots__ = ("published", "delivered", "coalesced", "dropped")

    def __init__(self) -> None:
        self.published = 0
        self.delivered = 0
        self.coalesced = 0
        self.dropped = 0

    def to_dict(self) -> dict[str, int]:
        return {"published": self.published, "delivered": self.delivered, "coalesced": self.coalesced,
                "dropped": self.dropped}


class Metrics:
    """Counters and a small window of flush delays (enqueue to socket write)."""

    __slots__ = ("started", "frames_in", "frames_out", "bytes_out", "writes_out", "connections", "connections_total",
                 "events_published", "slow_consumers_closed", "write_timeouts", "rate_limited",
                 "flush_delays", "by_type", "sse_connections", "refusals", "disconnects", "recoveries",
                 "notifications_created", "publish_buckets", "publish_seconds")

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.frames_in = 0
        self.frames_out = 0
        self.bytes_out = 0
        self.writes_out = 0
        """Socket writes (send calls) that carried those frames: framesOut / writesOut is how many frames a
        write carries on average, i.e. how well a burst is batched (one system call per socket per batch)."""
        self.connections = 0
        self.connections_total = 0
        self.events_published = 0
        self.slow_consumers_closed = 0
        self.write_timeouts = 0
        self.rate_limited = 0
        self.flush_delays: deque[float] = deque(maxlen=2048)
        self.by_type: dict[str, TypeCounts] = {}
        self.sse_connections = 0
        """Of ``connections``, the SSE streams (the rest are WebSockets)."""
        self.refusals: dict[str, int] = {}
        """ERROR frames answered to clients, by code (RATE_LIMITED is ``rate_limited``)."""
        self.disconnects: dict[int, int] = {}
        """Ended connections by close code (``NO_CLOSE_FRAME`` when there was none)."""
        self.recoveries = [0, 0]
        """SUBSCRIBE with ``since``: [not recovered, recovered]."""
        self.notifications_created = 0
        self.publish_buckets = [0] * (len(PUBLISH_BUCKETS) + 1)
        """Waited-for publishes by duration: one count per bucket of ``PUBLISH_BUCKETS``, then +Inf."""
        self.publish_seconds = 0.0

    def refused(self, code: str) -> None:
        self.refusals[code] = self.refusals.get(code, 0) + 1

    def disconnected(self, code: int | None, sse: bool) -> None:
        """A connection ended: counted by its close code; ``connections`` goes down here too."""
        code = NO_CLOSE_FRAME if code is None else code
        self.disconnects[code] = self.disconnects.get(code, 0) + 1
        self.connections -= 1
        if sse:
            self.sse_connections -= 1

    def recovery(self, recovered: bool | None) -> None:
        """A SUBSCRIBE's answer: ``recovered`` is None when the client did not ask to recover."""
        if recovered is not None:
            self.recoveries[recovered] += 1

    def published_in(self, seconds: float) -> None:
        """One publish, from the call that accepted it to the room's answer that its fan-out is done."""
        self.publish_buckets[bisect_left(PUBLISH_BUCKETS, seconds)] += 1
        self.publish_seconds += seconds

    def of(self, type_: str) -> TypeCounts:
        counts = self.by_type.get(type_)
        if counts is None:
            counts = self.by_type[type_] = TypeCounts()
        return counts

    def delivery(self) -> dict[str, dict[str, int]]:
        """Per event type: published (events), delivered, coalesced and dropped (frames)."""
        return {type_: counts.to_dict() for type_, counts in sorted(self.by_type.items())}

    def latency_ms(self) -> dict[str, float | None]:
        delays = sorted(self.flush_delays)
        if not delays:
            return {"p50": None, "p99": None}

        def pick(q: float) -> float:
            return round(delays[min(len(delays) - 1, int(q * len(delays)))] * 1000, 3)

        return {"p50": pick(0.5), "p99": pick(0.99)}

    def snapshot(self) -> dict[str, object]:
        return {
            "uptimeSeconds": round(time.monotonic() - self.started, 3),
            "connections": self.connections,
            "connectionsTotal": self.connections_total,
            "framesIn": self.frames_in,
            "framesOut": self.frames_out,
            "bytesOut": self.bytes_out,
            "writesOut": self.writes_out,
            "eventsPublished": self.events_published,
            "slowConsumersClosed": self.slow_consumers_closed,
            "writeTimeouts": self.write_timeouts,
            "rateLimited": self.rate_limited,
            "deliveryLatencyMs": self.latency_ms(),
            "delivery": self.delivery(),
        }
