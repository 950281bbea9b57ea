"""Heartbeats, silent peers, token expiry, idle rooms, slow consumers and leaks over many connections."""

import socket
import time

import pykka
import requests

from tests.client import WsClient
from tests.conftest import live_greenlets, token, wait_until


def status(server):
    return server.system.status()


def test_protocol_pings_arrive(start_server):
    server = start_server(heartbeat_interval=0.2, heartbeat_timeout=5)
    client = WsClient.open(server.port, token())
    assert client.recv()["type"] == "CONNECTED"
    client.ws.settimeout(3)
    opcode, _ = client.ws.recv_data(control_frame=True)
    assert opcode == 0x9  # a WebSocket ping, answered by the client library with a pong
    client.close()


def test_heartbeat_pings_are_spread_over_the_interval(start_server):
    """Every socket is pinged once per interval, but not all in the same instant (a burst of pongs delays events)."""
    import gevent

    server = start_server(heartbeat_interval=2.0, heartbeat_timeout=10)  # two slices, a tick a second
    clients = [WsClient.open(server.port, token(str(n))) for n in range(16)]
    for client in clients:
        assert client.recv()["type"] == "CONNECTED"
    started = time.monotonic()

    def first_ping(client):
        client.ws.settimeout(3.5)
        opcode, _ = client.ws.recv_data(control_frame=True)
        assert opcode == 0x9
        return time.monotonic() - started

    jobs = [gevent.spawn(first_ping, client) for client in clients]
    gevent.joinall(jobs, raise_error=True)
    times = sorted(job.value for job in jobs)
    assert times[-1] < 2.6  # each socket within one interval
    assert times[-1] - times[0] > 0.7  # in two ticks about a second apart, not in one burst
    for client in clients:
        client.close()


