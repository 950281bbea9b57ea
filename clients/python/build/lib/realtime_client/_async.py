"""``AsyncClient``: the asyncio client; the same calls as ``Client``, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, cast

import httpx

from ._core import Call, Notifications, Published, Token, answer, headers, history_call, publish_call, stats_call
from ._errors import ConnectionFailed
from ._events import EventMethods
from ._retry import RETRY_STATUSES, RetryPolicy, parse_retry_after


class AsyncClient(EventMethods[Awaitable[Published]]):
    """``Client`` for asyncio code: every call is a coroutine.

    >>> async with AsyncClient("http://localhost:8000", token) as rt:
    ...     await rt.campaign_progress("7", sent=1200, total=5000)
    """

    def __init__(self, base_url: str, token: Token, *, timeout: float = 10.0, retry: RetryPolicy | None = None,
                 http: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retry = retry or RetryPolicy()
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self.notifications: Notifications[Awaitable[Any]] = Notifications(self._send)
        self.sleep = asyncio.sleep

    def publish(self, type_: str, data: dict[str, Any], room: str | None = None, *,
                idempotency_key: str | None = None) -> Awaitable[Published]:
        return cast(Awaitable[Published], self._send(publish_call(type_, data, room, idempotency_key)))

    async def push_stats(self, figures: dict[str, Any], room: str | None = None, *,
                         idempotency_key: str | None = None) -> Published:
        return cast(Published, await self._send(stats_call(figures, room, idempotency_key)))

    async def history(self, room: str, since: int | None = None, epoch: str | None = None) -> dict[str, Any]:
        return cast(dict[str, Any], await self._send(history_call(room, since, epoch)))

    async def status(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self._send(Call("GET", "/api/ws")))

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> Any:
        policy = self.retry
        for attempt in range(policy.attempts):
            last = attempt == policy.attempts - 1
            try:
                response = await self._http.request(call.method, self.base_url + call.path, json=call.json,
                                                    params=call.params or None, headers=headers(self.token, call))
            except httpx.TransportError as exc:
                if last:
                    raise ConnectionFailed(
                        f"{call.method} {call.path}: {exc!r} after {policy.attempts} attempts") from exc
                await self.sleep(policy.delay(attempt))
                continue
            if response.status_code in RETRY_STATUSES and not last:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is None or retry_after <= policy.max_retry_after:
                    await self.sleep(policy.delay(attempt, retry_after))
                    continue
            return answer(response, call, retried=attempt > 0)
        raise AssertionError("unreachable: the last attempt returns or raises")
