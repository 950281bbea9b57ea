"""``/api/live-sync``: backend services publish domain events and dashboard statistics."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from actors.errors import BadRequest, Unavailable

from ..auth import require_role, system
from ..json_body import json_object, json_response

bp = Blueprint("live_sync", __name__)


def _publisher() -> None:
    require_role(*system().settings.publisher_roles)


def _unavailable(exc: Unavailable) -> Any:
    """503 with ``Retry-After``: the event was not stored (the broker is down, or the server is stopping).

    Never a 202 for an event that was not stored, and nothing is buffered: the caller retries.
    """
    response = jsonify({"error": exc.to_dict()})
    response.status_code = exc.http_status
    response.headers["Retry-After"] = str(system().settings.retry_after)
    return response


@bp.post("/api/live-sync")
def publish() -> Any:
    """``{"type", "room"?, "data"}`` -> 202 ``{room, epoch, offset, delivered}`` (see docs/events.md)."""
    _publisher()
    body = json_object()
    type_, room, data = body.get("type"), body.get("room"), body.get("data", {})
    fields = {}
    if not isinstance(type_, str):
        fields["type"] = "required string"
    if room is not None and not isinstance(room, str):
        fields["room"] = "must be a string"
    if not isinstance(data, dict):
        fields["data"] = "must be an object"
    if fields:
        raise BadRequest("invalid event", fields=fields)
    try:
        return json_response(system().publish(type_, data, room), 202)
    except Unavailable as exc:
        return _unavailable(exc)


@bp.get("/api/live-sync")
def status() -> Any:
    require_role("ADMIN")
    return jsonify(system().sync_status())


@bp.post("/api/live-sync/stats")
def stats() -> Any:
    """``{"stats": {...}, "room"?}`` merges and pushes figures; ``{"recompute": true}`` asks the provider."""
    _publisher()
    body = json_object()
    if body.get("recompute") is True:
        return jsonify(system().recompute_stats()), 200
    figures, room = body.get("stats"), body.get("room")
    if not isinstance(figures, dict) or (room is not None and not isinstance(room, str)):
        raise BadRequest("expected {\"stats\": {...}} (and optionally \"room\") or {\"recompute\": true}",
                         fields={"stats": "must be an object"} if not isinstance(figures, dict)
                         else {"room": "must be a string"})
    try:
        return jsonify(system().push_stats(figures, room)), 202
    except Unavailable as exc:
        return _unavailable(exc)
