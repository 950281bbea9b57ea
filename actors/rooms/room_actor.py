"""RoomActor: one per live room in this process: its members and the local fan-out.

Numbering and history are the broker's (``Broker``): the room asks it to number each event and to
answer recoveries, so a room has one numbering however many processes hold it.

With several processes, a room's events reach it by two roads: its own publishes (fanned out from
the broker's answer at once) and other processes' (``Deliver``, through the broker's listener). They
can cross: this room may number offset 7 while 6, published elsewhere, is still on its way. So the
room keeps the last position it fanned out (``_last``) and puts every event in order: one at or
below it is a duplicate and is dropped; one above the next is a gap, refilled from the broker's
history first; and a gap the history no longer holds (trimmed, aged out, or another epoch after
Redis lost its data) closes the members with 4010 "insufficient state", so they resume with
``since`` and learn ``recovered: false``. Nothing is skipped silently. A ``Checkpoint`` (the broker's
listener reconnected) is checked the same way.

Crossings are avoided rather than repaired where the broker allows it: a broker that ``echoes`` hands
the room its own events back in the one order of the room's numbering, so the room fans its own
events out when they come back (and answers the publish then), not from the broker's answer. Should
one not come back within ``REDIS_ECHO_WAIT`` (the listener died unnoticed), the room reads it from the
history, as for any gap; it is answered either way. And with such a broker, publishes that wait behind
one in the mailbox are put aside and numbered together when the room's note to itself
(``NumberWaiting``) comes up: one round trip for the lot, and their events come back together, so every
member gets them in one socket write (a room numbering one at a time let every round trip flush the
sockets between two events: 1.1 frames per write in a burst, against 1.8 in one process).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import gevent

from ..errors import Unavailable
from ..protocol.events import SUPERSEDING_TYPES
from ..protocol.frames import error_frame, subscribed_frame, unsubscribed_frame
from ..protocol.positions import Since
from ..protocol.rooms import PINNED_PREFIXES
from ..runtime.actor import TracedActor
from ..runtime.context import ActorContext
from ..runtime.reply import Failure
from ..transport.framing import frame_payload, text_frame
from ..transport.outlet import Outlet
from .actor_messages import (
    CheckPosition,
    Deliver,
    EchoOverdue,
    History,
    IdleCheck,
    Join,
    Joined,
    Leave,
    NumberWaiting,
    Publish,
    Retire,
    RoomFrame,
    RoomIdle,
)
from .broker import Broker, Publication

log = logging.getLogger("realtime.rooms")

CLOSE_INSUFFICIENT_STATE = 4010
"""The server lost track of a room's events: the client resumes with ``since`` (docs/protocol.md)."""


@dataclass(slots=True)
class GapCounts:
    """What the rooms of this process did to keep every room's events in order (``GET /api/ws``, ``broker.gaps``)."""

    refills: int = 0
    """Gaps refilled from the broker's history."""
    refilled: int = 0
    """Events fanned out by those refills."""
    duplicates: int = 0
    """Events dropped because they were already fanned out here."""
    lost: int = 0
    """Gaps the history no longer held: the room's members were closed with 4010."""
    closed: int = 0
    """Sockets closed with 4010."""

    def snapshot(self) -> dict[str, int]:
        return {"refills": self.refills, "refilled": self.refilled, "duplicates": self.duplicates,
                "lost": self.lost, "closed4010": self.closed}


GAPS = GapCounts()
"""One per process, as the rooms are; only a multi-process broker ever makes these move."""


@dataclass(slots=True)
class _Awaited:
    """An own publish whose event has not come back through the broker yet: answered when it is fanned out."""

    message: Publish
    since: float


