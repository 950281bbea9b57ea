"""ActorSystem: starts and stops the actors of one server and is the web layer's only way in.

The web layer calls these methods; they turn calls into messages (``tell``, or ``ask`` with a
timeout where a REST answer waits) and never hand out an actor's internals.
"""

from __future__ import annotations

import itertools
import logging
import os
from typing import Any

import gevent
import pykka

from .config import Settings
from .connection.actor_messages import ClientFrame, ClientGone
from .connection.connection_actor import ConnectionActor
from .errors import RealtimeError, Unavailable
from .identity import Identity
from .notifications.actor_messages import (
    CreateNotifications,
    DeleteNotification,
    GetNotificationPreferences,
    ListNotifications,
    MarkAllNotificationsRead,
    MarkNotificationRead,
    PurgeNotifications,
    PutNotificationPreferences,
)
from .notifications.outcomes import CreateOutcome
from .notifications.repository import NotificationRepository
from .notifications.service import NotificationService
from .observability.gc_pauses import PAUSES
from .observability.metrics import Metrics
from .protocol import events
from .protocol.positions import Since
from .protocol.rooms import RoomPolicy, parse_room
from .publishing.actor_messages import Coalesce, GetSyncStatus, PushStats, RecomputeStats
from .publishing.coalescer import LiveSync, load_provider
from .publishing.event_service import EventService
from .rooms.actor_messages import GetStatus, History, Publish, Shutdown, Tick
from .rooms.hub import Hub
from .runtime.actor import Failure
from .runtime.context import ActorContext
from .runtime.reply import Reply
from .runtime.tracer import Tracer
from .tokens import TokenVerifier
from .transport.framing import CLOSE_GOING_AWAY
from .transport.outlet import Flusher, Outlet
from .transport.socket_reader import SocketReader
from .transport.sse_outlet import SseOutlet

log = logging.getLogger("realtime.system")

_PROCESS_TAG = os.urandom(3).hex()
_CONNECTION_SERIAL = itertools.count(1)
HEARTBEAT_SLICE_SECONDS = 1.0


def heartbeat_slices(interval: float) -> int:
    """How many ticks a heartbeat round is spread over: one about every HEARTBEAT_SLICE_SECONDS."""
    return max(1, round(interval / HEARTBEAT_SLICE_SECONDS))


def new_connection_id() -> str:
    """16 hex digits, unique in this process: a random per-process tag and a serial number.

    A uuid4 per connection (an ``os.urandom`` call) was 2.5 % of the server's CPU while 10,000
    browsers connected; the tag keeps ids from two processes (or restarts) apart in logs and traces.
    """
    return f"{_PROCESS_TAG}{next(_CONNECTION_SERIAL):010x}"


def _unwrap(result: Any, failed: str) -> Any:
    """An actor's answer, or the error its handler raised (a ``Failure``) raised here for the caller."""
    if isinstance(result, Failure):
        if isinstance(result.error, RealtimeError):
            raise result.error
        raise Unavailable(f"{failed}: {result.error!r}")
    return result


def _linger(sock: Any, timeout: float) -> None:
    """After refusing a frame, discard what the peer still sends until it closes (bounded).

    Closing a socket with unread bytes in it sends RST, which can destroy our close frame before the
    peer reads it: a peer that sent an oversize frame would see 1006 instead of 1009.
    """
    with gevent.Timeout(timeout, False):
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass


