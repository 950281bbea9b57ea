"""ActorSystem: starts and stops the actors of one server process; the web layer's only way in.

Each method turns a call into messages (``tell``, or a reply waited on with a timeout where a REST
answer waits) and never hands out an actor or its ref. What the actors do lives in the layers below:
``connection/serving.py`` serves a socket, ``publishing/router.py`` routes a publish, ``rooms/``
numbers (through the broker) and fans out, ``notifications/`` stores and pushes notifications.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Iterator
from importlib import metadata
from typing import Any

import gevent
import pykka

from .cluster import Lease, MemberCensus, NodeRegistry, SharedWindows
from .cluster.tracing import ClusterTracing
from .config import Settings
from .connection.serving import SseStream, open_sse_stream, serve_websocket
from .deliveries import DeliveryRecorder, ListDeliveries
from .errors import BadRequest, RealtimeError, Unavailable
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
from .notifications.rules import Draft, Preferences
from .notifications.service import NotificationService
from .observability.gc_pauses import PAUSES
from .observability.metrics import Metrics
from .presence import ClaimsActor, ClaimStore, MemoryClaims, PresenceActor, RedisClaims, RedisPresenceShare
from .presence.actor_messages import DropClaim, GetClaim, GetPresence, TakeClaim
from .presence.client_frames import check_claimable, check_presence_room
from .protocol.frames import dumps, surrogate_path, utc_now_iso
from .protocol.positions import Since
from .protocol.rooms import RoomPolicy, parse_room
from .publishing.actor_messages import GetSyncStatus
from .publishing.coalescer import Coalescer
from .publishing.event_service import EventService
from .publishing.router import PublishAnswer, Router
from .publishing.statistics import load_provider
from .rooms.actor_messages import (
    Browse,
    CheckPosition,
    CountMembers,
    Deliver,
    GetStatus,
    History,
    Kick,
    RoomMembers,
    Shutdown,
    Tick,
)
from .rooms.broker import Broker, Checkpoint, Publication
from .rooms.brokers import open_broker
from .rooms.hub import Hub
from .rooms.redis_broker import RedisBroker
from .rooms.room_actor import GAPS
from .runtime.context import ActorContext
from .runtime.reply import Reply, answer, unwrap
from .runtime.tracer import TraceFilter, Tracer, TraceRules, describe_rules, new_trace_id
from .tokens import TokenVerifier
from .transport.framing import CLOSE_GOING_AWAY
from .transport.outlet import Flusher

log = logging.getLogger("realtime.system")

HEARTBEAT_SLICE_SECONDS = 1.0
CLOSE_KICKED = 1000
"""An administrator's disconnect closes normally: the client may reconnect, as after any close."""
admin_log = logging.getLogger("realtime.admin")


def heartbeat_slices(interval: float) -> int:
    """How many ticks a heartbeat round is spread over: one about every HEARTBEAT_SLICE_SECONDS."""
    return max(1, round(interval / HEARTBEAT_SLICE_SECONDS))


def _refuse_nonstandard_json(data: object) -> None:
    """BadRequest for a payload that standard JSON cannot carry (NaN, Infinity, a lone surrogate).

    Refused before anything is routed, so such an event takes no offset and never reaches a socket.
    """
    try:
        dumps(data).encode("utf-8")
    except ValueError:  # NaN or Infinity (UnicodeEncodeError is a ValueError too: checked first below)
        path = surrogate_path(data)
        if path is not None:
            raise BadRequest("not valid Unicode text (a lone surrogate)",
                             fields={f"data.{path}" if path else "data": "not valid Unicode text (a lone surrogate)"}
                             ) from None
        raise BadRequest("the payload is not standard JSON (NaN or Infinity)",
                         fields={"data": "NaN and Infinity are not JSON"}) from None


