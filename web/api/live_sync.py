"""``/api/live-sync``: backend services publish domain events and dashboard statistics.

Every publish is answered with a trace id (``X-Trace-Id``, and ``traceId`` in a 202 body): the caller's
own, when it sent a well-formed ``X-Trace-Id``, else a new one, so a backend's log line and ours can be
matched. ``Idempotency-Key`` makes a retry safe (``idempotency.py``).
"""

from __future__ import annotations

import os
import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from actors.errors import BadRequest, Unavailable
from actors.notifications.rules import parse_idempotency_key

from ..auth import require_role, system
from ..json_body import json_object, json_response
from .idempotency import IN_PROGRESS_RETRY_AFTER, KeyInUse, PublishKeys, Remembered, fingerprint, open_publish_keys

bp = Blueprint("live_sync", __name__)

TRACE_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}\Z")
"""A caller's own trace id we pass on: 8-64 characters of a narrow alphabet (a W3C trace id's 32 hex digits
fit); anything else is replaced, never echoed, since it would go into logs and headers."""


def trace_id() -> str:
    """The caller's well-formed ``X-Trace-Id``, or a new one (32 hex digits, the W3C trace-context size)."""
    given = request.headers.get("X-Trace-Id")
    if given is not None and TRACE_ID.match(given):
        return given
    return os.urandom(16).hex()


def _keys() -> PublishKeys:
    keys: PublishKeys | None = current_app.extensions.get("realtime.publish_keys")
    if keys is None:
        running = system()
        keys = current_app.extensions["realtime.publish_keys"] = open_publish_keys(running.settings, running.broker)
    return keys


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
    """``{"type", "room"?, "data"}`` -> 202 ``{room, epoch, offset, delivered, traceId}`` (see docs/events.md)."""
    try:
        return _publish(g.trace_id)
    except Unavailable as exc:
        return _unavailable(exc)
    except KeyInUse as exc:
        response = jsonify({"error": exc.to_dict()})
        response.status_code = exc.http_status
        response.headers["Retry-After"] = str(IN_PROGRESS_RETRY_AFTER)
        return response


@bp.before_app_request
def _trace() -> None:
    """A publish's trace id, chosen before anything can refuse it (the rate limit runs before the view)."""
    if request.method == "POST" and request.path == "/api/live-sync":
        g.trace_id = trace_id()


@bp.after_app_request
def _trace_header(response: Response) -> Response:
    """``X-Trace-Id`` on every answer to a publish, errors included (401, 400, 413, 429, 503)."""
    trace = g.get("trace_id")
    if trace is not None:
        response.headers["X-Trace-Id"] = trace
    return response


def _published(type_: Any, data: Any, room: Any, trace: str) -> dict[str, Any]:
    answer = system().publish(type_, data, room, trace_id=trace, via="POST /api/live-sync")
    assert answer is not None  # waited for
    return {**answer, "traceId": trace}


def _publish(trace: str) -> Response:
    caller = require_role(*system().settings.publisher_roles)
    key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
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
    if key is None:
        return json_response(_published(type_, data, room, trace), 202)
    keys, scope, print_ = _keys(), f"{caller.role}:{caller.user_id}", fingerprint(type_, room, data)
    first = keys.begin(scope, key, print_)
    if first is not None:
        replay = json_response(first.body, first.status)
        replay.headers["Idempotent-Replayed"] = "true"
        return replay
    try:
        answer = _published(type_, data, room, trace)
    except BaseException:
        keys.abandon(scope, key)
        raise
    keys.finish(scope, key, print_, Remembered(202, answer))
    response = json_response(answer, 202)
    response.headers["Idempotent-Replayed"] = "false"
    return response


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