class ActorSystem:
    """The actors of one server process and the calls the web layer makes into them."""

    def __init__(self, settings: Settings, notifications: NotificationRepository | None = None) -> None:
        self.settings = settings
        self.notification_repository = notifications
        """Storage of the notification center; without it (no database) there is no NotificationService."""
        self.metrics = Metrics()
        self.tracer = Tracer(settings.websocket_debug, settings.trace_ring_size)
        self.verifier = TokenVerifier(settings)
        self.policy = RoomPolicy(settings.all_room_prefixes)
        self.ctx: ActorContext | None = None
        self._heartbeat: gevent.Greenlet | None = None
        self.notifications: pykka.ActorRef[Any] | None = None
        self.live_sync: pykka.ActorRef[Any] | None = None
        self.events = EventService(self)
        """Typed publishing for code inside the server process (one method per event type)."""
        self.running = False

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> ActorSystem:
        load_provider(self.settings.stats_provider)  # a bad STATS_PROVIDER fails here, before any actor starts
        self.ctx = ActorContext(self.settings, self.tracer, self.metrics, Flusher(self.metrics), self.policy,
                                self.verifier)
        self.ctx.hub = Hub.start(self.ctx)
        self.live_sync = LiveSync.start(self.ctx)
        if self.notification_repository is not None:
            self.notifications = NotificationService.start(self.ctx, self.notification_repository)
        self._heartbeat = gevent.spawn(self._beat)
        PAUSES.install(self.settings.gc_pause_warn_ms)
        self.running = True
        return self

    def stop(self, code: int = CLOSE_GOING_AWAY, timeout: float = 5.0) -> None:
        """Close every socket with ``code``, then stop every actor this system started."""
        if not self.running:
            return
        self.running = False
        if self._heartbeat is not None:
            self._heartbeat.kill()
            self._heartbeat = None
        hub = self._hub()
        try:
            hub.ask(Shutdown(code), timeout=timeout)
        except (pykka.ActorDeadError, pykka.Timeout, gevent.Timeout):
            log.warning("hub did not answer the shutdown in %.1fs", timeout)
        deadline = gevent.Timeout(timeout)
        deadline.start()
        try:
            while self.metrics.connections > 0:
                gevent.sleep(0.02)
        except gevent.Timeout:
            log.warning("%d connections still open after %.1fs", self.metrics.connections, timeout)
        finally:
            deadline.close()
        for actor_ref in self.tracer.live_refs():
            try:
                actor_ref.stop(block=True, timeout=timeout)
            except (pykka.ActorDeadError, pykka.Timeout, gevent.Timeout):
                pass

    def _beat(self) -> None:
        """One Tick per slice of the heartbeat interval (see ``Tick``): a round pings every socket once."""
        slices = heartbeat_slices(self.settings.heartbeat_interval)
        tick = 0
        while True:
            gevent.sleep(self.settings.heartbeat_interval / slices)
            try:
                self._hub().tell(Tick(tick % slices, slices))
            except pykka.ActorDeadError:
                return
            tick += 1

    def _hub(self) -> pykka.ActorRef[Any]:
        if self.ctx is None or self.ctx.hub is None:
            raise Unavailable("the actor system is not running")
        return self.ctx.hub

    # --- calls for the web layer -----------------------------------------------------------------

    def ask(self, ref: pykka.ActorRef[Any], message: Any) -> Any:
        """``ask`` with the configured timeout; re-raises what the actor's handler raised."""
        try:
            result = ref.ask(message, timeout=self.settings.ask_timeout)
        except pykka.Timeout:
            raise Unavailable(
                f"no answer from {ref.actor_class.__name__} within {self.settings.ask_timeout}s") from None
        except pykka.ActorDeadError:
            raise Unavailable("the server is shutting down") from None
        return _unwrap(result, f"{ref.actor_class.__name__} failed")

    def publish(self, type_: Any, data: Any, room: Any = None, *, wait: bool = True) -> dict[str, Any] | None:
        """The one validated path for every event (REST and the in-process ``EventService``).

        Checks the payload against the event catalogue, picks the type's default rooms when ``room``
        is None, and routes superseding updates through LiveSync. With ``wait`` the answer is the
        first room's ``{room, epoch, offset, delivered}`` (plus ``rooms`` when there are several, and
        ``coalesced: true`` with no offset when the update was held for the next window).
        """
        rooms = events.prepare(type_, data, room, self.settings.all_room_prefixes)
        futures = [self._route(name, type_, data, Reply() if wait else None) for name in rooms]
        if not wait:
            return None
        results = [self._wait(future, name) for future, name in zip(futures, rooms, strict=True)]
        answer = dict(results[0])
        if len(results) > 1:
            answer["rooms"] = results
        return answer

    def _route(self, room: str, type_: str, data: dict[str, Any], future: Any) -> Any:
        if type_ == "STATS_UPDATE":
            self._live_sync().tell(PushStats(room, data, future))
        elif type_ == "CAMPAIGN_PROGRESS":
            self._live_sync().tell(Coalesce(room, type_, data, future))
        else:
            self._hub().tell(Publish(room, type_, data, future))
        return future

    def _wait(self, future: Any, what: str) -> Any:
        try:
            result = future.get(timeout=self.settings.ask_timeout)
        except pykka.Timeout:
            raise Unavailable(f"{what} did not answer within {self.settings.ask_timeout}s") from None
        return _unwrap(result, f"{what} failed")  # a handler that raised answered with a Failure at once

    def push_stats(self, figures: Any, room: Any = None) -> dict[str, Any]:
        """Merge figures into the last known statistics and send them (``POST /api/live-sync/stats``)."""
        return self.publish("STATS_UPDATE", figures, room)  # type: ignore[return-value]

    def recompute_stats(self) -> dict[str, Any]:
        """Ask STATS_PROVIDER for fresh statistics and wait for them."""
        future = Reply()
        self._live_sync().tell(RecomputeStats(future))
        return self._wait(future, "the statistics provider")  # type: ignore[no-any-return]

    def sync_status(self) -> dict[str, Any]:
        """``GET /api/live-sync``: LiveSync's state and delivery tracking per event type."""
        return {**self.ask(self._live_sync(), GetSyncStatus()), "delivery": self.metrics.delivery()}

    def history(self, room: str, since: int | None, epoch: str | None) -> dict[str, Any]:
        """A room's held events after ``since`` (REST recovery), never a partial set called recovered."""
        parse_room(room, self.settings.all_room_prefixes)
        future = Reply()
        self._hub().tell(History(room, since, epoch, future))
        return self._wait(future, f"room {room}")  # type: ignore[no-any-return]

    def _live_sync(self) -> pykka.ActorRef[Any]:
        if self.live_sync is None:
            raise Unavailable("the actor system is not running")
        return self.live_sync

    def open_stream(self, identity: Identity, sock: Any,
                    subscriptions: tuple[tuple[str, Since | None], ...] = ()) -> tuple[pykka.ActorRef[Any], SseOutlet]:
        """Start the actor of a new SSE stream (on its own greenlet: the response generator drains it)."""
        assert self.ctx is not None
        connection_id = new_connection_id()
        settings = self.settings
        outlet = SseOutlet(
            connection_id, sock, self.ctx.flusher, self.metrics, max_frames=settings.outbox_max_frames,
            max_bytes=settings.outbox_max_bytes, write_timeout=settings.write_timeout,
            close_timeout=settings.close_timeout)
        self.metrics.connections += 1
        self.metrics.connections_total += 1
        ref = ConnectionActor.start(self.ctx, connection_id, identity, outlet, subscriptions)
        return ref, outlet

    def serve_connection(self, identity: Identity, sock: Any, pending: bytes = b"") -> None:
        """Run a WebSocket's connection actor in the calling (request) greenlet until the socket ends.

        ``pending``: bytes already read past the handshake. The reader is an event-loop callback, so
        one greenlet serves the socket: its actor's mailbox loop, here.
        """
        assert self.ctx is not None
        settings = self.settings
        connection_id = new_connection_id()
        outlet = Outlet(connection_id, sock, self.ctx.flusher, self.metrics, max_frames=settings.outbox_max_frames,
                        max_bytes=settings.outbox_max_bytes, write_timeout=settings.write_timeout,
                        close_timeout=settings.close_timeout)
        actor = ConnectionActor(self.ctx, connection_id, identity, outlet, inline=True)
        ref = actor.actor_ref
        actor.reader = reader = SocketReader(
            sock, pending, settings.max_frame_bytes, outlet,
            deliver=lambda text: ref.tell(ClientFrame(text)), end=lambda code: ref.tell(ClientGone(code)),
            inbox=actor.actor_inbox)
        self.metrics.connections += 1
        self.metrics.connections_total += 1
        try:
            actor._actor_loop()  # pykka's own loop (what its thread would run), in this greenlet
        finally:
            if not actor.actor_stopped.is_set():  # killed while waiting for mail (server stopping)
                actor._stop()
            reader.close()
            outlet.drain(settings.close_timeout)
            if reader.refused:
                _linger(sock, settings.close_timeout)
            outlet.dispose()

    @staticmethod
    def client_gone(ref: pykka.ActorRef[Any], code: int | None) -> None:
        try:
            ref.tell(ClientGone(code))
        except pykka.ActorDeadError:
            pass

    def status(self) -> dict[str, Any]:
        hub_status = self.ask(self._hub(), GetStatus())
        return {**self.metrics.snapshot(), **hub_status, "actors": self.tracer.count(),
                "debug": self.tracer.enabled, "gc": PAUSES.snapshot()}

    def at_capacity(self) -> bool:
        return self.metrics.connections >= self.settings.max_connections

    # --- notification center (NotificationService) -----------------------------------------------

    def _notifications(self) -> pykka.ActorRef[Any]:
        if self.notifications is None:
            raise Unavailable("the notification center needs a database (DATABASE_URL)")
        return self.notifications

    def create_notifications(self, caller: Identity, draft: Any, idempotency_key: str | None) -> CreateOutcome:
        """Queue a validated ``notification_rules.Draft``; returns its ``CreateOutcome`` once committed."""
        future = Reply()
        self._notifications().tell(CreateNotifications(caller.user_id, draft, idempotency_key, future))
        try:
            result = future.get(timeout=self.settings.ask_timeout)
        except pykka.Timeout:
            raise Unavailable(f"the notification was not confirmed within {self.settings.ask_timeout}s; "
                              "retry with the same Idempotency-Key") from None
        return _unwrap(result, "the notification could not be stored")

    def list_notifications(self, identity: Identity, unread_only: bool, limit: int,
                           before: int | None) -> dict[str, Any]:
        return self.ask(self._notifications(), ListNotifications(identity, unread_only, limit, before))

    def mark_notification_read(self, identity: Identity, notification_id: int, read: bool) -> dict[str, Any]:
        return self.ask(self._notifications(), MarkNotificationRead(identity, notification_id, read))

    def delete_notification(self, identity: Identity, notification_id: int) -> dict[str, Any]:
        return self.ask(self._notifications(), DeleteNotification(identity, notification_id))

    def mark_all_notifications_read(self, identity: Identity) -> dict[str, Any]:
        return self.ask(self._notifications(), MarkAllNotificationsRead(identity))

    def notification_preferences(self, identity: Identity) -> dict[str, Any]:
        return self.ask(self._notifications(), GetNotificationPreferences(identity))

    def set_notification_preferences(self, identity: Identity, preferences: Any) -> dict[str, Any]:
        return self.ask(self._notifications(), PutNotificationPreferences(identity, preferences))

    def purge_notifications(self) -> dict[str, int]:
        """Run retention to the end now (the periodic job does the same in steps)."""
        totals: dict[str, int] = {}
        while True:
            step = self.ask(self._notifications(), PurgeNotifications())
            for name, count in step.items():
                totals[name] = totals.get(name, 0) + count
            if not any(step.values()):
                return totals
