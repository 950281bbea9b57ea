"""RoomActor: one per live room. Numbers its events, keeps a bounded history, fans out to members."""

from __future__ import annotations

import time
import uuid
from collections import deque
from typing import Any

import gevent

from .base import TracedActor
from .context import ActorContext
from .messages import IdleCheck, Join, Joined, Leave, Publish, Retire, RoomIdle, Since
from .outlet import Outlet
from .protocol import event_frame, server_frame, utc_now_iso
from .wire import text_frame

SUPERSEDED_TYPES = frozenset({"STATS_UPDATE", "CAMPAIGN_PROGRESS"})


class RoomActor(TracedActor):
    """Owns one room's members, offsets and history; writes straight to members' outlets."""

    kind = "room"

    def __init__(self, ctx: ActorContext, room: str) -> None:
        super().__init__(ctx, f"room:{room}")
        self.room = room
        self.epoch = uuid.uuid4().hex[:12]
        self.offset = 0
        self.members: dict[str, Outlet] = {}
        self._history: deque[tuple[int, float, bytes]] = deque()
        self._seen = 0
        self._idle_generation = 0
        self._idle_timer: gevent.Greenlet | None = None

    def started(self) -> None:
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
        key = f"{message.type}:{self.room}" if message.type in SUPERSEDED_TYPES else None
        delivered = 0
        for outlet in self.members.values():
            if outlet.offer(frame, key):
                delivered += 1
        self.ctx.metrics.events_published += 1
        result = {"room": self.room, "epoch": self.epoch, "offset": self.offset, "delivered": delivered}
        if message.reply is not None:
            message.reply.set(result)
        if not self.members:
            self._arm_idle()
        return result

    def _join(self, message: Join) -> None:
        self.members[message.connection_id] = message.outlet
        self._disarm_idle()
        if message.ack_to is not None:
            self.send(message.ack_to, Joined(self.room), message.connection_id)
            return
        data: dict[str, Any] = {"room": self.room, "epoch": self.epoch, "offset": self.offset}
        replay: list[bytes] = []
        if message.since is not None:
            replay_or_none = self._missed_since(message.since)
            data["recovered"] = replay_or_none is not None
            replay = replay_or_none or []
        if message.ref is not None:
            data["ref"] = message.ref
        outlet = message.outlet
        outlet.offer(text_frame(server_frame("SUBSCRIBED", data)))
        for frame in replay:
            outlet.offer(frame)

    def _leave(self, message: Leave) -> None:
        outlet = self.members.pop(message.connection_id, None)
        if message.answer and outlet is not None:
            data: dict[str, Any] = {"room": self.room}
            if message.ref is not None:
                data["ref"] = message.ref
            outlet.offer(text_frame(server_frame("UNSUBSCRIBED", data)))
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

    def _missed_since(self, since: Since) -> list[bytes] | None:
        """The frames after ``since``, all of them, or None when any is gone (never a partial replay)."""
        if since.epoch != self.epoch or since.offset > self.offset:
            return None
        if since.offset == self.offset:
            return []
        self._expire_history()
        if not self._history or self._history[0][0] > since.offset + 1:
            return None
        return [frame for offset, _, frame in self._history if offset > since.offset]

    # --- idleness --------------------------------------------------------------------------------

    def _disarm_idle(self) -> None:
        self._idle_generation += 1
        if self._idle_timer is not None:
            self._idle_timer.kill(block=False)
            self._idle_timer = None

    def _arm_idle(self) -> None:
        self._disarm_idle()
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

