"""NotificationService: the notification center's one actor. Commits first, then pushes through the hub.

All database work goes through the ``NotificationRepository`` it is given at start, which does it off
the event loop (the store's implementation on a worker OS thread), so while SQLite or PostgreSQL works
the gevent loop keeps serving sockets: a SQLite call made in a greenlet would block every socket of
the process while it waits on disk. Creates queue in the mailbox and are committed together: one
transaction (and one fsync) for many notifications. A create is answered only after its transaction
committed, and its NOTIFICATION pushes go out after the answer, so a pushed notification always
exists in the database.

Creates are pipelined: a flush greenlet owns one batch from the commit to the pushes and then tells
the actor ``CreatesStored``; meanwhile the actor goes on taking messages, and with SQLite a second
batch already waits in the writer thread's queue, so the database is never idle while the loop is
busy elsewhere (under load every hop back to an actor waits a loop round). Reads and the other
writes are handled in the actor itself, one at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from typing import Any

import gevent
import pykka

from ..errors import RealtimeError, Unavailable
from ..rooms.actor_messages import ConnectedUsers, Publish
from ..runtime.actor import Failure, TracedActor
from ..runtime.context import ActorContext
from .actor_messages import (
    CreateNotifications,
    CreatesStored,
    DeleteNotification,
    FlushCreates,
    GetNotificationPreferences,
    ListNotifications,
    MarkAllNotificationsRead,
    MarkNotificationRead,
    PurgeNotifications,
    PutNotificationPreferences,
)
from .outcomes import CreateOutcome, CreateRequest, NotificationPage, PurgeCounts, assign_counts
from .repository import NotificationRepository
from .rules import utc_now

log = logging.getLogger("realtime.notifications")

KNOWN_ROLES_KEPT = 100_000
"""Users whose last seen role (from the hub or a REST call) is remembered: the unreadCount of a push includes
the user's role notifications, and a batch of direct notifications to known users needs no hub round trip."""

FIRST_PURGE_AFTER = 30.0
"""Seconds after start of the first retention purge, so a server restarted often still purges."""


