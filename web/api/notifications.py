"""``/api/notifications``: the notification center over REST (docs/protocol.md, REST API).

Every request is validated completely here before anything is queued, so a refused request changes
nothing; the work itself happens in the NotificationService actor through ``ActorSystem``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from actors.errors import BadRequest, NotFound
from actors.notifications.outcomes import CreateOutcome
from actors.notifications.rules import parse_draft, parse_idempotency_key, parse_preferences

from ..auth import current_identity, require_role, system
from ..json_body import json_object

bp = Blueprint("notifications", __name__)

DEFAULT_PAGE = 20
MAX_PAGE = 100
_ID = re.compile(r"[1-9][0-9]{0,17}\Z")


@bp.get("/api/notifications")
def list_notifications() -> Any:
    identity = current_identity()
    fields: dict[str, str] = {}
    unread = request.args.get("unread", "false").lower()
    if unread not in ("true", "false", "1", "0"):
        fields["unread"] = "must be true or false"
    limit_text = request.args.get("limit", str(DEFAULT_PAGE))
    limit = int(limit_text) if limit_text.isdigit() else 0
    if not 1 <= limit <= MAX_PAGE:
        fields["limit"] = f"must be a whole number from 1 to {MAX_PAGE}"
    before_text = request.args.get("before")
    if before_text is not None and not _ID.match(before_text):
        fields["before"] = "must be the nextCursor of a previous page"
    if fields:
        raise BadRequest("invalid query", fields=fields)
    before = int(before_text) if before_text is not None else None
    return jsonify(system().list_notifications(identity, unread in ("true", "1"), limit, before))


@bp.post("/api/notifications")
def create() -> Any:
    caller = require_role("ADMIN")
    key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    draft = parse_draft(json_object(), system().settings.roles)
    outcome = system().create_notifications(caller, draft, key)
    response = jsonify(outcome.body)
    response.status_code = http_status(outcome)
    if key is not None:
        response.headers["Idempotent-Replayed"] = "true" if outcome.replayed else "false"
    return response


@bp.post("/api/notifications/mark-all-read")
def mark_all_read() -> Any:
    return jsonify(system().mark_all_notifications_read(current_identity()))


@bp.get("/api/notifications/preferences")
def get_preferences() -> Any:
    return jsonify(system().notification_preferences(current_identity()))


@bp.put("/api/notifications/preferences")
def put_preferences() -> Any:
    identity = current_identity()
    preferences = parse_preferences(json_object())
    return jsonify(system().set_notification_preferences(identity, preferences))


@bp.patch("/api/notifications/<notification_id>")
def patch(notification_id: str) -> Any:
    identity = current_identity()
    number = _notification_id(notification_id)
    body = json_object()
    read = body.get("read")
    if not isinstance(read, bool):
        raise BadRequest("invalid update", fields={"read": "required: true or false"})
    return jsonify(system().mark_notification_read(identity, number, read))


@bp.delete("/api/notifications/<notification_id>")
def delete(notification_id: str) -> Any:
    identity = current_identity()
    system().delete_notification(identity, _notification_id(notification_id))
    return Response(status=204)


def http_status(outcome: CreateOutcome) -> int:
    """201 when the request created notifications (for a replay: when the original did), 200 when every
    recipient was skipped; a request that failed on its own answers with its error's status."""
    if outcome.error is not None:
        return outcome.error.http_status
    return 201 if outcome.created else 200


def _notification_id(text: str) -> int:
    """Anything that is not an id of ours is simply not found, like someone else's notification."""
    if not _ID.match(text):
        raise NotFound(f"no notification {text[:40]!r}")
    return int(text)
