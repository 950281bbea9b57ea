"""The Python client (``clients/python``, ``import realtime_client``) against a real server started here:
every typed method, the notification calls, sync and asyncio, and retries through a misbehaving gateway
(503, 429, dropped connections, lost answers) that reuse one Idempotency-Key so nothing happens twice."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from realtime_client import (  # httpx comes with the test extra
    ApiError,
    AsyncClient,
    Client,
    ConnectionFailed,
    RetryPolicy,
    Unavailable,
)

from actors.protocol.events import CATALOGUE, EXAMPLES
from tests.conftest import token

from .gateway import DROP, LOSE_ANSWER, Gateway

ADMIN = token("1", "ADMIN", ttl=3600)
FAST = RetryPolicy(attempts=4, initial=0.01, max_delay=0.05)


def run_async(coroutine: Any) -> Any:
    """``asyncio.run`` on an OS thread of gevent's pool, as an asyncio application runs beside others: asyncio
    keeps one running loop per OS thread, and this one may already run Playwright's (the browser tests)."""
    return gevent.get_hub().threadpool.apply(asyncio.run, (coroutine,))


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


@pytest.fixture
def gateway(server: Any) -> Iterator[Gateway]:
    running = Gateway(server.port).start()
    yield running
    running.stop()


def test_every_event_type_has_a_typed_method_that_the_server_accepts(server, connect):
    watcher = connect("1", "ADMIN")
    rooms = ["contact:123", "campaign:7", "lead:9", "user:42", "stats:dashboard"]
    for number, room in enumerate(rooms):
        watcher.send("SUBSCRIBE", {"room": room}, id=number)
        watcher.recv_until(lambda f, room=room: f["type"] == "SUBSCRIBED" and f["data"]["room"] == room)
    with Client(f"http://127.0.0.1:{server.port}", ADMIN) as rt:
        for type_, example in EXAMPLES.items():
            method = getattr(rt, type_.lower())
            if type_ == "STATS_UPDATE":
                answer = method(example)
            else:
                answer = method(**{snake(name): value for name, value in example.items()})
            assert answer["room"], type_
            if not answer.get("coalesced"):
                frame = watcher.recv_until(lambda f, t=type_: f.get("type") == t)
                for name in CATALOGUE[type_].required:
                    assert frame["data"][name] == example[name], (type_, name)


def test_typed_methods_take_ids_in_the_in_process_order():
    from actors.publishing.event_service import EventService

    for type_ in CATALOGUE:
        ours = [p for p, v in inspect.signature(getattr(Client, type_.lower())).parameters.items()
                if v.kind is v.POSITIONAL_OR_KEYWORD and p != "self"]
        theirs = [p for p, v in inspect.signature(getattr(EventService, type_.lower())).parameters.items()
                  if v.kind is v.POSITIONAL_OR_KEYWORD and p != "self"]
        assert ours == theirs[:len(ours)], type_


def test_publish_reaches_a_socket_and_errors_carry_the_fields(server, connect):
    ws = connect("42")
    with Client(f"http://127.0.0.1:{server.port}", lambda: ADMIN) as rt:  # a token function is called per request
        answer = rt.lead_assigned("9", "42", name="Acme Corp")
        assert [r["room"] for r in answer["rooms"]] == ["lead:9", "user:42"]
        frame = ws.recv_until(lambda f: f["type"] == "LEAD_ASSIGNED")
        assert frame["data"] == {"leadId": "9", "assignedTo": "42", "name": "Acme Corp"}
        assert frame["offset"] == answer["rooms"][1]["offset"]

        with pytest.raises(ApiError) as refused:
            rt.publish("LEAD_ASSIGNED", {"leadId": "9"})
        assert refused.value.status == 400 and refused.value.fields == {"data.assignedTo": "required"}
        with pytest.raises(ApiError) as unknown:
            rt.publish("NOPE", {})
        assert unknown.value.code == "UNKNOWN_TYPE"

        pushed = rt.push_stats({"openLeads": 3})
        assert pushed["room"] == "stats:dashboard"
        history = rt.history("user:42")
        assert [e["type"] for e in history["events"]] == ["LEAD_ASSIGNED"]
        assert rt.status()["connections"] == 1

    with Client(f"http://127.0.0.1:{server.port}", token("42")) as employee, pytest.raises(ApiError) as forbidden:
        employee.system_alert("warning", "nope")
    assert forbidden.value.status == 403


