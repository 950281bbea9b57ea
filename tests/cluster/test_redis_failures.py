"""Redis failing under real server processes: a private ``redis-server`` per test (never the shared one),
its PUB/SUB connections killed while events flow, then stopped and started again empty."""

from __future__ import annotations

import time
import uuid

import gevent
import pytest
import requests

from tests.client import ConnectionClosed
from tests.cluster.conftest import events_of, subscribe, wait_for

pytestmark = pytest.mark.redis

FAST_RECOVERY = dict(REDIS_PROBE_INTERVAL=0.5, REDIS_RECONNECT_MAX=0.5, REDIS_TIMEOUT=0.5, NODE_HEARTBEAT=0.5)


def test_client_kill_pubsub_while_events_flow_at_100_per_second_loses_nothing(private_redis, private_cluster):
    """Every subscriber on both processes still gets every event in order: the gap is refilled from the stream."""
    private_cluster.settings.update(FAST_RECOVERY)
    a, b = private_cluster.start(2)
    room = f"lead:{uuid.uuid4().hex[:8]}"
    subscribers = {"a": a.connect("1"), "b": b.connect("2")}
    for client in subscribers.values():
        subscribe(client, room)
    published_at: dict[int, float] = {}
    received: dict[str, list[tuple[int, float]]] = {name: [] for name in subscribers}
    total = 300

    def read(name):
        for _ in range(total):  # stamped as each arrives
            [event] = events_of(subscribers[name], room, 1, timeout=30)
            received[name].append((event["offset"], time.monotonic()))

    readers = [gevent.spawn(read, name) for name in subscribers]
    killed_at = 0.0
    with requests.Session() as session:
        started = time.monotonic()
        for n in range(total):
            gevent.sleep(max(0.0, started + n / 100 - time.monotonic()))  # 100 events/s
            if n == 100:
                listening = len(private_redis.client().client_list(_type="pubsub"))
                killed = private_redis.client().client_kill_filter(_type="pubsub")
                killed_at = time.monotonic()
                # every PUB/SUB connection of both processes: room events, and presence's own listener
                assert killed == listening and killed >= 2
            response = a.publish(room, n, session=session)
            assert response.status_code == 202, response.text
            published_at[response.json()["offset"]] = time.monotonic()
    gevent.joinall(readers, raise_error=True)
    for name, got in received.items():
        assert [offset for offset, _ in got] == list(range(1, total + 1)), name
    # what the process without the publisher saw: the longest wait of an event published after the kill
    after = [(offset, at) for offset, at in received["b"] if published_at[offset] >= killed_at]
    worst = max(at - published_at[offset] for offset, at in after)
    status = b.status()["broker"]
    print(f"\nCLIENT KILL TYPE pubsub at 100 events/s: the other process's subscriber got every event; the "
          f"longest delay of an event published after the kill was {worst:.3f}s (detect, reconnect, refill); "
          f"gaps {status['gaps']}, listener sessions {status['sessions']}")
    assert status["sessions"] >= 2 and status["gaps"]["refills"] + status["checkpoints"] >= 1
    assert worst < 5.0


def test_redis_stopped_then_started_empty_503_meanwhile_then_4010_and_recovered_false(private_redis,
                                                                                      private_cluster):
    private_cluster.settings.update(FAST_RECOVERY)
    a, b = private_cluster.start(2)
    room = f"lead:{uuid.uuid4().hex[:8]}"
    on_a, on_b = a.connect("1"), b.connect("2")
    epoch = subscribe(on_a, room)["epoch"]
    subscribe(on_b, room)
    assert a.publish(room, 1).status_code == 202
    for client in (on_a, on_b):
        assert events_of(client, room, 1)[0]["offset"] == 1

    private_redis.stop()
    refused = b.publish(room, 2)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "UNAVAILABLE"
    assert int(refused.headers["Retry-After"]) >= 1
    assert wait_for(lambda: requests.get(a.url("/readyz"), timeout=5).status_code == 503, timeout=5)
    for client in (on_a, on_b):  # the sockets stay open and answer
        client.send("PING", id="p")
        assert client.recv_until(lambda f: f["type"] == "PONG")["data"]["ref"] == "p"

    private_redis.start()  # the same port, empty: every room's numbering is gone
    codes = []
    for client in (on_a, on_b):
        with pytest.raises(ConnectionClosed) as closed:
            client.recv_until(lambda f: False, timeout=10)
        codes.append(closed.value.code)
    assert codes == [4010, 4010]  # insufficient state: told, not skipped silently
    assert wait_for(lambda: requests.get(b.url("/readyz"), timeout=5).status_code == 200, timeout=5)
    again = b.connect("1")
    answer = subscribe(again, room, since={"epoch": epoch, "offset": 1})
    assert answer["recovered"] is False and answer["epoch"] != epoch
    assert a.publish(room, 3).status_code == 202
    assert events_of(again, room, 1)[0]["offset"] == 1  # the new epoch's first event
