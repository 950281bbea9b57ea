"""Two and three real server processes sharing the test Redis: one numbering per room, delivery everywhere,
resuming on another process, notifications and SSE across processes, the nodes in GET /api/ws."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import gevent
import pytest
import requests
from websocket import WebSocketTimeoutException

from tests.client import SseClient
from tests.cluster.conftest import ADMIN, events_of, subscribe, wait_for
from tests.conftest import token

pytestmark = pytest.mark.redis
REPO = Path(__file__).resolve().parents[2]


def new_room() -> str:
    return f"lead:{uuid.uuid4().hex[:12]}"


def test_a_publish_through_any_process_reaches_every_subscriber_on_every_process_once(cluster):
    a, b = cluster.start(2)
    room = new_room()
    on_a, on_b = a.connect("1"), b.connect("2")
    told = [subscribe(client, room) for client in (on_a, on_b)]
    assert told[0]["epoch"] == told[1]["epoch"] and told[0]["offset"] == told[1]["offset"] == 0  # one numbering
    first = a.publish(room, 1)
    assert first.status_code == 202 and first.json()["offset"] == 1 and first.json()["delivered"] == 1
    assert b.publish(room, 2).json()["offset"] == 2
    for client in (on_a, on_b):
        got = events_of(client, room, 2)
        assert [(e["offset"], e["data"]["n"], e["epoch"]) for e in got] == [(1, 1, told[0]["epoch"]),
                                                                            (2, 2, told[0]["epoch"])]
        with pytest.raises(WebSocketTimeoutException):  # nothing more: no echo, no duplicate
            client.recv(timeout=0.3)


def test_two_publishers_on_two_processes_interleaving_1000_events_every_subscriber_sees_1_to_1000(cluster):
    """Publishers on A and B, subscribers on A, B and C: every one sees offsets 1..1000 in order, each once."""
    a, b, c = cluster.start(3)
    room = new_room()
    subscribers = [node.connect(str(n)) for n, node in enumerate((a, b, c), start=10) for _ in range(2)]
    for client in subscribers:
        subscribe(client, room)

    def publish_half(node, first):
        with requests.Session() as session:
            return [node.publish(room, n, session=session).json()["offset"] for n in range(first, 1000, 2)]

    halves = [gevent.spawn(publish_half, a, 0), gevent.spawn(publish_half, b, 1)]
    gevent.joinall(halves, raise_error=True)
    offsets = sorted(halves[0].value + halves[1].value)
    assert offsets == list(range(1, 1001))  # one numbering: no offset given twice
    for client in subscribers:
        got = [e["offset"] for e in events_of(client, room, 1000, timeout=30)]
        assert got == list(range(1, 1001)), f"first out of order: {next(o for i, o in enumerate(got, 1) if o != i)}"
    status = b.status()["broker"]
    assert status["kind"] == "redis" and status["connected"] is True
    for node in (a, b, c):  # every event came by one road, in Redis's order: nothing crossed, nothing refilled
        gaps = node.status()["broker"]["gaps"]
        assert (gaps["refills"], gaps["duplicates"], gaps["lost"]) == (0, 0, 0), gaps


def test_a_client_resumes_on_another_process_with_exactly_what_it_missed(cluster):
    cluster.settings.update(HISTORY_SIZE=20)
    a, b = cluster.start(2)
    room = new_room()
    client = a.connect("7")
    epoch = subscribe(client, room)["epoch"]
    for n in range(1, 4):
        a.publish(room, n)
    seen = events_of(client, room, 3)
    client.close()  # cut off from A
    for n in range(4, 9):  # published on both while it is away
        (a if n % 2 else b).publish(room, n)
    again = b.connect("7")
    answer = subscribe(again, room, since={"epoch": epoch, "offset": seen[-1]["offset"]})
    assert answer["recovered"] is True and answer["offset"] == 8 and answer["epoch"] == epoch
    replay = events_of(again, room, 5)
    assert [(e["offset"], e["data"]["n"]) for e in replay] == [(n, n) for n in range(4, 9)]
    with pytest.raises(WebSocketTimeoutException):
        again.recv(timeout=0.3)  # no duplicate
    for n in range(9, 40):  # past the history of 20: offset 3 is gone
        a.publish(room, n)
    late = b.connect("8")
    gone = subscribe(late, room, since={"epoch": epoch, "offset": 3})
    assert gone["recovered"] is False
    with pytest.raises(WebSocketTimeoutException):
        late.recv(timeout=0.3)  # nothing replayed


def test_a_notification_created_through_b_reaches_the_user_on_a_with_the_right_unread_count(cluster):
    a, b = cluster.start(2)
    user = f"u{uuid.uuid4().hex[:8]}"
    on_a = a.connect(user)
    for n in (1, 2):
        response = requests.post(b.url("/api/notifications"), headers=ADMIN, timeout=10, json={
            "userId": user, "title": f"t{n}", "message": "m", "type": "SYSTEM", "priority": "HIGH"})
        assert response.status_code == 201, response.text
    pushes = [on_a.recv_until(lambda f: f["type"] == "NOTIFICATION") for _ in range(2)]
    assert [p["data"]["unreadCount"] for p in pushes] == [1, 2]
    notification_id = pushes[0]["data"]["notification"]["id"]
    read = requests.patch(b.url(f"/api/notifications/{notification_id}"), json={"read": True}, timeout=10,
                          headers={"Authorization": f"Bearer {token(user, 'EMPLOYEE')}"})
    assert read.status_code == 200, read.text
    marked = on_a.recv_until(lambda f: f["type"] == "NOTIFICATION_READ")
    assert marked["data"]["unreadCount"] == 1


def test_sse_on_b_receives_a_room_published_on_a(cluster):
    a, b = cluster.start(2)
    room = new_room()
    stream = SseClient(b.port, token("5"), rooms=room)
    try:
        assert stream.status == 200
        subscribed = stream.next_of("SUBSCRIBED")
        assert subscribed["data"]["data"]["room"] == room
        a.publish(room, 1)
        a.publish(room, 2)
        first, second = stream.next_of("LEAD_UPDATED"), stream.next_of("LEAD_UPDATED")
        epoch = subscribed["data"]["data"]["epoch"]
        assert (first["id"], second["id"]) == (f"{room}@{epoch}:1", f"{room}@{epoch}:2")
    finally:
        stream.close()
    a.publish(room, 3)
    resumed = SseClient(a.port, token("5"), rooms=room, last_event_id=f"{room}@{epoch}:2")
    try:  # Last-Event-ID from B honoured by A
        assert resumed.next_of("SUBSCRIBED")["data"]["data"]["recovered"] is True
        assert resumed.next_of("LEAD_UPDATED")["id"] == f"{room}@{epoch}:3"
    finally:
        resumed.close()


def test_every_node_shows_the_cluster_and_a_dead_node_drops_out_within_three_heartbeats(cluster):
    cluster.settings.update(NODE_HEARTBEAT=0.5)
    a, b, c = cluster.start(3)
    clients = [a.connect("1"), b.connect("2"), b.connect("3")]
    status = wait_for(lambda: (s := a.status()) and s["totals"]["connections"] == 3 and s)
    assert status["totals"] == {"nodes": 3, "connections": 3}
    assert sorted(n["pid"] for n in status["nodes"]) == sorted(node.process.pid for node in (a, b, c))
    for record in status["nodes"]:
        assert set(record) >= {"id", "host", "pid", "started", "connections", "heartbeat"}
    c.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    c.process.wait()
    assert wait_for(lambda: b.status()["totals"]["nodes"] == 2, timeout=5)
    gone_after = time.monotonic() - killed
    print(f"\na killed node dropped out of GET /api/ws after {gone_after:.2f}s (heartbeat 0.5s)")
    assert gone_after <= 3 * 0.5 + 0.5  # three heartbeats, and the time to ask
    for client in clients:
        client.close()


def test_statistics_are_recomputed_by_one_node_at_a_time_and_another_takes_over_when_it_dies(cluster):
    """STATS_REFRESH_SECONDS=0.3 on three nodes: about one STATS_UPDATE per 0.3 s for the cluster, not three."""
    cluster.settings.update(NODE_HEARTBEAT=0.3, STATS_PROVIDER="tests.stats_provider_example:figures",
                            STATS_REFRESH_SECONDS=0.3, COALESCE_INTERVAL=0.05, PYTHONPATH=str(REPO),
                            LOG_LEVEL="INFO")
    nodes = cluster.start(3)
    holder = wait_for(lambda: next((n for n in nodes if "took the lease" in n.log()), None), timeout=5)
    assert holder is not None
    watcher = next(n for n in nodes if n is not holder).connect("9")  # it must outlive the holder
    subscribe(watcher, "stats:dashboard")

    def updates_within(seconds: float) -> list[dict]:
        got, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = watcher.recv(timeout=left)
            except WebSocketTimeoutException:
                break
            if frame["type"] == "STATS_UPDATE":
                got.append(frame)
        return got

    updates_within(1.0)  # the lease is taken within a heartbeat or two
    window = updates_within(3.0)
    assert 5 <= len(window) <= 13, len(window)  # ~10 from one holder; three holders would send ~30
    holder.stop(signal.SIGKILL)
    updates_within(3 * 0.3 + 0.6)  # its lease expires within three heartbeats
    after = updates_within(2.0)
    assert len(after) >= 3  # another node recomputes now
    assert sum("took the lease" in n.log() for n in nodes) >= 2
