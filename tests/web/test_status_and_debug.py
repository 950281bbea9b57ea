"""``GET /api/ws`` counts, and debug-mode tracing of actor mailboxes over REST."""

import requests

from tests.client import WsClient
from tests.conftest import token, wait_until


def get(server, path, headers):
    return requests.get(f"http://127.0.0.1:{server.port}{path}", headers=headers, timeout=5)


def test_status_reports_connections_rooms_frames_uptime(connect, server, admin_headers):
    client = connect("42", "EMPLOYEE")
    client.send("PING")
    client.recv()
    status = get(server, "/api/ws", {"Authorization": f"Bearer {token()}"}).json()
    assert status["connections"] == 1 and status["rooms"] == 2  # user:42, role:EMPLOYEE
    assert status["framesIn"] == 1 and status["framesOut"] >= 2  # CONNECTED, PONG
    assert status["uptimeSeconds"] > 0 and status["debug"] is False
    assert "p99" in status["deliveryLatencyMs"]
    assert get(server, "/api/ws", {}).status_code == 401


def test_status_reports_garbage_collector_pauses(server):
    import gc

    before = get(server, "/api/ws", {"Authorization": f"Bearer {token()}"}).json()["gc"]
    gc.collect()
    after = get(server, "/api/ws", {"Authorization": f"Bearer {token()}"}).json()["gc"]
    assert after["collections"][2] >= before["collections"][2] + 1
    assert after["pauseMsTotal"][2] > before["pauseMsTotal"][2] and after["pauseMsMax"][2] > 0
    assert after["thresholds"] == list(gc.get_threshold()) and "longPauses" in after


def test_health_needs_no_token(server):
    assert get(server, "/healthz", {}).json() == {"ok": True}


def test_tracing_is_off_by_default_and_the_actors_are_still_listed(server, admin_headers):
    assert get(server, "/api/debug/tracing", admin_headers).json()["rules"]["active"] is False
    listed = get(server, "/api/debug/actors", admin_headers).json()
    assert {"hub", "coalescer"} <= {actor["id"] for actor in listed["actors"]}
    assert get(server, "/api/debug/actors/hub", admin_headers).json()["trace"] == []  # nothing recorded


def test_debug_lists_actors_and_traces_messages(start_server, admin_headers):
    server = start_server(websocket_debug=True)
    client = WsClient.open(server.port, token("42", "EMPLOYEE"))
    connection_id = client.recv()["data"]["connectionId"]
    client.send("SUBSCRIBE", {"room": "lead:7"})
    client.recv()
    server.system.events.lead_updated("7")  # the first event wakes the room into an actor
    client.recv()
    listed = get(server, "/api/debug/actors", admin_headers).json()
    kinds = {actor["id"]: actor["kind"] for actor in listed["actors"]}
    assert kinds[connection_id] == "connection" and kinds["hub"] == "hub" and kinds["room:lead:7"] == "room"
    assert all({"mailbox", "handled", "failures"} <= set(actor) for actor in listed["actors"])

    trace = get(server, f"/api/debug/actors/{connection_id}", admin_headers).json()
    assert trace["alive"] is True and trace["rooms"] == ["lead:7", "role:EMPLOYEE", "user:42"]
    events = [(e["event"], e["message"]) for e in trace["trace"]]
    # lead:7 has presence: its join goes through the PresenceActor (Enter), which hands the Join to the hub
    assert ("start", "-") in events and ("in", "ClientFrame") in events and ("out", "Enter") in events
    done = [e for e in trace["trace"] if e["event"] == "done"]
    assert done and all(e["micros"] >= 0 and e["mailbox"] >= 0 for e in done)

    room = get(server, "/api/debug/actors/room:lead:7", admin_headers).json()
    assert ("in", "Publish") in [(e["event"], e["message"]) for e in room["trace"]]
    hub = get(server, "/api/debug/actors/hub", admin_headers).json()  # the join went to the still dormant room
    assert ("in", "Join") in [(e["event"], e["message"]) for e in hub["trace"]]

    client.close()
    stopped = wait_until(lambda: get(server, f"/api/debug/actors/{connection_id}", admin_headers).json()["alive"]
                         is False)
    assert stopped
    last = get(server, f"/api/debug/actors/{connection_id}", admin_headers).json()["trace"][-1]
    assert last["event"] == "stop"
    assert get(server, "/api/debug/actors/nope", admin_headers).status_code == 404
    assert get(server, "/api/debug/actors", {"Authorization": f"Bearer {token()}"}).status_code == 403