class RoomActor(TracedActor):
    """Owns one room's members in this process; writes the broker's frames straight to their outlets."""

    kind = "room"

    def __init__(self, ctx: ActorContext, room: str, broker: Broker,
                 members: dict[str, Outlet] | None = None, start: Since | None = None) -> None:
        super().__init__(ctx, f"room:{room}")
        self.room = room
        self._broker = broker
        self._last = start
        """The last position fanned out here (or where the room stood when it started here); None: unknown
        (the broker was unreachable), taken from the first event or checkpoint."""
        self.members: dict[str, Outlet] = members or {}
        self._joined_at: dict[str, int] = dict.fromkeys(self.members, 0)
        self._pinned = room.partition(":")[0] in PINNED_PREFIXES
        self._seen = 0
        self._idle_generation = 0
        self._idle_timer: gevent.Greenlet | None = None
        self._awaited: dict[tuple[str, int], _Awaited] = {}
        """Own publishes by position (epoch, offset), until their event comes back (a broker that ``echoes``)."""
        self._echo_generation = 0
        self._echo_timer: gevent.Greenlet | None = None
        self._waiting: list[Publish] | None = None
        """Publishes put aside to be numbered together (``NumberWaiting`` is on its way); None: none."""

    def started(self) -> None:
        if not self.members:
            self._arm_idle()

    def stopping(self) -> None:
        self._disarm_idle()
        self._disarm_echo()
        for position in list(self._awaited):  # stored, so answered: nobody here is left to receive it
            self._answer(position, 0)
        for message in self._waiting or ():  # never numbered: the caller may retry
            if message.reply is not None:
                message.reply.set(Failure(Unavailable("the room stopped before the event was published")))
        self._waiting = None

    def handle(self, message: Any) -> Any:
        if isinstance(message, Publish):
            self._seen += 1
            if self._waiting is not None:
                self._waiting.append(message)  # numbered after those put aside before it, in order
                return None
            if self._broker.echoes and self.mailbox_depth():  # more mail: maybe more publishes, numbered at once
                self._waiting = [message]
                self.actor_ref.tell(NumberWaiting())
                return None
            return self._publish([message])
        if isinstance(message, NumberWaiting):
            waiting, self._waiting = self._waiting or [], None
            self._publish(waiting, raising=False)  # each caller is answered, failures included
            return None
        if isinstance(message, Deliver):
            self._seen += 1
            publication = message.publication
            if self._in_order(publication.epoch, publication.offset):
                self._emit(publication)
            return None
        if isinstance(message, EchoOverdue):
            if message.generation == self._echo_generation:
                self._echo_timer = None
                self._catch_up()
            return None
        if isinstance(message, CheckPosition):
            self._seen += 1
            if self._last is None:
                self._last = message.position
            else:  # as if the event after it had come: refill up to it, or 4010
                self._in_order(message.position.epoch, message.position.offset + 1)
            return None
        if isinstance(message, Join):
            self._seen += 1
            return self._join(message)
        if isinstance(message, Leave):
            self._seen += 1
            return self._leave(message)
        if isinstance(message, History):
            self._seen += 1
            message.reply.set(self._history(message.since, message.epoch))
            return None
        if isinstance(message, RoomFrame):
            self._seen += 1
            for connection_id in message.to:
                outlet = self.members.get(connection_id)
                if outlet is not None:
                    outlet.offer(message.frame)
            return None
        if isinstance(message, IdleCheck):
            busy = self.members or self._awaited or self._waiting is not None
            if message.generation == self._idle_generation and not busy:
                self.tell_hub(RoomIdle(self.room, self._seen))
            return None
        if isinstance(message, Retire):
            self.stop()
            return None
        return super().handle(message)

    # --- messages --------------------------------------------------------------------------------

    def _publish(self, messages: list[Publish], *, raising: bool = True) -> dict[str, Any] | None:
        """Number the events in one go; fan each out and answer now, or (a broker that ``echoes``) when it
        comes back. Returns the last one's answer when it is given now (for ``ask``), else None.

        ``raising``: ``messages`` is the one message being handled, whose failure the actor answers (and
        logs) as for any message; otherwise each caller is answered its failure here.
        """
        broker = self._broker
        raising = raising and len(messages) == 1
        try:
            done = broker.publish_many(self.room, [(m.type, m.data, m.type in SUPERSEDING_TYPES) for m in messages])
        except Unavailable as exc:
            if raising:
                raise
            log.warning("room %s: %d events not published: %s", self.room, len(messages), exc.message)
            done = [exc] * len(messages)
        echoes = broker.echoes
        result = None
        for message, publication in zip(messages, done, strict=True):
            if isinstance(publication, Exception):
                if raising:
                    raise publication
                if message.reply is not None:
                    message.reply.set(Failure(publication))
                continue
            position = (publication.epoch, publication.offset)
            if echoes:  # it comes back in the room's order: fanned out and answered then
                self._awaited[position] = _Awaited(message, time.monotonic())
                continue
            delivered = 0  # stays 0 when a gap could not be refilled (the members were closed with 4010)
            if self._in_order(*position):
                delivered = self._fan_out(publication, message.trace_id)
                self._last = Since(*position)
            result = self._reply(message, position, delivered)
        if self._awaited and self._echo_timer is None:
            self._arm_echo()
        return result

    def _emit(self, publication: Publication) -> dict[str, Any] | None:
        """Fan out the next event in order and move ``_last`` to it; answers its publish if it is this room's own."""
        position = (publication.epoch, publication.offset)
        awaited = self._awaited.get(position) if self._awaited else None
        delivered = self._fan_out(publication, awaited.message.trace_id if awaited is not None else None)
        self._last = Since(*position)
        return self._answer(position, delivered) if awaited is not None else None

    def _answer(self, position: tuple[str, int], delivered: int) -> dict[str, Any]:
        """Answer an own publish that was waiting for its event to come back."""
        return self._reply(self._awaited.pop(position).message, position, delivered)

    def _reply(self, message: Publish, position: tuple[str, int], delivered: int) -> dict[str, Any]:
        result = {"room": self.room, "epoch": position[0], "offset": position[1], "delivered": delivered}
        if message.reply is not None:
            message.reply.set(result)
        return result

    # --- own events that do not come back -------------------------------------------------------

    def _catch_up(self) -> None:
        """Own events overdue: read everything up to the newest of them from the history (as for a gap)."""
        now = time.monotonic()
        wait = self.ctx.settings.redis_echo_wait
        overdue = [position for position, a in self._awaited.items() if now - a.since >= wait]
        if overdue:
            epoch, offset = max(overdue, key=lambda found: found[1])
            if self._last is None:  # nothing fanned out here yet: the room starts just before its first own event
                self._last = Since(epoch, min(found for e, found in overdue if e == epoch) - 1)
            log.info("room %s: %d own events did not come back within %.2fs; reading them from the history",
                     self.room, len(overdue), wait)
            self._in_order(epoch, offset + 1)  # fans out everything up to offset, or closes the members (4010)
        last = self._last
        for epoch, offset in list(self._awaited):  # these can no longer come back in order
            if last is not None and (epoch != last.epoch or offset <= last.offset):
                self._answer((epoch, offset), 0)
        if self._awaited:
            self._arm_echo()

    def _arm_echo(self) -> None:
        self._disarm_echo()
        self._echo_timer = gevent.spawn_later(self.ctx.settings.redis_echo_wait, self._echo_fired,
                                              self._echo_generation)

    def _disarm_echo(self) -> None:
        self._echo_generation += 1
        if self._echo_timer is not None:
            self._echo_timer.kill(block=False)
            self._echo_timer = None

    def _echo_fired(self, generation: int) -> None:
        try:
            self.actor_ref.tell(EchoOverdue(generation))
        except Exception:  # the room stopped meanwhile
            pass

    # --- order across processes -----------------------------------------------------------------

    def _in_order(self, epoch: str, offset: int) -> bool:
        """May the event at (epoch, offset) be fanned out now (the caller then moves ``_last`` to it)?

        Refills a gap before it; False for a duplicate, or when the gap could not be refilled (the members
        were closed with 4010).
        """
        last = self._last
        if last is None:
            return True
        if epoch != last.epoch:
            if last.offset != 0:  # members hold positions in an epoch that is gone
                self._lose(Since(epoch, offset - 1), f"epoch {last.epoch} became {epoch}")
                return False
            # nothing of the old epoch was fanned out here: follow the new one from its start
            self._last = last = Since(epoch, 0)
        if offset <= last.offset:
            GAPS.duplicates += 1
            return False
        if offset > last.offset + 1:
            return self._refill(last, offset)
        return True

    def _refill(self, last: Since, upto: int) -> bool:
        """Fan out the events between ``last`` and ``upto`` (exclusive) from the broker's history, in order."""
        try:
            answer = self._broker.history(self.room, last)
        except Unavailable as exc:
            self._lose(Since(last.epoch, upto - 1), f"history unreachable: {exc.message}")
            return False
        missing = [p for p in answer.publications if last.offset < p.offset < upto]
        if not answer.complete or len(missing) != upto - last.offset - 1:
            self._lose(Since(answer.position.epoch, upto - 1),
                       f"offsets {last.offset + 1}..{upto - 1} are no longer in the history")
            return False
        GAPS.refills += 1
        GAPS.refilled += len(missing)
        for publication in missing:
            self._emit(publication)
        self._last = Since(last.epoch, upto - 1)
        return True

    def _lose(self, position: Since, why: str) -> None:
        """The room's events since ``_last`` cannot be told: close every member with 4010; go on from ``position``."""
        members = list(self.members.values())
        log.warning("room %s lost track of its events (%s): closing %d members with %d", self.room, why,
                    len(members), CLOSE_INSUFFICIENT_STATE)
        GAPS.lost += 1
        GAPS.closed += len(members)
        for outlet in members:
            outlet.close(CLOSE_INSUFFICIENT_STATE, "insufficient state")
        self.members.clear()
        self._joined_at.clear()
        self._last = position
        for epoch, offset in list(self._awaited):  # stored, but nobody here will be sent them now
            if epoch != position.epoch or offset <= position.offset:
                self._answer((epoch, offset), 0)
        self._arm_idle()

    def _fan_out(self, publication: Publication, trace_id: str | None = None) -> int:
        """Hand the event's frame to every member's outlet; returns how many took it."""
        frame, type_ = publication.frame, publication.type
        key = f"{type_}:{self.room}" if type_ in SUPERSEDING_TYPES else None
        members = self.members
        delivered = 0
        # Alone in the mailbox: no later event can share a write with this one, so write it now rather
        # than after queueing it for every member (the first member would wait for the last one's queueing).
        now = not self.mailbox_depth()
        started = time.perf_counter()
        if self._tracer.enabled:  # one attribute read per event; the tracer then looks at traced members only
            delivered = self._tracer.fan_out(self, members, publication, key, now, trace_id)
        else:
            for outlet in members.values():
                if outlet.offer(frame, type_, key, now):
                    delivered += 1
        metrics = self.ctx.metrics
        if now and members:  # written here, not by the Flusher, which keeps this figure otherwise
            metrics.flush_delays.append(time.perf_counter() - started)
        counts = metrics.of(type_)
        counts.published += 1
        counts.delivered += delivered
        counts.dropped += len(members) - delivered
        metrics.events_published += 1
        if not members:
            self._arm_idle()
        return delivered

    def _join(self, message: Join) -> None:
        already_since = self._joined_at.get(message.connection_id)
        position = self._position()
        if position is None:  # the broker is unreachable and this room never learnt where it stands
            if message.ack_to is not None:
                self.send(message.ack_to, Joined((self.room,)), message.connection_id)
            else:
                message.outlet.offer(text_frame(error_frame(Unavailable.code, "the broker is unavailable; retry",
                                                            message.frame_id)), now=True)
            return
        if already_since is None:
            self._joined_at[message.connection_id] = position.offset
        self.members[message.connection_id] = message.outlet
        self._disarm_idle()
        if message.ack_to is not None:
            self.send(message.ack_to, Joined((self.room,)), message.connection_id)
            return
        replay_or_none = (self._missed_since(message.since, position, already_since)
                          if message.since is not None else None)
        recovered = None if message.since is None else replay_or_none is not None
        self.ctx.metrics.recovery(recovered)
        # the replay, or else the latest superseding values (statistics, progress) so a widget fills at once
        replay = (replay_or_none if replay_or_none is not None
                  else [publication.frame for publication in self._broker.latest(self.room)])
        outlet = message.outlet
        # with nothing to replay the answer is all this socket gets from here: write it at once
        outlet.offer(text_frame(subscribed_frame(self.room, position.epoch, position.offset, recovered,
                                                 message.frame_id, message.presence)), now=not replay)
        outlet.replay(replay)

    def _leave(self, message: Leave) -> None:
        outlet = self.members.pop(message.connection_id, None)
        self._joined_at.pop(message.connection_id, None)
        if message.answer and outlet is not None:
            outlet.offer(text_frame(unsubscribed_frame(self.room, message.frame_id)))
        if not self.members:
            self._arm_idle()

    # --- recovery --------------------------------------------------------------------------------

    def _missed_since(self, since: Since, position: Since, upto: int | None = None) -> list[bytes] | None:
        """The frames after ``since``, all of them, or None when any is gone (never a partial replay).

        ``upto``: the offset at which this socket became a member; what came after it was already sent
        live, so a member re-subscribing with ``since`` is replayed only the gap (no duplicates).
        """
        last = position.offset if upto is None else min(upto, position.offset)
        if since.epoch != position.epoch or since.offset > position.offset:
            return None
        if since.offset >= last:
            return []
        try:
            answer = self._broker.history(self.room, since)
        except Unavailable:  # cannot replay now: say so rather than leave the client waiting
            return None
        if not answer.complete:
            return None
        return [p.frame for p in answer.publications if p.offset <= last]

    def _position(self) -> Since | None:
        """Where this room stands here: the last position fanned out (asked of the broker when not known yet)."""
        if self._last is None:
            try:
                self._last = self._broker.position(self.room)
            except Unavailable:
                return None
        return self._last

    def _history(self, since: int | None, epoch: str | None) -> dict[str, Any]:
        """REST recovery (``GET /api/rooms/<room>/history``)."""
        position = self._broker.position(self.room)  # the room's position in the cluster, not only here
        answer: dict[str, Any] = {"room": self.room, "epoch": position.epoch, "offset": position.offset}
        if since is None:
            held = self._broker.history(self.room, None)
            same_epoch = epoch in (None, position.epoch)
            frames = [p.frame for p in held.publications] if same_epoch else []
            answer["recovered"] = same_epoch and held.complete
        else:
            missed = self._missed_since(Since(epoch or position.epoch, since), position)
            answer["recovered"] = missed is not None
            frames = missed or []
        answer["events"] = [json.loads(frame_payload(frame)) for frame in frames]
        return answer

    # --- idleness --------------------------------------------------------------------------------

    def _disarm_idle(self) -> None:
        self._idle_generation += 1
        if self._idle_timer is not None:
            self._idle_timer.kill(block=False)
            self._idle_timer = None

    def _arm_idle(self) -> None:
        self._disarm_idle()
        if self._pinned:
            return
        self._idle_timer = gevent.spawn_later(self.ctx.settings.room_idle_seconds, self._idle_fired,
                                              self._idle_generation)

    def _idle_fired(self, generation: int) -> None:
        self._idle_timer = None
        try:
            self.actor_ref.tell(IdleCheck(generation))
        except Exception:  # the room stopped meanwhile
            pass

    def describe(self) -> dict[str, Any]:
        position = self._last
        return {**super().describe(), "room": self.room, "epoch": position.epoch if position else None,
                "offset": position.offset if position else None, "members": len(self.members)}

