"""What the notification center's storage takes and gives back, as plain values of the actors' side.

Storage builds and returns these; the service, the web layer and the tests read them. They live
here, beside the service, because dependencies point one way: the storage package may know the
service's vocabulary, never the reverse.

Nothing here says how an answer is sent over HTTP: a ``CreateOutcome`` says whether notifications
were created and which domain error a request met, and the web layer picks the status from that.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypedDict

from ..errors import RealtimeError
from .rules import Draft, Preferences


class NotificationJson(TypedDict):
    """One notification as the REST API and the NOTIFICATION push show it."""

    id: str
    userId: str | None
    role: str | None
    title: str
    message: str
    type: str
    priority: str
    data: dict[str, Any] | None
    link: str | None
    createdAt: str | None
    read: bool
    readAt: str | None


class Skipped(TypedDict):
    """A named recipient who got nothing, and why (their preferences switched the type or the channel off)."""

    userId: str
    reason: str


class CreatedBody(TypedDict):
    """The answer to one create request: what was stored and who was skipped."""

    notifications: list[NotificationJson]
    skipped: list[Skipped]


class NotificationPage(TypedDict):
    """One page of a user's notifications, newest first; ``nextCursor`` is the ``before`` of the next page."""

    notifications: list[NotificationJson]
    unreadCount: int
    nextCursor: str | None


class PurgeCounts(TypedDict):
    """Rows one retention step removed, per reason; all zero when retention is done."""

    aged: int
    surplus: int
    idempotencyKeys: int


class MarkedRead(NamedTuple):
    """A notification after setting or clearing its read time; ``changed`` is False when it already was so."""

    notification: NotificationJson
    changed: bool
    unread_count: int


class MarkedAllRead(NamedTuple):
    """The ids that became read (newest first) and the unread count after."""

    ids: list[int]
    unread_count: int


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """One ``POST /api/notifications`` as storage sees it: who asks, what, and the Idempotency-Key if any."""

    caller: str
    draft: Draft
    key: str | None = None


@dataclass(slots=True)
class Recipient:
    """A user to push a freshly stored notification to, with what the push needs to say."""

    user_id: str
    notification: NotificationJson
    preferences: Preferences
    unread_count: int = 0


@dataclass(slots=True)
class CreateOutcome:
    """The answer to one create request, and the pushes it owes once the batch has committed.

    ``created`` is True when the request stored at least one notification (for a replay: when the
    original did), False when every recipient was skipped. ``error`` is set instead when the request
    failed on its own (a key reused for another body, a key held by a request in flight, a database
    error in its savepoint); the rest of the batch is unaffected.
    """

    created: bool
    body: CreatedBody
    replayed: bool = False
    recipients: list[Recipient] = field(default_factory=list)
    error: RealtimeError | None = None

    @classmethod
    def failed(cls, error: RealtimeError) -> CreateOutcome:
        return cls(False, {"notifications": [], "skipped": []}, error=error)


def _counter() -> defaultdict[Any, int]:
    return defaultdict(int)


@dataclass(slots=True)
class UnreadParts:
    """What unread counts are made of, per type, before the users' roles are applied.

    unread = own unread rows + the role's rows - the role's rows this user has read or deleted,
    each summed over the types the user has not hidden. Kept apart from the roles so storage can
    count before the service knows every recipient's role (the hub answers after the commit).
    """

    own: defaultdict[tuple[str, str], int] = field(default_factory=_counter)
    role_total: defaultdict[tuple[str, str], int] = field(default_factory=_counter)
    seen: defaultdict[tuple[str, str, str], int] = field(default_factory=_counter)

    def count(self, user_id: str, role: str | None, hidden: frozenset[str] | None) -> int:
        if hidden is None:
            return 0
        total = sum(n for (uid, t), n in self.own.items() if uid == user_id and t not in hidden)
        if role:
            total += sum(n for (r, t), n in self.role_total.items() if r == role and t not in hidden)
            total -= sum(n for (uid, r, t), n in self.seen.items() if uid == user_id and r == role and t not in hidden)
        return total


def assign_counts(outcomes: Sequence[CreateOutcome], parts: UnreadParts, role_of: Mapping[str, str]) -> None:
    """Set each recipient's unreadCount, as of its own notification: a user's later rows in the batch are not in it.

    ``role_of`` gives the role of the users known to hold one; for the others only their own rows count.
    """
    recipients = [r for o in outcomes if o.error is None and not o.replayed for r in o.recipients]
    totals = {r.user_id: parts.count(r.user_id, role_of.get(r.user_id), r.preferences.hidden_types())
              for r in recipients}
    later: dict[str, int] = defaultdict(int)
    for recipient in reversed(recipients):
        recipient.unread_count = max(0, totals[recipient.user_id] - later[recipient.user_id])
        later[recipient.user_id] += 1
