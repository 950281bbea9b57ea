"""The one error hierarchy, with its mapping to HTTP statuses and WebSocket error codes.

Every failure a caller can cause is a ``RealtimeError`` subclass carrying its wire code (docs/protocol.md); the
web layer turns it into ``{"error": {...}}`` with ``http_status`` and the connection actor into an
``ERROR`` frame, so the two stay in step by construction.
"""

from __future__ import annotations

from typing import Any


class RealtimeError(Exception):
    """Base of every error the server reports to a caller."""

    code = "INTERNAL"
    http_status = 500

    def __init__(self, message: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return body


class BadRequest(RealtimeError):
    """Not JSON, not an object, missing or wrong-typed fields."""

    code = "BAD_REQUEST"
    http_status = 400


class UnknownType(RealtimeError):
    """A frame or event type the server does not take from this caller."""

    code = "UNKNOWN_TYPE"
    http_status = 400


class InvalidRoom(RealtimeError):
    """A room name outside the known prefixes or with a malformed id."""

    code = "INVALID_ROOM"
    http_status = 400


class Unauthorized(RealtimeError):
    """Missing, malformed, expired or wrongly signed token."""

    code = "UNAUTHORIZED"
    http_status = 401


class Forbidden(RealtimeError):
    """The caller is known but may not do this."""

    code = "FORBIDDEN"
    http_status = 403


class NotFound(RealtimeError):
    """No such thing, or not the caller's (never reveal which)."""

    code = "NOT_FOUND"
    http_status = 404


class Conflict(RealtimeError):
    """The request clashes with the current state."""

    code = "CONFLICT"
    http_status = 409


class PayloadTooLarge(RealtimeError):
    """A body or frame over the configured limit."""

    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class RateLimited(RealtimeError):
    """Too many frames or requests."""

    code = "RATE_LIMITED"
    http_status = 429


class Unavailable(RealtimeError):
    """The server cannot take this now (full, shutting down, an actor did not answer in time)."""

    code = "UNAVAILABLE"
    http_status = 503


class ConfigError(RealtimeError):
    """Settings that would run insecurely or not at all; raised at start-up only."""

    code = "CONFIG"
    http_status = 500


__all__ = [
    "BadRequest", "ConfigError", "Conflict", "Forbidden", "InvalidRoom", "NotFound", "PayloadTooLarge",
    "RateLimited", "RealtimeError", "Unauthorized", "Unavailable", "UnknownType",
]
