"""Recovery after reconnect (docs/protocol.md): every event exactly once and in order, or an honest false."""

import random

import gevent
import requests

from actors.protocol.events import EXAMPLES
from tests.client import ConnectionClosed, WsClient
from tests.conftest import token


def test_twenty_reconnects_during_a_stream_of_2000_events_lose_and_repeat_nothing(server, admin_headers):
    room = "lead:stream"
    publisher_done = []

    def publish_all():
        session = requests.Session()
        for n in range(2000):
            session.post(f"http://127.0.0.1:{server.port}/api/live-sync", headers=admin_headers,
                         json={"type": "LEAD_UPDATED", "room": room, "data": {"leadId": "stream", "n": n}}, timeout=10)
            if n % 50 == 0:
                gevent.sleep(0.001)
        publisher_done.append(True)

    seen: list[int] = []
    position = None
    client = WsClient.open(server.port, token())
    client.recv()
    client.send("SUBSCRIBE", {"room": room})
    answer = client.recv()
    position = {"epoch": answer["data"]["epoch"], "offset": answer["data"]["offset"]}
    publisher = gevent.spawn(publish_all)
    rng = random.Random(7)
    for _reconnect in range(20):
        for _ in range(rng.randint(20, 120)):  # read a while, then drop the socket mid-stream
            event = client.recv(timeout=10)
            seen.append(event["data"]["n"])
            position = {"epoch": event["epoch"], "offset": event["offset"]}
        client.ws.sock.close()  # abrupt: no close frame, frames in flight are lost
        client = WsClient.open(server.port, token())
        assert client.recv()["type"] == "CONNECTED"
        client.send("SUBSCRIBE", {"room": room, "since": position})
        answer = client.recv()
        assert answer["type"] == "SUBSCRIBED" and answer["data"]["recovered"] is True, answer
    while len(seen) < 2000:
        event = client.recv(timeout=10)
        seen.append(event["data"]["n"])
    publisher.join(timeout=30)
    assert publisher_done
    assert seen == list(range(2000))
    client.close()


def test_a_gap_past_the_history_is_not_recovered(start_server, admin_headers):
    server = start_server(history_size=10)
    client = WsClient.open(server.port, token())
    client.recv()
    client.send("SUBSCRIBE", {"room": "lead:1"})
    epoch = client.recv()["data"]["epoch"]
    client.close()
    for n in range(25):
        requests.post(f"http://127.0.0.1:{server.port}/api/live-sync", headers=admin_headers,
                      json={"type": "LEAD_UPDATED", "room": "lead:1", "data": {"leadId": "1", "n": n}}, timeout=5)
    again = WsClient.open(server.port, token())
    again.recv()
    again.send("SUBSCRIBE", {"room": "lead:1", "since": {"epoch": epoch, "offset": 3}})
    answer = again.recv()["data"]
    assert answer["recovered"] is False and answer["offset"] == 25
    again.send("SUBSCRIBE", {"room": "lead:1", "since": {"epoch": epoch, "offset": 15}}, id="ok")
    answer = again.recv()["data"]
    assert answer["recovered"] is True
    assert [again.recv()["offset"] for _ in range(10)] == list(range(16, 26))
    again.send("PING", id="end")
    assert again.recv()["type"] == "PONG"  # nothing else was replayed
    again.close()


def test_history_too_old_is_not_recovered(start_server, admin_headers):
    server = start_server(history_seconds=0.2)
    client = WsClient.open(server.port, token())
    client.recv()
    client.send("SUBSCRIBE", {"room": "lead:1"})
    epoch = client.recv()["data"]["epoch"]
    requests.post(f"http://127.0.0.1:{server.port}/api/live-sync", headers=admin_headers,
                  json={"type": "LEAD_UPDATED", "room": "lead:1", "data": {"leadId": "1"}}, timeout=5)
    assert client.recv()["offset"] == 1
    client.close()
    gevent.sleep(0.3)
    again = WsClient.open(server.port, token())
    again.recv()
    again.send("SUBSCRIBE", {"room": "lead:1", "since": {"epoch": epoch, "offset": 0}})
    assert again.recv()["data"]["recovered"] is False
    again.close()


