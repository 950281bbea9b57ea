"""The actor base every actor of ours derives from: a pykka actor type on gevent, traced, supervised.

pykka documents three hooks for a new actor type: the inbox (``_create_actor_inbox``), the future
(``_create_future``) and how the loop starts (``_start_actor_loop``). ``TracedActor`` implements all
three for gevent: a gevent queue, a ``Reply`` (so ``ask`` and told replies are one kind of future) and
a bare greenlet. Two more pykka internals are used, here and nowhere else: ``run_inline`` runs the
actor's loop (``_actor_loop``) in the caller's greenlet, and ``_stop`` skips pykka's registry for such
actors. Both exist for the one-greenlet-per-socket design (see ``inline``).

Supervision is *resume*. pykka stops an actor whose ``on_receive`` raises for a ``tell`` and silently
drops what was queued behind it, and a ``gevent.Timeout`` or ``GreenletExit`` escaping ``on_receive``
makes pykka stop every actor in the process. So a failing message is logged, counted and traced, the
waiting caller (``ask`` or a ``Reply`` on the message) gets the error back as a ``Failure``, and the
actor goes on with its next message. Nothing a client sends can stop an actor.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import gevent
import gevent.queue
import pykka

from .reply import Failure, Reply
from .trace_summary import mask

if TYPE_CHECKING:
    from .context import ActorContext

log = logging.getLogger("realtime.actors")


class TracedActor(pykka.Actor):
    """A pykka actor on a bare greenlet that is traced when the tracer's rules say so and never dies of a bad message.

    pykka's ThreadingActor starts a ``threading.Thread`` (under gevent: a Thread object, its locks
    and a Greenlet) and an inbox with three conditions; one per connection was most of a socket's
    memory. Under gevent a bare greenlet and a gevent queue do the same job.
    """

    kind = "actor"

    @staticmethod
    def _create_actor_inbox() -> Any:
        return gevent.queue.Queue()

    @staticmethod
    def _create_future() -> Reply:
        return Reply()

    def _start_actor_loop(self) -> None:
        if not self.inline:
            gevent.spawn_raw(self._actor_loop)

    def __init__(self, ctx: ActorContext, actor_id: str, *, inline: bool = False) -> None:
        super().__init__()
        self.inline = inline
        """Built, not started: the owner runs the loop with ``run_inline`` in a greenlet it already has
        (a socket's request greenlet), and pykka's registry never holds it."""
        self.ctx = ctx
        self.actor_id = actor_id
        self.handled = 0
        self.failures = 0
        self.started_at = time.time()
        self._tracer = ctx.tracer
        self._trace_generation = -1
        self._trace_self = False
        """Whether the rules of that tracer generation trace this actor as a whole (``Tracer.actor_traced``)."""

    # --- pykka hooks -----------------------------------------------------------------------------

    def run_inline(self) -> None:
        """Run this inline actor's mailbox loop in the calling greenlet until the actor stops.

        pykka's own loop, as its thread would run it. If the greenlet is killed while waiting for mail
        (the server stopping), the actor is stopped here so ``stopping`` still runs.
        """
        assert self.inline, "run_inline is for actors built with inline=True"
        try:
            self._actor_loop()
        finally:
            if not self.actor_stopped.is_set():
                self._stop()

    def _stop(self) -> None:
        """pykka's stop, minus its registry for inline actors, which are never registered there.

        pykka's registry is a list: unregistering scans it, and with 10,000 sockets that scan was a
        third of the server's time while they disconnected. The tracer knows every live actor; the
        pykka registry keeps the few long-lived ones (hub, rooms, services).
        """
        if not self.inline:
            super()._stop()
            return
        self.actor_stopped.set()
        try:
            self.on_stop()
        except Exception:  # noqa: BLE001 (as pykka: log it, the actor is stopped either way)
            log.exception("%s failed while stopping", self.actor_id)

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
        tracer = self._tracer
        if not tracer.enabled or not tracer.wants(self, message):  # off: one attribute read, as before rules
            try:
                return self.handle(message)
            except (Exception, gevent.Timeout) as exc:
                return self._failed(message, exc)
        started = time.perf_counter()
        tracer.record_message(self, "in", message)
        try:
            result = self.handle(message)
        except (Exception, gevent.Timeout) as exc:
            result = self._failed(message, exc)
        tracer.record(self, "done", type(message).__name__, micros=(time.perf_counter() - started) * 1e6,
                      trace=getattr(message, "trace_id", None))
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
        tracer = self._tracer
        if tracer.enabled and tracer.wants(self, message):
            tracer.record_message(self, "out", message, peer=peer or None)
        try:
            ref.tell(message)
            return True
        except pykka.ActorDeadError:
            return False

    def tell_hub(self, message: object) -> bool:
        """``send`` to this process's hub; False if it has not started or has stopped."""
        hub = self.ctx.hub
        return hub is not None and self.send(hub, message, "hub")

    def trace_refusal(self, code: str, message: str, text: str | None, *, read: bool = True) -> None:
        """A client frame this actor refused: kept for ``GET /api/debug/users/{id}`` (always, bounded) and
        traced as ``refused`` when this actor is traced; only the frame's type, room and ``id`` are read
        (nothing of a frame that was not ``read``, such as one the rate limit refused)."""
        self._tracer.refusal(self, code, message, text if read else None, read=read)

    def mailbox_depth(self) -> int:
        return self.actor_inbox.qsize()  # type: ignore[attr-defined, no-any-return]  # a gevent Queue

    def describe(self) -> dict[str, Any]:
        return {"id": self.actor_id, "kind": self.kind, "mailbox": self.mailbox_depth(), "handled": self.handled,
                "failures": self.failures, "startedAt": self.started_at}

    def _failed(self, message: Any, exc: BaseException) -> Failure:
        self.failures += 1
        log.exception("%s failed on %s; resuming with the next message", self.actor_id, type(message).__name__,
                      exc_info=exc)
        tracer = self._tracer
        if tracer.enabled and tracer.wants(self, message):
            tracer.record(self, "error", type(message).__name__, detail=mask(repr(exc)[:500]),
                          trace=getattr(message, "trace_id", None))
        failure = Failure(exc)
        reply = getattr(message, "reply", None)  # a told message whose sender waits: tell it now
        if isinstance(reply, Reply) and not reply.done():
            reply.set(failure)
        return failure
