"""Delivery records: per notification, user and device, when the device got it and when it showed it.

Written from the clients' ACKs (``actors/deliveries``), read by ``GET /api/notifications/{id}/deliveries``.
A device's first ACK of a notification is its delivery and the first one with ``seen`` its seen time;
later ACKs change nothing (an upsert that only fills what is empty), so a client may acknowledge again
after every reconnect. Rows go with their notification (ON DELETE CASCADE; retention deletes them too).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import peewee

from actors.deliveries.repository import Ack
from actors.errors import NotFound

from ..database import BaseModel
from ..migrations import register
from .sql import chunks, tuples
from .tables import Notification
from .wire import iso


class Delivery(BaseModel):
    """One device's delivery of one notification to one user."""

    notification = peewee.ForeignKeyField(Notification, on_delete="CASCADE", column_name="notification_id")
    user_id = peewee.CharField(max_length=64)
    device = peewee.CharField(max_length=64)
    delivered_at = peewee.DateTimeField()
    seen_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "notification_delivery"
        primary_key = peewee.CompositeKey("notification", "user_id", "device")


@register(2, "notification deliveries")
def _create_deliveries(db: peewee.Database) -> None:
    db.create_tables([Delivery], safe=True)


def record_acks(acks: Sequence[Ack], cutoff: dt.datetime) -> int:
    """Store a batch of ACKs (inside ``Store.run``): only for notifications each user receives, younger than
    ``cutoff``; returns the rows written (inserted or given their seen time)."""
    by_user: dict[tuple[str, str], list[Ack]] = defaultdict(list)
    for ack in acks:
        by_user[(ack.user_id, ack.role)].append(ack)
    written = 0
    for (user_id, role), group in by_user.items():
        wanted = sorted({nid for ack in group for nid in ack.ids})
        visible: set[int] = set()
        for chunk in chunks(wanted):
            visible.update(nid for (nid,) in tuples(
                Notification.select(Notification.id).where(
                    Notification.id.in_(list(chunk))
                    & ((Notification.recipient_user == user_id) | (Notification.recipient_role == role))
                    & (Notification.created_at >= cutoff))))
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        for ack in group:  # a batch may hold several ACKs of one device: the first times win
            for nid in ack.ids:
                if nid not in visible:
                    continue
                row = rows.setdefault((nid, ack.device), {"notification": nid, "user_id": user_id,
                                                          "device": ack.device, "delivered_at": ack.at,
                                                          "seen_at": None})
                if ack.seen and row["seen_at"] is None:
                    row["seen_at"] = ack.at
        values = sorted(rows.values(), key=lambda row: (row["notification"], row["device"]))
        for start in range(0, len(values), 200):
            written += int(Delivery.insert_many(values[start:start + 200]).on_conflict(
                conflict_target=[Delivery.notification, Delivery.user_id, Delivery.device],
                update={Delivery.seen_at: peewee.fn.COALESCE(Delivery.seen_at, peewee.EXCLUDED.seen_at)},
            ).as_rowcount().execute() or 0)
    return written


def list_deliveries(notification_id: int, user_id: str, role: str, every_user: bool,
                    cutoff: dt.datetime) -> list[dict[str, Any]]:
    """The notification's records, oldest delivery first (see ``DeliveryRepository.list_deliveries``)."""
    row = Notification.get_or_none(Notification.id == notification_id)
    if row is None or row.created_at < cutoff or not (
            every_user or row.recipient_user == user_id or row.recipient_role == role):
        raise NotFound(f"no notification {notification_id}")
    query = Delivery.select().where(Delivery.notification == notification_id)
    if not every_user:
        query = query.where(Delivery.user_id == user_id)
    return [{"userId": found.user_id, "device": found.device, "deliveredAt": iso(found.delivered_at),
             "seenAt": iso(found.seen_at)}
            for found in query.order_by(Delivery.delivered_at, Delivery.user_id, Delivery.device)]
