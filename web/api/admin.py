"""``/api/admin/...``: what the admin page shows and does, for ADMIN tokens, without ``--debug``.

Reading: this node (version, host, uptime; the cluster's nodes with a shared broker), samples of the
counters for the graphs, a paginated and searchable browser of connections, users and rooms, one room's
members and recent history, and the recent administrator actions. Doing: publish a test event to a
room, disconnect a connection; each is logged with who did it (``ActorSystem.record_admin_action``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from actors.errors import BadRequest, NotFound

from ..auth import require_role, system
from ..json_body import json_object

bp = Blueprint("admin", __name__)

DEFAULT_PAGE = 50
MAX_QUERY = 100
TEST_EVENT = {"level": "info", "title": "Test event", "message": "Sent from the admin page"}


def _page_args() -> tuple[str, int, int]:
    fields: dict[str, str] = {}
    query = request.args.get("q", "").strip()
    if len(query) > MAX_QUERY:
        fields["q"] = f"at most {MAX_QUERY} characters"
    offset_text, limit_text = request.args.get("offset", "0"), request.args.get("limit", str(DEFAULT_PAGE))
    offset = int(offset_text) if offset_text.isdigit() and len(offset_text) < 10 else -1
    limit = int(limit_text) if limit_text.isdigit() and len(limit_text) < 4 else 0
    if offset < 0:
        fields["offset"] = "must be a whole number >= 0"
    most = system().settings.admin_page_max
    if not 1 <= limit <= most:
        fields["limit"] = f"must be a whole number from 1 to {most}"
    if fields:
        raise BadRequest("invalid query", fields=fields)
    return query, offset, limit


@bp.get("/api/admin/node")
def node() -> Any:
    require_role("ADMIN")
    return jsonify(system().node_info())


@bp.get("/api/admin/series")
def series() -> Any:
    require_role("ADMIN")
    return jsonify(system().admin_series())


@bp.get("/api/admin/actions")
def actions() -> Any:
    require_role("ADMIN")
    return jsonify({"actions": list(reversed(system().admin_actions))})


@bp.get("/api/admin/<any(connections, users, rooms):what>")
def browse(what: str) -> Any:
    """``?q=&offset=&limit=``: one page, with ``total`` for the pager."""
    require_role("ADMIN")
    query, offset, limit = _page_args()
    return jsonify(system().browse(what, query, offset, limit))


@bp.get("/api/admin/rooms/<path:room>")
def room(room: str) -> Any:
    require_role("ADMIN")
    return jsonify(system().room_view(room))


@bp.post("/api/admin/rooms/<path:room>/publish")
def publish(room: str) -> Any:
    """``{"type"?, "data"?}``: a test event to the room (a SYSTEM_ALERT saying so, unless told otherwise)."""
    who = require_role("ADMIN")
    body = json_object() if request.get_data(cache=True) else {}
    type_, data = body.get("type", "SYSTEM_ALERT"), body.get("data", TEST_EVENT if "type" not in body else {})
    if not isinstance(type_, str) or not isinstance(data, dict):
        raise BadRequest("expected {\"type\"?: string, \"data\"?: object}",
                         fields={"type" if not isinstance(type_, str) else "data": "wrong type"})
    return jsonify(system().admin_publish(who, type_, data, room)), 202


@bp.post("/api/admin/connections/<connection_id>/disconnect")
def disconnect(connection_id: str) -> Any:
    who = require_role("ADMIN")
    if not system().disconnect(who, connection_id):
        raise NotFound(f"no open connection {connection_id[:64]!r} on this node")
    return jsonify({"disconnected": connection_id})
