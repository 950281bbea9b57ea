"""The notification center's storage: tables, queries, creating with Idempotency-Key, and the repository.

``tables`` holds the schema (importing this package registers its migration), ``queries`` the
reads, marks, deletes, counts and retention, ``creating`` and ``idempotency`` the batched create,
``wire`` the rows' JSON form, and ``StoredNotifications`` is what the NotificationService is given:
the ``NotificationRepository`` over a ``Store``. Domain values (requests, outcomes, pages) are the
actors' (``actors.notifications.outcomes``); nothing here picks an HTTP status.
"""

from __future__ import annotations

from . import deliveries  # noqa: F401  (registers its migration)
from .creating import create_batch
from .queries import (
    delete_for,
    get_preferences,
    list_for,
    load_preferences,
    mark_all_read,
    mark_read,
    purge_step,
    put_preferences,
    unread_counts,
    unread_parts,
)
from .repository import StoredNotifications
from .tables import MODELS, IdempotencyKey, Notification, Preference, Receipt

__all__ = [
    "MODELS", "IdempotencyKey", "Notification", "Preference", "Receipt", "StoredNotifications", "create_batch",
    "delete_for", "get_preferences", "list_for", "load_preferences", "mark_all_read", "mark_read", "purge_step",
    "put_preferences", "unread_counts", "unread_parts",
]