class ActorSystem:
    """The actors of one server process and the calls the web layer makes into them."""

    def __init__(self, settings: Settings, notifications: NotificationRepository | None = None) -> None:
        self.settings = settings
        self.notification_repository = notifications
        """Storage of the notification center; without it (no database) there is no NotificationService."""
        self.metrics = Metrics()
        self.tracer = Tracer.from_settings(settings)
        self.verifier = TokenVerifier(settings)
        self.policy = RoomPolicy(settings.all_room_prefixes)
        self.ctx: ActorContext | None = None
        self.broker: Broker | None = None
        self._router: Router | None = None
        self._heartbeat: gevent.Greenlet | None = None
        self.notifications: pykka.ActorRef[Any] | None = None
        self.coalescer: pykka.ActorRef[Any] | None = None
        self.nodes: NodeRegistry | None = None
        """With a Redis broker: this process among the cluster's nodes (heartbeat, the statistics lease)."""
        self.stats_lease: Lease | None = None
        self.census: MemberCensus | None = None
        """With a Redis broker: a room's member count asked of every node (``GET /api/ws?room=``)."""
        self.presence: pykka.ActorRef[Any] | None = None
        self.claims: pykka.ActorRef[Any] | None = None
        self.deliveries: pykka.ActorRef[Any] | None = None
        self.started_at = ""
        self.events = EventService(self)
        """Typed publishing for code inside the server process (one method per event type)."""
        self.running = False
        self.series: deque[dict[str, Any]] = deque(
            maxlen=int(settings.admin_series_minutes * 60 / settings.admin_series_step) + 1)
        """Samples of the counters for the admin page's graphs (``admin_series``)."""
        self.admin_actions: deque[dict[str, Any]] = deque(maxlen=settings.admin_actions_kept)
        self._sampler: gevent.Greenlet | None = None
        self.trace_cluster: ClusterTracing | None = None
        """With a Redis broker: tracing rules for every node, and the debug views asked of every node."""

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> ActorSystem:
        load_provider(self.settings.stats_provider)  # a bad STATS_PROVIDER fails here, before any actor starts
        self.broker = broker = open_broker(self.settings)  # so does a bad BROKER_URL
        self.tracer.node = self.settings.node_name or str(getattr(broker, "node_id", "") or "local")
        self.ctx = ActorContext(self.settings, self.tracer, self.metrics, Flusher(self.metrics), self.policy,
                                self.verifier)
        self.ctx.hub = hub = Hub.start(self.ctx, broker)
        broker.start(self._deliver)
        self.started_at = utc_now_iso()
        if isinstance(broker, RedisBroker):
            # the statistics provider runs on the lease holder only: once per interval for the cluster
            self.stats_lease = Lease(broker.client, f"{self.settings.redis_prefix}lease:stats", broker.node_id,
                                     self.settings.node_heartbeat * 3)
            self.nodes = NodeRegistry(broker.client, self.settings.redis_prefix, broker.node_id,
                                      self.settings.node_heartbeat, self._node_info, (self.stats_lease,))
            self.nodes.start()
            nodes = self.nodes
            self.census = MemberCensus(broker.client, broker.listen, self.settings.redis_prefix, broker.node_id,
                                       self._count_members, lambda: [record["id"] for record in nodes.nodes()],
                                       self.settings.cluster_query_timeout)
            self.census.start()
            self.trace_cluster = ClusterTracing(broker.client, broker.listen, self.settings.redis_prefix,
                                                broker.node_id, self.tracer, self.debug_here,
                                                lambda: [record["id"] for record in nodes.nodes()],
                                                self.settings.cluster_query_timeout)
            self.trace_cluster.start()
        lease = self.stats_lease
        shared = None
        if isinstance(broker, RedisBroker):  # coalescing and merged statistics for the cluster, not per process
            shared = SharedWindows(broker.client, self.settings.redis_prefix, broker.node_id,
                                   self.settings.coalesce_interval, self.settings.redis_meta_ttl)
        self.coalescer = Coalescer.start(self.ctx, leader=(lambda: lease.held) if lease is not None else None,
                                         shared=shared)
        self._router = Router(self.settings, hub, self.coalescer, self.tracer)
        if self.notification_repository is not None:
            self.notifications = NotificationService.start(self.ctx, self.notification_repository)
        self._start_presence(self.ctx, broker)
        self._heartbeat = gevent.spawn(self._beat)
        self._sampler = gevent.spawn(self._sample)
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
        if self._sampler is not None:
            self._sampler.kill()
            self._sampler = None
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
        for actor_ref in self.tracer.live_refs():  # the hub last: nothing it starts after Shutdown survives it
            try:
                actor_ref.stop(block=True, timeout=timeout)
            except (pykka.ActorDeadError, pykka.Timeout, gevent.Timeout):
                pass
        if self.trace_cluster is not None:
            self.trace_cluster.close()
        if self.census is not None:
            self.census.close()
        if self.nodes is not None:
            self.nodes.stop()
        self.tracer.close()
        if self.broker is not None:
            self.broker.close()

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

    def _deliver(self, item: Publication | Checkpoint) -> None:
        """The broker's receiver: an event (another process's, or this one's own coming back), or a checkpoint."""
        try:
            if isinstance(item, Checkpoint):
                self._hub().tell(CheckPosition(item.room, item.position))
            else:
                self._hub().tell(Deliver(item))
        except (pykka.ActorDeadError, Unavailable):
            pass

    def _hub(self) -> pykka.ActorRef[Any]:
        if self.ctx is None or self.ctx.hub is None or not self.ctx.hub.is_alive():
            raise Unavailable("the actor system is not running")
        return self.ctx.hub

    def _context(self) -> ActorContext:
        if self.ctx is None or not self.running:
            raise Unavailable("the actor system is not running")
        return self.ctx

    # --- calls for the web layer -----------------------------------------------------------------

    def ask(self, ref: pykka.ActorRef[Any], message: object) -> Any:
        """``ask`` with the configured timeout; re-raises what the actor's handler raised."""
        reply = ref.ask(message, block=False)
        return answer(reply, self.settings.ask_timeout, ref.actor_class.__name__)

    def publish(self, type_: object, data: object, room: object = None, *,
                wait: bool = True, trace_id: str | None = None, via: str = "in-process") -> PublishAnswer | None:
        """The one validated path for every event (REST and the in-process ``EventService``).

        Checks the payload against the event catalogue, picks the type's default rooms when ``room``
        is None, and sends superseding updates through the Coalescer (``publishing/router.py``). With
        ``wait`` the answer is the first room's ``{room, epoch, offset, delivered}`` (plus ``rooms``
        when there are several, and ``coalesced: true`` with no offset when the update was held for the
        next window).

        Every publish has a trace id (``trace_id``, a caller's own, or a new one); while tracing is on, its
        event's steps and outcomes are kept under it (``GET /api/debug/events/{id}``).
        ``via`` names where it came from in that trace (``POST /api/live-sync``).
        """
        if self._router is None or not self.running:
            raise Unavailable("the actor system is not running")
        if via == "in-process":  # REST bodies were parsed strictly at the door; code in the process was not
            _refuse_nonstandard_json(data)
        trace_id = trace_id or new_trace_id()
        tracer = self.tracer
        if tracer.enabled:
            tracer.published(trace_id, type_, room, via)
        started = time.perf_counter()  # one pair per publish, none per member: realtime_publish_duration_seconds
        try:
            result = self._router.publish(type_, data, room, wait=wait, trace_id=trace_id)
        except pykka.ActorDeadError:
            raise Unavailable("the server is shutting down") from None
        except RealtimeError as exc:
            if tracer.enabled:
                tracer.event_outcome(trace_id, f"refused: {exc.code} ({exc.message[:200]})")
            raise
        if result is not None and result.get("offset") is not None:  # waited for, and fanned out (not held)
            self.metrics.published_in(time.perf_counter() - started)
        return result

    def push_stats(self, figures: object, room: object = None) -> PublishAnswer:
        """Merge figures into the last known statistics and send them (``POST /api/live-sync/stats``)."""
        result = self.publish("STATS_UPDATE", figures, room)
        assert result is not None  # waited for
        return result

    def recompute_stats(self) -> dict[str, Any]:
        """Ask STATS_PROVIDER for fresh statistics and wait for them."""
        if self._router is None:
            raise Unavailable("the actor system is not running")
        return self._router.recompute_stats()

    def sync_status(self) -> dict[str, Any]:
        """``GET /api/live-sync``: the Coalescer's state and delivery tracking per event type."""
        if self.coalescer is None:
            raise Unavailable("the actor system is not running")
        return {**self.ask(self.coalescer, GetSyncStatus()), "delivery": self.metrics.delivery()}

    def history(self, room: str, since: int | None, epoch: str | None) -> dict[str, Any]:
        """A room's held events after ``since`` (REST recovery), never a partial set called recovered."""
        parse_room(room, self.settings.all_room_prefixes)
        reply = Reply()
        try:
            self._hub().tell(History(room, since, epoch, reply))
        except pykka.ActorDeadError:
            raise Unavailable("the server is shutting down") from None
        return answer(reply, self.settings.ask_timeout, f"room {room}")  # type: ignore[no-any-return]

    def open_stream(self, identity: Identity, sock: Any, rooms: list[str],
                    positions: dict[str, Since]) -> SseStream:
        """Authorize an SSE request's rooms and start its stream (see ``connection/serving.py``)."""
        return open_sse_stream(self._context(), identity, sock, rooms, positions)

    def serve_connection(self, identity: Identity, sock: Any, pending: bytes = b"") -> None:
        """Serve an upgraded WebSocket in the calling greenlet until it ends (``connection/serving.py``)."""
        serve_websocket(self._context(), identity, sock, pending)

    def _node_info(self) -> dict[str, Any]:
        return {"host": socket.gethostname(), "pid": os.getpid(), "started": self.started_at,
                "connections": self.metrics.connections}

    def cluster(self) -> dict[str, Any] | None:
        """The live nodes and their totals (``GET /api/ws``); None for a single process (memory broker)."""
        if self.nodes is None:
            return None
        try:
            nodes = self.nodes.nodes()
        except Exception as exc:  # noqa: BLE001 (Redis down: say so, the rest of the status still answers)
            return {"nodes": None, "error": str(exc)}
        return {"nodes": nodes, "totals": {"nodes": len(nodes),
                                           "connections": sum(int(n.get("connections", 0)) for n in nodes)}}

    def _count_members(self, room: str) -> int:
        return int(self.ask(self._hub(), CountMembers(room)))

    def room_census(self, room: str) -> dict[str, Any]:
        """``{room, members: {total, byNode}, unanswered}``: the room's sockets on every node (``GET /api/ws?room=``).

        One process answers for itself (its node is ``local``); with Redis every live node is asked.
        """
        parse_room(room, self.settings.all_room_prefixes)
        if self.census is None:
            here = self._count_members(room)
            return {"room": room, "members": {"total": here, "byNode": {"local": here}}, "unanswered": []}
        try:
            return self.census.count(room)
        except Unavailable:
            raise
        except Exception as exc:  # noqa: BLE001 (Redis: the request could not be sent)
            raise Unavailable(f"the cluster could not be asked (Redis): {exc}") from None

    def broker_ready(self) -> bool:
        """The broker can take publishes and hand over other processes' events (``GET /readyz``)."""
        broker = self.broker
        return self.running and (not isinstance(broker, RedisBroker) or broker.connected)

    def status(self) -> dict[str, Any]:
        hub_status = self.ask(self._hub(), GetStatus())
        broker = self.broker.describe() if self.broker is not None else None
        if broker is not None and isinstance(self.broker, RedisBroker):  # only a shared broker makes gaps
            broker["gaps"] = GAPS.snapshot()
        cluster = self.cluster()
        return {**self.metrics.snapshot(), **hub_status, "actors": self.tracer.count(),
                "debug": self.tracer.enabled, "gc": PAUSES.snapshot(), "broker": broker,
                **(cluster if cluster is not None else {})}

    def at_capacity(self) -> bool:
        return self.metrics.connections >= self.settings.max_connections

    # --- notification center (NotificationService) -----------------------------------------------

    def _notifications(self) -> pykka.ActorRef[Any]:
        if self.notifications is None:
            raise Unavailable("the notification center needs a database (DATABASE_URL)")
        return self.notifications

    def create_notifications(self, caller: Identity, draft: Draft, idempotency_key: str | None) -> CreateOutcome:
        """Queue a validated ``notification_rules.Draft``; returns its ``CreateOutcome`` once committed."""
        future = Reply()
        self._notifications().tell(CreateNotifications(caller.user_id, draft, idempotency_key, future))
        try:
            result = future.get(timeout=self.settings.ask_timeout)
        except pykka.Timeout:
            raise Unavailable(f"the notification was not confirmed within {self.settings.ask_timeout}s; "
                              "retry with the same Idempotency-Key") from None
        return unwrap(result, "the notification could not be stored")

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

    def set_notification_preferences(self, identity: Identity, preferences: Preferences) -> dict[str, Any]:
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

    # --- presence, claims and delivery records (docs/presence.md) ---------------------------------

    def _start_presence(self, ctx: ActorContext, broker: Broker) -> None:
        """The PresenceActor and the ClaimsActor (with Redis: shared by every node), and the DeliveryRecorder."""
        share = None
        claims: ClaimStore = MemoryClaims()
        nodes = self.nodes
        if isinstance(broker, RedisBroker) and nodes is not None:
            share = RedisPresenceShare(broker, self.settings, lambda: [record["id"] for record in nodes.nodes()])
            claims = RedisClaims(broker.client, self.settings.redis_prefix)
        ctx.presence = self.presence = PresenceActor.start(ctx, share)
        ctx.claims = self.claims = ClaimsActor.start(ctx, claims)
        if self.notification_repository is not None:
            ctx.deliveries = self.deliveries = DeliveryRecorder.start(ctx, self.notification_repository)

    def presence_of(self, identity: Identity, room: object) -> dict[str, Any]:
        """``GET /api/rooms/{room}/presence``: the room's viewers now (user ids), for whoever may join it."""
        name = self.policy.check(identity, room)
        check_presence_room(self.settings, name)
        if self.presence is None:
            raise Unavailable("the actor system is not running")
        return {"room": name, "presence": self.ask(self.presence, GetPresence(name))}

    def claim_of(self, identity: Identity, room: object) -> dict[str, Any]:
        """``GET /api/rooms/{room}/claim``: ``{room, claim}`` (``claim`` null when nobody holds it)."""
        name = self.policy.check(identity, room)
        check_claimable(self.settings, name)
        return self.ask(self._claims(), GetClaim(name))  # type: ignore[no-any-return]

    def take_claim(self, identity: Identity, room: object, ttl: float | None, force: bool) -> dict[str, Any]:
        """``POST /api/rooms/{room}/claim``: the claim, or ``ClaimHeld`` (409) naming the holder."""
        name = self.policy.check(identity, room)
        check_claimable(self.settings, name)
        reply = Reply()
        self._claims().tell(TakeClaim(identity, name, ttl, force, reply))
        return answer(reply, self.settings.ask_timeout, "claims")  # type: ignore[no-any-return]

    def release_claim(self, identity: Identity, room: object) -> dict[str, Any]:
        """``DELETE /api/rooms/{room}/claim``: the holder or ADMIN ends it; anyone else gets ``ClaimHeld``."""
        name = self.policy.check(identity, room)
        check_claimable(self.settings, name)
        reply = Reply()
        self._claims().tell(DropClaim(identity, name, reply))
        return answer(reply, self.settings.ask_timeout, "claims")  # type: ignore[no-any-return]

    def deliveries_of(self, identity: Identity, notification_id: int) -> dict[str, Any]:
        """``GET /api/notifications/{id}/deliveries``: every device's record (ADMIN), or the caller's own."""
        if self.deliveries is None:
            raise Unavailable("delivery records need a database (DATABASE_URL)")
        rows = self.ask(self.deliveries, ListDeliveries(identity, notification_id))
        return {"notification": str(notification_id), "deliveries": rows}

    def _claims(self) -> pykka.ActorRef[Any]:
        if self.claims is None or not self.running:
            raise Unavailable("the actor system is not running")
        return self.claims

    # --- the admin page (ADMIN only; web/api/admin.py) -------------------------------------------

    def _sample(self) -> None:
        """A sample of the counters every ADMIN_SERIES_STEP seconds: the page draws rates from their differences."""
        while True:
            metrics = self.metrics
            self.series.append({
                "at": round(time.time(), 3), "connections": metrics.connections,
                "eventsPublished": metrics.events_published, "framesOut": metrics.frames_out,
                "framesIn": metrics.frames_in, "bytesOut": metrics.bytes_out,
                "delivered": {type_: counts.delivered for type_, counts in metrics.by_type.items()},
            })
            gevent.sleep(self.settings.admin_series_step)

    def admin_series(self) -> dict[str, Any]:
        return {"step": self.settings.admin_series_step, "minutes": self.settings.admin_series_minutes,
                "samples": list(self.series)}

    def browse(self, what: str, query: str = "", offset: int = 0, limit: int = 50) -> dict[str, Any]:
        """One page of this process's connections, users or rooms (the hub's registries, no --debug needed)."""
        return self.ask(self._hub(), Browse(what, query, offset, limit))  # type: ignore[no-any-return]

    def room_view(self, room: str, history: int = 50) -> dict[str, Any]:
        """A room's members here and its most recent held events (at most ``history``)."""
        parse_room(room, self.settings.all_room_prefixes)
        members = self.ask(self._hub(), RoomMembers(room))
        held = self.history(room, None, None)
        return {**members, "epoch": held.get("epoch"), "offset": held.get("offset"),
                "events": held.get("events", [])[-history:]}

    def node_info(self) -> dict[str, Any]:
        """This process for the admin page: version, host, uptime, connections; and the cluster's nodes."""
        try:
            version = metadata.version("realtime-server")
        except metadata.PackageNotFoundError:
            version = "unknown"
        me = {"version": version, "python": sys.version.split()[0], "host": socket.gethostname(),
              "pid": os.getpid(), "started": self.started_at,
              "uptimeSeconds": round(time.monotonic() - self.metrics.started, 1),
              "connections": self.metrics.connections, "broker": type(self.broker).__name__ if self.broker else None}
        cluster = self.cluster()
        return {"self": me, "cluster": cluster}

    def record_admin_action(self, who: Identity, action: str, **detail: Any) -> dict[str, Any]:
        """Log an administrator's action with who did it; the admin page lists the recent ones."""
        entry = {"at": utc_now_iso(), "by": who.user_id, "role": who.role, "action": action, **detail}
        self.admin_actions.append(entry)
        admin_log.info("admin action %s by user %s (%s): %s", action, who.user_id, who.role, detail)
        return entry

    def disconnect(self, who: Identity, connection_id: str) -> bool:
        """Close one connection of this process (an administrator's action); False when it is not open here."""
        closed = bool(self.ask(self._hub(), Kick(connection_id, CLOSE_KICKED,
                                                 f"disconnected by an administrator (user {who.user_id})")))
        if closed:
            self.record_admin_action(who, "disconnect", connectionId=connection_id)
        return closed

    def admin_publish(self, who: Identity, type_: str, data: dict[str, Any], room: str) -> PublishAnswer:
        """Publish a test event to a room (an administrator's action), through the one validated path."""
        trace_id = new_trace_id()
        answer = self.publish(type_, data, room, trace_id=trace_id, via="admin page")
        assert answer is not None  # waited for
        answer["traceId"] = trace_id
        self.record_admin_action(who, "publish", room=room, type=type_, offset=answer.get("offset"))
        return answer

    # --- tracing (ADMIN only; web/api/debug.py) --------------------------------------------------

    def set_tracing(self, who: Identity, rules: TraceRules | None) -> TraceRules:
        """Put tracing rules in force (None clears them) here and, with Redis, on every node.

        Logged as an administrator's action. Raises ``Unavailable`` when Redis could not be told: the rules
        are then in force on this node only.
        """
        if rules is None or rules.empty:
            self.record_admin_action(who, "tracing", rules="off")
            self.tracer.clear_rules()
        else:
            self.record_admin_action(who, "tracing", rules=describe_rules(rules))
            self.tracer.set_rules(rules)
        return self.tracer.current_rules()

    def debug_view(self, what: str, key: str) -> dict[str, Any]:
        """``{answers, unanswered}``: what this node (and, with Redis, every live node) knows of a ``user``, an
        ``event`` (by trace id) or a ``room``. Each answer names its node; a node that knows nothing is left out."""
        extra: dict[str, Any] = {}
        here = self.debug_here(what, key, extra)
        if what == "event" and here is not None:  # other nodes know this event by its rooms' positions
            extra["positions"] = [[part["room"], part["epoch"], part["offset"]] for part in here.get("rooms", ())
                                  if part.get("offset") is not None]
        if self.trace_cluster is None:
            return {"answers": [here] if here is not None else [], "unanswered": []}
        try:
            return self.trace_cluster.ask(what, key, extra, here)
        except Exception as exc:  # noqa: BLE001 (Redis: this node's answer alone, and why)
            return {"answers": [here] if here is not None else [], "unanswered": [],
                    "error": f"the other nodes could not be asked (Redis): {exc}"}

    def watch(self, wanted: TraceFilter, idle: float) -> Iterator[dict[str, Any] | None]:
        """The live trace (``GET /api/debug/trace``): entries as dicts naming their node, of this node and, with
        Redis, of every node while the stream lasts; None after ``idle`` seconds without one."""
        if self.trace_cluster is not None:
            return self.trace_cluster.watch(wanted, idle)
        tracer = self.tracer
        return (None if entry is None else tracer.entry_dict(entry) for entry in tracer.watch(wanted, idle))

    def debug_here(self, what: str, key: str, extra: dict[str, Any]) -> dict[str, Any] | None:
        """This node's part of ``debug_view`` (what another node asks of it, too)."""
        if what == "user":
            return self.tracer.user(key)
        if what == "event":
            positions = [(str(p[0]), str(p[1]), int(p[2])) for p in extra.get("positions", ())]
            return self.tracer.event(key, positions)
        if what == "room":
            return self._debug_room(key)
        raise ValueError(f"no debug view {what!r}")

    def _debug_room(self, room: str) -> dict[str, Any]:
        """A room here: live (an actor), dormant (members, no actor yet) or not held; epoch, offset, history,
        members, recent publishes (traced ones with their delivered and not delivered counts)."""
        parse_room(room, self.settings.all_room_prefixes)
        members = self.ask(self._hub(), RoomMembers(room))
        held = self.history(room, None, None)
        traced = self.tracer.room(room)
        state = "live" if members["live"] else "dormant" if members["members"] or held.get("epoch") else "not held"
        by_offset = {p.get("offset"): p for p in traced["publishes"] if p.get("epoch") == held.get("epoch")}
        publishes = []
        for event in reversed(held.get("events", [])[-50:]):
            item = {"offset": event.get("offset"), "type": event.get("type"), "timestamp": event.get("timestamp")}
            item.update({k: v for k, v in by_offset.pop(event.get("offset"), {}).items() if k != "room"})
            publishes.append(item)
        publishes += [p for p in traced["publishes"] if p.get("offset") is None or p in by_offset.values()]
        node = self.tracer.node
        return {"room": room, "node": node, "state": state, "epoch": held.get("epoch"), "offset": held.get("offset"),
                "historySize": len(held.get("events", [])), "traced": traced["traced"],
                "members": [{**member, "node": node} for member in members["members"]],
                "users": sorted({member["userId"] for member in members["members"]}),
                "publishes": publishes, "actor": traced["actor"]}
