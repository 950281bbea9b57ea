"""``GET /api/rooms/<room>/history``: recovery over REST, authorized like ``SUBSCRIBE``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from actors.errors import BadRequest

from ..auth import current_identity, system

bp = Blueprint("rooms", __name__)


@bp.get("/api/rooms/<path:room>/history")
def history(room: str) -> Any:
    """``?since=<offset>&epoch=<epoch>``: the events after ``since``, all of them, or ``recovered: false``."""
    system().policy.check(current_identity(), room)
    since_text, epoch = request.args.get("since"), request.args.get("epoch")
    since = None
    if since_text is not None:
        if not since_text.isdigit() or len(since_text) > 18:
            raise BadRequest("'since' must be a non-negative integer offset", fields={"since": "integer >= 0"})
        since = int(since_text)
    return jsonify(system().history(room, since, epoch or None))
