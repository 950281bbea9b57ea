"""Hub: the room registry. Routes joins, leaves and publishes to RoomActors, creating them on demand.

It also knows every connection, for the heartbeat sweep and the status counts. It never writes a
socket's data itself: pings go through each connection's outlet like any other frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pykka

from .base import TracedActor
from .context import ActorContext
from .identity import Identity
from .messages import (
    CloseConnection,
    ConnectedUsers,
    GetStatus,
    History,
    Join,
    Leave,
    Publish,
    RegisterConnection,
    Retire,
    RoomIdle,
    Shutdown,
    Tick,
    UnregisterConnection,
)
from .outlet import Outlet
from .room import RoomActor
from .wire import PING_FRAME


@dataclass(slots=True)
class _RoomEntry:
    ref: pykka.ActorRef[Any]
    forwarded: int = 0


@dataclass(frozen=True, slots=True)
class _ConnectionEntry:
    ref: pykka.ActorRef[Any]
    outlet: Outlet
    identity: Identity


class Hub(TracedActor):
    """One per process."""

    kind = "hub"

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx, "hub")
        self.rooms: dict[str, _RoomEntry] = {}
        self.connections: dict[str, _ConnectionEntry] = {}
        self.rooms_created = 0

    def handle(self, message: Any) -> Any:
        if isinstance(message, (Publish, Join)):
            self._forward(message.room, message, create=True)
            return None
        if isinstance(message, Leave):
            self._forward(message.room, message, create=False)
            return None
        if isinstance(message, History):
            if message.room not in self.rooms:  # nothing live, nothing held: never a reason to start a room
                message.reply.set({"room": message.room, "epoch": None, "offset": 0,
                                   "recovered": message.since is None, "events": []})
            else:
                self._forward(message.room, message, create=False)
            return None
        if isinstance(message, RegisterConnection):
            self.connections[message.connection_id] = _ConnectionEntry(message.ref, message.outlet,
                                                                       message.identity)
            return None
        if isinstance(message, UnregisterConnection):
            self.connections.pop(message.connection_id, None)
            for room in message.rooms:
                self._forward(room, Leave(room, message.connection_id), create=False)
            return None
        if isinstance(message, RoomIdle):
            entry = self.rooms.get(message.room)
            if entry is not None and entry.forwarded == message.seen:
                del self.rooms[message.room]
                self.send(entry.ref, Retire(), f"room:{message.room}")
            return None
        if isinstance(message, Tick):
            return self._heartbeat()
        if isinstance(message, ConnectedUsers):
            roles, users = set(message.roles), set(message.user_ids)
            return {e.identity.user_id: e.identity.role for e in self.connections.values()
                    if e.identity.role in roles or e.identity.user_id in users}
        if isinstance(message, GetStatus):
            return {"connections": len(self.connections), "rooms": len(self.rooms),
                    "roomsCreated": self.rooms_created}
        if isinstance(message, Shutdown):
            return self._shutdown(message.code)
        return super().handle(message)

    def _forward(self, room: str, message: Any, create: bool) -> None:
        entry = self.rooms.get(room)
        if entry is None:
            if not create:
                return
            entry = self.rooms[room] = _RoomEntry(RoomActor.start(self.ctx, room))
            self.rooms_created += 1
        entry.forwarded += 1
        self.send(entry.ref, message, f"room:{room}")

    def _heartbeat(self) -> int:
        """Ping every socket; cut the ones silent for longer than the timeout. Returns how many were cut."""
        silent_before = time.monotonic() - self.ctx.settings.heartbeat_timeout
        cut = 0
        for entry in self.connections.values():
            outlet = entry.outlet
            if outlet.last_heard < silent_before:
                outlet.abort()
                cut += 1
            else:
                outlet.offer(PING_FRAME)
        return cut

    def _shutdown(self, code: int) -> int:
        for entry in self.connections.values():
            self.send(entry.ref, CloseConnection(code, "server shutting down"))
        rooms = list(self.rooms.values())
        self.rooms.clear()
        for room in rooms:
            self.send(room.ref, Retire())
        return len(rooms)
