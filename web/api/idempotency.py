"""``Idempotency-Key`` for ``POST /api/live-sync``: a retry answers the first result and publishes nothing.

A backend that times out waiting for a 202 cannot know whether its event went out; it retries with the
same key, and within ``PUBLISH_IDEMPOTENCY_SECONDS`` (5 minutes) gets the first answer again, marked
``Idempotent-Replayed: true``, with nothing published a second time. Keys are per caller (the token's
role and user), so two services cannot collide, and bound to the request: the same key with another
type, room or payload is 409 ``CONFLICT``, as on ``POST /api/notifications``.

Only a 202 is remembered. A request that failed (400, or 503 because the broker was down) leaves nothing
behind, so its retry is judged, and published, afresh. While the first request with a key is still
running, a second one is 409 ``CONFLICT`` with ``Retry-After: 1`` (it must not publish, and it cannot
know the answer yet).

With Redis (``REDIS_URL``) the keys live in the broker's Redis, so a retry that reaches another process
or machine is recognised too: ``SET NX`` claims a key for its first request, atomically across
processes. Without Redis they live in this process, at most ``PUBLISH_IDEMPOTENCY_MAX_KEYS`` of them
(the oldest forgotten first).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from actors import Settings
from actors.errors import Conflict, Unavailable

IN_PROGRESS_RETRY_AFTER = 1


@dataclass(frozen=True, slots=True)
class Remembered:
    """The answer a retry gets: the first request's status and body."""

    status: int
    body: dict[str, Any]


class KeyInUse(Conflict):
    """The key's first request is still running: retry shortly (``Retry-After``)."""


def fingerprint(type_: Any, room: Any, data: Any) -> str:
    """Same event, same fingerprint; key order inside ``data`` does not matter."""
    canonical = json.dumps([type_, room, data], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class PublishKeys(Protocol):
    """Where the keys of publishes are kept: this process, or the broker's Redis."""

    def begin(self, scope: str, key: str, print_: str) -> Remembered | None:
        """Claim ``key`` for a first request (None), or the remembered answer; Conflict/KeyInUse otherwise."""

    def finish(self, scope: str, key: str, print_: str, answer: Remembered) -> None:
        """Remember the answer of the request that claimed the key."""

    def abandon(self, scope: str, key: str) -> None:
        """The claiming request failed: forget the key, so a retry publishes."""


def _check(stored_print: str, print_: str, pending: bool) -> None:
    if stored_print != print_:
        raise Conflict("this Idempotency-Key was used for a different request (type, room or data)")
    if pending:
        raise KeyInUse("a request with this Idempotency-Key is still running; retry shortly")


class MemoryKeys:
    """Keys in this process, each for ``window`` seconds, ``max_keys`` at most (the oldest go first)."""

    def __init__(self, window: float, max_keys: int) -> None:
        self.window = window
        self.max_keys = max_keys
        self._keys: OrderedDict[tuple[str, str], tuple[float, str, Remembered | None]] = OrderedDict()

    def _expire(self, now: float) -> None:
        while self._keys:
            first = next(iter(self._keys.values()))
            if first[0] > now and len(self._keys) < self.max_keys:
                return
            self._keys.popitem(last=False)

    def begin(self, scope: str, key: str, print_: str) -> Remembered | None:
        now = time.monotonic()
        self._expire(now)
        held = self._keys.get((scope, key))
        if held is not None and held[0] > now:
            _check(held[1], print_, held[2] is None)
            return held[2]
        self._keys[(scope, key)] = (now + self.window, print_, None)
        return None

    def finish(self, scope: str, key: str, print_: str, answer: Remembered) -> None:
        self._keys[(scope, key)] = (time.monotonic() + self.window, print_, answer)

    def abandon(self, scope: str, key: str) -> None:
        self._keys.pop((scope, key), None)

    def __len__(self) -> int:
        return len(self._keys)


class RedisKeys:
    """Keys in Redis (``{prefix}idem:<sha256>``), shared by every process on that Redis."""

    def __init__(self, client: Any, prefix: str, window: float, errors: tuple[type[Exception], ...]) -> None:
        self._client = client
        self._prefix = f"{prefix}idem:"
        self._window_ms = max(1, int(window * 1000))
        self._errors = errors

    def _name(self, scope: str, key: str) -> str:
        return self._prefix + hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()

    def begin(self, scope: str, key: str, print_: str) -> Remembered | None:
        name = self._name(scope, key)
        claim = json.dumps({"fp": print_})
        try:
            if self._client.set(name, claim, nx=True, px=self._window_ms):
                return None
            raw = self._client.get(name)
        except self._errors as exc:
            raise Unavailable(f"the idempotency store (Redis) is unavailable: {exc}; nothing was published") from None
        if raw is None:  # expired between the two calls: claim it again
            return self.begin(scope, key, print_)
        stored = json.loads(raw)
        _check(stored["fp"], print_, "status" not in stored)
        return Remembered(int(stored["status"]), stored["body"])

    def finish(self, scope: str, key: str, print_: str, answer: Remembered) -> None:
        value = json.dumps({"fp": print_, "status": answer.status, "body": answer.body})
        try:
            self._client.set(self._name(scope, key), value, px=self._window_ms)
        except self._errors:
            pass  # published already: the answer stands; a retry will find the claim and hear 409 until it expires

    def abandon(self, scope: str, key: str) -> None:
        try:
            self._client.delete(self._name(scope, key))
        except self._errors:
            pass  # the claim expires with the window


def open_publish_keys(settings: Settings, broker: Any) -> PublishKeys:
    """The broker's Redis when there is one (every process sees every key), else this process's memory."""
    client = getattr(broker, "client", None)
    if client is not None:
        import redis

        return RedisKeys(client, settings.redis_prefix, settings.publish_idempotency_seconds,
                         (redis.RedisError, OSError))
    return MemoryKeys(settings.publish_idempotency_seconds, settings.publish_idempotency_max_keys)
