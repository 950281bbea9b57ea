"""Messages the hub and the room actors take (and the two the hub sends a connection: Joined, CloseConnection)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pykka import ActorRef

    from ..identity import Identity
    from ..protocol.frames import FrameId
    from ..protocol.positions import Since
    from ..runtime.reply import Reply
    from ..transport.outlet import Outlet
    from .broker import Publication


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close this socket with a WebSocket close code (shutdown, kick, policy)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Joined:
    """Home rooms took the connection's joins; it sends CONNECTED once all have answered."""

    rooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RegisterConnection:
    """A connection started: the hub counts it, sweeps it for heartbeats and joins it to its home rooms.

    One message instead of a register and a join per home room: with thousands of sockets connecting
    at once, every hub message on the way to CONNECTED adds to the time a client waits.
    """

    connection_id: str
    ref: ActorRef[Any]
    outlet: Outlet
    identity: Identity


@dataclass(frozen=True, slots=True)
class UnregisterConnection:
    """A connection ended; the hub removes it from ``rooms``."""

    connection_id: str
    rooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Join:
    """Add a socket to a room; the room answers on the socket (SUBSCRIBED) or to ``ack_to``."""

    room: str
    connection_id: str
    outlet: Outlet
    since: Since | None = None
    frame_id: FrameId = None
    ack_to: ActorRef[Any] | None = None
    presence: tuple[str, ...] | None = None
    """The room's viewers for SUBSCRIBED (a subscription that asked for presence); None: not asked."""


@dataclass(frozen=True, slots=True)
class Leave:
    """Remove a socket from a room; ``answer`` writes UNSUBSCRIBED (echoing ``frame_id``) on the socket."""

    room: str
    connection_id: str
    answer: bool = False
    frame_id: FrameId = None


@dataclass(frozen=True, slots=True)
class Publish:
    """An event for every member of ``room``; ``reply`` (if any) receives the room's offset."""

    room: str
    type: str
    data: dict[str, Any]
    reply: Reply | None = None
    trace_id: str | None = None
    """The event's trace id (``X-Trace-Id``), carried to the room and every outlet's trace."""


@dataclass(frozen=True, slots=True)
class RoomFrame:
    """A frame that is not a room event (PRESENCE) for the members ``to`` of ``room`` here.

    It travels the same road as the joins (hub, then the room), so a member never gets it before the
    SUBSCRIBED that the frame follows on from.
    """

    room: str
    frame: bytes
    to: frozenset[str]


@dataclass(frozen=True, slots=True)
class Deliver:
    """An event the broker handed over (another process's, or with a broker that ``echoes`` this one's own
    coming back): fan it out in order, do not number it."""

    publication: Publication


@dataclass(frozen=True, slots=True)
class CheckPosition:
    """The broker may have missed events of ``room`` (its listener reconnected); the room stands at ``position``.

    The room refills what it has not fanned out from the history, or closes its members with 4010.
    """

    room: str
    position: Since


@dataclass(frozen=True, slots=True)
class History:
    """REST recovery: the room's events after ``since`` (all it holds when None), answered on ``reply``."""

    room: str
    since: int | None
    epoch: str | None
    reply: Reply


@dataclass(frozen=True, slots=True)
class NumberWaiting:
    """A room's note to itself, behind the publishes it put aside: number them now, together."""


@dataclass(frozen=True, slots=True)
class EchoOverdue:
    """A room's own timer: some of its own events have not come back through the broker within
    ``REDIS_ECHO_WAIT``; the room reads them from the history instead (if ``generation`` still matches)."""

    generation: int


@dataclass(frozen=True, slots=True)
class IdleCheck:
    """A room's own timer: it has been empty for the idle period (if ``generation`` still matches)."""

    generation: int


@dataclass(frozen=True, slots=True)
class RoomIdle:
    """A room has been empty and idle; ``seen`` counts the hub messages it handled, to rule out a race."""

    room: str
    seen: int


@dataclass(frozen=True, slots=True)
class Retire:
    """The hub has forgotten this room; stop."""


@dataclass(frozen=True, slots=True)
class Tick:
    """Heartbeat: ping the sockets of one slice (``slice_`` of ``slices``), drop the silent ones.

    The slices partition the connections (by their id's hash), and a full round of ticks takes one
    heartbeat interval: every socket is pinged and checked once per interval, and 10,000 sockets mean
    400 pings a second instead of 10,000 at once every 25 s (a burst of pings and pongs that delayed
    whatever event it met).
    """

    slice_: int = 0
    slices: int = 1


@dataclass(frozen=True, slots=True)
class GetStatus:
    """Ask the hub for connection and room counts."""


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Close every socket with ``code`` and stop every room; answered when done."""

    code: int


@dataclass(frozen=True, slots=True)
class ConnectedUsers:
    """Which users with an open socket hold one of ``roles`` or are among ``user_ids``: answered as {user id: role}."""

    roles: tuple[str, ...]
    user_ids: tuple[str, ...] = ()



@dataclass(frozen=True, slots=True)
class Browse:
    """Admin page: one page of ``what`` ("connections", "users" or "rooms") in this process whose id, user,
    role or name contains ``query`` (case-insensitive), sorted, from ``offset``; answered as
    ``{what, total, offset, limit, items}``. Answered by the hub from its registries, without --debug."""

    what: str
    query: str = ""
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class RoomMembers:
    """Admin page: who is in ``room`` in this process: ``{room, live, members: [{connectionId, userId, role}]}``."""

    room: str


@dataclass(frozen=True, slots=True)
class CountMembers:
    """How many sockets (WebSocket and SSE) are in ``room`` in this process: answered as an int.

    Cheap on purpose (a dict's length, no list of members): every node answers it when one node is asked
    for a room's member count across the cluster (``GET /api/ws?room=``).
    """

    room: str


@dataclass(frozen=True, slots=True)
class Kick:
    """Admin page: close one connection with ``code`` and ``reason``; answered True if it was open here."""

    connection_id: str
    code: int
    reason: str