def test_a_silent_peer_is_dropped_with_its_actor_and_subscriptions(start_server):
    server = start_server(heartbeat_interval=0.2, heartbeat_timeout=0.6)
    raw = socket.create_connection(("127.0.0.1", server.port))
    raw.sendall((f"GET /ws?token={token('77')} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert raw.recv(4096).startswith(b"HTTP/1.1 101")
    assert wait_until(lambda: status(server)["connections"] == 1)
    # this peer never answers a ping and never sends a frame
    assert wait_until(lambda: status(server)["connections"] == 0, timeout=5)
    actors = {a["id"]: a for a in server.system.tracer.actors()}
    assert not [a for a in actors.values() if a["kind"] == "connection"]
    assert status(server)["rooms"] == 0  # its dormant home rooms went with it
    raw.close()


def test_a_peer_answering_pings_stays(start_server):
    server = start_server(heartbeat_interval=0.1, heartbeat_timeout=0.4)
    client = WsClient.open(server.port, token())
    assert client.recv()["type"] == "CONNECTED"
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:  # websocket-client answers each ping with a pong as it reads
        client.ws.settimeout(0.2)
        try:
            client.ws.recv_data(control_frame=True)
        except Exception:  # noqa: BLE001 (a read timeout between pings)
            pass
    client.send("PING", id="still")
    assert client.recv_until(lambda f: f["type"] == "PONG")["data"]["ref"] == "still"
    client.close()


def test_expired_token_closes_with_4001_unless_refreshed(start_server):
    server = start_server(jwt_leeway=0)
    client = WsClient.open(server.port, token(ttl=1))
    assert client.recv()["type"] == "CONNECTED"
    assert client.expect_close(timeout=5) == 4001
    client.close()
    refreshed = WsClient.open(server.port, token(ttl=1))
    assert refreshed.recv()["type"] == "CONNECTED"
    refreshed.send("AUTH", {"token": token(ttl=60)})
    assert refreshed.recv()["type"] == "AUTHENTICATED"
    time.sleep(1.5)
    refreshed.send("PING", id="after-exp")
    assert refreshed.recv()["data"]["ref"] == "after-exp"
    refreshed.close()


def test_empty_rooms_stop_after_the_idle_period_and_new_epoch_follows(start_server, admin_headers):
    server = start_server(room_idle_seconds=0.3)
    publish = f"http://127.0.0.1:{server.port}/api/live-sync"
    first = requests.post(publish, headers=admin_headers, json={"type": "LEAD_CREATED", "room": "lead:1", "data": {"leadId": "1"}},
                          timeout=5).json()
    assert status(server)["rooms"] == 1
    assert wait_until(lambda: status(server)["rooms"] == 0, timeout=3)
    second = requests.post(publish, headers=admin_headers, json={"type": "LEAD_CREATED", "room": "lead:1", "data": {"leadId": "1"}},
                           timeout=5).json()
    assert second["offset"] == 1 and second["epoch"] != first["epoch"]  # history was lost: new epoch


def test_a_client_that_never_reads_is_closed_with_4008(start_server, admin_headers):
    server = start_server(outbox_max_frames=50, outbox_max_bytes=64 * 1024, write_timeout=30,
                          socket_send_buffer=16 * 1024)
    slow = WsClient.open(server.port, token("1"), sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    assert slow.recv()["type"] == "CONNECTED"
    slow.send("SUBSCRIBE", {"room": "lead:1"})
    assert slow.recv()["type"] == "SUBSCRIBED"
    fast = WsClient.open(server.port, token("2"))
    fast.recv()
    fast.send("SUBSCRIBE", {"room": "lead:1"})
    fast.recv()
    payload = {"blob": "x" * 4000}
    for n in range(100):  # 400 KB: more than both kernel buffers and the 64 KiB outbox together
        requests.post(f"http://127.0.0.1:{server.port}/api/live-sync", headers=admin_headers,
                      json={"type": "LEAD_UPDATED", "room": "lead:1", "data": {**payload, "leadId": "1", "n": n}}, timeout=5)
        fast.recv()  # the fast reader keeps up and is not disturbed
    assert wait_until(lambda: status(server)["slowConsumersClosed"] >= 1)
    assert slow.expect_close(timeout=10) == 4008
    fast.send("PING", id="fast")
    assert fast.recv()["data"]["ref"] == "fast"
    slow.close()
    fast.close()


def test_a_thousand_connect_disconnect_cycles_leave_nothing_behind(start_server):
    server = start_server(room_idle_seconds=0.2)
    warm = WsClient.open(server.port, token("0"))
    warm.recv()
    warm.close()
    assert wait_until(lambda: status(server)["connections"] == 0 and status(server)["rooms"] == 0)
    actors_before = len(pykka.ActorRegistry.get_all())
    greenlets_before = live_greenlets()
    for n in range(1000):
        client = WsClient.open(server.port, token(str(n % 50)))
        assert client.recv()["type"] == "CONNECTED"
        if n % 10 == 0:
            client.send("SUBSCRIBE", {"room": f"lead:{n}"})
            client.recv()
        client.close()
    assert wait_until(lambda: status(server)["connections"] == 0, timeout=10)
    assert wait_until(lambda: status(server)["rooms"] == 0, timeout=10)
    assert wait_until(lambda: len(pykka.ActorRegistry.get_all()) == actors_before, timeout=10), \
        pykka.ActorRegistry.get_all()
    assert not [a for a in server.system.tracer.actors() if a["kind"] == "connection"]
    assert wait_until(lambda: live_greenlets() <= greenlets_before, timeout=10), (live_greenlets(), greenlets_before)
    assert status(server)["connectionsTotal"] == 1001


def test_a_closed_connection_leaves_no_reference_cycles_in_the_server(start_server):
    """Freed by reference counting, not by a collection: the collector's pauses grow with what it must find."""
    import gc

    server = start_server()

    def connect_and_close(count):
        clients = [WsClient.open(server.port, token(str(n))) for n in range(count)]
        for client in clients:
            assert client.recv()["type"] == "CONNECTED"
            client.send("SUBSCRIBE", {"room": "lead:7"})
            assert client.recv()["type"] == "SUBSCRIBED"
            client.close()
        assert wait_until(lambda: status(server)["connections"] == 0)

    connect_and_close(5)  # first use: caches, lazily built tables
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        connect_and_close(50)
        gc.collect()
        server_side = [type(o).__qualname__ for o in gc.garbage
                       if type(o).__module__.split(".")[0] in ("actors", "web", "store", "pykka", "geventwebsocket")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert server_side == []  # the test's own websocket-client objects may form cycles; the server's must not


def test_rooms_stay_dormant_until_their_first_event(start_server, admin_headers):
    server = start_server()
    client = WsClient.open(server.port, token("5"))
    assert client.recv()["type"] == "CONNECTED"
    client.send("SUBSCRIBE", {"room": "lead:8"}, id="s")
    subscribed = client.recv()["data"]
    assert subscribed["offset"] == 0
    before = status(server)
    assert before["rooms"] == 3 and before["roomActors"] == 0  # user:5, role:EMPLOYEE, lead:8: no actors yet
    answer = server.system.events.lead_updated("8")
    assert answer["epoch"] == subscribed["epoch"] and answer["offset"] == 1  # the actor kept the epoch
    assert client.recv()["offset"] == 1
    assert status(server)["roomActors"] == 1
    client.send("UNSUBSCRIBE", {"room": "user:5"}, id="u")
    assert client.recv()["type"] == "UNSUBSCRIBED"
    assert status(server)["rooms"] == 2  # an empty dormant room is simply forgotten
    again = WsClient.open(server.port, token("6"))
    again.recv()
    again.send("SUBSCRIBE", {"room": "lead:9", "since": {"epoch": "another", "offset": 0}})
    assert again.recv()["data"]["recovered"] is False
    client.close()
    again.close()
