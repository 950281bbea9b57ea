"""``POST /api/live-sync``: backend services publish a domain event to a room."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from actors.errors import BadRequest

from .auth import require_role, system
from .json_body import json_object

bp = Blueprint("live_sync", __name__)


@bp.post("/api/live-sync")
def publish() -> Any:
    require_role(*system().settings.publisher_roles)
    body = json_object()
    room, type_, data = body.get("room"), body.get("type"), body.get("data", {})
    fields = {}
    if not isinstance(type_, str):
        fields["type"] = "required string"
    if not isinstance(room, str):
        fields["room"] = "required string"
    if not isinstance(data, dict):
        fields["data"] = "must be an object"
    if fields or not isinstance(room, str) or not isinstance(type_, str):
        raise BadRequest("invalid event", fields=fields)
    return jsonify(system().publish(room, type_, data)), 202
