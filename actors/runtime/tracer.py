"""Tracing that answers "why did user 42 not get event X?": rules switched at runtime, entries that explain
themselves, one trace id per event, and what happened to each user and connection.

What is traced is decided by rules (``TraceRules``: users, rooms, actor ids, or all, for some minutes),
set at runtime (``PUT /api/debug/tracing``) or from the start with ``--debug`` (all, until cleared). A
traced user or room is traced in every actor it passes through: a message is recorded when its actor is
traced (a traced user's connection, a traced room's actor, an actor named by id) or when it names a
traced room or a traced user's connection.

Cost when no rule is in force: one attribute read (``Tracer.enabled``) per actor message, and one per
event in a room's fan-out; nothing per member or per delivered frame. With rules, a room decides once
per event whether anything about it is wanted, and looks at single connections only for the traced ones.

Kept always, because they are cheap (per connection or per refusal, never per frame) and are what one
asks about after the fact: the live actors, closed connections with their close code and reason, and
refusals. Kept only while traced: each actor's ring of entries (bounded in entries and bytes per actor,
and in bytes in total), the deliveries to traced users, and each traced event's record: every step it
took, and every connection it was written to or not, with the reason.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import gevent
from gevent.queue import Empty, Queue

from ..errors import BadRequest
from ..observability.log_context import CLOSE_REASONS
from ..protocol.rooms import parse_room
from .trace_summary import bounded, client_frame, entry_bytes, mask, summarize

if TYPE_CHECKING:
    from ..transport.outlet import Outlet

log = logging.getLogger("realtime.trace")

WATCHER_QUEUE_SIZE = 10_000
GRAVEYARD_SIZE = 256
MAX_RULE_ITEMS = 100
STEPS_PER_EVENT = 50
ENTRIES_PER_VIEW = 500
DEFAULT_MINUTES = 15.0
USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ACTOR_ID = re.compile(r"^[A-Za-z0-9_:.*?-]{1,140}$")
TRACE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
"""What a trace id may be (one a caller sends in ``X-Trace-Id`` too): it appears in logs and URLs."""


_WRAPPED: dict[type, tuple[str, ...]] = {}
"""Per message type: its fields that hold another message (a presence ``Enter`` holds the ``Join`` it passes on)."""


def _wrapped_fields(message: Any) -> tuple[str, ...]:
    if not dataclasses.is_dataclass(message):
        return ()
    return tuple(f.name for f in dataclasses.fields(message)
                 if dataclasses.is_dataclass(getattr(message, f.name, None))
                 and any(hasattr(getattr(message, f.name), name) for name in ("room", "connection_id", "publication")))


class TracedActor(Protocol):
    """What the tracer reads of an actor (``actor.TracedActor`` has it all)."""

    actor_id: str
    kind: str
    started_at: float
    _trace_generation: int
    _trace_self: bool

    @property
    def actor_ref(self) -> Any: ...

    def mailbox_depth(self) -> int: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class TraceLimits:
    """Every bound of the tracer's memory (``TRACE_*`` settings, docs/configuration.md)."""

    ring_entries: int = 200
    """Entries per actor."""
    ring_bytes: int = 64 * 1024
    """Bytes of entries per actor (about: a fixed part plus the summary's text)."""
    total_bytes: int = 32 * 1024 * 1024
    """Bytes of entries of every actor together, stopped ones included; the oldest go first."""
    stopped_actors: int = GRAVEYARD_SIZE
    """Stopped actors kept with their rings."""
    records: int = 1_000
    """Closed connections kept, and as many refusals and as many deliveries to traced users."""
    keep_seconds: float = 900.0
    """Age after which closed connections, refusals, deliveries, events and stopped actors are forgotten."""
    events: int = 1_000
    """Traced events kept with their steps and outcomes."""
    event_connections: int = 200
    """Connections listed per event (the traced users' are always listed; the rest are counted)."""
    preview_chars: int = 120
    """Longest payload preview in an entry."""
    max_minutes: float = 1_440.0
    """Longest time a rule may be set for."""

    @classmethod
    def from_settings(cls, settings: Any) -> TraceLimits:
        """The limits a ``Settings`` names (``trace_*`` fields); a field it lacks keeps its default here."""
        names = {"ring_entries": "trace_ring_size", "ring_bytes": "trace_ring_bytes",
                 "total_bytes": "trace_total_bytes", "stopped_actors": "trace_stopped_actors",
                 "records": "trace_records", "keep_seconds": "trace_keep_seconds", "events": "trace_events",
                 "event_connections": "trace_event_connections", "preview_chars": "trace_preview_chars",
                 "max_minutes": "trace_max_minutes"}
        return cls(**{mine: getattr(settings, theirs) for mine, theirs in names.items() if hasattr(settings, theirs)})


