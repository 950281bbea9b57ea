"""REST rate limits per token: a token bucket per caller, 429 ``RATE_LIMITED`` with ``Retry-After``.

A bucket belongs to the token's user (``sub``) and role, not to the token's text: a client that fetches a
fresh token every minute keeps its budget, and one user's tokens share it. Publishes (``POST
/api/live-sync`` and ``/api/live-sync/stats``) have a budget of their own, large by default: a backend
publishing thousands of events a second is the server's purpose, while a dashboard calling the rest of
the API hundreds of times a second is a bug or an attack on the database.

Requests without a valid token are not counted here (they are refused 401 before any work, and the HTTP
deadlines bound what an anonymous peer can hold); nor are the probes, the metrics and the API document.
The buckets live in this process: with ``--workers N`` a caller may reach N times the budget, spread
over the workers the kernel hands its connections to.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import Any

from flask import Flask, Response, jsonify, request

from actors import Settings
from actors.errors import RateLimited, RealtimeError

from .auth import current_identity

PUBLISH_PATHS = frozenset({"/api/live-sync", "/api/live-sync/stats"})
MAX_BUCKETS = 100_000
"""Callers remembered at most; past it the least recently seen is forgotten (it starts again full)."""


class Buckets:
    """Token buckets by key: ``rate`` per second refill up to ``burst``; least recently used forgotten first."""

    def __init__(self, rate: float, burst: int, max_keys: int = MAX_BUCKETS) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()
        self.refused = 0

    def take(self, key: str, now: float | None = None) -> float:
        """Spend one request for ``key``: 0.0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.popitem(last=False)
            bucket = self._buckets[key] = [self.burst, now]
        else:
            self._buckets.move_to_end(key)
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        self.refused += 1
        return (1.0 - bucket[0]) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(wait: float) -> int:
    """Whole seconds for ``Retry-After`` (at least 1: a client that retries at once is refused again)."""
    return max(1, math.ceil(wait))


class RateLimits:
    """The two budgets of one server: publishes and every other token-bearing REST call."""

    def __init__(self, settings: Settings) -> None:
        self.rest = (Buckets(settings.rest_rate_limit_per_second, settings.rest_rate_limit_burst)
                     if settings.rest_rate_limit_per_second > 0 else None)
        self.publish = (Buckets(settings.publish_rate_limit_per_second, settings.publish_rate_limit_burst)
                        if settings.publish_rate_limit_per_second > 0 else None)

    def check(self, path: str, method: str, caller: str) -> None:
        """Raise RateLimited (with the wait in seconds) when ``caller`` has spent its budget for this call."""
        buckets = self.publish if method == "POST" and path in PUBLISH_PATHS else self.rest
        if buckets is None:
            return
        wait = buckets.take(caller)
        if wait > 0:
            error = RateLimited(f"too many requests for this token; retry in {retry_after(wait)}s "
                                f"(at most {buckets.rate:g} per second, bursts of {buckets.burst:g})")
            error.retry_after = retry_after(wait)  # type: ignore[attr-defined]
            raise error

    def describe(self) -> dict[str, Any]:
        return {name: None if b is None else {"perSecond": b.rate, "burst": b.burst, "callers": len(b),
                                              "refused": b.refused}
                for name, b in (("rest", self.rest), ("publish", self.publish))}


def install_rate_limits(app: Flask, settings: Settings) -> RateLimits:
    """Charge every ``/api/`` request that carries a valid token to its caller's bucket, before the view runs."""
    limits = RateLimits(settings)
    app.extensions["realtime.rate_limits"] = limits

    @app.before_request
    def charge() -> Response | None:
        if request.method == "OPTIONS" or not request.path.startswith("/api/"):
            return None
        if not request.headers.get("Authorization"):
            return None
        try:
            identity = current_identity()  # verified once per request; the view reuses it (flask.g)
        except RealtimeError:
            return None  # no valid token: the view answers 401, or needs none
        try:
            limits.check(request.path, request.method, f"{identity.role}:{identity.user_id}")
        except RateLimited as exc:
            response = jsonify({"error": {**exc.to_dict(), "retryAfter": exc.retry_after}})  # type: ignore[attr-defined]
            response.status_code = exc.http_status
            response.headers["Retry-After"] = str(exc.retry_after)  # type: ignore[attr-defined]
            return response
        return None

    return limits
