"""``GET``/``POST``/``DELETE /api/rooms/{room}/claim``: who is handling a lead or a contact (docs/presence.md).

The same claims as the WebSocket's CLAIM and RELEASE, with the same rules; the room hears of every
change (CLAIMED, RELEASED) whichever way it came.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from actors.presence.wire import parse_force, parse_ttl

from ..auth import current_identity, system
from ..json_body import json_object

bp = Blueprint("claims", __name__)


@bp.get("/api/rooms/<path:room>/claim")
def get_claim(room: str) -> Any:
    """``{room, claim}``: ``claim`` is ``{by, role, since, until}``, or null when nobody holds the room."""
    return jsonify(system().claim_of(current_identity(), room))


@bp.post("/api/rooms/<path:room>/claim")
def take_claim(room: str) -> Any:
    """Body (optional): ``{"ttl": seconds, "force": true}`` (``force``: ADMIN takes over). 200 ``{room, claim}``;
    409 CONFLICT naming the holder."""
    identity = current_identity()
    body = json_object() if request.content_length or request.headers.get("Transfer-Encoding") else {}
    settings = system().settings
    return jsonify(system().take_claim(identity, room, parse_ttl(body.get("ttl"), settings.claim_ttl),
                                       parse_force(body.get("force"))))


@bp.delete("/api/rooms/<path:room>/claim")
def release_claim(room: str) -> Any:
    """The holder (or ADMIN) ends the claim: 200 ``{room, claim: null}``, also when nobody held it; 409 for
    someone else's."""
    return jsonify(system().release_claim(current_identity(), room))
