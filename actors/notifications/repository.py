"""What NotificationService needs from storage, and nothing about how storage does it.

The service is given an implementation at start (the one over SQLite or PostgreSQL), so nothing in
actors/ depends on the storage package; the dependency runs the other way.

Every method blocks only the calling greenlet: the implementation does the database work off the
event loop (on a worker OS thread), because a SQLite call, or an unpatched driver's, would
otherwise stall every socket of the process while it waits on disk or network. Each method is one
transaction. Dates are naive UTC, the form the tables hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Protocol

from ..deliveries.repository import DeliveryRepository
from .outcomes import (
    CreateOutcome,
    CreateRequest,
    MarkedAllRead,
    MarkedRead,
    NotificationPage,
    PurgeCounts,
    UnreadParts,
)
from .rules import Preferences


class NotificationRepository(DeliveryRepository, Protocol):
    """The notification center's storage, as the one NotificationService of a process uses it (and, for the
    delivery records of its notifications, the DeliveryRecorder).

    ``cutoff`` is the retention age limit: older rows are invisible (and uncounted) even before a
    purge removes them. The reads and writes of one user act on what that user sees: their own rows
    and their role's, minus what they deleted and the types their preferences hide. A notification
    the user does not see raises ``NotFound``, exactly like one that does not exist.
    """

    @property
    def pipeline_depth(self) -> int:
        """How many create batches may be committing at once.

        More than one only pays where the database takes the next batch while the loop is busy with
        the previous one's pushes (SQLite's one writer thread queues it); the service never exceeds it.
        """
        ...

    def create_batch(self, requests: Sequence[CreateRequest], connected: Mapping[str, str], roles: Sequence[str],
                     cutoff: dt.datetime, idempotency_cutoff: dt.datetime) -> tuple[list[CreateOutcome], UnreadParts]:
        """Store many create requests in one transaction; one outcome per request, in order.

        ``connected`` maps the users with an open socket to their role: a role notification is pushed
        to those holding the role. A request whose Idempotency-Key was answered after
        ``idempotency_cutoff`` is answered as before (``replayed``), and nothing is stored for it; a
        request that fails alone carries its error and the others still commit. The ``UnreadParts``
        over ``roles`` let the caller finish every recipient's unread count (``assign_counts``) once
        it knows their roles.
        """
        ...

    def list_page(self, user_id: str, role: str, cutoff: dt.datetime, unread_only: bool, limit: int,
                  before: int | None) -> NotificationPage:
        """Up to ``limit`` notifications older than id ``before``, newest first, with the unread count."""
        ...

    def mark_read(self, notification_id: int, user_id: str, role: str, cutoff: dt.datetime,
                  read: bool) -> MarkedRead:
        """Set (``read``) or clear the user's read time of one notification."""
        ...

    def delete(self, notification_id: int, user_id: str, role: str, cutoff: dt.datetime) -> int:
        """Delete the user's own notification, or hide a role notification for this user only; the new unread count."""
        ...

    def mark_all_read(self, user_id: str, role: str, cutoff: dt.datetime) -> MarkedAllRead:
        """Mark every notification the user sees as read."""
        ...

    def get_preferences(self, user_id: str) -> Preferences:
        """The user's saved preferences, or the defaults."""
        ...

    def put_preferences(self, user_id: str, preferences: Preferences) -> Preferences:
        """Replace the user's preferences; returns what was saved."""
        ...

    def purge_step(self, older_than: dt.datetime, keep_per_recipient: int,
                   idempotency_older_than: dt.datetime) -> PurgeCounts:
        """One bounded slice of retention work, so no transaction runs long; repeat until it returns zeros."""
        ...