def test_resubscribing_while_subscribed_replays_only_what_was_not_sent(connect, server, admin_headers):
    client = connect()
    client.send("SUBSCRIBE", {"room": "lead:2"})
    epoch = client.recv()["data"]["epoch"]
    for n in range(3):
        requests.post(f"http://127.0.0.1:{server.port}/api/live-sync", headers=admin_headers,
                      json={"type": "LEAD_UPDATED", "room": "lead:2", "data": {"leadId": "2", "n": n}}, timeout=5)
    assert [client.recv()["offset"] for _ in range(3)] == [1, 2, 3]
    client.send("SUBSCRIBE", {"room": "lead:2", "since": {"epoch": epoch, "offset": 0}})
    assert client.recv()["data"]["recovered"] is True
    client.send("PING", id="p")
    assert client.recv()["type"] == "PONG"  # offsets 1-3 were already delivered live: no duplicates


def test_rest_history_is_authorized_like_subscribe(server, admin_headers):
    base = f"http://127.0.0.1:{server.port}/api/rooms"
    for n in range(4):
        requests.post(f"http://127.0.0.1:{server.port}/api/live-sync", headers=admin_headers,
                      json={"type": "LEAD_UPDATED", "room": "lead:3", "data": {"leadId": "3", "n": n}}, timeout=5)
    employee = {"Authorization": f"Bearer {token('42', 'EMPLOYEE')}"}
    full = requests.get(f"{base}/lead:3/history", headers=employee, timeout=5).json()
    assert [e["offset"] for e in full["events"]] == [1, 2, 3, 4] and full["recovered"] is True
    part = requests.get(f"{base}/lead:3/history?since=2&epoch={full['epoch']}", headers=employee, timeout=5).json()
    assert [e["data"]["n"] for e in part["events"]] == [2, 3] and part["recovered"] is True
    stale = requests.get(f"{base}/lead:3/history?since=2&epoch=old", headers=employee, timeout=5).json()
    assert stale["recovered"] is False and stale["events"] == []
    assert requests.get(f"{base}/user:7/history", headers=employee, timeout=5).status_code == 403
    assert requests.get(f"{base}/nope:1/history", headers=employee, timeout=5).status_code == 400
    assert requests.get(f"{base}/lead:3/history?since=-1", headers=employee, timeout=5).status_code == 400
    assert requests.get(f"{base}/lead:3/history?since=abc", headers=employee, timeout=5).status_code == 400
    assert requests.get(f"{base}/lead:3/history", timeout=5).status_code == 401
    empty = requests.get(f"{base}/lead:never/history?since=0&epoch=x", headers=employee, timeout=5).json()
    assert empty["events"] == [] and empty["recovered"] is False
    assert server.system.status()["rooms"] == 1  # asking about a room never starts one


def test_slow_consumer_closed_with_4008_resumes_with_since(start_server, admin_headers):
    import socket

    server = start_server(outbox_max_frames=20, socket_send_buffer=8192)
    slow = WsClient.open(server.port, token(), sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    slow.recv()
    slow.send("SUBSCRIBE", {"room": "lead:4"})
    subscribed = slow.recv()["data"]
    for n in range(200):
        server.system.events.lead_updated("4", {"n": n}, blob="x" * 2000)
    try:
        while True:
            slow.recv(timeout=5)
    except ConnectionClosed as closed:
        assert closed.code == 4008
    resumed = WsClient.open(server.port, token())
    resumed.recv()
    resumed.send("SUBSCRIBE", {"room": "lead:4", "since": {"epoch": subscribed["epoch"], "offset": 0}})
    assert resumed.recv()["data"]["recovered"] is True
    assert [resumed.recv()["offset"] for _ in range(200)] == list(range(1, 201))
    slow.close()
    resumed.close()
    assert EXAMPLES