def test_notification_calls(server):
    base = f"http://127.0.0.1:{server.port}"
    with Client(base, ADMIN) as admin, Client(base, token("42")) as user:
        created = admin.notifications.create(user_id=42, type="LEAD_ASSIGNED", title="Acme is yours", message="Call them",
                                             priority="HIGH", link="/leads/9", data={"leadId": "9"})
        first = created["notifications"][0]
        assert first["link"] == "/leads/9" and first["userId"] == "42"
        for n in range(3):
            admin.notifications.create(user_ids=["42"], type="INFO", title=f"note {n}", message="-")
        page = user.notifications.list(limit=2)
        assert page["unreadCount"] == 4 and len(page["notifications"]) == 2 and page["nextCursor"]
        rest = user.notifications.list(limit=10, before=page["nextCursor"])
        assert [n["title"] for n in rest["notifications"]] == ["note 0", "Acme is yours"]
        assert user.notifications.mark_read(first["id"])["unreadCount"] == 3
        assert user.notifications.list(unread=True)["unreadCount"] == 3
        assert user.notifications.mark_all_read()["unreadCount"] == 0
        assert user.notifications.delete(first["id"]) is None
        with pytest.raises(ApiError) as gone:
            user.notifications.delete(first["id"])
        assert gone.value.status == 404
        preferences = user.notifications.preferences()
        preferences["quietHours"] = {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"}
        assert user.notifications.set_preferences(preferences)["quietHours"]["timezone"] == "Europe/Berlin"


def test_retries_503_429_and_dropped_connections_with_one_idempotency_key(server, gateway, connect):
    ws = connect("42")
    waits: list[float] = []
    with Client(gateway.url, ADMIN, retry=FAST) as rt:
        rt.sleep = waits.append  # record the waits instead of sleeping through them
        gateway.script = ["503", "429", DROP]
        answer = rt.lead_assigned("9", "42")
    assert len(gateway.seen) == 4
    keys = gateway.keys()
    assert keys[0] and len(set(keys)) == 1, f"every attempt carries the same Idempotency-Key: {keys}"
    assert len(waits) == 3 and all(0 <= wait <= FAST.max_delay for wait in waits)
    frames = [ws.recv_until(lambda f: f["type"] == "LEAD_ASSIGNED")]
    assert frames[0]["offset"] == answer["rooms"][1]["offset"], "published once, by the attempt that got through"


def test_a_lost_answer_is_retried_and_the_notification_is_created_once(server, gateway):
    with Client(gateway.url, ADMIN, retry=FAST) as admin:
        admin.sleep = lambda _seconds: None
        gateway.script = [LOSE_ANSWER]
        created = admin.notifications.create(user_id="42", type="INFO", title="once", message="only once")
    assert len(gateway.seen) == 2 and len(set(gateway.keys())) == 1
    with Client(f"http://127.0.0.1:{server.port}", token("42")) as user:
        listed = user.notifications.list()
    assert [n["id"] for n in listed["notifications"]] == [created["notifications"][0]["id"]]


def test_a_lost_delete_answer_is_not_an_error(server, gateway):
    with Client(f"http://127.0.0.1:{server.port}", ADMIN) as admin:
        created = admin.notifications.create(user_id="42", type="INFO", title="t", message="m")
    with Client(gateway.url, token("42"), retry=FAST) as user:
        user.sleep = lambda _seconds: None
        gateway.script = [LOSE_ANSWER]
        assert user.notifications.delete(created["notifications"][0]["id"]) is None
        assert user.notifications.list()["notifications"] == []


def test_gives_up_after_the_attempts_and_does_not_retry_a_refusal(server, gateway):
    with Client(gateway.url, ADMIN, retry=FAST) as rt:
        rt.sleep = lambda _seconds: None
        gateway.script = ["503"] * 10
        with pytest.raises(Unavailable) as unavailable:
            rt.system_alert("warning", "disk almost full")
        assert unavailable.value.status == 503 and len(gateway.seen) == FAST.attempts
        gateway.script, gateway.seen = [], []
        with pytest.raises(ApiError):
            rt.publish("LEAD_CREATED", {})
        assert len(gateway.seen) == 1, "a 400 is an answer, not a failure: never retried"
    gateway.stop()  # nothing listens on its port any more
    with Client(gateway.url, ADMIN, retry=FAST) as rt:
        rt.sleep = lambda _seconds: None
        with pytest.raises(ConnectionFailed):
            rt.lead_created("9")


def test_retry_policy_backs_off_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(initial=1.0, factor=2.0, max_delay=5.0, jitter=0.5, random=lambda: 1.0)
    assert [policy.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 2.5, 2.5]
    assert RetryPolicy(initial=1.0, random=lambda: 0.0).delay(1) == 2.0
    assert policy.delay(0, retry_after=3.0) == 3.0


def test_asyncio_client_publishes_creates_and_retries(server, gateway, connect):
    ws = connect("42")

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        async with AsyncClient(gateway.url, ADMIN, retry=FAST) as rt:
            gateway.script = ["503", DROP]
            published = await rt.lead_assigned("9", "42", name="Async Corp")
            created = await rt.notifications.create(user_id="42", type="INFO", title="async", message="m")
            return dict(published), created

    published, created = run_async(run())
    assert len(gateway.seen) == 4 and len(set(gateway.keys()[:3])) == 1
    frame = ws.recv_until(lambda f: f["type"] == "LEAD_ASSIGNED")
    assert frame["data"]["name"] == "Async Corp" and frame["offset"] == published["rooms"][1]["offset"]
    assert created["notifications"][0]["title"] == "async"

    async def read() -> dict[str, Any]:
        async with AsyncClient(f"http://127.0.0.1:{server.port}", token("42")) as user:
            page = await user.notifications.list()
            await user.notifications.mark_read(page["notifications"][0]["id"])
            return await user.notifications.list(unread=True)

    assert run_async(read())["unreadCount"] == 0
