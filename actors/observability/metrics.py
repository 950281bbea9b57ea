"""Process-wide counters read by ``GET /api/ws``.

Plain integers on one object: every actor runs on the one gevent thread, so an increment is
atomic, and a counter costs one attribute add on the hot path.
"""

from __future__ import annotations

import time
from collections import deque


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

    __slots__ = ("started", "frames_in", "frames_out", "bytes_out", "connections", "connections_total",
                 "events_published", "slow_consumers_closed", "write_timeouts", "rate_limited",
                 "flush_delays", "by_type")

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.frames_in = 0
        self.frames_out = 0
        self.bytes_out = 0
        self.connections = 0
        self.connections_total = 0
        self.events_published = 0
        self.slow_consumers_closed = 0
        self.write_timeouts = 0
        self.rate_limited = 0
        self.flush_delays: deque[float] = deque(maxlen=2048)
        self.by_type: dict[str, TypeCounts] = {}

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
            "eventsPublished": self.events_published,
            "slowConsumersClosed": self.slow_consumers_closed,
            "writeTimeouts": self.write_timeouts,
            "rateLimited": self.rate_limited,
            "deliveryLatencyMs": self.latency_ms(),
            "delivery": self.delivery(),
        }
