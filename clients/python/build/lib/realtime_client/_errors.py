"""The errors the client raises: the server's JSON error, or a failure to reach it after every retry."""

from __future__ import annotations

from typing import Any


class RealtimeClientError(Exception):
    """Base of every error this client raises."""


class ApiError(RealtimeClientError):
    """The server answered with an error: ``{"error": {"code", "message", "fields"?}}`` and an HTTP status."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None,
                 body: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        """For 400s: each bad field by its dotted path (``data.leadId``) and what is wrong with it."""
        self.body = body


class Unavailable(ApiError):
    """503 (or 429) after every retry: the server is shutting down, overloaded or rate-limiting."""


class ConnectionFailed(RealtimeClientError):
    """The server could not be reached (or the connection broke) after every retry."""
