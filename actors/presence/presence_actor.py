"""PresenceActor: who is viewing each presence room, who is typing in it, and the PRESENCE frames.

One per process. Every join and leave of a presence room (``PRESENCE_PREFIXES``) passes through it on
its way to the hub: it counts the socket's user as a viewer, and for a subscription that asked for
presence it puts the viewers into the join, which the room (or the hub, for a room without an actor)
writes into SUBSCRIBED. The diffs then travel the same road (``RoomFrame``: this actor, the hub, the
room), so no socket gets a PRESENCE frame before the SUBSCRIBED it follows on from.

Viewers are users, not sockets: two tabs are one viewer, who leaves when the last tab goes. What the
watchers of a room were last told is ``shown``; every ``PRESENCE_INTERVAL`` the actor compares each
changed room's viewers with it and sends one frame of joins and leaves (at most one frame per room
per interval, however many came and went). A new watcher's SUBSCRIBED holds ``shown``, so the next
frame applies to it exactly as to the others; in a room nobody here watched yet, ``shown`` is first
brought up to date, so that SUBSCRIBED is the truth of the moment.

With Redis the viewers of other nodes come from ``RedisPresenceShare`` (their parts, in order by their
numbers; a dead node's part is dropped when its heartbeat stops, and its typers get TYPING_STOP from
one survivor). Without it (the memory broker) everything is this process's.

Typing follows presence: a socket that sent TYPING_START and then leaves the room or disconnects, or
whose user sends nothing more for ``TYPING_TIMEOUT``, produces TYPING_STOP for the room.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
import pykka

from ..rooms.actor_messages import Leave, Publish, RoomFrame
from ..runtime.actor import TracedActor
from ..runtime.context import ActorContext
from ..transport.framing import text_frame
from .actor_messages import (
    ConnectionLeft,
    Enter,
    Exit,
    FlushPresence,
    GetPresence,
    LiveNodes,
    NodeState,
    Resync,
    Typed,
)
from .presence_share import RedisPresenceShare, State
from .wire import presence_frame

log = logging.getLogger("realtime.presence")


@dataclass(slots=True)
class _Part:
    """Another node's part of a room: its viewers and typers, as of its write number ``seq``."""

    seq: int
    users: frozenset[str]
    typing: frozenset[str]


@dataclass(slots=True)
class _Typer:
    sockets: set[str] = field(default_factory=set)
    last: float = 0.0
    """When the user last sent TYPING_START (monotonic)."""


@dataclass(slots=True)
class _Room:
    local: dict[str, set[str]] = field(default_factory=dict)
    """Viewers here: user id -> their sockets in the room."""
    watchers: set[str] = field(default_factory=set)
    """Sockets here that asked for presence: they get the PRESENCE frames."""
    remote: dict[str, _Part] = field(default_factory=dict)
    typing: dict[str, _Typer] = field(default_factory=dict)
    """Typers here: user id -> their typing sockets."""
    shown: frozenset[str] = frozenset()
    """The viewers as the watchers here were last told (SUBSCRIBED, then every PRESENCE frame)."""

    def viewers(self) -> frozenset[str]:
        users = set(self.local)
        for part in self.remote.values():
            users |= part.users
        return frozenset(users)

    def idle(self) -> bool:
        return not self.local and not self.watchers and not self.typing