@dataclass(frozen=True, slots=True)
class TraceRules:
    """What is traced: users, rooms and actor ids, or everything, until ``until`` (None: until cleared)."""

    users: frozenset[str] = frozenset()
    rooms: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()
    all: bool = False
    until: float | None = None
    set_at: float = 0.0
    set_by: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.all or self.users or self.rooms or self.actors)

    def to_dict(self) -> dict[str, Any]:
        now = time.time()
        return {"users": sorted(self.users), "rooms": sorted(self.rooms), "actors": sorted(self.actors),
                "all": self.all, "active": not self.empty, "setAt": self.set_at or None, "setBy": self.set_by,
                "expiresAt": self.until, "expiresInSeconds": None if self.until is None
                else max(0.0, round(self.until - now, 1))}

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> TraceRules:
        """Rules as ``to_dict`` wrote them (another node's, through Redis); trusted, not validated again."""
        return cls(frozenset(body.get("users") or ()), frozenset(body.get("rooms") or ()),
                   frozenset(body.get("actors") or ()), bool(body.get("all")), body.get("expiresAt"),
                   float(body.get("setAt") or 0.0), body.get("setBy"))


def parse_rules(body: dict[str, Any], prefixes: tuple[str, ...], max_minutes: float, by: str | None) -> TraceRules:
    """The body of ``PUT /api/debug/tracing``; raises BadRequest naming every bad field."""
    fields: dict[str, str] = {}
    known = {"users", "rooms", "actors", "all", "minutes"}
    for name in body:
        if name not in known:
            fields[str(name)[:64]] = f"unknown field; expected {', '.join(sorted(known))}"

    def strings(name: str, check: Callable[[str], bool], what: str) -> frozenset[str]:
        value = body.get(name, [])
        if value is None:
            return frozenset()
        if not isinstance(value, list) or len(value) > MAX_RULE_ITEMS:
            fields[name] = f"must be a list of at most {MAX_RULE_ITEMS} {what}"
            return frozenset()
        good = set()
        for index, item in enumerate(value):
            if isinstance(item, int) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str) or not check(item):
                fields[f"{name}.{index}"] = f"not {what[:-1]}"
            else:
                good.add(item)
        return frozenset(good)

    def is_room(text: str) -> bool:
        try:
            parse_room(text, prefixes)
        except Exception:  # noqa: BLE001 (InvalidRoom: reported as this field's problem)
            return False
        return True

    users = strings("users", lambda s: bool(USER_ID.match(s)), "user ids")
    rooms = strings("rooms", is_room, "room names")
    actors = strings("actors", lambda s: bool(ACTOR_ID.match(s)), "actor ids")
    all_ = body.get("all", False)
    if not isinstance(all_, bool):
        fields["all"] = "must be true or false"
    minutes = body.get("minutes", DEFAULT_MINUTES)
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0 < minutes <= max_minutes:
        fields["minutes"] = f"must be a number of minutes above 0 and at most {max_minutes:g}"
    if fields:
        raise BadRequest("invalid tracing rules", fields=fields)
    now = time.time()
    return TraceRules(users, rooms, actors, all_ is True, now + float(minutes) * 60, now, by)


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One line of an actor's story: what it got or sent, what that carried, and how long it took."""

    at: float
    actor: str
    kind: str
    event: str
    """start, in, done, out, error, refused, dropped, stop or crash."""
    message: str
    mailbox: int
    micros: float | None = None
    peer: str | None = None
    detail: str | None = None
    summary: dict[str, Any] | None = None
    trace: str | None = None
    """The trace id of the event this entry is part of."""
    user: str | None = None
    """The user of the connection actor that recorded it."""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """What a live watcher wants (``GET /api/debug/trace?user=&room=&actor=&type=``); empty fields match all."""

    user: str | None = None
    room: str | None = None
    actor: str | None = None
    type: str | None = None

    def matches(self, entry: TraceEvent) -> bool:
        summary = entry.summary or {}
        if self.actor is not None and entry.actor != self.actor:
            return False
        if self.type is not None and self.type not in (entry.message, entry.event, summary.get("type"),
                                                       summary.get("frame")):
            return False
        if self.room is not None and summary.get("room") != self.room and entry.actor != f"room:{self.room}":
            return False
        return self.user is None or entry.user == self.user or summary.get("user") == self.user \
            or summary.get("room") == f"user:{self.user}"


class _Ring:
    """One actor's recent entries, each with its size, and their total size."""

    __slots__ = ("entries", "bytes")

    def __init__(self) -> None:
        self.entries: deque[tuple[TraceEvent, int]] = deque()
        self.bytes = 0


@dataclass(slots=True)
class _Stopped:
    actor_id: str
    description: dict[str, Any]
    ring: _Ring | None
    stopped_at: float


