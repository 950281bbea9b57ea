"""Rows in the JSON form the REST API and the pushes show (``NotificationJson``).

Built here, next to the rows, because an idempotent create stores its whole answer and replays it
byte for byte; timestamps are ISO 8601 UTC with milliseconds and a ``Z``.
"""

from __future__ import annotations

import datetime as dt
import json

from actors.notifications.outcomes import NotificationJson
from actors.notifications.rules import Draft

from .tables import Notification


def iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_wire(row: Notification, read_at: dt.datetime | None = None) -> NotificationJson:
    return {
        "id": str(row.id), "userId": row.recipient_user, "role": row.recipient_role, "title": row.title,
        "message": row.message, "type": row.type, "priority": row.priority,
        "data": json.loads(row.data) if row.data is not None else None, "link": row.link,
        "createdAt": iso(row.created_at), "read": read_at is not None, "readAt": iso(read_at),
    }


def new_wire(nid: int, user_id: str | None, role: str | None, draft: Draft,
             created_at: dt.datetime) -> NotificationJson:
    """A row just inserted from ``draft``, without reading it back."""
    return {"id": str(nid), "userId": user_id, "role": role, "title": draft.title, "message": draft.message,
            "type": draft.type, "priority": draft.priority, "data": draft.data, "link": draft.link,
            "createdAt": iso(created_at), "read": False, "readAt": None}


def data_text(draft: Draft) -> str | None:
    """``draft.data`` as the text the ``data`` column holds."""
    return json.dumps(draft.data, ensure_ascii=False, separators=(",", ":")) if draft.data is not None else None