class NotificationService(TracedActor):
    """One per process with a database: owns every read and write of the notification center."""

    kind = "notifications"

    def __init__(self, ctx: ActorContext, repository: NotificationRepository) -> None:
        super().__init__(ctx, "notifications")
        self._repository = repository
        self._pending: list[CreateNotifications] = []
        self._flush_queued = False
        self._in_flight: dict[int, gevent.Greenlet] = {}
        self._batches = 0
        self._depth = max(1, repository.pipeline_depth)
        self._purger: gevent.Greenlet | None = None
        self._roles: OrderedDict[str, str] = OrderedDict()

    def started(self) -> None:
        self._purger = gevent.spawn(self._purge_timer)

    def stopping(self) -> None:
        if self._purger is not None:
            self._purger.kill(block=False)
            self._purger = None
        gevent.joinall(list(self._in_flight.values()), timeout=self.ctx.settings.ask_timeout)  # they answer callers
        pending, self._pending = self._pending, []
        for message in pending:
            message.reply.set(Failure(Unavailable("the server is shutting down")))

    def handle(self, message: Any) -> Any:
        if isinstance(message, CreateNotifications):
            self._pending.append(message)
            self._queue_flush()
            return None
        if isinstance(message, FlushCreates):
            self._flush_queued = False
            self._flush()
            return None
        if isinstance(message, CreatesStored):
            self._in_flight.pop(message.batch, None)
            for user_id, role in message.connected.items():
                self._remember(user_id, role)
            self._flush()
            return None
        try:
            return self._handle_read_side(message)
        except RealtimeError as exc:  # the caller's mistake (404, 400): answered, not logged as a failure
            return Failure(exc)

    def _handle_read_side(self, message: Any) -> Any:
        identity = getattr(message, "identity", None)
        if identity is not None:
            self._remember(identity.user_id, identity.role)
        if isinstance(message, ListNotifications):
            return self._list(message)
        if isinstance(message, MarkNotificationRead):
            return self._mark_read(message)
        if isinstance(message, DeleteNotification):
            return self._delete(message)
        if isinstance(message, MarkAllNotificationsRead):
            return self._mark_all_read(message)
        if isinstance(message, GetNotificationPreferences):
            return self._repository.get_preferences(message.identity.user_id).to_dict()
        if isinstance(message, PutNotificationPreferences):
            return self._repository.put_preferences(message.identity.user_id, message.preferences).to_dict()
        if isinstance(message, PurgeNotifications):
            return self._purge(message.follow_up)
        return super().handle(message)

    # --- creating --------------------------------------------------------------------------------

    def _queue_flush(self) -> None:
        if not self._flush_queued:
            self._flush_queued = True
            self.actor_ref.tell(FlushCreates())

    def _flush(self) -> None:
        """Hand the queued creates to a flush greenlet, unless the pipeline is full (``CreatesStored`` retries)."""
        if not self._pending or len(self._in_flight) >= self._depth:
            return
        size = self.ctx.settings.notification_batch_size
        batch, self._pending = self._pending[:size], self._pending[size:]
        if self._pending:
            self._queue_flush()
        users = tuple(sorted({uid for m in batch for uid in m.draft.user_ids}))
        unknown = tuple(uid for uid in users if uid not in self._roles)
        known = {uid: self._roles[uid] for uid in users if uid in self._roles}
        self._batches += 1
        self._in_flight[self._batches] = gevent.spawn(self._store_batch, self._batches, batch, unknown, known)

    def _store_batch(self, number: int, batch: list[CreateNotifications], unknown: tuple[str, ...],
                     known: dict[str, str]) -> None:
        """Runs in its own greenlet: commit, answer, push, then tell the actor (which may start the next batch)."""
        connected: dict[str, str] = {}
        try:
            try:
                outcomes, connected = self._commit(batch, unknown, known)
            except Exception:  # noqa: BLE001  (nothing committed: one request may be the cause)
                if len(batch) == 1:
                    raise
                log.warning("storing %d notification requests together failed; storing them one at a time",
                            len(batch), exc_info=True)
                outcomes, connected = self._commit_alone(batch, unknown, known)
        except Exception as exc:  # noqa: BLE001  (nothing committed: every request in the batch fails)
            log.exception("storing %d notification requests failed", len(batch))
            for message in batch:
                message.reply.set(Failure(Unavailable(f"the notification could not be stored: {exc}")))
        else:
            self.ctx.metrics.notifications_created += sum(
                len(o.body["notifications"]) for o in outcomes if o.error is None and not o.replayed)
            for message, outcome in zip(batch, outcomes, strict=True):
                message.reply.set(outcome if outcome.error is None else Failure(outcome.error))
            self._push(outcomes)
        finally:
            try:
                self.actor_ref.tell(CreatesStored(number, connected))
            except pykka.ActorDeadError:
                pass

    def _commit(self, batch: list[CreateNotifications], unknown: tuple[str, ...],
                known: dict[str, str]) -> tuple[list[CreateOutcome], dict[str, str]]:
        """Store the batch; returns its outcomes (with every recipient's count) and the connected users named."""
        settings = self.ctx.settings
        roles = tuple(sorted({m.draft.role for m in batch if m.draft.role}))
        # Role notifications need the hub's answer first (its members get the pushes); for direct ones
        # it only completes the counts, so it is asked for without waiting, and read after the commit.
        connected: dict[str, str] = {}
        pending_answer: pykka.Future[Any] | None = None
        if roles:
            connected = self._connected(self._hub_ask(ConnectedUsers(roles, unknown)))
        elif unknown:
            pending_answer = self._hub_ask(ConnectedUsers((), unknown))
        requests = [CreateRequest(m.caller, m.draft, m.idempotency_key) for m in batch]
        outcomes, parts = self._repository.create_batch(requests, connected, settings.roles, self._cutoff(),
                                                        self._idempotency_cutoff())
        if pending_answer is not None:
            connected = self._connected(pending_answer)
        assign_counts(outcomes, parts, {**known, **connected})
        return outcomes, connected

    def _commit_alone(self, batch: list[CreateNotifications], unknown: tuple[str, ...],
                      known: dict[str, str]) -> tuple[list[CreateOutcome], dict[str, str]]:
        """Each request in a transaction of its own, so that whatever failed the batch fails only its cause."""
        outcomes: list[CreateOutcome] = []
        connected: dict[str, str] = {}
        for message in batch:
            users = set(message.draft.user_ids)
            try:
                (outcome,), named = self._commit([message], tuple(u for u in unknown if u in users),
                                                 {u: r for u, r in known.items() if u in users})
            except Exception as exc:  # noqa: BLE001  (this request's own failure, answered to it alone)
                log.warning("a notification request could not be stored: %r", exc)
                error = exc if isinstance(exc, RealtimeError) else Unavailable(
                    f"the notification could not be stored: {exc!r}")
                outcome = CreateOutcome.failed(error)
                named = {}
            outcomes.append(outcome)
            connected.update(named)
        return outcomes, connected

    def _push(self, outcomes: list[CreateOutcome]) -> None:
        hub = self.ctx.hub
        if hub is None:
            return
        now = utc_now()
        tracer = self.ctx.tracer
        for outcome in outcomes:
            if tracer.enabled:  # who was not pushed to, by their preferences
                tracer.notifications_skipped(outcome.body.get("skipped", ()))
            for recipient in outcome.recipients:
                delivery = recipient.preferences.delivery(recipient.notification["type"],
                                                          recipient.notification["priority"], now)
                data = {"notification": recipient.notification, "unreadCount": recipient.unread_count,
                        "silent": delivery.silent, "toast": delivery.toast, "browser": delivery.browser}
                trace = (tracer.notification_pushed(recipient.user_id, recipient.notification, delivery.silent)
                         if tracer.enabled else None)
                self.send(hub, Publish(f"user:{recipient.user_id}", "NOTIFICATION", data, None, trace), "hub")

    def _hub_ask(self, message: ConnectedUsers) -> pykka.Future[Any] | None:
        hub = self.ctx.hub
        if hub is None:
            return None
        try:
            return hub.ask(message, block=False)
        except pykka.ActorDeadError:
            return None

    def _connected(self, answer: pykka.Future[Any] | None) -> dict[str, str]:
        """The hub's answer to ConnectedUsers; {} if the hub is gone or too slow (then only direct pushes go out)."""
        if answer is None:
            return {}
        try:
            result = answer.get(timeout=self.ctx.settings.ask_timeout)
        except (pykka.ActorDeadError, pykka.Timeout, gevent.Timeout):
            log.warning("the hub did not say who is connected; pushing to direct recipients only")
            return {}
        return result if isinstance(result, dict) else {}

    def _remember(self, user_id: str, role: str) -> None:
        roles = self._roles
        roles[user_id] = role
        roles.move_to_end(user_id)
        if len(roles) > KNOWN_ROLES_KEPT:
            roles.popitem(last=False)

    # --- reading ---------------------------------------------------------------------------------

    def _list(self, message: ListNotifications) -> NotificationPage:
        identity = message.identity
        return self._repository.list_page(identity.user_id, identity.role, self._cutoff(), message.unread_only,
                                          message.limit, message.before)

    def _mark_read(self, message: MarkNotificationRead) -> dict[str, Any]:
        user_id, role = message.identity.user_id, message.identity.role
        notification, changed, count = self._repository.mark_read(message.notification_id, user_id, role,
                                                                   self._cutoff(), message.read)
        if changed:
            self._push_read(user_id, {"ids": [notification["id"]], "read": message.read, "unreadCount": count})
        return {"notification": notification, "unreadCount": count}

    def _delete(self, message: DeleteNotification) -> dict[str, Any]:
        user_id, role = message.identity.user_id, message.identity.role
        count = self._repository.delete(message.notification_id, user_id, role, self._cutoff())
        self._push_read(user_id, {"ids": [str(message.notification_id)], "deleted": True, "unreadCount": count})
        return {"unreadCount": count}

    def _mark_all_read(self, message: MarkAllNotificationsRead) -> dict[str, Any]:
        user_id, role = message.identity.user_id, message.identity.role
        ids, count = self._repository.mark_all_read(user_id, role, self._cutoff())
        if ids:
            self._push_read(user_id, {"ids": [str(i) for i in ids], "read": True, "unreadCount": count})
        return {"updated": len(ids), "unreadCount": count}

    def _push_read(self, user_id: str, data: dict[str, Any]) -> None:
        """Every socket of the user hears of the change, so all tabs and devices show the same state."""
        hub = self.ctx.hub
        if hub is not None:
            self.send(hub, Publish(f"user:{user_id}", "NOTIFICATION_READ", data), "hub")

    # --- retention -------------------------------------------------------------------------------

    def _purge(self, follow_up: bool) -> PurgeCounts:
        """One bounded purge step; the timer's purge continues in later messages so creates interleave."""
        result = self._repository.purge_step(self._cutoff(), self.ctx.settings.notification_max_per_user,
                                             self._idempotency_cutoff())
        if follow_up and any(result.values()):
            self.actor_ref.tell(PurgeNotifications(follow_up=True))
        return result

    def _purge_timer(self) -> None:
        interval = self.ctx.settings.notification_purge_interval
        gevent.sleep(min(interval, FIRST_PURGE_AFTER))
        while True:
            try:
                self.actor_ref.tell(PurgeNotifications(follow_up=True))
            except pykka.ActorDeadError:
                return
            gevent.sleep(interval)

    def _cutoff(self) -> dt.datetime:
        days = self.ctx.settings.notification_max_age_days
        return (utc_now() - dt.timedelta(days=days)).replace(tzinfo=None)

    def _idempotency_cutoff(self) -> dt.datetime:
        hours = self.ctx.settings.idempotency_ttl_hours
        return (utc_now() - dt.timedelta(hours=hours)).replace(tzinfo=None)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "pendingCreates": len(self._pending), "batchesInFlight": len(self._in_flight)}
