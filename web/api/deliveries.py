"""``GET /api/notifications/{id}/deliveries``: which device got and showed a notification, and when.

ADMIN sees every recipient's devices; a recipient sees their own (a role notification's other holders
stay private). Recorded from the clients' ACKs (docs/presence.md, delivery records).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify

from actors.errors import NotFound

from ..auth import current_identity, system

bp = Blueprint("deliveries", __name__)

_ID = re.compile(r"[1-9][0-9]{0,17}\Z")


@bp.get("/api/notifications/<notification_id>/deliveries")
def deliveries(notification_id: str) -> Any:
    """``{notification, deliveries: [{userId, device, deliveredAt, seenAt}]}``, oldest delivery first."""
    identity = current_identity()
    if not _ID.match(notification_id):
        raise NotFound(f"no notification {notification_id[:40]!r}")
    return jsonify(system().deliveries_of(identity, int(notification_id)))
