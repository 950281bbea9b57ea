"""Router: where a publish goes. The one validated path for every event (REST and ``EventService``).

The event's type decides the road (its ``EventSpec.route`` in the catalogue): most events go to the
hub, which hands them to their room to be numbered and fanned out; superseding updates go to the
Coalescer first, which sends at most one per interval per room (statistics are merged there too).
"""

from __future__ import annotations

from typing import Any

import pykka

from ..config import Settings
from ..protocol.events import CATALOGUE, ROUTE_COALESCE, ROUTE_STATS, prepare
from ..rooms.actor_messages import Publish
from ..runtime.reply import Reply, answer
from ..runtime.tracer import Tracer
from .actor_messages import Coalesce, PushStats, RecomputeStats

PublishAnswer = dict[str, Any]
"""``{room, epoch, offset, delivered}`` of the first room (plus ``rooms``: every room's answer, when
there are several; ``coalesced: true`` and no offset when the update waits for the next window)."""


class Router:
    """Validates events against the catalogue and sends each to its rooms by the type's route."""

    def __init__(self, settings: Settings, hub: pykka.ActorRef[Any], coalescer: pykka.ActorRef[Any],
                 tracer: Tracer | None = None) -> None:
        self._settings = settings
        self._hub = hub
        self._coalescer = coalescer
        self._tracer = tracer

    def publish(self, type_: object, data: object, room: object = None, *, wait: bool = True,
                trace_id: str | None = None) -> PublishAnswer | None:
        """Check the payload, pick the type's default rooms when ``room`` is None, send to each.

        With ``wait`` the answer is the first room's (see ``PublishAnswer``); without, None at once.
        """
        rooms = prepare(type_, data, room, self._settings.all_room_prefixes)
        assert isinstance(type_, str) and isinstance(data, dict)  # prepare has checked both
        spec = CATALOGUE[type_]
        replies = []
        for name in rooms:
            reply = Reply() if wait else None
            if spec.route == ROUTE_STATS:
                self._coalescer.tell(self._traced(PushStats(name, data, reply, trace_id), "coalescer"))
            elif spec.route == ROUTE_COALESCE:
                self._coalescer.tell(self._traced(Coalesce(name, type_, data, reply, trace_id), "coalescer"))
            else:
                self._hub.tell(self._traced(Publish(name, type_, data, reply, trace_id), "hub"))
            replies.append(reply)
        if not wait:
            return None
        results = [answer(reply, self._settings.ask_timeout, f"room {name}")
                   for reply, name in zip(replies, rooms, strict=True) if reply is not None]
        first = dict(results[0])
        if len(results) > 1:
            first["rooms"] = results
        return first

    def _traced(self, message: Any, peer: str) -> Any:
        """``message`` as it is, once its route is in its event's trace (while tracing is on)."""
        tracer = self._tracer
        if tracer is not None and tracer.enabled:
            tracer.routed(message, peer)
        return message

    def recompute_stats(self) -> dict[str, Any]:
        """Ask STATS_PROVIDER for fresh statistics, send them, and answer with them."""
        reply = Reply()
        self._coalescer.tell(RecomputeStats(reply))
        return answer(reply, self._settings.ask_timeout, "the statistics provider")  # type: ignore[no-any-return]
