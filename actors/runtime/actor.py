"""The actor base every actor of ours derives from: tracing, counters and crash containment.

pykka stops an actor whose ``on_receive`` raises for a ``tell`` and silently drops what was queued
behind it, and a ``gevent.Timeout`` or ``GreenletExit`` escaping ``on_receive`` stops every actor
(FINDINGS.md traps 5 and 6). Our supervision strategy is therefore *resume*: a failing message is
logged, counted and traced, the caller of an ``ask`` gets the error back as a ``Failure``, and the
actor goes on with its next message. Nothing a client sends can stop an actor.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gevent
import gevent.queue
import pykka

from .reply import Reply

if TYPE_CHECKING:
    from .context import ActorContext

log = logging.getLogger("realtime.actors")


@dataclass(frozen=True, slots=True)
class Failure:
    """What an ``ask`` gets back when handling its message raised; ``ActorSystem.ask`` re-raises it."""

    error: BaseException


class TracedActor(pykka.ThreadingActor):
    """A pykka actor on a bare greenlet that traces in debug mode and never dies of a bad message.

    pykka's ThreadingActor starts a ``threading.Thread`` (under gevent: a Thread object, its locks
    and a Greenlet) and an inbox with three conditions; one per connection is most of a socket's
    memory. Under gevent a bare greenlet and a gevent queue do the same job: the inbox and loop
    hooks below are pykka's documented extension points for new actor types.
    """

    use_daemon_thread = True  # FINDINGS.md trap 3: what pykka would do otherwise; we spawn no thread
    kind = "actor"

    @staticmethod
    def _create_actor_inbox() -> Any:
        return gevent.queue.Queue()

    def _start_actor_loop(self) -> None:
        gevent.spawn_raw(self._actor_loop)

    def __init__(self, ctx: ActorContext, actor_id: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.actor_id = actor_id
        self.handled = 0
        self.failures = 0
        self.started_at = time.time()
        self._tracer = ctx.tracer

    # --- pykka hooks -----------------------------------------------------------------------------

    def on_start(self) -> None:
        self._tracer.started(self)
        self.started()

    def on_stop(self) -> None:
        try:
            self.stopping()
        finally:
            self._tracer.stopped(self)

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self._tracer.stopped(self, "crash")

    def on_receive(self, message: Any) -> Any:
        self.handled += 1
        if not self._tracer.enabled:
            try:
                return self.handle(message)
            except (Exception, gevent.Timeout) as exc:
                return self._failed(message, exc)
        started = time.perf_counter()
        name = type(message).__name__
        self._tracer.record(self, "in", name)
        try:
            result = self.handle(message)
        except (Exception, gevent.Timeout) as exc:
            result = self._failed(message, exc)
        self._tracer.record(self, "done", name, micros=(time.perf_counter() - started) * 1e6)
        return result

    # --- for subclasses --------------------------------------------------------------------------

    def started(self) -> None:
        """Runs in the actor's greenlet before the first message."""

    def stopping(self) -> None:
        """Runs in the actor's greenlet after the last message: release timers and sockets here."""

    def handle(self, message: Any) -> Any:
        log.warning("%s got an unexpected message %r", self.actor_id, message)
        return None

    def send(self, ref: pykka.ActorRef[Any], message: Any, peer: str = "") -> bool:
        """``tell`` that is traced and does not raise if the receiver has already stopped."""
        if self._tracer.enabled:
            self._tracer.record(self, "out", type(message).__name__, peer=peer or None)
        try:
            ref.tell(message)
            return True
        except pykka.ActorDeadError:
            return False

    def mailbox_depth(self) -> int:
        return self.actor_inbox.qsize()  # type: ignore[attr-defined]  # a queue.Queue for ThreadingActor

    def describe(self) -> dict[str, Any]:
        return {"id": self.actor_id, "kind": self.kind, "mailbox": self.mailbox_depth(), "handled": self.handled,
                "failures": self.failures, "startedAt": self.started_at}

    def _failed(self, message: Any, exc: BaseException) -> Failure:
        self.failures += 1
        log.exception("%s failed on %s; resuming with the next message", self.actor_id, type(message).__name__,
                      exc_info=exc)
        if self._tracer.enabled:
            self._tracer.record(self, "error", type(message).__name__, detail=repr(exc)[:500])
        failure = Failure(exc)
        reply = getattr(message, "reply", None)  # a told message whose sender waits: tell it now
        if isinstance(reply, Reply) and not reply.done():
            reply.set(failure)
        return failure
