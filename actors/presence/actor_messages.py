"""Messages the PresenceActor and the ClaimsActor take (from connections, ActorSystem, Redis and their timers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..identity import Identity
    from ..protocol.frames import FrameId
    from ..rooms.actor_messages import Join, Leave
    from ..runtime.reply import Reply
    from ..transport.outlet import Outlet


# --- presence and typing ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enter:
    """A socket joins a presence room: count its user as a viewer, then hand ``join`` on to the hub.

    ``watch``: the client asked for presence, so the join carries the viewers for SUBSCRIBED and the
    socket gets the room's PRESENCE frames from then on.
    """

    join: Join
    user_id: str
    watch: bool


@dataclass(frozen=True, slots=True)
class Exit:
    """A socket leaves a presence room (UNSUBSCRIBE): uncount it, then hand ``leave`` on to the hub."""

    leave: Leave
    user_id: str


@dataclass(frozen=True, slots=True)
class ConnectionLeft:
    """A socket ended: it leaves ``rooms`` (its presence rooms: the hub hears of them from here) and stops typing."""

    connection_id: str
    user_id: str
    rooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Typed:
    """A socket sent TYPING_START (``start``) or TYPING_STOP in ``room``; the room already has the event."""

    room: str
    user_id: str
    connection_id: str
    start: bool


@dataclass(frozen=True, slots=True)
class FlushPresence:
    """The actor's own timer, every PRESENCE_INTERVAL: one PRESENCE frame per changed room, silent typers stop."""


@dataclass(frozen=True, slots=True)
class NodeState:
    """Another node's viewers and typers of ``room`` (Redis), numbered by that node: an older ``seq`` is stale."""

    room: str
    node: str
    seq: int
    users: tuple[str, ...]
    typing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LiveNodes:
    """The nodes whose heartbeat is current: every other node's viewers leave, its typers stop."""

    nodes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Resync:
    """The presence listener reconnected: what was published meanwhile is lost; read every followed room again."""


@dataclass(frozen=True, slots=True)
class GetPresence:
    """``GET /api/rooms/{room}/presence``: the room's viewers now, answered as a sorted list of user ids."""

    room: str


# --- claims ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TakeClaim:
    """CLAIM (or ``POST /api/rooms/{room}/claim``): the first wins; ``force`` (ADMIN) takes over.

    A socket's claim carries its ``outlet`` (a refusal is an ERROR frame echoing ``frame_id``); a REST
    claim its ``reply`` (the claim, or a Failure).
    """

    identity: Identity
    room: str
    ttl: float | None = None
    force: bool = False
    reply: Reply | None = None
    outlet: Outlet | None = None
    frame_id: FrameId = None


@dataclass(frozen=True, slots=True)
class DropClaim:
    """RELEASE (or ``DELETE /api/rooms/{room}/claim``): the holder, or ADMIN, ends the claim."""

    identity: Identity
    room: str
    reply: Reply | None = None
    outlet: Outlet | None = None
    frame_id: FrameId = None


@dataclass(frozen=True, slots=True)
class GetClaim:
    """``GET /api/rooms/{room}/claim``: answered as ``{room, claim}`` (``claim`` None when nobody holds it)."""

    room: str


@dataclass(frozen=True, slots=True)
class ClaimsTick:
    """The claims actor's own timer: renew the claims of holders connected here, end the ones past their time."""
