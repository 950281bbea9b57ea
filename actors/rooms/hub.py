"""Hub: the room registry. Routes joins, leaves and publishes to RoomActors, creating them on demand.

It also knows every connection, for the heartbeat sweep and the status counts. It never writes a
socket's data itself: pings go through each connection's outlet like any other frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pykka

from ..errors import Unavailable
from ..identity import Identity
from ..protocol.frames import error_frame, subscribed_frame, unsubscribed_frame
from ..protocol.positions import Since
from ..runtime.actor import TracedActor
from ..runtime.context import ActorContext
from ..runtime.reply import Failure
from ..transport.framing import PING_FRAME, text_frame
from ..transport.outlet import Outlet
from ..transport.sse_outlet import SseOutlet
from .actor_messages import (
    Browse,
    CheckPosition,
    CloseConnection,
    ConnectedUsers,
    CountMembers,
    Deliver,
    GetStatus,
    History,
    Join,
    Joined,
    Kick,
    Leave,
    Publish,
    RegisterConnection,
    Retire,
    RoomFrame,
    RoomIdle,
    RoomMembers,
    Shutdown,
    Tick,
    UnregisterConnection,
)
from .broker import Broker
from .room_actor import CLOSE_INSUFFICIENT_STATE, GAPS, RoomActor


@dataclass(slots=True)
class _RoomEntry:
    ref: pykka.ActorRef[Any]
    forwarded: int = 0


@dataclass(slots=True)
class _DormantRoom:
    """A room with members that has never carried an event here: no actor; the broker holds its epoch."""

    members: dict[str, Outlet] = field(default_factory=dict)
    emptied_at: float | None = None
    """When the last member left: the room (and its epoch) is kept for ROOM_IDLE_SECONDS, as a RoomActor is."""
    position: Since | None = None
    """Where the room stood when this process subscribed to it: nothing after it has been fanned out here
    (a Deliver would have started a RoomActor). None while the broker could not be asked."""


_NO_MEMBERS = _DormantRoom()


@dataclass(frozen=True, slots=True)
class _ConnectionEntry:
    ref: pykka.ActorRef[Any]
    outlet: Outlet
    identity: Identity


class Hub(TracedActor):
    """One per process.

    Rooms start dormant: every connection is in its own ``user:{sub}`` room, and most of those never
    carry an event, so a room becomes a RoomActor only when it first has an event to fan out (or a
    history to show). Until then the hub keeps its members and answers joins itself; the actor adopts
    them, so nothing a client was told changes. A RoomActor cost 12.7 KiB per user.

    The hub tells the broker which rooms this process holds (``subscribe`` when a room first appears
    here, ``unsubscribe`` when it is forgotten), and turns the events the broker hands over (other
    processes', and this one's own coming back when the broker ``echoes``) into ``Deliver`` messages for
    the rooms that have an actor or members here.
    """

    kind = "hub"

    def __init__(self, ctx: ActorContext, broker: Broker) -> None:
        super().__init__(ctx, "hub")
        self.rooms: dict[str, _RoomEntry] = {}
        self.dormant: dict[str, _DormantRoom] = {}
        self.connections: dict[str, _ConnectionEntry] = {}
        self.rooms_created = 0
        self._broker = broker
        self._shut_down = False

    def handle(self, message: Any) -> Any:
        if isinstance(message, Publish):
            if self._shut_down:  # no new room after Shutdown: ActorSystem.stop could not stop it
                if message.reply is not None:
                    message.reply.set(Failure(Unavailable("the server is shutting down")))
                return None
            self._forward(message.room, message, create=True)
            return None
        if isinstance(message, Deliver):
            room = message.publication.room
            if room in self.rooms or self.dormant.get(room, _NO_MEMBERS).members:
                self._forward(room, message, create=True)
            return None
        if isinstance(message, CheckPosition):
            if message.room in self.rooms:
                self._forward(message.room, message, create=False)
            else:
                self._check_dormant(message.room, message.position)
            return None
        if isinstance(message, Join):
            if message.room in self.rooms:
                self._forward(message.room, message, create=False)
            else:
                self._join_dormant(message)
            return None
        if isinstance(message, Leave):
            if message.room in self.rooms:
                self._forward(message.room, message, create=False)
            else:
                self._leave_dormant(message)
            return None
        if isinstance(message, History):
            if message.room in self.rooms:
                self._forward(message.room, message, create=False)
            else:  # nothing held: never a reason to start a room
                dormant = self.dormant.get(message.room)
                epoch = None
                if dormant is not None:
                    position = dormant.position or self._broker.position(message.room)
                    epoch = position.epoch
                recovered = message.since is None or (epoch is not None and message.epoch in (None, epoch)
                                                      and message.since == 0)
                message.reply.set({"room": message.room, "epoch": epoch, "offset": 0, "recovered": recovered,
                                   "events": []})
            return None
        if isinstance(message, RoomFrame):
            if message.room in self.rooms:
                self._forward(message.room, message, create=False)
            else:
                self._room_frame_dormant(message)
            return None
        if isinstance(message, RegisterConnection):
            self._register(message)
            return None
        if isinstance(message, UnregisterConnection):
            self.connections.pop(message.connection_id, None)
            for room in message.rooms:
                if room in self.rooms:
                    self._forward(room, Leave(room, message.connection_id), create=False)
                else:
                    self._leave_dormant(Leave(room, message.connection_id))
            return None
        if isinstance(message, RoomIdle):
            entry = self.rooms.get(message.room)
            if entry is not None and entry.forwarded == message.seen:
                del self.rooms[message.room]
                self._broker.unsubscribe(message.room)
                self.send(entry.ref, Retire(), f"room:{message.room}")
            return None
        if isinstance(message, Tick):
            return self._heartbeat(message.slice_, message.slices)
        if isinstance(message, ConnectedUsers):
            roles, users = set(message.roles), set(message.user_ids)
            return {e.identity.user_id: e.identity.role for e in self.connections.values()
                    if e.identity.role in roles or e.identity.user_id in users}
        if isinstance(message, GetStatus):
            live_dormant = sum(1 for dormant in self.dormant.values() if dormant.members)
            return {"connections": len(self.connections), "rooms": len(self.rooms) + live_dormant,
                    "roomActors": len(self.rooms), "roomsCreated": self.rooms_created}
        if isinstance(message, Shutdown):
            return self._shutdown(message.code)
        if isinstance(message, Browse):
            return self._browse(message)
        if isinstance(message, RoomMembers):
            return self._room_members(message.room)
        if isinstance(message, CountMembers):
            return self._count_members(message.room)
        if isinstance(message, Kick):
            kicked = self.connections.get(message.connection_id)
            if kicked is not None:
                self.send(kicked.ref, CloseConnection(message.code, message.reason), message.connection_id)
            return kicked is not None
        return super().handle(message)

    def _forward(self, room: str, message: Any, create: bool) -> None:
        entry = self.rooms.get(room)
        if entry is None:
            if not create or self._shut_down:
                return
            dormant = self.dormant.pop(room, None)
            if dormant is None:
                self._broker.subscribe(room)
                ref = RoomActor.start(self.ctx, room, self._broker, start=self._baseline(room))
            else:
                ref = RoomActor.start(self.ctx, room, self._broker, dormant.members, start=dormant.position)
            entry = self.rooms[room] = _RoomEntry(ref)
            self.rooms_created += 1
        entry.forwarded += 1
        self.send(entry.ref, message, f"room:{room}")

    def _register(self, message: RegisterConnection) -> None:
        """Count the connection and join its home rooms; one Joined for all the dormant ones."""
        self.connections[message.connection_id] = _ConnectionEntry(message.ref, message.outlet, message.identity)
        joined_here = []
        for room in message.identity.home_rooms:
            join = Join(room, message.connection_id, message.outlet, ack_to=message.ref)
            if room in self.rooms:
                self._forward(room, join, create=False)  # the room actor answers with its own Joined
            else:
                self._add_dormant_member(join)
                joined_here.append(room)
        if joined_here:
            self.send(message.ref, Joined(tuple(joined_here)), message.connection_id)

    def _add_dormant_member(self, message: Join) -> _DormantRoom:
        dormant = self.dormant.get(message.room)
        if dormant is None:
            self._broker.subscribe(message.room)  # a shared broker returns once events of the room reach us
            dormant = self.dormant[message.room] = _DormantRoom(position=self._baseline(message.room))
        dormant.members[message.connection_id] = message.outlet
        dormant.emptied_at = None
        return dormant

    def _join_dormant(self, message: Join) -> None:
        dormant = self._add_dormant_member(message)
        if message.ack_to is not None:
            self.send(message.ack_to, Joined((message.room,)), message.connection_id)
            return
        if dormant.position is None:
            dormant.position = self._baseline(message.room)
        position = dormant.position
        if position is None:
            message.outlet.offer(text_frame(error_frame(Unavailable.code, "the broker is unavailable; retry",
                                                        message.frame_id)), now=True)
            return
        if position.offset:  # events were published before this process held the room: the room actor answers
            self._forward(message.room, message, create=True)
            return
        recovered = None
        if message.since is not None:  # nothing was ever published here: recovered if it is this incarnation
            recovered = message.since.epoch == position.epoch and message.since.offset == 0
            self.ctx.metrics.recovery(recovered)
        message.outlet.offer(text_frame(subscribed_frame(message.room, position.epoch, 0, recovered, message.frame_id,
                                                         message.presence)),
                             now=True)  # a dormant room has nothing to replay: the answer is all

    def _baseline(self, room: str) -> Since | None:
        """The room's position right after subscribing to it (None when the broker cannot be reached now)."""
        try:
            return self._broker.position(room)
        except Unavailable:
            return None

    def _check_dormant(self, room: str, position: Since) -> None:
        """A checkpoint for a room without an actor here: start one to refill, or close its members with 4010."""
        dormant = self.dormant.get(room)
        if dormant is None:
            return
        known = dormant.position
        if known is None or not dormant.members or known == position:
            dormant.position = position
            return
        if (known.epoch == position.epoch and position.offset > known.offset) or (known.offset == 0 < position.offset):
            self._forward(room, CheckPosition(room, position), create=True)  # the room refills from history
            return
        if known.epoch != position.epoch and known.offset == 0 and position.offset == 0:
            dormant.position = position  # nothing was ever published in either epoch: nothing was lost
            return
        GAPS.lost += 1
        GAPS.closed += len(dormant.members)
        for outlet in dormant.members.values():
            outlet.close(CLOSE_INSUFFICIENT_STATE, "insufficient state")
        dormant.members.clear()
        dormant.emptied_at = time.monotonic()
        dormant.position = position

    def _room_frame_dormant(self, message: RoomFrame) -> None:
        """A PRESENCE frame for members of a room without an actor: written here, as its SUBSCRIBED was."""
        members = self.dormant.get(message.room, _NO_MEMBERS).members
        for connection_id in message.to:
            outlet = members.get(connection_id)
            if outlet is not None:
                outlet.offer(message.frame)

    def _leave_dormant(self, message: Leave) -> None:
        dormant = self.dormant.get(message.room)
        outlet = dormant.members.pop(message.connection_id, None) if dormant is not None else None
        if message.answer and outlet is not None:
            outlet.offer(text_frame(unsubscribed_frame(message.room, message.frame_id)))
        if dormant is not None and not dormant.members and dormant.emptied_at is None:
            dormant.emptied_at = time.monotonic()

    def _heartbeat(self, slice_: int = 0, slices: int = 1) -> int:
        """Ping the sockets of one slice; cut the ones silent for longer than the timeout. Returns how many were cut.

        Once a round (slice 0) also forgets dormant rooms empty for longer than the idle period.
        """
        now = time.monotonic()
        if slice_ == 0:
            idle_before = now - self.ctx.settings.room_idle_seconds
            expired = [name for name, d in self.dormant.items()
                       if d.emptied_at is not None and d.emptied_at < idle_before]
            for room in expired:
                del self.dormant[room]
                self._broker.unsubscribe(room)
        silent_before = now - self.ctx.settings.heartbeat_timeout
        cut = 0
        for connection_id, entry in self.connections.items():
            if slices > 1 and hash(connection_id) % slices != slice_:
                continue
            outlet = entry.outlet
            if outlet.last_heard < silent_before:
                outlet.abort()
                cut += 1
            else:
                outlet.offer(PING_FRAME)
        return cut

    # --- the admin page's browser (read-only, no --debug needed) ---------------------------------

    def _connection_rooms(self, connection_id: str) -> list[str]:
        """The rooms a connection is in: its actor's own set (what its describe() shows the debug listing)."""
        actor = self.ctx.tracer.describe(connection_id)
        return list(actor.get("rooms", ())) if actor is not None else []

    def _browse(self, message: Browse) -> dict[str, Any]:
        query = message.query.lower()
        now = time.monotonic()
        items: list[dict[str, Any]]
        if message.what == "connections":
            items = [{"id": cid, "userId": e.identity.user_id, "role": e.identity.role,
                      "transport": "sse" if isinstance(e.outlet, SseOutlet) else "websocket",
                      "silentSeconds": round(now - e.outlet.last_heard, 1)}
                     for cid, e in self.connections.items()
                     if not query or query in cid.lower() or query in e.identity.user_id.lower()
                     or query in e.identity.role.lower()]
            items.sort(key=lambda item: (item["userId"], item["id"]))
        elif message.what == "users":
            users: dict[str, dict[str, Any]] = {}
            for cid, e in self.connections.items():
                user = users.setdefault(e.identity.user_id, {"userId": e.identity.user_id, "role": e.identity.role,
                                                              "connections": 0, "connectionIds": []})
                user["connections"] += 1
                user["connectionIds"].append(cid)
            items = sorted((u for u in users.values()
                            if not query or query in u["userId"].lower() or query in u["role"].lower()),
                           key=lambda u: (-u["connections"], u["userId"]))
        elif message.what == "rooms":
            names = set(self.rooms) | {name for name, d in self.dormant.items() if d.members}
            items = [self._room_summary(name) for name in sorted(names) if not query or query in name.lower()]
        else:
            raise ValueError(f"cannot browse {message.what!r}")
        page = items[message.offset:message.offset + message.limit]
        if message.what == "connections":
            for item in page:  # only for the page shown: a room count per connection means asking its actor
                item["rooms"] = len(self._connection_rooms(item["id"]))
        return {"what": message.what, "total": len(items), "offset": message.offset, "limit": message.limit,
                "items": page}

    def _room_summary(self, name: str) -> dict[str, Any]:
        if name in self.rooms:
            actor = self.ctx.tracer.describe(f"room:{name}") or {}
            return {"room": name, "live": True, "members": actor.get("members", 0), "epoch": actor.get("epoch"),
                    "offset": actor.get("offset"), "handled": actor.get("handled", 0)}
        members = self.dormant[name].members
        return {"room": name, "live": False, "members": len(members), "epoch": self._broker.position(name).epoch,
                "offset": 0, "handled": 0}

    def _room_members(self, room: str) -> dict[str, Any]:
        if room in self.rooms:
            member_ids = [cid for cid in self.connections if room in self._connection_rooms(cid)]
        else:
            member_ids = list(self.dormant.get(room, _NO_MEMBERS).members)
        members = [{"connectionId": cid, "userId": self.connections[cid].identity.user_id,
                    "role": self.connections[cid].identity.role} for cid in member_ids if cid in self.connections]
        members.sort(key=lambda m: (m["userId"], m["connectionId"]))
        return {"room": room, "live": room in self.rooms, "members": members}

    def _count_members(self, room: str) -> int:
        """The room's sockets here: its actor's member count (read as the admin browser reads it), else the
        dormant room's; no list is built, since every node answers this when a room's count is asked for."""
        if room in self.rooms:
            actor = self.ctx.tracer.describe(f"room:{room}") or {}
            return int(actor.get("members", 0))
        return len(self.dormant.get(room, _NO_MEMBERS).members)

    def _shutdown(self, code: int) -> int:
        self._shut_down = True
        for entry in self.connections.values():
            self.send(entry.ref, CloseConnection(code, "server shutting down"))
        rooms = list(self.rooms.values())
        self.rooms.clear()
        self.dormant.clear()
        for room in rooms:
            self.send(room.ref, Retire())
        return len(rooms)
