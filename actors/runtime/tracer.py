"""Debug-mode tracing of actor mailboxes: who got what, how deep the mailbox was, how long it took.

Off by default; when off, the only cost on a message is one attribute read in ``TracedActor``.
When on, each message in and out and each start, stop and error becomes a ``TraceEvent`` in the
actor's ring (bounded), in the log at DEBUG level, and on any live watcher's queue.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from gevent.queue import Queue

log = logging.getLogger("realtime.trace")

GRAVEYARD_SIZE = 256
WATCHER_QUEUE_SIZE = 10_000


class TracedActor(Protocol):
    """What the tracer reads of an actor (``actor.TracedActor`` has it all)."""

    actor_id: str
    kind: str

    @property
    def actor_ref(self) -> Any: ...

    def mailbox_depth(self) -> int: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One line of an actor's story."""

    at: float
    actor: str
    kind: str
    event: str
    message: str
    mailbox: int
    micros: float | None = None
    peer: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class Tracer:
    """Holds the live actors (always) and their recent events (debug mode only)."""

    def __init__(self, enabled: bool, ring_size: int) -> None:
        self.enabled = enabled
        self._ring_size = ring_size
        self._actors: dict[str, TracedActor] = {}
        self._rings: dict[str, deque[TraceEvent]] = {}
        self._graveyard: deque[tuple[str, dict[str, Any], deque[TraceEvent]]] = deque(maxlen=GRAVEYARD_SIZE)
        self._watchers: list[Queue[TraceEvent]] = []

    # --- lifecycle -------------------------------------------------------------------------------

    def started(self, actor: TracedActor) -> None:
        self._actors[actor.actor_id] = actor
        if self.enabled:
            self._rings[actor.actor_id] = deque(maxlen=self._ring_size)
            self.record(actor, "start", "-")

    def stopped(self, actor: TracedActor, why: str = "stop") -> None:
        if self._actors.get(actor.actor_id) is actor:
            del self._actors[actor.actor_id]
        if self.enabled:
            self.record(actor, why, "-")
            ring = self._rings.pop(actor.actor_id, None)
            if ring is not None:
                self._graveyard.append((actor.actor_id, actor.describe(), ring))

    # --- events ----------------------------------------------------------------------------------

    def record(self, actor: TracedActor, event: str, message: str, micros: float | None = None,
               peer: str | None = None, detail: str | None = None) -> None:
        entry = TraceEvent(at=time.time(), actor=actor.actor_id, kind=actor.kind, event=event, message=message,
                           mailbox=actor.mailbox_depth(), micros=micros, peer=peer, detail=detail)
        ring = self._rings.get(actor.actor_id)
        if ring is not None:
            ring.append(entry)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s mailbox=%d%s%s", entry.actor, event, message, entry.mailbox,
                      f" {micros:.0f}us" if micros is not None else "", f" -> {peer}" if peer else "")
        for queue in self._watchers:
            if queue.qsize() < WATCHER_QUEUE_SIZE:
                queue.put_nowait(entry)

    # --- reading ---------------------------------------------------------------------------------

    def count(self) -> int:
        return len(self._actors)

    def live_refs(self) -> list[Any]:
        """Every live actor of this system, hub last, so the system can stop them all."""
        refs = [actor.actor_ref for actor in self._actors.values() if actor.kind != "hub"]
        refs += [actor.actor_ref for actor in self._actors.values() if actor.kind == "hub"]
        return refs

    def actors(self) -> list[dict[str, Any]]:
        return [actor.describe() for actor in list(self._actors.values())]

    def actor(self, actor_id: str) -> dict[str, Any] | None:
        """One actor with its recent trace: live if it is, else the last one of that id to stop."""
        live = self._actors.get(actor_id)
        if live is not None:
            ring = self._rings.get(actor_id, ())
            return {**live.describe(), "alive": True, "trace": [e.to_dict() for e in ring]}
        for dead_id, description, ring in reversed(self._graveyard):
            if dead_id == actor_id:
                return {**description, "alive": False, "trace": [e.to_dict() for e in ring]}
        return None

    def watch(self) -> Iterator[TraceEvent]:
        """Live events until the caller stops iterating; for the debug stream endpoint."""
        queue: Queue[TraceEvent] = Queue()
        self._watchers.append(queue)
        try:
            while True:
                yield queue.get()
        finally:
            self._watchers.remove(queue)
