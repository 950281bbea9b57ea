"""``POST /api/live-sync``: trace ids on every answer, and ``Idempotency-Key`` retries that publish nothing.

Over real HTTP with a real subscriber counting what reaches it; across two real server processes on the
test Redis for a retry that lands on another process.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websocket

from tests.client import WsClient
from tests.cluster.conftest import Cluster, delete_prefix
from tests.conftest import token
from web.api.idempotency import KeyInUse, MemoryKeys, Remembered

EVENT = {"type": "LEAD_UPDATED", "room": "lead:7", "data": {"leadId": "7", "changes": {"status": "WON"}}}


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api/live-sync"


def events_after(client: WsClient, wait: float = 0.5) -> list[dict]:
    """Every room event the client receives until ``wait`` seconds pass without a frame."""
    got = []
    while True:
        try:
            got.append(client.recv(wait))
        except websocket.WebSocketTimeoutException:
            return [frame for frame in got if frame.get("room")]


def subscriber(port: int, room: str = "lead:7") -> WsClient:
    client = WsClient.open(port, token("1", "ADMIN"))
    assert client.recv()["type"] == "CONNECTED"
    client.send("SUBSCRIBE", {"room": room})
    assert client.recv()["type"] == "SUBSCRIBED"
    return client


def test_every_answer_carries_a_trace_id(server, admin_headers):
    ok = requests.post(url(server.port), headers=admin_headers, json=EVENT, timeout=5)
    assert ok.status_code == 202
    assert re.fullmatch(r"[0-9a-f]{32}", ok.headers["X-Trace-Id"])
    assert ok.json()["traceId"] == ok.headers["X-Trace-Id"]
    again = requests.post(url(server.port), headers=admin_headers, json=EVENT, timeout=5)
    assert again.headers["X-Trace-Id"] != ok.headers["X-Trace-Id"]  # a new one per request

    own = requests.post(url(server.port), headers={**admin_headers, "X-Trace-Id": "checkout-4f1c9a2e"}, json=EVENT,
                        timeout=5)
    assert own.headers["X-Trace-Id"] == own.json()["traceId"] == "checkout-4f1c9a2e"  # the caller's own, kept

    for bad in ("short", "has spaces in it", "x" * 65, "evil\u00e9value-1234"):
        replaced = requests.post(url(server.port), headers={**admin_headers, "X-Trace-Id": bad.encode().decode("latin-1")},
                                 json=EVENT, timeout=5)
        assert replaced.status_code == 202 and re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Trace-Id"])

    refused = requests.post(url(server.port), headers=admin_headers, json={"type": "LEAD_UPDATED", "data": {}},
                            timeout=5)
    assert refused.status_code == 400 and re.fullmatch(r"[0-9a-f]{32}", refused.headers["X-Trace-Id"])
    anonymous = requests.post(url(server.port), json=EVENT, timeout=5)
    assert anonymous.status_code == 401 and "X-Trace-Id" in anonymous.headers


def test_a_retry_answers_the_first_result_and_publishes_nothing(server, admin_headers):
    watcher = subscriber(server.port)
    try:
        key = {"Idempotency-Key": f"order-{uuid.uuid4().hex}"}
        first = requests.post(url(server.port), headers={**admin_headers, **key}, json=EVENT, timeout=5)
        assert first.status_code == 202 and first.headers["Idempotent-Replayed"] == "false"
        retries = [requests.post(url(server.port), headers={**admin_headers, **key}, json=EVENT, timeout=5)
                   for _ in range(3)]
        for retry in retries:
            assert retry.status_code == 202 and retry.headers["Idempotent-Replayed"] == "true"
            assert retry.json() == first.json()  # offset, epoch and the first request's traceId
        assert [e["offset"] for e in events_after(watcher)] == [first.json()["offset"]]  # one event, not four
        plain = requests.post(url(server.port), headers=admin_headers, json=EVENT, timeout=5)
        assert plain.json()["offset"] == first.json()["offset"] + 1  # the retries took no offset
        assert "Idempotent-Replayed" not in plain.headers
    finally:
        watcher.close()


def test_a_key_is_bound_to_its_request_and_its_caller(server, admin_headers):
    key = {"Idempotency-Key": "same-key"}
    assert requests.post(url(server.port), headers={**admin_headers, **key}, json=EVENT, timeout=5).status_code == 202
    other = {**EVENT, "data": {"leadId": "7", "changes": {"status": "LOST"}}}
    conflict = requests.post(url(server.port), headers={**admin_headers, **key}, json=other, timeout=5)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "CONFLICT"
    reordered = {**EVENT, "data": {"changes": {"status": "WON"}, "leadId": "7"}}  # key order does not matter
    assert requests.post(url(server.port), headers={**admin_headers, **key}, json=reordered,
                         timeout=5).headers["Idempotent-Replayed"] == "true"
    service = {"Authorization": f"Bearer {token('billing', 'SERVICE')}", **key}
    theirs = requests.post(url(server.port), headers=service, json=other, timeout=5)
    assert theirs.status_code == 202 and theirs.headers["Idempotent-Replayed"] == "false"  # another caller's key
    bad_key = requests.post(url(server.port), headers={**admin_headers, "Idempotency-Key": "has space"}, json=EVENT,
                            timeout=5)
    assert bad_key.status_code == 400 and "Idempotency-Key" in bad_key.json()["error"]["fields"]


def test_a_failed_request_leaves_its_key_free(server, admin_headers):
    key = {"Idempotency-Key": "fix-and-retry"}
    bad = requests.post(url(server.port), headers={**admin_headers, **key}, json={**EVENT, "data": {"leadId": True}},
                        timeout=5)
    assert bad.status_code == 400
    fixed = requests.post(url(server.port), headers={**admin_headers, **key}, json=EVENT, timeout=5)
    assert fixed.status_code == 202 and fixed.headers["Idempotent-Replayed"] == "false"


def test_the_window_ends_and_the_memory_is_bounded(start_server, admin_headers):
    server = start_server(publish_idempotency_seconds=0.3, publish_idempotency_max_keys=2)
    post = lambda key: requests.post(url(server.port), headers={**admin_headers, "Idempotency-Key": key},  # noqa: E731
                                     json=EVENT, timeout=5)
    assert post("a").headers["Idempotent-Replayed"] == "false"
    assert post("a").headers["Idempotent-Replayed"] == "true"
    post("b")
    post("c")  # a third key: "a", the oldest, is forgotten
    assert post("a").headers["Idempotent-Replayed"] == "false"
    import time

    time.sleep(0.4)  # past the window: "c" is new again
    assert post("c").headers["Idempotent-Replayed"] == "false"


def test_memory_keys_while_the_first_request_runs():
    keys = MemoryKeys(window=60, max_keys=10)
    assert keys.begin("SERVICE:a", "k", "print") is None
    with pytest.raises(KeyInUse):
        keys.begin("SERVICE:a", "k", "print")  # not finished yet: no answer to give, and it must not publish
    keys.finish("SERVICE:a", "k", "print", Remembered(202, {"offset": 1}))
    assert keys.begin("SERVICE:a", "k", "print") == Remembered(202, {"offset": 1})
    assert keys.begin("SERVICE:b", "k", "print") is None  # another caller
    keys.abandon("SERVICE:b", "k")
    assert keys.begin("SERVICE:b", "k", "print") is None


@pytest.fixture
def two_nodes(redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path, redis_url, f"rt-idem-{uuid.uuid4().hex[:8]}:")
    yield made
    made.stop_all()
    delete_prefix(redis_url, made.prefix)


def test_a_retry_on_another_process_is_recognised_through_redis(two_nodes):
    """Two real server processes on the test Redis: the retry reaches the other one and publishes nothing."""
    a, b = two_nodes.start(2)
    admin = {"Authorization": f"Bearer {token('1', 'ADMIN')}"}
    watchers = [subscriber(a.port), subscriber(b.port)]
    try:
        key = {"Idempotency-Key": f"retry-{uuid.uuid4().hex}"}
        first = requests.post(url(a.port), headers={**admin, **key}, json=EVENT, timeout=5)
        assert first.status_code == 202 and first.headers["Idempotent-Replayed"] == "false"
        retry = requests.post(url(b.port), headers={**admin, **key}, json=EVENT, timeout=5)
        assert retry.status_code == 202 and retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json() == first.json()
        other = requests.post(url(b.port), headers={**admin, **key}, json={**EVENT, "room": "lead:8"}, timeout=5)
        assert other.status_code == 409
        for watcher in watchers:  # each process's subscriber got the event once
            assert [e["offset"] for e in events_after(watcher)] == [first.json()["offset"]]
        stored = two_nodes.prefix + "idem:"
        import redis

        client = redis.Redis.from_url(two_nodes.redis_url)
        try:
            names = list(client.scan_iter(match=f"{stored}*"))
            assert len(names) == 1 and 0 < client.pttl(names[0]) <= 300_000  # the window: 5 minutes by default
        finally:
            client.close()
    finally:
        for watcher in watchers:
            watcher.close()
