"""TracedActor: pykka's actor on a bare greenlet, with resume supervision, Reply futures and inline actors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gevent
import pykka
import pytest

from actors.errors import BadRequest, Unavailable
from actors.runtime.actor import TracedActor
from actors.runtime.context import ActorContext
from actors.runtime.reply import Failure, Reply, answer
from tests.actors.parts import make_ctx, stop_actors


@dataclass(frozen=True)
class Raise:
    error: BaseException


@dataclass(frozen=True)
class Sleep:
    seconds: float


class Worker(TracedActor):
    """Answers what it is asked; raises or sleeps on request; notes its life in ``log``."""

    kind = "worker"

    def __init__(self, ctx: ActorContext, actor_id: str, log: list[Any], *, inline: bool = False) -> None:
        super().__init__(ctx, actor_id, inline=inline)
        self._log = log

    def started(self) -> None:
        self._log.append(("started", gevent.getcurrent()))

    def stopping(self) -> None:
        self._log.append(("stopping", gevent.getcurrent()))

    def handle(self, message: Any) -> Any:
        if isinstance(message, Raise):
            raise message.error
        if isinstance(message, Sleep):
            gevent.sleep(message.seconds)
            return "slept"
        if message == "unexpected":
            return super().handle(message)
        self._log.append(("handled", message))
        return message


@pytest.fixture(params=[False, True], ids=["quiet", "debug"])
def ctx(request: Any) -> Iterator[ActorContext]:
    """A context with tracing off and on: supervision must not depend on it. Its actors are stopped afterwards."""
    context = make_ctx(websocket_debug=request.param)
    yield context
    stop_actors(context)


def test_a_handler_that_raises_answers_the_asker_with_a_failure_and_the_actor_goes_on(ctx, caplog):
    ref = Worker.start(ctx, "w", [])
    with caplog.at_level(logging.ERROR, logger="realtime.actors"):
        result = ref.ask(Raise(RuntimeError("handler bug")), timeout=1)
    assert isinstance(result, Failure) and str(result.error) == "handler bug"
    assert "w failed on Raise; resuming with the next message" in caplog.text
    assert ref.is_alive() and ref.ask("next", timeout=1) == "next"
    assert ctx.tracer.actor("w")["failures"] == 1


def test_a_told_message_that_raises_loses_nothing_queued_behind_it(ctx):
    log: list[Any] = []
    ref = Worker.start(ctx, "w", log)
    ref.tell("before")
    ref.tell(Raise(ValueError("bad")))
    ref.tell("after")  # pykka would stop the actor and drop this one
    assert ref.ask("last", timeout=1) == "last"
    assert [entry[1] for entry in log if entry[0] == "handled"] == ["before", "after", "last"]


def test_a_gevent_timeout_in_a_handler_stops_neither_this_actor_nor_any_other(ctx):
    ref, bystander = Worker.start(ctx, "w", []), Worker.start(ctx, "bystander", [])
    result = ref.ask(Raise(gevent.Timeout(0.1)), timeout=1)  # pykka stops every actor on a BaseException
    assert isinstance(result, Failure) and isinstance(result.error, gevent.Timeout)
    assert ref.is_alive() and bystander.is_alive()
    assert bystander.ask("still here", timeout=1) == "still here"


def test_answer_raises_a_callers_mistake_as_it_is_and_anything_else_as_unavailable(ctx):
    ref = Worker.start(ctx, "w", [])
    with pytest.raises(BadRequest, match="no such field"):
        answer(ref.ask(Raise(BadRequest("no such field")), block=False), 1, "worker")
    with pytest.raises(Unavailable, match="worker failed: RuntimeError"):
        answer(ref.ask(Raise(RuntimeError("disk")), block=False), 1, "worker")
    with pytest.raises(Unavailable, match="worker did not answer within 0.01s"):
        answer(ref.ask(Sleep(0.2), block=False), 0.01, "worker")


def test_ask_returns_a_reply_future(ctx):
    ref = Worker.start(ctx, "w", [])
    future = ref.ask("hello", block=False)
    assert isinstance(future, Reply)
    assert future.get(timeout=1) == "hello" and future.done()
    slow = ref.ask(Sleep(0.2), block=False)
    with pytest.raises(pykka.Timeout):
        slow.get(timeout=0.01)
    assert slow.get(timeout=1) == "slept"
    assert ref.ask(Sleep(0), block=False).map(str.upper).get(timeout=1) == "SLEPT"  # pykka's combinators work


def test_asking_a_stopped_actor_is_actor_dead_and_send_says_so_without_raising(ctx):
    ref = Worker.start(ctx, "w", [])
    sender = Worker(ctx, "sender", [])  # never started: send is a plain method
    assert sender.send(ref, "hi") is True
    ref.stop(block=True, timeout=1)
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("anyone?", timeout=1)
    assert sender.send(ref, "hi") is False
    with pytest.raises(Unavailable, match="shutting down"):
        answer(ref.ask("anyone?", block=False), 1, "worker")


def test_an_actor_runs_on_a_greenlet_of_its_own_between_started_and_stopping(ctx):
    log: list[Any] = []
    ref = Worker.start(ctx, "w", log)
    ref.ask("one", timeout=1)
    ref.stop(block=True, timeout=1)
    assert [entry[0] for entry in log] == ["started", "handled", "stopping"]
    assert log[0][1] is log[2][1] and log[0][1] is not gevent.getcurrent()
    assert not isinstance(log[0][1], gevent.Greenlet)  # a bare greenlet, not a Greenlet or a thread


def test_an_unexpected_message_is_logged_and_answered_with_none(ctx, caplog):
    ref = Worker.start(ctx, "w", [])
    with caplog.at_level(logging.WARNING, logger="realtime.actors"):
        assert ref.ask("unexpected", timeout=1) is None
    assert "w got an unexpected message 'unexpected'" in caplog.text


def test_describe_counts_messages_and_failures(ctx):
    ref = Worker.start(ctx, "w", [])
    ref.ask("a", timeout=1)
    ref.ask(Raise(RuntimeError("x")), timeout=1)
    description = ctx.tracer.actor("w")
    assert {k: description[k] for k in ("id", "kind", "handled", "failures", "mailbox", "alive")} == {
        "id": "w", "kind": "worker", "handled": 2, "failures": 1, "mailbox": 0, "alive": True}
    assert description["startedAt"] > 0


# --- inline actors -------------------------------------------------------------------------------


def test_an_inline_actor_runs_in_the_owners_greenlet_and_is_never_in_pykkas_registry(ctx):
    log: list[Any] = []
    actor = Worker(ctx, "inline", log, inline=True)
    ref = actor.actor_ref
    ref.tell("queued before the loop runs")
    owner = gevent.spawn(actor.run_inline)
    assert ref.ask("while running", timeout=1) == "while running"
    assert ref not in pykka.ActorRegistry.get_all()
    assert ctx.tracer.actor("inline")["alive"] is True  # the tracer knows it
    assert log[0] == ("started", owner)
    ref.stop(block=True, timeout=1)
    owner.join(timeout=1)
    assert owner.dead and owner.successful()
    assert [entry[0] for entry in log] == ["started", "handled", "handled", "stopping"]
    assert log[-1][1] is owner
    assert ctx.tracer.count() == 0 and ref not in pykka.ActorRegistry.get_all()


def test_an_inline_actor_whose_greenlet_is_killed_still_runs_stopping(ctx):
    log: list[Any] = []
    actor = Worker(ctx, "inline", log, inline=True)
    owner = gevent.spawn(actor.run_inline)
    assert actor.actor_ref.ask("up?", timeout=1) == "up?"
    owner.kill(block=True, timeout=1)  # the server stopping while the socket waits for mail
    assert [entry[0] for entry in log][-1] == "stopping"
    assert not actor.actor_ref.is_alive() and ctx.tracer.count() == 0


def test_run_inline_is_only_for_inline_actors(ctx):
    actor = Worker(ctx, "not-inline", [])
    with pytest.raises(AssertionError, match="inline=True"):
        actor.run_inline()
