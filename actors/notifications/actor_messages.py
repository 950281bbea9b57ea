"""Messages the NotificationService takes from ActorSystem and from its own flush greenlets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:

    from ..identity import Identity
    from ..runtime.reply import Reply
    from .rules import Draft, Preferences


@dataclass(frozen=True, slots=True)
class CreateNotifications:
    """Store one create request (batched with the others queued now); ``reply`` gets the answer after commit."""

    caller: str
    draft: Draft
    idempotency_key: str | None
    reply: Reply


@dataclass(frozen=True, slots=True)
class FlushCreates:
    """The service's own cue to commit every create queued so far in one transaction."""


@dataclass(frozen=True, slots=True)
class ListNotifications:
    """One page of the caller's notifications, newest first, with the unread count."""

    identity: Identity
    unread_only: bool
    limit: int
    before: int | None


@dataclass(frozen=True, slots=True)
class MarkNotificationRead:
    """Set (or with ``read=False`` clear) the caller's read time of one notification."""

    identity: Identity
    notification_id: int
    read: bool


@dataclass(frozen=True, slots=True)
class DeleteNotification:
    """Remove one notification from the caller's center (a role notification for the caller only)."""

    identity: Identity
    notification_id: int


@dataclass(frozen=True, slots=True)
class MarkAllNotificationsRead:
    """Mark every notification the caller sees as read."""

    identity: Identity


@dataclass(frozen=True, slots=True)
class GetNotificationPreferences:
    """The caller's preferences, defaults included."""

    identity: Identity


@dataclass(frozen=True, slots=True)
class PutNotificationPreferences:
    """Replace the caller's preferences with a validated ``notification_rules.Preferences``."""

    identity: Identity
    preferences: Preferences


@dataclass(frozen=True, slots=True)
class PurgeNotifications:
    """One retention step (age, count per recipient, expired idempotency keys); ``follow_up`` repeats until done."""

    follow_up: bool = False


@dataclass(frozen=True, slots=True)
class CreatesStored:
    """Flush greenlet ``batch`` finished (committed, answered, pushed); ``connected`` is who the hub named."""

    batch: int
    connected: dict[str, str]

