"""What the DeliveryRecorder needs from storage: recording ACKs per device, and listing them.

Implemented by ``store/notifications`` (``StoredNotifications``), off the event loop like every other
query; nothing in actors/ depends on the storage package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Ack:
    """One ACK: ``user_id`` (with ``role``) says that ``device`` got ``ids`` at ``at`` (naive UTC), and showed them
    when ``seen``."""

    user_id: str
    role: str
    device: str
    ids: tuple[int, ...]
    seen: bool
    at: dt.datetime


class DeliveryRepository(Protocol):
    """Per-device delivery records of notifications."""

    def record_acks(self, acks: Sequence[Ack], cutoff: dt.datetime) -> int:
        """Store the ACKs in one transaction: a device's first ACK of a notification is its delivery, the first
        with ``seen`` its seen time; later ones change nothing. Only notifications the user sees (their own,
        their role's, younger than ``cutoff``) are recorded; the others are skipped. Returns the rows written."""
        ...

    def list_deliveries(self, notification_id: int, user_id: str, role: str, every_user: bool,
                        cutoff: dt.datetime) -> list[dict[str, Any]]:
        """The notification's records, oldest delivery first: every user's (``every_user``, ADMIN) or only
        ``user_id``'s devices. Raises ``NotFound`` when the notification does not exist, or (not
        ``every_user``) the user does not see it."""
        ...
