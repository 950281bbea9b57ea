"""Every message actors exchange: frozen, slotted dataclasses, so tracing can name and show each one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pykka import ActorRef

    from .identity import Identity
    from .outlet import Outlet
    from .reply import Reply


# --- web layer -> connection -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ClientFrame:
    """One whole data message from the socket; ``text`` is None for a binary message."""

    text: str | None


@dataclass(frozen=True, slots=True)
class ClientGone:
    """The socket's reader stopped (close frame, EOF, protocol error); ``code`` is the close code if any."""

    code: int | None


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close this socket with a WebSocket close code (shutdown, kick, policy)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class TokenExpired:
    """A connection's own timer: its token's ``exp`` has passed unless AUTH extended it."""

    exp: int


@dataclass(frozen=True, slots=True)
class Joined:
    """Home rooms took the connection's joins; it sends CONNECTED once all have answered."""

    rooms: tuple[str, ...]


# --- connection -> hub ---------------------------------------------------------------------------

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


# --- to a room (through the hub) -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Since:
    """The last position a client saw in a room."""

    epoch: str
    offset: int


@dataclass(frozen=True, slots=True)
class Join:
    """Add a socket to a room; the room answers on the socket (SUBSCRIBED) or to ``ack_to``."""

    room: str
    connection_id: str
    outlet: Outlet
    since: Since | None = None
    ref: Any = None
    ack_to: ActorRef[Any] | None = None


@dataclass(frozen=True, slots=True)
class Leave:
    """Remove a socket from a room; ``answer`` writes UNSUBSCRIBED (with ``ref``) on the socket."""

    room: str
    connection_id: str
    answer: bool = False
    ref: Any = None


@dataclass(frozen=True, slots=True)
class Publish:
    """An event for every member of ``room``; ``reply`` (if any) receives the room's offset."""

    room: str
    type: str
    data: dict[str, Any]
    reply: Reply | None = None


@dataclass(frozen=True, slots=True)
class History:
    """REST recovery: the room's events after ``since`` (all it holds when None), answered on ``reply``."""

    room: str
    since: int | None
    epoch: str | None
    reply: Reply


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


# --- system -> hub -------------------------------------------------------------------------------

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


# --- web layer -> notification service (ActorSystem's notification methods) ----------------------

@dataclass(frozen=True, slots=True)
class CreateNotifications:
    """Store one create request (batched with the others queued now); ``reply`` gets the answer after commit."""

    caller: str
    draft: Any
    idempotency_key: str | None
    reply: Reply


@dataclass(frozen=True, slots=True)
class FlushCreates:
    """The service's own cue to commit every create queued so far in one transaction."""


@dataclass(frozen=True, slots=True)
class ListNotifications:
    """One page of the caller's notifications, newest first, with the unread count."""

    identity: Identity
    unread_only: bool
    limit: int
    before: int | None


@dataclass(frozen=True, slots=True)
class MarkNotificationRead:
    """Set (or with ``read=False`` clear) the caller's read time of one notification."""

    identity: Identity
    notification_id: int
    read: bool


@dataclass(frozen=True, slots=True)
class DeleteNotification:
    """Remove one notification from the caller's center (a role notification for the caller only)."""

    identity: Identity
    notification_id: int


@dataclass(frozen=True, slots=True)
class MarkAllNotificationsRead:
    """Mark every notification the caller sees as read."""

    identity: Identity


@dataclass(frozen=True, slots=True)
class GetNotificationPreferences:
    """The caller's preferences, defaults included."""

    identity: Identity


@dataclass(frozen=True, slots=True)
class PutNotificationPreferences:
    """Replace the caller's preferences with a validated ``notification_rules.Preferences``."""

    identity: Identity
    preferences: Any


@dataclass(frozen=True, slots=True)
class PurgeNotifications:
    """One retention step (age, count per recipient, expired idempotency keys); ``follow_up`` repeats until done."""

    follow_up: bool = False


@dataclass(frozen=True, slots=True)
class CreatesStored:
    """Flush greenlet ``batch`` finished (committed, answered, pushed); ``connected`` is who the hub named."""

    batch: int
    connected: dict[str, str]


# --- notification service -> hub -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ConnectedUsers:
    """Which users with an open socket hold one of ``roles`` or are among ``user_ids``: answered as {user id: role}."""

    roles: tuple[str, ...]
    user_ids: tuple[str, ...] = ()


# --- LiveSync: coalescing and statistics -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Coalesce:
    """A superseding update (CAMPAIGN_PROGRESS, STATS_UPDATE) to send now or with the next window."""

    room: str
    type: str
    data: dict[str, Any]
    reply: Reply | None = None


@dataclass(frozen=True, slots=True)
class FlushCoalesced:
    """LiveSync's own timer: a coalescing window for (type, room) is over."""

    type: str
    room: str


@dataclass(frozen=True, slots=True)
class PushStats:
    """Merge figures into a stats room's last known set and send the whole set (coalesced)."""

    room: str
    figures: dict[str, Any]
    reply: Reply | None = None


@dataclass(frozen=True, slots=True)
class RecomputeStats:
    """Ask STATS_PROVIDER for fresh figures; ``reply`` gets them (or the failure)."""

    reply: Reply | None = None


@dataclass(frozen=True, slots=True)
class StatsComputed:
    """The provider's worker thread finished, with figures or an error."""

    figures: Any
    error: str | None


@dataclass(frozen=True, slots=True)
class GetSyncStatus:
    """Ask LiveSync for its state (GET /api/live-sync)."""
