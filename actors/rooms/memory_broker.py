"""MemoryBroker: numbering and history in this process's memory, for a server of one process.

The default broker (``BROKER_URL=memory://``). Nothing is published elsewhere, so nothing arrives
from elsewhere: the receiver given to ``start`` is never called. A room's log (epoch, offset,
history, latest values) lives while the hub holds the room: ``unsubscribe`` (the room retired after
``ROOM_IDLE_SECONDS`` without members) forgets it, and the room's next event starts a new epoch,
which tells a resuming client that its position is gone (``recovered: false``).

Every method runs on the gevent loop and never yields, so rooms calling it need no lock.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from ..protocol.frames import event_frame, utc_now_iso
from ..protocol.positions import Since
from ..transport.framing import text_frame
from .broker import Draft, HistoryAnswer, Publication, Receiver


def new_epoch() -> str:
    """A room incarnation's id: changes whenever the room's history is lost.

    48 random bits, from ``random`` (seeded from the OS at start, reseeded after fork): an epoch must
    differ from the last one a client saw, not be secret. A uuid4 (an ``os.urandom`` call) here was
    1 % of the CPU of 10,000 connects, each of which gives its user room an epoch.
    """
    return f"{random.getrandbits(48):012x}"


class _Log:
    """One room's numbering. ``history`` and ``latest`` exist once the room has carried an event:
    most rooms (a user's own room) never do, and 10,000 of them must stay small."""

    __slots__ = ("epoch", "offset", "history", "latest")

    def __init__(self) -> None:
        self.epoch = new_epoch()
        self.offset = 0
        self.history: deque[tuple[float, Publication]] | None = None
        self.latest: dict[str, Publication] | None = None


class MemoryBroker:
    """Implements ``Broker`` for one process."""

    def __init__(self, history_size: int, history_seconds: float) -> None:
        self._history_size = history_size
        self._history_seconds = history_seconds
        self._logs: dict[str, _Log] = {}
        self._receive: Receiver | None = None

    @property
    def echoes(self) -> bool:
        """Never: nothing is published elsewhere, and a room fans its own events out from ``publish``."""
        return False

    def start(self, receive: Receiver) -> None:
        self._receive = receive

    def close(self) -> None:
        self._logs.clear()

    def subscribe(self, room: str) -> None:
        self._log(room)

    def unsubscribe(self, room: str) -> None:
        self._logs.pop(room, None)

    def position(self, room: str) -> Since:
        log = self._log(room)
        return Since(log.epoch, log.offset)

    def publish(self, room: str, type_: str, data: Mapping[str, Any], *, superseding: bool) -> Publication:
        log = self._log(room)
        # encoded before it is numbered: an event that cannot be sent (ValueError) takes no offset
        frame = text_frame(event_frame(type_, room, log.epoch, log.offset + 1, data, utc_now_iso()))
        log.offset += 1
        publication = Publication(room, type_, log.epoch, log.offset, frame)
        history = log.history
        if history is None:
            history = log.history = deque()
        now = time.monotonic()
        history.append((now, publication))
        while len(history) > self._history_size:
            history.popleft()
        self._expire(history, now)
        if superseding:
            if log.latest is None:
                log.latest = {}
            log.latest.pop(type_, None)  # re-inserted last: ``latest`` stays oldest first, as clients need
            log.latest[type_] = publication
        return publication

    def publish_many(self, room: str, drafts: Sequence[Draft]) -> list[Publication | Exception]:
        done: list[Publication | Exception] = []
        for type_, data, superseding in drafts:
            try:
                done.append(self.publish(room, type_, data, superseding=superseding))
            except ValueError as exc:  # this event cannot be encoded: the others are numbered all the same
                done.append(exc)
        return done

    def history(self, room: str, since: Since | None) -> HistoryAnswer:
        log = self._log(room)
        position = Since(log.epoch, log.offset)
        history = log.history
        if history:
            self._expire(history, time.monotonic())
        held = tuple(publication for _, publication in history) if history else ()
        if since is None:
            complete = log.offset == 0 or (bool(held) and held[0].offset == 1)
            return HistoryAnswer(position, held, complete)
        if since.epoch != log.epoch or since.offset > log.offset:
            return HistoryAnswer(position, (), False)
        if since.offset == log.offset:
            return HistoryAnswer(position, (), True)
        if not held or held[0].offset > since.offset + 1:
            return HistoryAnswer(position, (), False)
        return HistoryAnswer(position, tuple(p for p in held if p.offset > since.offset), True)

    def latest(self, room: str) -> tuple[Publication, ...]:
        log = self._logs.get(room)
        if log is None or not log.latest:
            return ()
        return tuple(log.latest.values())

    def describe(self) -> dict[str, Any]:
        return {"kind": "memory", "rooms": len(self._logs)}

    def _log(self, room: str) -> _Log:
        log = self._logs.get(room)
        if log is None:
            log = self._logs[room] = _Log()
        return log

    def _expire(self, history: deque[tuple[float, Publication]], now: float) -> None:
        horizon = now - self._history_seconds
        while history and history[0][0] < horizon:
            history.popleft()
