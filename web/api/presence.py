"""``GET /api/rooms/{room}/presence``: who is viewing a presence room now (docs/presence.md)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..auth import current_identity, system

bp = Blueprint("presence", __name__)


@bp.get("/api/rooms/<path:room>/presence")
def presence(room: str) -> Any:
    """``{room, presence: [user ids]}``, for whoever may join the room; 404 for a room without presence."""
    return jsonify(system().presence_of(current_identity(), room))