@dataclass(slots=True)
class EventRecord:
    """One event's story: its steps from the publisher to its rooms, and what became of it at each connection.

    One publish may go to several rooms (``LEAD_ASSIGNED``: the lead's and the assignee's): one trace id,
    one record, a part per room (its epoch, offset, members and deliveries).
    """

    trace: str
    at: float
    type: str | None = None
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    connections: list[dict[str, Any]] = field(default_factory=list)
    unlisted: int = 0
    users: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    outcome: str | None = None

    def room(self, name: str) -> dict[str, Any]:
        part = self.rooms.get(name)
        if part is None:
            part = self.rooms[name] = {"room": name}
        return part

    def to_dict(self, node: str) -> dict[str, Any]:
        first = next(iter(self.rooms.values()), {})
        return {"traceId": self.trace, "node": node, "at": self.at, "type": self.type, "room": first.get("room"),
                "epoch": first.get("epoch"), "offset": first.get("offset"), "outcome": self.outcome,
                "rooms": [dict(part) for part in self.rooms.values()], "steps": list(self.steps),
                "connections": list(self.connections), "connectionsNotListed": self.unlisted,
                "users": {user: list(outcomes) for user, outcomes in self.users.items()}}


class Tracer:
    """The live actors (always), closed connections and refusals (always, bounded), and what the rules trace."""

    def __init__(self, enabled: bool, ring_size: int = 200, limits: TraceLimits | None = None,
                 node: str = "local") -> None:
        self.limits = limits if limits is not None else TraceLimits(ring_entries=ring_size)
        self.node = node
        """Named in every entry and record a debug endpoint answers with (the broker's node id with Redis)."""
        self.enabled = False
        """True while any rule is in force: the one thing read on the hot path when nothing is traced."""
        self.all = False
        self.generation = 0
        """Moves on every change of rules: an actor caches whether it is traced itself for one generation."""
        self.rules = TraceRules()
        self.on_change: Callable[[TraceRules], None] | None = None
        """Told of rules set or cleared here (not of those applied from another node): the cluster's hook."""
        self._users: frozenset[str] = frozenset()
        self._rooms: frozenset[str] = frozenset()
        self._actor_ids: frozenset[str] = frozenset()
        self._connections: set[str] = set()
        """Connections traced: every live connection of a traced user, and connection ids named as actors."""
        self._expiry: Any = None
        self._actors: dict[str, TracedActor] = {}
        self._by_user: dict[str, set[str]] = {}
        self._user_of: dict[str, str] = {}
        self._rings: dict[str, _Ring] = {}
        self._fifo: deque[tuple[_Ring, TraceEvent, int]] = deque()
        self._total_bytes = 0
        self._graveyard: deque[_Stopped] = deque()
        self._closed: deque[dict[str, Any]] = deque()
        self._refusals: deque[dict[str, Any]] = deque()
        self._deliveries: deque[dict[str, Any]] = deque()
        self._events: OrderedDict[str, EventRecord] = OrderedDict()
        self._positions: dict[tuple[str, str, int], str] = {}
        self._watchers: list[tuple[Queue[TraceEvent], TraceFilter]] = []
        if enabled:
            self.set_rules(TraceRules(all=True, set_at=time.time(), set_by="--debug"), announce=False)

    @classmethod
    def from_settings(cls, settings: Any, node: str = "local") -> Tracer:
        return cls(settings.websocket_debug, settings.trace_ring_size, TraceLimits.from_settings(settings), node)

    # --- rules -----------------------------------------------------------------------------------

    def set_rules(self, rules: TraceRules, *, announce: bool = True) -> TraceRules:
        """Put ``rules`` in force (replacing the ones before); they clear themselves at ``rules.until``."""
        if rules.until is not None and rules.until <= time.time():
            rules = TraceRules()
        self.rules = rules
        self._users, self._actor_ids = rules.users, rules.actors
        self._rooms = rules.rooms | {f"user:{user}" for user in rules.users}
        self._connections = {cid for user in rules.users for cid in self._by_user.get(user, ())} | set(rules.actors)
        self.all = rules.all
        self.generation += 1
        self.enabled = not rules.empty
        if self._expiry is not None:
            self._expiry.close()
            self._expiry = None
        if rules.until is not None and self.enabled:
            self._expiry = gevent.get_hub().loop.timer(max(0.0, rules.until - time.time()))
            self._expiry.start(self._expired, self.generation)
        if self.enabled:
            log.info("tracing: %s", describe_rules(rules))
        if announce and self.on_change is not None:
            self.on_change(rules)
        return rules

    def clear_rules(self, *, announce: bool = True) -> None:
        if self.enabled:
            log.info("tracing off")
        self.set_rules(TraceRules(), announce=announce)

    def current_rules(self) -> TraceRules:
        if self.rules.until is not None and self.rules.until <= time.time() and self.enabled:
            self.clear_rules(announce=False)
        return self.rules

    def _expired(self, generation: int) -> None:
        """A libev timer callback (no greenlet to leak): the rules of ``generation`` ran out."""
        if generation == self.generation and self.enabled:
            log.info("tracing rules expired")
            self.set_rules(TraceRules(), announce=False)

    def close(self) -> None:
        """The server is stopping: no timer outlives it."""
        if self._expiry is not None:
            self._expiry.close()
            self._expiry = None

    # --- what is traced (only asked while ``enabled``) ---------------------------------------------

    def actor_traced(self, actor: TracedActor) -> bool:
        """Is ``actor`` traced as a whole (all of its messages)? Cached on the actor for one generation."""
        if actor._trace_generation != self.generation:
            actor._trace_generation = self.generation
            actor._trace_self = (self.all or actor.actor_id in self._actor_ids or actor.actor_id in self._connections
                                 or getattr(actor, "room", None) in self._rooms)
        return actor._trace_self

    def wants(self, actor: TracedActor, message: Any) -> bool:
        """Should ``actor`` record ``message``: the actor is traced, or the message names a traced room or socket."""
        if self.all:
            return True
        if actor._trace_generation != self.generation:
            self.actor_traced(actor)
        if actor._trace_self or self._names_traced(message):
            return True
        inner = _WRAPPED.get(type(message))
        if inner is None:
            inner = _WRAPPED[type(message)] = _wrapped_fields(message)
        for name in inner:
            if self._names_traced(getattr(message, name, None)):
                return True
        return False

    def _names_traced(self, message: Any) -> bool:
        room = getattr(message, "room", None)
        if room is not None and room in self._rooms:
            return True
        connection = getattr(message, "connection_id", None)
        if connection is not None and connection in self._connections:
            return True
        publication = getattr(message, "publication", None)
        return publication is not None and publication.room in self._rooms

    def follows(self, room: str | None) -> bool:
        """Is every step and every member of an event to ``room`` recorded (all, or the room is traced)?"""
        return self.all or (room is not None and room in self._rooms)

    # --- lifecycle -------------------------------------------------------------------------------

    def started(self, actor: TracedActor) -> None:
        self._actors[actor.actor_id] = actor
        identity = getattr(actor, "identity", None)
        if identity is not None:
            self._by_user.setdefault(identity.user_id, set()).add(actor.actor_id)
            self._user_of[actor.actor_id] = identity.user_id
            if identity.user_id in self._users:
                self._connections.add(actor.actor_id)
        if self.enabled and self.actor_traced(actor):
            self.record(actor, "start", "-")

    def stopped(self, actor: TracedActor, why: str = "stop") -> None:
        if self._actors.get(actor.actor_id) is actor:
            del self._actors[actor.actor_id]
            user = self._user_of.pop(actor.actor_id, None)
            if user is not None:
                connections = self._by_user.get(user)
                if connections is not None:
                    connections.discard(actor.actor_id)
                    if not connections:
                        del self._by_user[user]
                if actor.actor_id not in self._actor_ids:
                    self._connections.discard(actor.actor_id)
        if self.enabled and self.actor_traced(actor):
            self.record(actor, why, "-")
        ring = self._rings.pop(actor.actor_id, None)
        if ring is not None or actor.kind != "connection":  # a connection's end is in the closed connections
            self._graveyard.append(_Stopped(actor.actor_id, actor.describe(), ring, time.time()))
            self._prune(self._graveyard, self.limits.stopped_actors, lambda s: s.stopped_at)

    def connection_closed(self, actor: TracedActor, rooms: Iterable[str], code: int | None, reason: str,
                          transport: str) -> None:
        """A connection ended: kept (always; bounded in count and age) for ``GET /api/debug/users/{id}``."""
        identity = getattr(actor, "identity", None)
        code_known = code if code is not None else 1006
        names = sorted(rooms)
        self._closed.append({
            "connectionId": actor.actor_id, "userId": identity.user_id if identity is not None else None,
            "role": identity.role if identity is not None else None, "transport": transport,
            "opened": actor.started_at, "closed": time.time(), "code": code_known,
            "reason": bounded(reason, 200) if reason else CLOSE_REASONS.get(code_known, ""),
            "rooms": names[:50], "node": self.node})
        self._prune(self._closed, self.limits.records, lambda r: r["closed"])

    def refusal(self, actor: TracedActor, code: str, message: str, text: str | None, *, read: bool = True) -> None:
        """A client frame was refused (always kept, bounded): the code, the frame's type, room and ``ref``."""
        identity = getattr(actor, "identity", None)
        frame = client_frame(text) if read else {}
        frame.pop("bytes", None)
        entry = {"at": time.time(), "userId": identity.user_id if identity is not None else None,
                 "connectionId": actor.actor_id, "code": code, **frame, "message": bounded(message, 200),
                 "node": self.node}
        self._refusals.append(entry)
        self._prune(self._refusals, self.limits.records, lambda r: r["at"])
        if self.enabled and self.actor_traced(actor):
            self.record(actor, "refused", "ClientFrame", detail=entry["message"],
                        summary={"code": code, **frame})

    # --- entries ---------------------------------------------------------------------------------

    def record(self, actor: TracedActor, event: str, message: str, micros: float | None = None,
               peer: str | None = None, detail: str | None = None, *, summary: dict[str, Any] | None = None,
               trace: str | None = None) -> None:
        identity = getattr(actor, "identity", None)
        entry = TraceEvent(at=time.time(), actor=actor.actor_id, kind=actor.kind, event=event, message=message,
                           mailbox=actor.mailbox_depth(), micros=micros, peer=peer, detail=detail, summary=summary,
                           trace=trace, user=identity.user_id if identity is not None else None)
        self._keep(actor.actor_id, entry)

    def record_message(self, actor: TracedActor, event: str, message: Any, micros: float | None = None,
                       peer: str | None = None) -> None:
        """An entry for an actor message, with its summary and trace id."""
        self.record(actor, event, type(message).__name__, micros, peer,
                    summary=summarize(message, self.limits.preview_chars) if event != "done" else None,
                    trace=getattr(message, "trace_id", None))

    def note(self, actor_id: str, kind: str, event: str, message: str, *, summary: dict[str, Any] | None = None,
             trace: str | None = None, peer: str | None = None) -> None:
        """An entry for a step outside any actor (the REST handler, the router)."""
        entry = TraceEvent(at=time.time(), actor=actor_id, kind=kind, event=event, message=message, mailbox=0,
                           peer=peer, summary=summary, trace=trace)
        self._keep(actor_id, entry)

    def _keep(self, ring_id: str, entry: TraceEvent) -> None:
        limits = self.limits
        size = entry_bytes(entry.summary) + (len(entry.detail) if entry.detail else 0)
        ring = self._rings.get(ring_id)
        if ring is None:
            ring = self._rings[ring_id] = _Ring()
        ring.entries.append((entry, size))
        ring.bytes += size
        self._total_bytes += size
        self._fifo.append((ring, entry, size))
        while len(ring.entries) > limits.ring_entries or ring.bytes > limits.ring_bytes:
            _, old_size = ring.entries.popleft()
            ring.bytes -= old_size
            self._total_bytes -= old_size
        fifo = self._fifo
        most = max(1, limits.total_bytes // 200)  # stale references (already gone from their ring) are bounded too
        while self._total_bytes > limits.total_bytes or len(fifo) > most:
            old_ring, old_entry, old_size = fifo.popleft()
            if old_ring.entries and old_ring.entries[0][0] is old_entry:
                old_ring.entries.popleft()
                old_ring.bytes -= old_size
                self._total_bytes -= old_size
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s mailbox=%d%s%s%s%s", entry.actor, entry.event, entry.message, entry.mailbox,
                      f" {entry.micros:.0f}us" if entry.micros is not None else "",
                      f" -> {entry.peer}" if entry.peer else "", f" trace={entry.trace}" if entry.trace else "",
                      f" {entry.summary}" if entry.summary else "")
        for queue, wanted in self._watchers:
            if queue.qsize() < WATCHER_QUEUE_SIZE and wanted.matches(entry):
                queue.put_nowait(entry)

    def memory(self) -> dict[str, int]:
        """What the rings hold now: entries and bytes, against the bound."""
        return {"entries": sum(len(ring.entries) for ring in self._rings.values())
                + sum(len(s.ring.entries) for s in self._graveyard if s.ring is not None),
                "bytes": self._total_bytes, "maxBytes": self.limits.total_bytes}

    # --- events ----------------------------------------------------------------------------------

    def event_step(self, trace: str | None, actor: str, event: str, detail: str | None = None, *,
                   type_: str | None = None, room: str | None = None) -> None:
        """One step of a traced event (publish, route, hold, coalesce, fan out); only while ``enabled``."""
        if trace is None:
            return
        record = self._event(trace)
        if type_ is not None and record.type is None:
            record.type = type_
        if room is not None:
            record.room(room)
        if len(record.steps) < STEPS_PER_EVENT:
            step: dict[str, Any] = {"at": time.time(), "node": self.node, "actor": actor, "event": event}
            if room is not None:
                step["room"] = room
            if detail:
                step["detail"] = detail
            record.steps.append(step)

    def published(self, trace: str, type_: object, room: object, via: str) -> None:
        """A publish came in (``via``: the REST route, or in-process): the first step of its event."""
        type_name = type_ if isinstance(type_, str) else None
        room_name = room if isinstance(room, str) else None
        self.event_step(trace, via, "publish", None, type_=type_name, room=room_name)
        if self.follows(room_name):
            self.note(via, "publisher", "in", type_name or "?", trace=trace,
                      summary={"type": type_name, "room": room_name} if room_name else {"type": type_name})

    def routed(self, message: Any, peer: str) -> None:
        """The router sent an event's message for one room to the hub or the coalescer."""
        trace, room = getattr(message, "trace_id", None), getattr(message, "room", None)
        type_ = getattr(message, "type", "STATS_UPDATE")
        self.event_step(trace, "router", "route", f"{type(message).__name__} to the {peer}", type_=type_, room=room)
        if self.follows(room):
            self.note("router", "router", "out", type(message).__name__, trace=trace, peer=peer,
                      summary=summarize(message, self.limits.preview_chars))

    def event_outcome(self, trace: str | None, outcome: str) -> None:
        if trace is not None and trace in self._events:
            self._events[trace].outcome = outcome

    def _event(self, trace: str) -> EventRecord:
        record = self._events.get(trace)
        if record is None:
            record = self._events[trace] = EventRecord(trace, time.time())
            horizon = time.time() - self.limits.keep_seconds
            while self._events and (len(self._events) > self.limits.events
                                    or next(iter(self._events.values())).at < horizon):
                _, old = self._events.popitem(last=False)
                for part in old.rooms.values():
                    if "offset" in part:
                        self._positions.pop((part["room"], part["epoch"], part["offset"]), None)
        return record

    def fan_out(self, room_actor: TracedActor, members: dict[str, Outlet], publication: Any, key: str | None,
                now: bool, trace: str | None) -> int:
        """``RoomActor._fan_out``'s loop while tracing is on: the same offers, and what became of each traced one.

        Decided once per event: a followed event (all, or its room traced) lists its members (up to
        ``event_connections``); otherwise only the traced users' connections are looked at, by id, never
        every member.
        """
        frame, type_, room = publication.frame, publication.type, publication.room
        delivered = 0
        failed: list[str] = []
        for connection_id, outlet in members.items():
            if outlet.offer(frame, type_, key, now):
                delivered += 1
            else:
                failed.append(connection_id)
        follow = self.follows(room)
        if trace is None:
            trace = self._positions.get((room, publication.epoch, publication.offset)) or \
                f"{room}@{publication.epoch}:{publication.offset}"
        record = self._event(trace)
        record.type = type_
        if record.outcome is not None and record.outcome.startswith("held"):
            record.outcome = "held, then sent when its coalescing window ended"
        record.room(room).update(epoch=publication.epoch, offset=publication.offset, members=len(members),
                                 delivered=delivered, notDelivered=len(failed), node=self.node)
        self._positions[(room, publication.epoch, publication.offset)] = trace
        if len(record.steps) < STEPS_PER_EVENT:
            record.steps.append({"at": time.time(), "node": self.node, "actor": room_actor.actor_id, "room": room,
                                 "event": "fan-out", "detail": f"offset {publication.offset}: written to {delivered} "
                                                               f"of {len(members)} members"})
        failed_set = set(failed)
        traced = self._connections
        listed: Iterable[str]
        if follow:
            listed = members
        else:
            listed = [cid for cid in traced if cid in members] if len(traced) < len(members) else \
                [cid for cid in members if cid in traced]
        shown = 0
        for connection_id in listed:
            outlet = members[connection_id]
            outcome = "delivered" if connection_id not in failed_set else self._not_written(outlet)
            is_traced = connection_id in traced or (self.all and shown < self.limits.event_connections)
            if shown < self.limits.event_connections or is_traced:
                shown += 1
                record.connections.append({"connectionId": connection_id, "userId": self._user_of.get(connection_id),
                                           "room": room, "outcome": outcome, "outbox": outlet.queued,
                                           "node": self.node})
            else:
                record.unlisted += 1
            if is_traced:
                self._delivery(connection_id, room, type_, publication, trace, outcome, outlet.queued)
        self._traced_users_outcomes(record, members, room)
        if follow or shown:
            self.record(room_actor, "out", type_, peer=f"{delivered} of {len(members)} members",
                        summary={"room": room, "type": type_, "epoch": publication.epoch, "offset": publication.offset,
                                 "delivered": delivered, "members": len(members)}, trace=trace)
        return delivered

    @staticmethod
    def _not_written(outlet: Outlet) -> str:
        code = outlet.close_code
        if code == 4008:
            return "outbox full: closed 4008 (slow consumer)"
        return f"connection closing ({code})" if code is not None else "connection closing"

    def _delivery(self, connection_id: str, room: str, type_: str, publication: Any, trace: str, outcome: str,
                  outbox: int) -> None:
        entry = {"at": time.time(), "userId": self._user_of.get(connection_id), "connectionId": connection_id,
                 "room": room, "type": type_, "epoch": publication.epoch, "offset": publication.offset,
                 "traceId": trace, "outcome": outcome, "outbox": outbox, "node": self.node}
        self._deliveries.append(entry)
        self._prune(self._deliveries, self.limits.records, lambda r: r["at"])
        actor = self._actors.get(connection_id)
        if actor is not None:
            self.record(actor, "out" if outcome == "delivered" else "dropped", type_, peer="socket",
                        detail=None if outcome == "delivered" else outcome,
                        summary={"room": room, "type": type_, "epoch": publication.epoch,
                                 "offset": publication.offset, "outbox": outbox}, trace=trace)

    def _traced_users_outcomes(self, record: EventRecord, members: dict[str, Outlet], room: str) -> None:
        """For each traced user: the event reached these connections, or why not (not connected, not a member,
        refused by policy when the user asked for the room and was refused)."""
        for user in self._users:
            connections = self._by_user.get(user, ())
            outcomes = []
            refused = self._refused(user, room)
            for connection_id in sorted(connections):
                if connection_id in members:
                    continue  # listed with the members
                actor = self._actors.get(connection_id)
                rooms = sorted(getattr(actor, "rooms", ()))
                outcome = (f"refused by policy: {refused['code']} for {refused.get('frame', 'a frame')} at "
                           f"{time.strftime('%H:%M:%S', time.gmtime(refused['at']))} UTC" if refused is not None
                           else "not a member")
                outcomes.append({"connectionId": connection_id, "room": room, "outcome": outcome,
                                 "memberOf": rooms[:20], "node": self.node})
            delivered_here = [c for c in record.connections if c.get("userId") == user and c["room"] == room]
            if not connections:
                outcomes.append({"room": room, "outcome": "not connected", "node": self.node})
            record.users.setdefault(user, []).extend(delivered_here + outcomes)

    def _refused(self, user: str, room: str) -> dict[str, Any] | None:
        for entry in reversed(self._refusals):
            if entry["userId"] == user and entry.get("room") == room:
                return entry
        return None

    def user_missed(self, user: str, type_: str, room: str, reason: str, trace: str | None = None) -> None:
        """Something meant for a traced user that did not reach them as sent (a notification suppressed by
        preferences, shown silently in quiet hours): listed with their deliveries."""
        if user not in self._users and not self.all:
            return
        self._deliveries.append({"at": time.time(), "userId": user, "room": room, "type": type_, "traceId": trace,
                                 "outcome": reason, "node": self.node})
        self._prune(self._deliveries, self.limits.records, lambda r: r["at"])
        if trace is not None:
            record = self._event(trace)
            record.type = record.type or type_
            record.room(room)
            record.users.setdefault(user, []).append({"room": room, "outcome": reason, "node": self.node})

    def notification_pushed(self, user: str, notification: Mapping[str, Any], silent: bool) -> str | None:
        """A stored notification is pushed to ``user:{user}``: a trace id for its push when the user is traced,
        and, in quiet hours, that it was shown silently."""
        if not self.user_traced(user):
            return None
        trace = new_trace_id()
        room = f"user:{user}"
        self.event_step(trace, "notifications", "push", f"notification {notification.get('id')} "
                        f"({notification.get('type')}, {notification.get('priority')})", type_="NOTIFICATION",
                        room=room)
        if silent:
            self.user_missed(user, "NOTIFICATION", room, "suppressed in quiet hours: pushed silently (no toast, "
                             "no browser notification)", trace)
        return trace

    def notifications_skipped(self, skipped: Iterable[Mapping[str, Any]]) -> None:
        """Recipients a notification was not stored or pushed for, because their preferences say so."""
        for item in skipped:
            user = str(item.get("userId"))
            if self.user_traced(user):
                self.user_missed(user, "NOTIFICATION", f"user:{user}",
                                 f"suppressed by notification preferences ({item.get('reason')}): not stored, "
                                 "not pushed")

    def user_traced(self, user: str) -> bool:
        return self.all or user in self._users

    # --- reading ---------------------------------------------------------------------------------

    def count(self) -> int:
        return len(self._actors)

    def live_refs(self) -> list[Any]:
        """Every live actor of this system, hub last, so the system can stop them all."""
        refs = [actor.actor_ref for actor in self._actors.values() if actor.kind != "hub"]
        refs += [actor.actor_ref for actor in self._actors.values() if actor.kind == "hub"]
        return refs

    def actors(self) -> list[dict[str, Any]]:
        return [actor.describe() for actor in list(self._actors.values())]

    def stopped_actors(self) -> list[dict[str, Any]]:
        self._prune(self._graveyard, self.limits.stopped_actors, lambda s: s.stopped_at)
        return [{**s.description, "alive": False, "stoppedAt": s.stopped_at,
                 "entries": len(s.ring.entries) if s.ring is not None else 0} for s in reversed(self._graveyard)]

    def entry_dict(self, entry: TraceEvent) -> dict[str, Any]:
        return {**entry.to_dict(), "node": self.node}

    def describe(self, actor_id: str) -> dict[str, Any] | None:
        """A live actor's description without its trace: what the hub's admin listings read, per connection."""
        live = self._actors.get(actor_id)
        return live.describe() if live is not None else None

    def actor(self, actor_id: str) -> dict[str, Any] | None:
        """One actor with its recent trace: live if it is, else the last one of that id to stop."""
        live = self._actors.get(actor_id)
        if live is not None:
            ring = self._rings.get(actor_id)
            return {**live.describe(), "alive": True, "node": self.node,
                    "trace": [self.entry_dict(e) for e, _ in ring.entries] if ring is not None else []}
        for stopped in reversed(self._graveyard):
            if stopped.actor_id == actor_id:
                ring = stopped.ring
                return {**stopped.description, "alive": False, "stoppedAt": stopped.stopped_at, "node": self.node,
                        "trace": [self.entry_dict(e) for e, _ in ring.entries] if ring is not None else []}
        ring = self._rings.get(actor_id)  # a step outside any actor: "rest", "router"
        if ring is not None:
            return {"id": actor_id, "kind": actor_id, "alive": True, "node": self.node,
                    "trace": [self.entry_dict(e) for e, _ in ring.entries]}
        return None

    def entries(self, wanted: Callable[[TraceEvent], bool], limit: int = ENTRIES_PER_VIEW) -> list[dict[str, Any]]:
        """Entries of every ring, live actors' and stopped ones', that ``wanted`` picks, oldest first (the latest
        ``limit``)."""
        rings = list(self._rings.values()) + [s.ring for s in self._graveyard if s.ring is not None]
        found = [entry for ring in rings for entry, _ in ring.entries if wanted(entry)]
        found.sort(key=lambda entry: entry.at)
        return [self.entry_dict(entry) for entry in found[-limit:]]

    def event(self, trace: str, positions: Iterable[tuple[str, str, int]] = ()) -> dict[str, Any] | None:
        """``GET /api/debug/events/{traceId}`` here: the event's record and every entry carrying its trace id.

        ``positions`` (room, epoch, offset): another node's events arrive without their trace id, so a node
        asked about an event it did not publish finds it by where it stands in its rooms.
        """
        record = self._events.get(trace)
        for position in positions:
            if record is not None:
                break
            key = self._positions.get(position)
            record = self._events.get(key) if key is not None else None
        if record is None or record.at < time.time() - self.limits.keep_seconds:
            return None  # (an old record is dropped when the next event is recorded; it is not shown meanwhile)
        ids = {trace, record.trace}
        return {**record.to_dict(self.node), "entries": self.entries(lambda e: e.trace in ids)}

    def user(self, user_id: str) -> dict[str, Any]:
        """``GET /api/debug/users/{id}`` here: live and closed connections, refusals, deliveries and misses."""
        now = time.time()
        live = []
        for connection_id in sorted(self._by_user.get(user_id, ())):
            actor = self._actors.get(connection_id)
            if actor is None:
                continue
            described = actor.describe()
            live.append({"connectionId": connection_id, "role": described.get("role"), "opened": actor.started_at,
                         "transport": "websocket" if getattr(actor, "inline", False) else "sse",
                         "rooms": described.get("rooms", []), "outbox": described.get("outbox"),
                         "mailbox": described.get("mailbox"), "node": self.node})
        for store in (self._closed, self._refusals, self._deliveries):
            self._prune(store, self.limits.records, lambda r: r.get("closed", r.get("at", now)))
        closed = [r for r in reversed(self._closed) if r["userId"] == user_id]
        refusals = [r for r in reversed(self._refusals) if r["userId"] == user_id]
        mine = [r for r in reversed(self._deliveries) if r["userId"] == user_id]
        return {"userId": user_id, "node": self.node, "traced": self.user_traced(user_id),
                "connections": {"live": live, "closed": closed}, "refusals": refusals,
                "deliveries": [r for r in mine if r["outcome"] == "delivered"],
                "missed": [r for r in mine if r["outcome"] != "delivered"]}

    def room(self, room: str) -> dict[str, Any]:
        """What the tracer knows of a room here: its actor (live or stopped), its traced events, its entries."""
        actor = self.actor(f"room:{room}")
        publishes: list[dict[str, Any]] = []
        horizon = time.time() - self.limits.keep_seconds
        for record in reversed(self._events.values()):
            part = record.rooms.get(room)
            if part is not None and len(publishes) < 50 and record.at >= horizon:
                publishes.append({"traceId": record.trace, "at": record.at, "type": record.type,
                                  "outcome": record.outcome, **part})
        return {"traced": self.follows(room), "actor": actor, "publishes": publishes}

    def watch(self, wanted: TraceFilter | None = None, idle: float | None = None) -> Iterator[TraceEvent | None]:
        """Live entries (those ``wanted`` matches) until the caller stops iterating; for the live stream.

        With ``idle``, None after that many seconds without an entry: the stream writes a heartbeat, which is
        also how it learns that its client has gone (the write fails and the watcher is removed).
        """
        queue: Queue[TraceEvent] = Queue()
        item = (queue, wanted or TraceFilter())
        self._watchers.append(item)
        try:
            while True:
                try:
                    yield queue.get(timeout=idle)
                except Empty:
                    yield None
        finally:
            self._watchers.remove(item)

    def _prune(self, store: deque[Any], most: int, at: Callable[[Any], float]) -> None:
        horizon = time.time() - self.limits.keep_seconds
        while store and (len(store) > most or at(store[0]) < horizon):
            store.popleft()


def describe_rules(rules: TraceRules) -> str:
    """Rules in a line of a log or of the admin page's actions: ``users 42; rooms lead:9 for 900s``."""
    parts = ["all"] if rules.all else []
    parts += [f"{name} {','.join(sorted(items))}" for name, items in
              (("users", rules.users), ("rooms", rules.rooms), ("actors", rules.actors)) if items]
    until = "until cleared" if rules.until is None else f"for {max(0.0, rules.until - time.time()):.0f}s"
    return f"{'; '.join(parts) or 'nothing'} {until}"


def new_trace_id() -> str:
    """16 hex digits: unique enough to find one event among the ones kept, short enough to read aloud."""
    return os.urandom(8).hex()


def valid_trace_id(text: str) -> bool:
    return bool(TRACE_ID.match(text)) and mask(text) == text
