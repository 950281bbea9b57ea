"""DeliveryRecorder: which device got and showed which notification, from the clients' ACKs.

One per process with a database. ACKs arrive one frame at a time from every socket (realtime.js
acknowledges each notification it receives, and the ones it shows); they queue in the mailbox and are
stored together, one transaction for whatever queued while the previous one was being written, on the
store's worker thread like every other query. An ACK has no answer: the client goes on whatever
happens to it, so a failed write is logged and counted, never sent back.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from ..errors import RealtimeError
from ..runtime.actor import TracedActor
from ..runtime.context import ActorContext
from ..runtime.reply import Failure
from .actor_messages import FlushAcks, ListDeliveries, RecordAck
from .repository import Ack, DeliveryRepository

log = logging.getLogger("realtime.deliveries")

ADMIN = "ADMIN"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class DeliveryRecorder(TracedActor):
    """One per process with a database: stores ACKs in batches and lists a notification's deliveries."""

    kind = "deliveries"

    def __init__(self, ctx: ActorContext, repository: DeliveryRepository) -> None:
        super().__init__(ctx, "deliveries")
        self._repository = repository
        self._pending: list[Ack] = []
        self._queued = False
        self.acks = 0
        self.written = 0
        self.failed = 0

    def handle(self, message: Any) -> Any:
        if isinstance(message, RecordAck):
            identity = message.identity
            self._pending.append(Ack(identity.user_id, identity.role, message.device, message.ids, message.seen,
                                     _utc_now()))
            self.acks += 1
            if not self._queued:
                self._queued = True
                self.actor_ref.tell(FlushAcks())
            return None
        if isinstance(message, FlushAcks):
            self._queued = False
            self._flush()
            return None
        if isinstance(message, ListDeliveries):
            identity = message.identity
            try:
                return self._repository.list_deliveries(message.notification_id, identity.user_id, identity.role,
                                                        identity.role == ADMIN, self._cutoff())
            except RealtimeError as exc:  # 404: answered, not logged as a failure
                return Failure(exc)
        return super().handle(message)

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            self.written += self._repository.record_acks(batch, self._cutoff())
        except Exception:  # noqa: BLE001 (an ACK has no answer: logged and counted)
            self.failed += len(batch)
            log.exception("storing %d ACKs failed", len(batch))

    def _cutoff(self) -> dt.datetime:
        return _utc_now() - dt.timedelta(days=self.ctx.settings.notification_max_age_days)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "acks": self.acks, "written": self.written, "failed": self.failed,
                "pending": len(self._pending)}
