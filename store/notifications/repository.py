"""``NotificationRepository`` over a ``Store``: the notification center's storage as the service sees it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from actors.deliveries.repository import Ack
from actors.notifications.outcomes import (
    CreateOutcome,
    CreateRequest,
    MarkedAllRead,
    MarkedRead,
    NotificationPage,
    PurgeCounts,
    UnreadParts,
)
from actors.notifications.rules import Preferences

from ..database import Store
from . import deliveries, queries
from .creating import create_batch


class StoredNotifications:
    """Implements ``actors.notifications.repository.NotificationRepository``: each call is one ``Store.run``.

    So every method is one transaction on the store's worker thread, and the calling greenlet waits
    while the event loop goes on serving sockets. The reads and writes of one user look up the user's
    hidden types in the same transaction, so a preferences change is never half seen.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def pipeline_depth(self) -> int:
        # SQLite: one writer thread, so a second batch waits in its queue and the database is never idle
        # while the loop pushes the first one's notifications. PostgreSQL: batches stay in commit order.
        return 2 if self.store.is_sqlite else 1

    def create_batch(self, requests: Sequence[CreateRequest], connected: Mapping[str, str], roles: Sequence[str],
                     cutoff: dt.datetime, idempotency_cutoff: dt.datetime) -> tuple[list[CreateOutcome], UnreadParts]:
        return self.store.run(create_batch, requests, connected, roles, cutoff, idempotency_cutoff)

    def list_page(self, user_id: str, role: str, cutoff: dt.datetime, unread_only: bool, limit: int,
                  before: int | None) -> NotificationPage:
        def work() -> NotificationPage:
            hidden = queries.get_preferences(user_id).hidden_types()
            return queries.list_for(user_id, role, hidden, cutoff, unread_only, limit, before)

        return self.store.run(work)

    def mark_read(self, notification_id: int, user_id: str, role: str, cutoff: dt.datetime,
                  read: bool) -> MarkedRead:
        def work() -> MarkedRead:
            hidden = queries.get_preferences(user_id).hidden_types()
            return queries.mark_read(notification_id, user_id, role, hidden, cutoff, read)

        return self.store.run(work)

    def delete(self, notification_id: int, user_id: str, role: str, cutoff: dt.datetime) -> int:
        def work() -> int:
            hidden = queries.get_preferences(user_id).hidden_types()
            return queries.delete_for(notification_id, user_id, role, hidden, cutoff)

        return self.store.run(work)

    def mark_all_read(self, user_id: str, role: str, cutoff: dt.datetime) -> MarkedAllRead:
        def work() -> MarkedAllRead:
            hidden = queries.get_preferences(user_id).hidden_types()
            return queries.mark_all_read(user_id, role, hidden, cutoff)

        return self.store.run(work)

    def get_preferences(self, user_id: str) -> Preferences:
        return self.store.run(queries.get_preferences, user_id)

    def put_preferences(self, user_id: str, preferences: Preferences) -> Preferences:
        return self.store.run(queries.put_preferences, user_id, preferences)

    def purge_step(self, older_than: dt.datetime, keep_per_recipient: int,
                   idempotency_older_than: dt.datetime) -> PurgeCounts:
        return self.store.run(queries.purge_step, older_than, keep_per_recipient, idempotency_older_than)

    # --- delivery records (actors.deliveries.repository.DeliveryRepository) ------------------------

    def record_acks(self, acks: Sequence[Ack], cutoff: dt.datetime) -> int:
        return self.store.run(deliveries.record_acks, acks, cutoff)

    def list_deliveries(self, notification_id: int, user_id: str, role: str, every_user: bool,
                        cutoff: dt.datetime) -> list[dict[str, Any]]:
        return self.store.run(deliveries.list_deliveries, notification_id, user_id, role, every_user, cutoff)
