"""``Client``: the synchronous client (httpx underneath, one connection pool per client)."""

from __future__ import annotations

import time
from typing import Any, cast

import httpx

from ._core import Call, Notifications, Published, Token, answer, headers, history_call, publish_call, stats_call
from ._errors import ConnectionFailed
from ._events import EventMethods
from ._retry import RETRY_STATUSES, RetryPolicy, parse_retry_after


class Client(EventMethods[Published]):
    """Publish events and manage notifications on a realtime-server.

    >>> with Client("http://localhost:8000", token) as rt:
    ...     rt.lead_assigned("9", "42", name="Acme Corp")
    ...     rt.notifications.create(user_id="42", type="LEAD_ASSIGNED", title="Acme Corp is yours")

    ``token``: a JWT whose role may publish (``ADMIN`` or ``SERVICE``), or a function returning a fresh one
    (called for every request). ``retry``: how connection errors, 429 and 503 are retried
    (``RetryPolicy(attempts=1)`` for none). ``http``: an ``httpx.Client`` of your own (proxies,
    certificates); it is not closed by ``close()``.
    """

    def __init__(self, base_url: str, token: Token, *, timeout: float = 10.0, retry: RetryPolicy | None = None,
                 http: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retry = retry or RetryPolicy()
        self._own_http = http is None
        self._http = http or httpx.Client(timeout=timeout)
        self.notifications: Notifications[Any] = Notifications(self._send)
        self.sleep = time.sleep
        """How the client waits between attempts (replace it to observe or shorten the waits)."""

    def publish(self, type_: str, data: dict[str, Any], room: str | None = None, *,
                idempotency_key: str | None = None) -> Published:
        """Publish one event (``POST /api/live-sync``): to ``room``, or the type's default rooms."""
        return cast(Published, self._send(publish_call(type_, data, room, idempotency_key)))

    def push_stats(self, figures: dict[str, Any], room: str | None = None, *,
                   idempotency_key: str | None = None) -> Published:
        """Merge figures into the room's statistics and send them (``POST /api/live-sync/stats``)."""
        return cast(Published, self._send(stats_call(figures, room, idempotency_key)))

    def history(self, room: str, since: int | None = None, epoch: str | None = None) -> dict[str, Any]:
        """A room's held events after ``since``: ``{room, epoch, offset, recovered, events}``."""
        return cast(dict[str, Any], self._send(history_call(room, since, epoch)))

    def status(self) -> dict[str, Any]:
        """``GET /api/ws``: connections, rooms, delivery figures."""
        return cast(dict[str, Any], self._send(Call("GET", "/api/ws")))

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _send(self, call: Call) -> Any:
        """One call, with its retries; every attempt carries the call's Idempotency-Key."""
        policy = self.retry
        for attempt in range(policy.attempts):
            last = attempt == policy.attempts - 1
            try:
                response = self._http.request(call.method, self.base_url + call.path, json=call.json,
                                              params=call.params or None, headers=headers(self.token, call))
            except httpx.TransportError as exc:
                if last:
                    raise ConnectionFailed(
                        f"{call.method} {call.path}: {exc!r} after {policy.attempts} attempts") from exc
                self.sleep(policy.delay(attempt))
                continue
            if response.status_code in RETRY_STATUSES and not last:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is None or retry_after <= policy.max_retry_after:
                    self.sleep(policy.delay(attempt, retry_after))
                    continue
            return answer(response, call, retried=attempt > 0)
        raise AssertionError("unreachable: the last attempt returns or raises")
