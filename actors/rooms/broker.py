"""The Broker seam: the one owner of a room's numbering (epoch, offset) and history.

Rooms number their events once per cluster, not once per process: two processes that each counted a
room's events would give one room two numberings, and a client could not resume on the other one.
So ``RoomActor`` keeps only its members and the local fan-out, and asks the broker for everything a
client can name in ``since``. The shape follows centrifuge's ``Broker``: ``publish`` returns the
position it gave the event, ``history`` returns every event after a position or says it cannot
(never a partial replay), ``subscribe``/``unsubscribe`` say which rooms this process has members
in, and a broker that hears of events published by other processes hands them to the hub through
the receiver given to ``start``.

All methods are called from actors on the gevent loop. ``MemoryBroker`` (one process) answers from
memory without yielding; a network broker may yield the calling greenlet, never block the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..protocol.positions import Since


@dataclass(frozen=True, slots=True)
class Publication:
    """One numbered event: where it stands in its room and the frame every member gets (header included)."""

    room: str
    type: str
    epoch: str
    offset: int
    frame: bytes


@dataclass(frozen=True, slots=True)
class HistoryAnswer:
    """A room's position and the events held after the position asked for.

    ``complete``: ``publications`` holds every event after that position (for ``since=None``: every
    event of this epoch from offset 1). When it is False and a position was given, ``publications``
    is empty: a partial replay must never look like a recovery.
    """

    position: Since
    publications: tuple[Publication, ...]
    complete: bool


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a room stands now, handed over when the broker may have missed some of its events.

    A network broker whose listener reconnected cannot know what it missed while it was away: it hands
    each room it holds its current position, and the room compares it with the last event it fanned
    out here, refilling the gap from ``history`` or, when the history no longer holds it (or the epoch
    changed), closing its members with 4010 so they resume with ``since``.
    """

    room: str
    position: Since


Draft = tuple[str, Mapping[str, Any], bool]
"""An event to number: its type, its data and whether it supersedes (``Broker.publish``'s arguments)."""

Receiver = Callable[[Publication | Checkpoint], None]
"""Where a broker hands events published by other processes (and its own, when it ``echoes``; the hub's
``Deliver``) and checkpoints."""


class Broker(Protocol):
    """Numbering, history and cross-process delivery of room events."""

    def start(self, receive: Receiver) -> None:
        """Begin handing events published elsewhere to ``receive`` (called once, before any other call)."""

    def close(self) -> None:
        """Stop listening and release connections; no call follows."""

    def subscribe(self, room: str) -> None:
        """This process has members in ``room`` (or holds it for a while): deliver its events here."""

    def unsubscribe(self, room: str) -> None:
        """This process no longer holds ``room``."""

    def position(self, room: str) -> Since:
        """The room's current epoch and last offset (offset 0: nothing published in this epoch)."""

    @property
    def echoes(self) -> bool:
        """Whether this process's own publications come back through the receiver now.

        A shared broker's PUB/SUB connection carries every process's events of a room in the one order
        its numbering gave them, this process's own included (while the listener is connected). A room
        then fans out its own events when they come back, in that order, like everyone else's: two
        processes publishing into one room at once never make it wait for an event that overtook
        another (a refill from the history each time), and the events of a burst reach the room
        together, so each socket gets them in one write. When False (one process, or the listener is
        away) the room fans out from ``publish``'s answer at once.
        """

    def publish(self, room: str, type_: str, data: Mapping[str, Any], *, superseding: bool) -> Publication:
        """Number the event, keep it in the room's history, and return it with its frame.

        ``superseding``: the event replaces the previous one of its type as the room's latest value
        (statistics, progress), which a new subscriber receives at once (``latest``).
        """

    def publish_many(self, room: str, drafts: Sequence[Draft]) -> list[Publication | Exception]:
        """``publish`` for several events of one room, numbered in the order given, in one round trip.

        A room that finds more publishes waiting behind one numbers them together: a network broker
        then costs one round trip for the lot, and their events come back together, so each socket
        gets them in one write. Each slot holds the event's Publication, or the error that kept that
        event from being stored; ``Unavailable`` is raised when none could be.
        """

    def history(self, room: str, since: Since | None) -> HistoryAnswer:
        """The events after ``since`` (every held one when None), all of them or none (see HistoryAnswer)."""

    def latest(self, room: str) -> tuple[Publication, ...]:
        """The room's latest superseding events, one per type, oldest first."""

    def describe(self) -> dict[str, Any]:
        """What ``GET /api/ws`` shows about the broker."""