class PresenceActor(TracedActor):
    """One per process: presence rooms' viewers (here and, through Redis, everywhere) and typing."""

    kind = "presence"

    def __init__(self, ctx: ActorContext, share: RedisPresenceShare | None = None) -> None:
        super().__init__(ctx, "presence")
        self._share = share
        self._rooms: dict[str, _Room] = {}
        self._changed: set[str] = set()
        """Rooms whose viewers may differ from what their watchers were shown."""
        self._unshared: set[str] = set()
        """Rooms whose viewers or typers here changed since this node's part was last written to Redis."""
        self._emptied: set[str] = set()
        """Rooms that may have nothing left here: forgotten at the next flush if so."""
        self._typing_of: dict[str, set[str]] = {}
        """Socket -> the rooms it types in."""
        self._dead: set[str] = set()
        self._live: frozenset[str] | None = None
        self._judge_after = 0.0
        """No node is declared dead before this (monotonic): after the presence connection came back, Redis may
        have restarted empty, and every node writes its heartbeat again only within one interval."""
        self._timer: gevent.Greenlet | None = None
        self._refreshed = time.monotonic()
        self.frames = 0
        self.typing_stops = 0

    # --- life ------------------------------------------------------------------------------------

    def started(self) -> None:
        if self._share is not None:
            self._share.start(self.actor_ref)
        self._timer = gevent.spawn(self._tick)

    def stopping(self) -> None:
        if self._timer is not None:
            self._timer.kill(block=False)
            self._timer = None
        share = self._share
        if share is not None:  # leaving: the others see this node's viewers go now, not three heartbeats later
            share.write({room: ((), ()) for room, r in self._rooms.items() if r.local or r.typing})
            share.close()

    def _tick(self) -> None:
        interval = self.ctx.settings.presence_interval
        while True:
            gevent.sleep(interval)
            try:
                self.actor_ref.tell(FlushPresence())
            except pykka.ActorDeadError:
                return

    # --- messages --------------------------------------------------------------------------------

    def handle(self, message: Any) -> Any:
        if isinstance(message, Enter):
            self._enter(message)
        elif isinstance(message, Exit):
            leave = message.leave
            self._remove(leave.room, leave.connection_id, message.user_id)
            self.tell_hub(leave)
        elif isinstance(message, ConnectionLeft):
            for room in message.rooms:
                self._remove(room, message.connection_id, message.user_id)
                self.tell_hub(Leave(room, message.connection_id))
            for room in sorted(self._typing_of.pop(message.connection_id, ())):
                self._stop_typing(room, message.user_id, message.connection_id, "left")
        elif isinstance(message, Typed):
            self._typed(message)
        elif isinstance(message, FlushPresence):
            self._flush()
        elif isinstance(message, NodeState):
            followed = self._rooms.get(message.room)
            if followed is not None and self._apply(followed, message.node,
                                                    (message.seq, message.users, message.typing)):
                self._changed.add(message.room)
        elif isinstance(message, LiveNodes):
            self._live_nodes(message.nodes)
        elif isinstance(message, Resync):
            self._judge_after = time.monotonic() + 3 * self.ctx.settings.node_heartbeat
            self._resync()
        elif isinstance(message, GetPresence):
            return self._viewers_of(message.room)
        else:
            return super().handle(message)
        return None

    def _enter(self, message: Enter) -> None:
        join = message.join
        room = self._room(join.room)
        sockets = room.local.get(message.user_id)
        if sockets is None:
            sockets = room.local[message.user_id] = set()
            self._mark(join.room)
        sockets.add(join.connection_id)
        snapshot = None
        if message.watch:
            if not room.watchers:  # nobody here was told anything: this SUBSCRIBED may be the truth of now
                room.shown = room.viewers()
            room.watchers.add(join.connection_id)
            snapshot = tuple(sorted(room.shown))
        else:
            room.watchers.discard(join.connection_id)
        self.tell_hub(dataclasses.replace(join, presence=snapshot))

    def _remove(self, name: str, connection_id: str, user_id: str) -> None:
        room = self._rooms.get(name)
        if room is not None:
            sockets = room.local.get(user_id)
            if sockets is not None:
                sockets.discard(connection_id)
                if not sockets:
                    del room.local[user_id]
                    self._mark(name)
            room.watchers.discard(connection_id)
            self._emptied.add(name)
        rooms = self._typing_of.get(connection_id)
        if rooms is not None and name in rooms:  # a typing user who leaves the room stops typing in it
            rooms.discard(name)
            if not rooms:
                del self._typing_of[connection_id]
            self._stop_typing(name, user_id, connection_id, "left")

    def _typed(self, message: Typed) -> None:
        name, user = message.room, message.user_id
        if message.start:
            room = self._room(name)
            typer = room.typing.get(user)
            if typer is None:
                typer = room.typing[user] = _Typer()
                self._unshared.add(name)
            typer.sockets.add(message.connection_id)
            typer.last = time.monotonic()
            self._typing_of.setdefault(message.connection_id, set()).add(name)
            return
        rooms = self._typing_of.get(message.connection_id)
        if rooms is not None:
            rooms.discard(name)
            if not rooms:
                del self._typing_of[message.connection_id]
        room_ = self._rooms.get(name)
        typer = room_.typing.get(user) if room_ is not None else None
        if room_ is not None and typer is not None:
            typer.sockets.discard(message.connection_id)
            if not typer.sockets:  # the user said so: the room already has their TYPING_STOP
                del room_.typing[user]
                self._unshared.add(name)
                self._emptied.add(name)

    def _stop_typing(self, name: str, user: str, connection_id: str, reason: str) -> None:
        room = self._rooms.get(name)
        typer = room.typing.get(user) if room is not None else None
        if room is None or typer is None:
            return
        typer.sockets.discard(connection_id)
        if typer.sockets:
            return  # another tab of the user is still typing here
        del room.typing[user]
        self._unshared.add(name)
        self._emptied.add(name)
        self._publish_stop(name, user, reason)

    def _publish_stop(self, room: str, user: str, reason: str) -> None:
        self.typing_stops += 1
        self.tell_hub(Publish(room, "TYPING_STOP", {"contactId": room.partition(":")[2], "userId": user,
                                                    "reason": reason}))

    # --- rooms, here and elsewhere ---------------------------------------------------------------

    def _room(self, name: str) -> _Room:
        room = self._rooms.get(name)
        if room is None:
            room = self._rooms[name] = _Room()
            if self._share is not None:
                for node, state in self._share.follow(name).items():
                    self._apply(room, node, state)
                room.shown = room.viewers()
        return room

    def _mark(self, name: str) -> None:
        self._changed.add(name)
        self._unshared.add(name)

    def _apply(self, room: _Room, node: str, state: State) -> bool:
        """Take another node's part unless it is older than the one held; True when the room's viewers may change."""
        if node in self._dead:
            return False
        seq, users, typing = state
        known = room.remote.get(node)
        if known is not None and seq <= known.seq:
            return False
        room.remote[node] = _Part(seq, frozenset(users), frozenset(typing))  # an empty part stays: it has a number
        return True

    def _live_nodes(self, nodes: frozenset[str]) -> None:
        """Drop the parts of nodes that stopped beating: their viewers leave, their typers stop.

        Their parts stay in Redis (the others skip them; ``PRESENCE_TTL`` removes them): a node wrongly taken
        for dead (its heartbeats late) finds its part where it left it, and is read again when it beats again.
        """
        self._live = nodes
        revived = self._dead & nodes
        self._dead -= nodes
        if revived:  # taken for dead, yet beating again: read their parts again
            self._resync()
        if time.monotonic() < self._judge_after:
            return
        gone: set[str] = set()
        touched: list[str] = []
        for name, room in self._rooms.items():
            dead = [node for node in room.remote if node not in nodes]
            for node in dead:
                part = room.remote.pop(node)
                gone.add(node)
                for user in sorted(part.typing):
                    if self._share is not None and self._share.first_to_stop(name, user, node):
                        self._publish_stop(name, user, "left")
            if dead:
                self._changed.add(name)
                touched.append(name)
        if gone:
            log.info("presence: nodes %s stopped beating; their viewers left %d rooms", sorted(gone), len(touched))
            self._dead |= gone

    def _resync(self) -> None:
        """Read every followed room from Redis again (messages may have been lost), and write ours again."""
        share = self._share
        if share is None or not self._rooms:
            return
        names = list(self._rooms)
        parts = share.load(names)
        for name in names:
            room = self._rooms[name]
            fresh = {node: _Part(state[0], frozenset(state[1]), frozenset(state[2]))
                     for node, state in parts.get(name, {}).items() if node not in self._dead}
            if name in parts:
                room.remote = fresh
            self._changed.add(name)
            if room.local or room.typing:
                self._unshared.add(name)

    def _viewers_of(self, name: str) -> list[str]:
        room = self._rooms.get(name)
        if room is not None:
            return sorted(room.viewers())
        if self._share is None:
            return []
        users: set[str] = set()
        for node, (_, viewers, _) in self._share.load([name]).get(name, {}).items():
            if node not in self._dead and (self._live is None or node in self._live):
                users.update(viewers)
        return sorted(users)

    # --- the interval ----------------------------------------------------------------------------

    def _flush(self) -> None:
        now = time.monotonic()
        self._silence(now)
        share = self._share
        if share is not None and self._unshared:
            parts = {}
            for name in self._unshared:
                room = self._rooms.get(name)
                parts[name] = (tuple(sorted(room.local)), tuple(sorted(room.typing))) if room else ((), ())
            if share.write(parts):
                self._unshared.clear()
        for name in self._changed:
            room = self._rooms.get(name)
            if room is None:
                continue
            view = room.viewers()
            if view == room.shown:
                continue
            if room.watchers:
                frame = text_frame(presence_frame(name, sorted(view - room.shown), sorted(room.shown - view)))
                self.tell_hub(RoomFrame(name, frame, frozenset(room.watchers)))
                self.frames += 1
            room.shown = view
        self._changed.clear()
        for name in self._emptied:
            room = self._rooms.get(name)
            if room is not None and room.idle() and name not in self._unshared:
                del self._rooms[name]
                if share is not None:
                    share.unfollow(name)
        self._emptied.clear()
        if share is not None and now - self._refreshed > self.ctx.settings.presence_ttl / 3:
            self._refreshed = now
            share.refresh([name for name, room in self._rooms.items() if room.local or room.typing])

    def _silence(self, now: float) -> None:
        """Typers whose user sent no TYPING_START for TYPING_TIMEOUT stop."""
        before = now - self.ctx.settings.typing_timeout
        for name, room in self._rooms.items():
            silent = [user for user, typer in room.typing.items() if typer.last < before]
            for user in silent:
                typer = room.typing.pop(user)
                for connection_id in typer.sockets:
                    rooms = self._typing_of.get(connection_id)
                    if rooms is not None:
                        rooms.discard(name)
                        if not rooms:
                            del self._typing_of[connection_id]
                self._unshared.add(name)
                self._emptied.add(name)
                self._publish_stop(name, user, "silent")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "rooms": len(self._rooms),
                "watchers": sum(len(room.watchers) for room in self._rooms.values()),
                "frames": self.frames, "typingStops": self.typing_stops,
                "share": self._share.describe() if self._share is not None else None}
