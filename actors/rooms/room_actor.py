"""RoomActor: one per live room. Numbers its events, keeps a bounded history, fans out to members."""

from __future__ import annotations

import json
import random
import time
from collections import deque
from typing import Any

import gevent

from ..protocol.frames import event_frame, subscribed_frame, unsubscribed_frame, utc_now_iso
from ..protocol.positions import Since
from ..runtime.actor import TracedActor
from ..runtime.context import ActorContext
from ..transport.framing import frame_payload, text_frame
from ..transport.outlet import Outlet
from .actor_messages import History, IdleCheck, Join, Joined, Leave, Publish, Retire, RoomIdle

SUPERSEDED_TYPES = frozenset({"STATS_UPDATE", "CAMPAIGN_PROGRESS"})
"""A newer one replaces an older one still queued for a slow socket; the latest goes to new subscribers."""

PINNED_PREFIXES = frozenset({"stats"})
"""Rooms that never retire when idle, so their latest value waits for the next subscriber."""


def new_epoch() -> str:
    """A room incarnation's id: changes whenever the room's history is lost.

    48 random bits, from ``random`` (seeded from the OS at start, reseeded after fork): an epoch must
    differ from the last one a client saw, not be secret. A uuid4 (an ``os.urandom`` call) here was
    1 % of the CPU of 10,000 connects, each of which gives its user room an epoch.
    """
    return f"{random.getrandbits(48):012x}"


class RoomActor(TracedActor):
    """Owns one room's members, offsets and history; writes straight to members' outlets."""

    kind = "room"

    def __init__(self, ctx: ActorContext, room: str, epoch: str | None = None,
                 members: dict[str, Outlet] | None = None) -> None:
        super().__init__(ctx, f"room:{room}")
        self.room = room
        self.epoch = epoch or new_epoch()
        self.offset = 0
        self.members: dict[str, Outlet] = members or {}
        self._joined_at: dict[str, int] = dict.fromkeys(self.members, 0)
        self._history: deque[tuple[int, float, bytes]] = deque()
        self._latest: dict[str, bytes] = {}
        self._pinned = room.partition(":")[0] in PINNED_PREFIXES
        self._seen = 0
        self._idle_generation = 0
        self._idle_timer: gevent.Greenlet | None = None

    def started(self) -> None:
        if not self.members:
            self._arm_idle()

    def stopping(self) -> None:
        self._disarm_idle()

    def handle(self, message: Any) -> Any:
        if isinstance(message, Publish):
            self._seen += 1
            return self._publish(message)
        if isinstance(message, Join):
            self._seen += 1
            return self._join(message)
        if isinstance(message, Leave):
            self._seen += 1
            return self._leave(message)
        if isinstance(message, History):
            self._seen += 1
            message.reply.set(self._history_since(message.since, message.epoch))
            return None
        if isinstance(message, IdleCheck):
            if message.generation == self._idle_generation and not self.members:
                self.send(self.ctx.hub, RoomIdle(self.room, self._seen), "hub")  # type: ignore[arg-type]
            return None
        if isinstance(message, Retire):
            self.stop()
            return None
        return super().handle(message)

    # --- messages --------------------------------------------------------------------------------

    def _publish(self, message: Publish) -> dict[str, Any]:
        self.offset += 1
        frame = text_frame(event_frame(message.type, self.room, self.epoch, self.offset, message.data,
                                       utc_now_iso()))
        self._remember(frame)
        type_ = message.type
        key = None
        if type_ in SUPERSEDED_TYPES:
            key = f"{type_}:{self.room}"
            self._latest[type_] = frame
        delivered = 0
        # Alone in the mailbox: no later event can share a write with this one, so write it now rather
        # than after queueing it for every member (the first member would wait for the last one's queueing).
        now = not self.mailbox_depth()
        started = time.perf_counter()
        for outlet in self.members.values():
            if outlet.offer(frame, type_, key, now):
                delivered += 1
        if now and self.members:  # written here, not by the Flusher, which keeps this figure otherwise
            self.ctx.metrics.flush_delays.append(time.perf_counter() - started)
        counts = self.ctx.metrics.of(type_)
        counts.published += 1
        counts.delivered += delivered
        counts.dropped += len(self.members) - delivered
        self.ctx.metrics.events_published += 1
        result = {"room": self.room, "epoch": self.epoch, "offset": self.offset, "delivered": delivered}
        if message.reply is not None:
            message.reply.set(result)
        if not self.members:
            self._arm_idle()
        return result

    def _join(self, message: Join) -> None:
        already_since = self._joined_at.get(message.connection_id)
        if already_since is None:
            self._joined_at[message.connection_id] = self.offset
        self.members[message.connection_id] = message.outlet
        self._disarm_idle()
        if message.ack_to is not None:
            self.send(message.ack_to, Joined((self.room,)), message.connection_id)
            return
        replay_or_none = self._missed_since(message.since, already_since) if message.since is not None else None
        recovered = None if message.since is None else replay_or_none is not None
        # the replay, or else the latest superseding values (statistics, progress) so a widget fills at once
        replay = replay_or_none if replay_or_none is not None else list(self._latest.values())
        outlet = message.outlet
        # with nothing to replay the answer is all this socket gets from here: write it at once
        outlet.offer(text_frame(subscribed_frame(self.room, self.epoch, self.offset, recovered, message.ref)),
                     now=not replay)
        outlet.replay(replay)

    def _leave(self, message: Leave) -> None:
        outlet = self.members.pop(message.connection_id, None)
        self._joined_at.pop(message.connection_id, None)
        if message.answer and outlet is not None:
            outlet.offer(text_frame(unsubscribed_frame(self.room, message.ref)))
        if not self.members:
            self._arm_idle()

    # --- history and recovery --------------------------------------------------------------------

    def _remember(self, frame: bytes) -> None:
        history = self._history
        history.append((self.offset, time.monotonic(), frame))
        while len(history) > self.ctx.settings.history_size:
            history.popleft()
        self._expire_history()

    def _expire_history(self) -> None:
        horizon = time.monotonic() - self.ctx.settings.history_seconds
        history = self._history
        while history and history[0][1] < horizon:
            history.popleft()

    def _missed_since(self, since: Since, upto: int | None = None) -> list[bytes] | None:
        """The frames after ``since``, all of them, or None when any is gone (never a partial replay).

        ``upto``: the offset at which this socket became a member; what came after it was already sent
        live, so a member re-subscribing with ``since`` is replayed only the gap (no duplicates).
        """
        last = self.offset if upto is None else min(upto, self.offset)
        if since.epoch != self.epoch or since.offset > self.offset:
            return None
        if since.offset >= last:
            return []
        self._expire_history()
        if not self._history or self._history[0][0] > since.offset + 1:
            return None
        return [frame for offset, _, frame in self._history if since.offset < offset <= last]

    def _history_since(self, since: int | None, epoch: str | None) -> dict[str, Any]:
        answer: dict[str, Any] = {"room": self.room, "epoch": self.epoch, "offset": self.offset}
        if since is None:
            frames = [frame for _, _, frame in self._history] if epoch in (None, self.epoch) else []
            answer["recovered"] = epoch in (None, self.epoch) and (not self._history or self._history[0][0] == 1)
        else:
            missed = self._missed_since(Since(epoch or self.epoch, since))
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
        return {**super().describe(), "room": self.room, "epoch": self.epoch, "offset": self.offset,
                "members": len(self.members), "history": len(self._history)}

