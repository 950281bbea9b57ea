"""``GET /sse``: the same events, authorization and recovery as ``/ws``, as Server-Sent Events."""

import gevent
import requests

from tests.client import SseClient
from tests.conftest import token, wait_until


def publish(server, headers, room, n):
    return requests.post(f"http://127.0.0.1:{server.port}/api/live-sync", headers=headers,
                         json={"type": "LEAD_UPDATED", "room": room, "data": {"leadId": "1", "n": n}}, timeout=5).json()


def test_sse_delivers_room_events_with_ids(server, admin_headers):
    stream = SseClient(server.port, token("42"), "lead:1,contact:2")
    assert stream.status == 200 and stream.response.headers["Content-Type"].startswith("text/event-stream")
    connected = stream.next_event()
    assert connected["event"] == "CONNECTED" and connected["data"]["data"]["userId"] == "42"
    subscribed = [stream.next_of("SUBSCRIBED")["data"]["data"]["room"] for _ in range(2)]
    assert sorted(subscribed) == ["contact:2", "lead:1"]
    sent = publish(server, admin_headers, "lead:1", 0)
    event = stream.next_of("LEAD_UPDATED")
    assert event["id"] == f"lead:1@{sent['epoch']}:1"
    assert event["data"]["room"] == "lead:1" and event["data"]["data"]["n"] == 0
    home = requests.post(f"http://127.0.0.1:{server.port}/api/live-sync", headers=admin_headers,
                         json={"type": "SYSTEM_ALERT", "room": "user:42",
                               "data": {"level": "info", "message": "hello"}}, timeout=5)
    assert home.status_code == 202
    assert stream.next_of("SYSTEM_ALERT")["data"]["room"] == "user:42"  # home rooms, as on /ws
    stream.close()
    assert wait_until(lambda: server.system.status()["connections"] == 0)


def test_sse_heartbeats_are_comments(start_server):
    server = start_server(heartbeat_interval=0.1, heartbeat_timeout=5)
    stream = SseClient(server.port, token())
    stream.next_event()
    gevent.sleep(0.35)
    publish_answer = server.system.events.lead_updated("1")
    assert publish_answer["delivered"] == 0
    server.system.events.system_alert("info", "tick", room="user:42")
    stream.next_of("SYSTEM_ALERT")
    assert stream.comments.count("ping") >= 2
    stream.close()


def test_sse_resumes_with_last_event_id(server, admin_headers):
    stream = SseClient(server.port, token(), "lead:1")
    stream.next_of("SUBSCRIBED")
    for n in range(3):
        publish(server, admin_headers, "lead:1", n)
    last = [stream.next_of("LEAD_UPDATED") for _ in range(3)][0]  # the client saw offset 1, then dropped
    stream.close()
    for n in range(3, 5):
        publish(server, admin_headers, "lead:1", n)
    resumed = SseClient(server.port, token(), "lead:1", last_event_id=last["id"])
    answer = resumed.next_of("SUBSCRIBED")["data"]["data"]
    assert answer["recovered"] is True and answer["offset"] == 5
    assert [resumed.next_of("LEAD_UPDATED")["data"]["data"]["n"] for _ in range(4)] == [1, 2, 3, 4]
    resumed.close()


def test_sse_recovery_is_honest(server, admin_headers):
    publish(server, admin_headers, "lead:1", 0)
    stream = SseClient(server.port, token(), "lead:1", since="lead:1@not-the-epoch:0")
    answer = stream.next_of("SUBSCRIBED")["data"]["data"]
    assert answer["recovered"] is False
    stream.close()


def test_sse_refusals_come_before_the_stream(start_server):
    server = start_server(allowed_origins=("https://dash.example",))
    assert SseClient(server.port, None).status == 401
    assert SseClient(server.port, "garbage").status == 401
    assert SseClient(server.port, token("42"), "user:7").status == 403
    assert SseClient(server.port, token("42"), "shop:1").status == 400
    assert SseClient(server.port, token("42"), "lead:1", last_event_id="nonsense").status == 400
    assert SseClient(server.port, token("42"), "lead:1", since="lead:1@e:-3").status == 400
    assert SseClient(server.port, token("42"), origin="https://evil.example").status == 403
    ok = SseClient(server.port, token("42"), origin="https://dash.example")
    assert ok.status == 200 and ok.response.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    ok.close()


def test_sse_token_expiry_ends_the_stream_with_4001(start_server):
    server = start_server(jwt_leeway=0)
    stream = SseClient(server.port, token(ttl=1))
    stream.next_event()
    closed = stream.next_of("CLOSE")
    assert closed["data"]["code"] == 4001
    stream.close()
