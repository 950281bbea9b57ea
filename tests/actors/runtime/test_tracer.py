"""Tracer: the live actors always, and in debug mode each actor's story, read off real actors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent
import pytest

from actors.runtime.actor import TracedActor
from actors.runtime.context import ActorContext
from actors.runtime.tracer import TraceEvent
from tests.actors.parts import make_ctx, stop_actors


class Chatty(TracedActor):
    kind = "chatty"

    def handle(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("boom")
        if isinstance(message, tuple):  # ("tell", ref): pass a greeting on
            self.send(message[1], "hello", "friend")
        return message


class FakeHub(Chatty):
    kind = "hub"


@pytest.fixture
def context() -> Iterator[Any]:
    """``context(debug, ring)``: a context of its own; its actors are stopped afterwards."""
    made: list[ActorContext] = []

    def make(debug: bool = True, ring: int = 50) -> ActorContext:
        made.append(make_ctx(websocket_debug=debug, trace_ring_size=ring))
        return made[-1]

    yield make
    for ctx in made:
        stop_actors(ctx)


def story(ctx: ActorContext, actor_id: str) -> list[tuple[str, str]]:
    return [(e["event"], e["message"]) for e in ctx.tracer.actor(actor_id)["trace"]]


def test_off_the_tracer_still_knows_every_live_actor_and_records_nothing(context):
    ctx = context(debug=False)
    ref = Chatty.start(ctx, "a")
    Chatty.start(ctx, "b")
    ref.ask("x", timeout=1)
    assert ctx.tracer.count() == 2 and {a["id"] for a in ctx.tracer.actors()} == {"a", "b"}
    assert ctx.tracer.actor("a")["trace"] == [] and ctx.tracer.actor("a")["alive"] is True
    ref.stop(block=True, timeout=1)
    assert ctx.tracer.count() == 1 and ctx.tracer.actor("a") is None  # no graveyard when off


def test_on_every_message_in_and_out_and_every_error_is_in_the_actors_ring(context):
    ctx = context(debug=True)
    friend = Chatty.start(ctx, "friend")
    ref = Chatty.start(ctx, "a")
    ref.ask("x", timeout=1)
    ref.ask(("tell", friend), timeout=1)
    ref.ask("boom", timeout=1)
    assert story(ctx, "a") == [("start", "-"), ("in", "str"), ("done", "str"), ("in", "tuple"), ("out", "str"),
                               ("done", "tuple"), ("in", "str"), ("error", "str"), ("done", "str")]
    trace = ctx.tracer.actor("a")["trace"]
    assert all(e["micros"] >= 0 for e in trace if e["event"] == "done")
    assert [e.get("peer") for e in trace if e["event"] == "out"] == ["friend"]
    assert [e["detail"] for e in trace if e["event"] == "error"] == ["RuntimeError('boom')"]
    assert all(e["actor"] == "a" and e["kind"] == "chatty" and "mailbox" in e for e in trace)
    assert ("in", "str") in story(ctx, "friend")


def test_the_ring_keeps_the_latest_events_only(context):
    ctx = context(debug=True, ring=5)
    ref = Chatty.start(ctx, "a")
    for n in range(10):
        ref.ask(n, timeout=1)
    assert story(ctx, "a") == [("done", "int"), ("in", "int"), ("done", "int"), ("in", "int"), ("done", "int")]


def test_a_stopped_actor_is_kept_with_its_story_for_a_while(context):
    ctx = context(debug=True)
    ref = Chatty.start(ctx, "a")
    ref.ask("x", timeout=1)
    ref.stop(block=True, timeout=1)
    gone = ctx.tracer.actor("a")
    assert gone["alive"] is False and gone["handled"] == 1
    assert [e["event"] for e in gone["trace"]] == ["start", "in", "done", "stop"]
    assert ctx.tracer.count() == 0 and ctx.tracer.actor("never") is None


def test_an_actor_stopping_does_not_drop_a_newer_actor_of_the_same_id(context):
    ctx = context(debug=False)
    old = Chatty.start(ctx, "conn-1")
    new = Chatty.start(ctx, "conn-1")
    old.stop(block=True, timeout=1)
    assert ctx.tracer.count() == 1 and ctx.tracer.live_refs() == [new]


def test_live_refs_put_the_hub_last(context):
    ctx = context(debug=False)
    hub = FakeHub.start(ctx, "hub")
    others = [Chatty.start(ctx, f"a{n}") for n in range(3)]
    assert ctx.tracer.live_refs() == []  # not yet: an actor is known once its greenlet has run on_start
    for ref in (hub, *others):
        ref.ask("up?", timeout=1)
    assert ctx.tracer.live_refs() == [*others, hub]


def test_a_watcher_sees_live_events_until_it_stops_watching(context):
    ctx = context(debug=True)
    ref = Chatty.start(ctx, "a")
    seen: list[TraceEvent] = []

    def watch() -> None:
        for event in ctx.tracer.watch():
            seen.append(event)
            if len(seen) == 2:
                return

    watcher = gevent.spawn(watch)
    gevent.sleep(0)  # the watcher registers
    ref.ask("x", timeout=1)
    watcher.join(timeout=1)
    assert watcher.dead and [(e.event, e.message) for e in seen] == [("in", "str"), ("done", "str")]
    ref.ask("y", timeout=1)  # nobody watching: nothing is queued for a departed watcher
    assert len(seen) == 2


def test_a_trace_event_leaves_out_what_it_does_not_have():
    event = TraceEvent(at=1.0, actor="a", kind="k", event="in", message="M", mailbox=0)
    assert event.to_dict() == {"at": 1.0, "actor": "a", "kind": "k", "event": "in", "message": "M", "mailbox": 0}
