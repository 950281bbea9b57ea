"""What both clients share: the requests (as plain values), the answers' types, and reading an answer.

Each call is described by a ``Call`` and carried out by the sync or the asyncio client's own loop of
attempts (``Client._send``, ``AsyncClient._send``); only the waiting differs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypedDict, TypeVar
from urllib.parse import quote

import httpx

from ._errors import ApiError, Unavailable

Id = str | int
Priority = Literal["LOW", "NORMAL", "HIGH", "URGENT"]
Token = str | Callable[[], str]
R = TypeVar("R")

USER_AGENT = "realtime-client-python/0.1.0"


class RoomResult(TypedDict):
    room: str
    epoch: str | None
    offset: int | None
    delivered: int


class Published(RoomResult, total=False):
    """``POST /api/live-sync``'s answer: the (first) room's position; ``rooms`` when the event went to several;
    ``coalesced: True`` (and ``offset: None``) when a superseding update was held for the next window."""

    coalesced: bool
    rooms: list[RoomResult]


@dataclass(frozen=True)
class Call:
    """One REST call: retried as a whole, always with the same ``idempotency_key`` (when it has one)."""

    method: str
    path: str
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    missing_ok_on_retry: bool = False
    """A DELETE whose first try went through answers 404 when retried: that is success, not an error."""


def new_key() -> str:
    """A fresh Idempotency-Key: one per logical call, shared by its retries."""
    return uuid.uuid4().hex


def headers(token: Token, call: Call) -> dict[str, str]:
    value = token() if callable(token) else token
    sent = {"Authorization": f"Bearer {value}", "Accept": "application/json", "User-Agent": USER_AGENT}
    if call.idempotency_key is not None:
        sent["Idempotency-Key"] = call.idempotency_key
    return sent


def answer(response: httpx.Response, call: Call, retried: bool) -> Any:
    """The JSON body of a success (None for 204), else the server's error as an ``ApiError``."""
    if response.status_code == 404 and retried and call.missing_ok_on_retry:
        return None
    if response.is_success:
        return response.json() if response.content else None
    try:
        body = response.json()
        error = body["error"]
        code, message, fields = str(error["code"]), str(error["message"]), error.get("fields")
    except (ValueError, KeyError, TypeError):
        body, code, message, fields = response.text, f"HTTP_{response.status_code}", response.reason_phrase, None
    kind = Unavailable if response.status_code in (429, 503) else ApiError
    raise kind(response.status_code, code, message, fields if isinstance(fields, dict) else None, body)


def room_path(room: str) -> str:
    return quote(room, safe=":")


def publish_call(type_: str, data: dict[str, Any], room: str | None, idempotency_key: str | None) -> Call:
    body: dict[str, Any] = {"type": type_, "data": data}
    if room is not None:
        body["room"] = room
    return Call("POST", "/api/live-sync", body, idempotency_key=idempotency_key or new_key())


def stats_call(figures: dict[str, Any], room: str | None, idempotency_key: str | None) -> Call:
    body: dict[str, Any] = {"stats": dict(figures)}
    if room is not None:
        body["room"] = room
    return Call("POST", "/api/live-sync/stats", body, idempotency_key=idempotency_key or new_key())


def history_call(room: str, since: int | None, epoch: str | None) -> Call:
    params = {}
    if since is not None:
        params["since"] = str(since)
    if epoch is not None:
        params["epoch"] = epoch
    return Call("GET", f"/api/rooms/{room_path(room)}/history", params=params)


class Notifications(Generic[R]):
    """The notification center (``/api/notifications``): ``client.notifications.create(...)`` and the rest.

    ``create`` needs an ADMIN token; the others act for the token's own user.
    """

    def __init__(self, send: Callable[[Call], R]) -> None:
        self._send = send

    def create(self, *, title: str, message: str, type: str, user_id: Id | None = None,
               user_ids: Sequence[Id] | None = None, role: str | None = None, priority: Priority = "NORMAL",
               data: dict[str, Any] | None = None, link: str | None = None,
               idempotency_key: str | None = None) -> R:
        """Create for exactly one of ``user_id``, ``user_ids`` or ``role``; answered after the commit.

        The answer is ``{"notifications": [...], ...}``; a retry (same ``Idempotency-Key``) is answered from
        the first request's record and creates nothing twice.
        """
        body: dict[str, Any] = {"title": title, "message": message, "type": type, "priority": priority}
        if user_id is not None:
            body["userId"] = str(user_id)
        if user_ids is not None:
            body["userIds"] = [str(user) for user in user_ids]
        if role is not None:
            body["role"] = role
        if data is not None:
            body["data"] = data
        if link is not None:
            body["link"] = link
        return self._send(Call("POST", "/api/notifications", body, idempotency_key=idempotency_key or new_key()))

    def list(self, *, unread: bool = False, limit: int = 20, before: str | None = None) -> R:
        """One page, newest first: ``{"notifications", "unreadCount", "nextCursor"}``; pass ``nextCursor``
        as ``before`` for the next page."""
        params = {"limit": str(limit)}
        if unread:
            params["unread"] = "true"
        if before is not None:
            params["before"] = before
        return self._send(Call("GET", "/api/notifications", params=params))

    def mark_read(self, notification_id: Id, read: bool = True) -> R:
        return self._send(Call("PATCH", f"/api/notifications/{notification_id}", {"read": read}))

    def mark_all_read(self) -> R:
        return self._send(Call("POST", "/api/notifications/mark-all-read"))

    def delete(self, notification_id: Id) -> R:
        return self._send(Call("DELETE", f"/api/notifications/{notification_id}", missing_ok_on_retry=True))

    def preferences(self) -> R:
        return self._send(Call("GET", "/api/notifications/preferences"))

    def set_preferences(self, preferences: dict[str, Any]) -> R:
        """Replace the user's preferences: ``{channels, types, minPriority, quietHours}`` (docs/notifications.md)."""
        return self._send(Call("PUT", "/api/notifications/preferences", preferences))
