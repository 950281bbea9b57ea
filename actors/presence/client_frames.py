"""What a ConnectionActor does for presence rooms, typing and claims: the routing its frames take.

Kept here so the connection actor only dispatches. The rule that keeps presence honest: every join and
leave of a presence room (``PRESENCE_PREFIXES``) goes through the PresenceActor to the hub, never
straight to the hub, so that for one socket and one room the hub sees them in the order the socket
sent them (two roads to one actor would let a leave overtake its join).
"""

from __future__ import annotations

from typing import Any, Protocol

import pykka

from ..config import Settings
from ..errors import BadRequest, NotFound, Unavailable
from ..identity import Identity
from ..protocol.frames import FrameId
from ..rooms.actor_messages import Join, Leave
from ..runtime.context import ActorContext
from ..transport.outlet import Outlet
from .actor_messages import ConnectionLeft, DropClaim, Enter, Exit, TakeClaim, Typed
from .wire import parse_force, parse_ttl


class Sender(Protocol):
    """The part of a ConnectionActor these functions use."""

    ctx: ActorContext
    identity: Identity
    outlet: Outlet
    connection_id: str

    def send(self, ref: pykka.ActorRef[Any], message: Any, peer: str = "") -> bool: ...


def parse_watch(data: dict[str, Any]) -> bool:
    """SUBSCRIBE's ``presence`` flag (absent: false)."""
    watch = data.get("presence", False)
    if not isinstance(watch, bool):
        raise BadRequest("'presence' must be true or false", fields={"presence": "must be a boolean"})
    return watch


def has_presence(ctx: ActorContext, room: str) -> bool:
    """Joins and leaves of this room go through the PresenceActor (when the system runs one)."""
    return ctx.presence is not None and room.partition(":")[0] in ctx.settings.presence_prefixes


def enter(sender: Sender, join: Join, watch: bool) -> bool:
    """Send a presence room's join through the PresenceActor; False when ``join.room`` is not one (the caller
    tells the hub itself)."""
    presence = sender.ctx.presence
    if presence is None or not has_presence(sender.ctx, join.room):
        return False
    sender.send(presence, Enter(join, sender.identity.user_id, watch), "presence")
    return True


def leave(sender: Sender, message: Leave) -> bool:
    """The same for a leave (UNSUBSCRIBE)."""
    presence = sender.ctx.presence
    if presence is None or not has_presence(sender.ctx, message.room):
        return False
    sender.send(presence, Exit(message, sender.identity.user_id), "presence")
    return True


def left(sender: Sender, rooms: tuple[str, ...], typed_any: bool) -> tuple[str, ...]:
    """The socket ended: the PresenceActor takes its presence rooms (and its typing) to the hub; returns the
    rooms the hub must be told of directly."""
    presence = sender.ctx.presence
    if presence is None:
        return rooms
    mine = tuple(room for room in rooms if has_presence(sender.ctx, room))
    if mine or typed_any:
        sender.send(presence, ConnectionLeft(sender.connection_id, sender.identity.user_id, mine), "presence")
    return tuple(room for room in rooms if room not in mine)


def typed(sender: Sender, room: str, start: bool) -> bool:
    """Tell the PresenceActor of a TYPING_START or TYPING_STOP, so that a typer who leaves or falls silent stops."""
    presence = sender.ctx.presence
    if presence is None:
        return False
    return sender.send(presence, Typed(room, sender.identity.user_id, sender.connection_id, start), "presence")


def claim_frame(sender: Sender, type_: str, data: dict[str, Any], frame_id: FrameId) -> None:
    """CLAIM ``{room, ttl?, force?}`` or RELEASE ``{room}``: checked here, decided by the ClaimsActor, which
    tells the room (CLAIMED, RELEASED) or answers this socket with an ERROR (CONFLICT names the holder)."""
    ctx = sender.ctx
    room = ctx.policy.check(sender.identity, data.get("room"))
    check_claimable(ctx.settings, room)
    claims = ctx.claims
    if claims is None:
        raise Unavailable("claims are not running")
    if type_ == "CLAIM":
        message: TakeClaim | DropClaim = TakeClaim(
            sender.identity, room, parse_ttl(data.get("ttl"), ctx.settings.claim_ttl), parse_force(data.get("force")),
            outlet=sender.outlet, frame_id=frame_id)
    else:
        message = DropClaim(sender.identity, room, outlet=sender.outlet, frame_id=frame_id)
    sender.send(claims, message, "claims")


def check_claimable(settings: Settings, room: str) -> None:
    """Only rooms whose prefix is in CLAIM_PREFIXES (leads and contacts by default) may be claimed."""
    prefix = room.partition(":")[0]
    if prefix not in settings.claim_prefixes:
        raise BadRequest(f"{prefix}: rooms cannot be claimed; these can: "
                         f"{', '.join(p + ':' for p in settings.claim_prefixes)}",
                         fields={"room": "a room whose prefix is in CLAIM_PREFIXES"})


def check_presence_room(settings: Settings, room: str) -> None:
    """Only rooms whose prefix is in PRESENCE_PREFIXES have presence; asking another's is a 404."""
    if room.partition(":")[0] not in settings.presence_prefixes:
        raise NotFound(f"{room} has no presence: only rooms with a prefix in PRESENCE_PREFIXES "
                       f"({', '.join(settings.presence_prefixes)}) do")
