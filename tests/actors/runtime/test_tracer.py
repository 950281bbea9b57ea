"""Tracer: the live actors always, and in debug mode each actor's story, read off real actors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gevent
import pytest

from actors.config import DEFAULT_ROOM_PREFIXES
from actors.errors import BadRequest
from actors.identity import Identity
from actors.protocol.positions import Since
from actors.runtime.actor import TracedActor
from actors.runtime.context import ActorContext
from actors.runtime.trace_summary import summarize
from actors.runtime.tracer import TraceEvent, TraceFilter, TraceLimits, TraceRules, parse_rules
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


PREFIXES = DEFAULT_ROOM_PREFIXES


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
    assert ctx.tracer.enabled is False
    assert ctx.tracer.count() == 2 and {a["id"] for a in ctx.tracer.actors()} == {"a", "b"}
    assert ctx.tracer.actor("a")["trace"] == [] and ctx.tracer.actor("a")["alive"] is True
    ref.stop(block=True, timeout=1)
    assert ctx.tracer.count() == 1
    stopped = ctx.tracer.actor("a")  # listed as stopped, with nothing recorded
    assert stopped["alive"] is False and stopped["trace"] == [] and stopped["handled"] == 1
    assert [a["id"] for a in ctx.tracer.stopped_actors()] == ["a"] and ctx.tracer.memory()["bytes"] == 0


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


# --- rules switched at runtime -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Visit:
    """A message naming a room and a connection, as Join and Leave do."""

    room: str
    connection_id: str = "nobody"
    trace_id: str | None = None


class Person(Chatty):
    """An actor with an identity, as a ConnectionActor has."""

    kind = "connection"

    def __init__(self, ctx: ActorContext, actor_id: str, user: str) -> None:
        super().__init__(ctx, actor_id)
        self.identity = Identity(user, "EMPLOYEE", int(time.time()) + 3600)
        self.inline = False


def rules(**kwargs: Any) -> TraceRules:
    return TraceRules(**{key: frozenset(value) if isinstance(value, (list, set)) else value
                         for key, value in kwargs.items()}, until=time.time() + 60, set_at=time.time())


def test_a_user_rule_traces_their_connections_and_what_names_them_in_every_actor(context):
    ctx = context(debug=False)
    theirs, others, hub = Person.start(ctx, "c42", "42"), Person.start(ctx, "c43", "43"), FakeHub.start(ctx, "hub")
    for ref in (theirs, others, hub):
        ref.ask("up?", timeout=1)
    ctx.tracer.set_rules(rules(users=["42"]))
    assert ctx.tracer.enabled and not ctx.tracer.all
    theirs.ask("x", timeout=1)
    others.ask("x", timeout=1)
    hub.ask(Visit("lead:1", "c42"), timeout=1)  # names 42's connection
    hub.ask(Visit("user:42"), timeout=1)  # names 42's room
    hub.ask(Visit("lead:1", "c43"), timeout=1)  # neither
    assert story(ctx, "c42") == [("in", "str"), ("done", "str")]
    assert story(ctx, "c43") == []
    assert story(ctx, "hub") == [("in", "Visit"), ("done", "Visit"), ("in", "Visit"), ("done", "Visit")]
    late = Person.start(ctx, "c42b", "42")  # a connection opened after the rule is traced too
    late.ask("y", timeout=1)
    assert ("in", "str") in story(ctx, "c42b")
    ctx.tracer.clear_rules()
    theirs.ask("z", timeout=1)
    assert ctx.tracer.enabled is False and len(story(ctx, "c42")) == 2


def test_room_and_actor_rules(context):
    ctx = context(debug=False)
    hub, other = FakeHub.start(ctx, "hub"), Chatty.start(ctx, "other")
    for ref in (hub, other):
        ref.ask("up?", timeout=1)
    ctx.tracer.set_rules(rules(rooms=["lead:9"], actors=["other"]))
    hub.ask(Visit("lead:9"), timeout=1)
    hub.ask(Visit("lead:8"), timeout=1)
    other.ask("x", timeout=1)
    assert story(ctx, "hub") == [("in", "Visit"), ("done", "Visit")]
    assert story(ctx, "other") == [("in", "str"), ("done", "str")]
    entry = ctx.tracer.actor("hub")["trace"][0]
    assert entry["summary"] == {"room": "lead:9", "connection": "nobody"}


def test_rules_end_by_themselves_at_their_time(context):
    ctx = context(debug=False)
    ref = Chatty.start(ctx, "a")
    ref.ask("up?", timeout=1)
    ctx.tracer.set_rules(TraceRules(all=True, until=time.time() + 0.2, set_at=time.time()))
    ref.ask("x", timeout=1)
    assert ctx.tracer.enabled
    gevent.sleep(0.35)  # a libev timer ends them: no greenlet waits for it
    assert ctx.tracer.enabled is False and ctx.tracer.current_rules().empty
    ref.ask("y", timeout=1)
    assert story(ctx, "a") == [("in", "str"), ("done", "str")]


def test_parse_rules_names_every_bad_field():
    good = parse_rules({"users": ["42", 7], "rooms": ["lead:9"], "actors": ["hub"], "minutes": 1.5}, PREFIXES, 60,
                       "user 1")
    assert good.users == {"42", "7"} and good.rooms == {"lead:9"} and good.actors == {"hub"} and not good.all
    assert 89 < good.until - time.time() <= 90 and good.set_by == "user 1"
    with pytest.raises(BadRequest) as refused:
        parse_rules({"users": "42", "rooms": ["x:1", 3], "all": 1, "minutes": 61, "extra": 0}, PREFIXES, 60, None)
    assert set(refused.value.fields) == {"users", "rooms.0", "rooms.1", "all", "minutes", "extra"}


# --- what an entry says ---------------------------------------------------------------------------

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


@dataclass(frozen=True, slots=True)
class Carrying:
    text: str | None = None
    token: str | None = None
    data: dict[str, Any] | None = None
    rooms: tuple[str, ...] = ()
    position: Any = None
    identity: Any = None
    frame_id: Any = None


def test_a_summary_says_what_a_message_carried_and_never_a_token():
    frame = json.dumps({"type": "AUTH", "id": "a1", "data": {"token": JWT}})
    summary = summarize(Carrying(text=frame, token=JWT, data={"leadId": "9", "apiKey": "k", "note": f"Bearer {JWT}",
                                                               "nested": {"password": "p", "list": list(range(50))}},
                                 rooms=tuple(f"lead:{n}" for n in range(12)), position=Since("e1", 7),
                                 identity=Identity("42", "EMPLOYEE", 1)), 400)
    assert summary is not None
    assert summary["frame"] == "AUTH" and summary["ref"] == "a1" and summary["bytes"] == len(frame)
    assert summary["token"] == "***" and "text" not in summary
    assert summary["user"] == "42" and summary["role"] == "EMPLOYEE" and summary["ref"] == "a1"
    assert summary["epoch"] == "e1" and summary["offset"] == 7
    assert summary["rooms"][:2] == ["lead:0", "lead:1"] and summary["rooms"][-1] == "… 2 more"
    text = json.dumps(summary)
    assert "c2lnbmF0dXJl" not in text and "eyJzdWIi" not in text and '"apiKey":"***"' in summary["data"]
    assert '"password":"***"' in summary["data"] and "… 30 more" in summary["data"]
    assert len(summarize(Carrying(data={"blob": "x" * 10_000}), 120)["data"]) == 121  # bounded, with an ellipsis
    assert summarize("a string", 120) is None
    assert summarize(Carrying(frame_id=3), 120) == {"ref": 3}


def test_a_message_with_a_summary_of_its_own_says_it_that_way():
    @dataclass(frozen=True, slots=True)
    class Custom:
        secret: str

        def summary(self) -> dict[str, Any]:
            return {"what": "custom"}

    assert summarize(Custom("s"), 120) == {"what": "custom"}


# --- bounds ---------------------------------------------------------------------------------------


def test_rings_are_bounded_in_entries_and_bytes_per_actor_and_in_total(context):
    ctx = context(debug=True)
    ctx.tracer.limits = TraceLimits(ring_entries=30, ring_bytes=3_000, total_bytes=20_000)
    refs = [Chatty.start(ctx, f"a{n}") for n in range(12)]
    for round_ in range(40):
        for ref in refs:
            ref.ask(Carrying(data={"n": round_, "blob": "y" * 90}), timeout=1)
    rings = list(ctx.tracer._rings.values())
    assert all(len(ring.entries) <= 30 and ring.bytes <= 3_000 for ring in rings)
    assert ctx.tracer.memory()["bytes"] == sum(ring.bytes for ring in rings) <= 20_000
    assert len(ctx.tracer._fifo) <= 20_000 // 200
    assert ctx.tracer.actor("a11")["trace"][-1]["event"] == "done"  # the newest kept, the oldest gone


def test_closed_connections_and_refusals_are_bounded_in_count_and_age(context):
    ctx = context(debug=False)
    ctx.tracer.limits = TraceLimits(records=5, keep_seconds=0.3)
    person = Person.start(ctx, "c1", "42")
    person.ask("up?", timeout=1)
    actor = ctx.tracer._actors["c1"]
    for n in range(8):
        ctx.tracer.connection_closed(actor, ["lead:1"], 4008, "slow consumer", "websocket")
        ctx.tracer.refusal(actor, "FORBIDDEN", "no", json.dumps({"type": "SUBSCRIBE", "data": {"room": f"lead:{n}"}}))
    user = ctx.tracer.user("42")
    assert len(user["connections"]["closed"]) == 5 and [r["room"] for r in user["refusals"]][:2] == ["lead:7", "lead:6"]
    assert user["connections"]["closed"][0]["code"] == 4008 and user["connections"]["live"][0]["connectionId"] == "c1"
    gevent.sleep(0.35)
    user = ctx.tracer.user("42")
    assert user["connections"]["closed"] == [] and user["refusals"] == []


def test_a_filtered_watcher_sees_only_what_it_asked_for(context):
    ctx = context(debug=True)
    hub = FakeHub.start(ctx, "hub")
    seen: list[TraceEvent] = []

    def watch() -> None:
        for event in ctx.tracer.watch(TraceFilter(room="lead:9", type="Visit")):
            seen.append(event)

    watcher = gevent.spawn(watch)
    gevent.sleep(0)
    hub.ask(Visit("lead:8"), timeout=1)
    hub.ask(Visit("lead:9"), timeout=1)
    watcher.kill()
    assert [(e.event, e.summary) for e in seen] == [("in", {"room": "lead:9", "connection": "nobody"})]
