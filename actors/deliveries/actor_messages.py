"""Messages the DeliveryRecorder takes from connections (ACK), from ActorSystem and from itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..identity import Identity


@dataclass(frozen=True, slots=True)
class RecordAck:
    """A socket's ACK: ``device`` got (and with ``seen`` showed) the notifications ``ids``."""

    identity: Identity
    ids: tuple[int, ...]
    device: str
    seen: bool


@dataclass(frozen=True, slots=True)
class FlushAcks:
    """The recorder's own cue: store every ACK queued so far in one transaction."""


@dataclass(frozen=True, slots=True)
class ListDeliveries:
    """``GET /api/notifications/{id}/deliveries``: every device's record (ADMIN), or the caller's own."""

    identity: Identity
    notification_id: int
