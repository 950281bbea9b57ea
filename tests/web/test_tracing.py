"""Tracing switched at runtime, over real sockets, on a server started without ``--debug``.

The question the debug endpoints exist for: "user 42 subscribed to lead:9 and tried role:ADMIN; why did they
not get the events of lead:10 and lead:11?", answered end to end through REST. Then: rules expire, only an
ADMIN may use any debug endpoint, no token ever reaches an entry, a view or a log line, and the bounds hold
under a flood.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any

import gevent
import pytest
import requests
import websocket

from tests.client import WsClient
from tests.conftest import token, wait_until


class Api:
    """REST calls to one server as one caller."""

    def __init__(self, port: int, bearer: str | None) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=5, **kwargs)

    def get(self, path: str) -> Any:
        response = self.call("GET", path)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def publish(self, type_: str, room: str, data: dict[str, Any], trace_id: str | None = None) -> requests.Response:
        headers = {"X-Trace-Id": trace_id} if trace_id else {}
        response = self.call("POST", "/api/live-sync", json={"type": type_, "room": room, "data": data},
                             headers=headers)
        assert response.status_code == 202, response.text
        return response


def admin(server: Any) -> Api:
    return Api(server.port, token("1", "ADMIN"))


def connect(server: Any, sub: str = "42", role: str = "EMPLOYEE", **kwargs: Any) -> tuple[WsClient, str]:
    client = WsClient.open(server.port, token(sub, role), **kwargs)
    connected = client.recv()
    assert connected["type"] == "CONNECTED"
    return client, connected["data"]["connectionId"]


def test_why_user_42_did_not_get_the_events_of_lead_10_and_lead_11(start_server):
    server = start_server()  # no --debug: nothing is traced until a rule says so
    api = admin(server)
    assert api.get("/api/debug/tracing")["rules"]["active"] is False
    assert api.get("/api/ws")["debug"] is False

    state = api.call("PUT", "/api/debug/tracing", json={"users": ["42"], "minutes": 15}).json()
    assert state["rules"]["users"] == ["42"] and state["rules"]["active"] is True
    assert 890 < state["rules"]["expiresInSeconds"] <= 900
    assert api.get("/api/ws")["debug"] is True

    client, connection = connect(server)
    client.send("SUBSCRIBE", {"room": "lead:9"}, id="s1")
    assert client.recv()["type"] == "SUBSCRIBED"
    client.send("SUBSCRIBE", {"room": "role:ADMIN"}, id="s2")
    refused = client.recv()
    assert refused["type"] == "ERROR" and refused["data"]["code"] == "FORBIDDEN"

    answers = {}
    for room in ("lead:9", "lead:10", "lead:11"):
        lead = room.split(":")[1]
        response = api.publish("LEAD_UPDATED", room, {"leadId": lead, "status": "won"},
                               trace_id=f"trace-{lead}-abcdef")
        answers[room] = response.json()
        assert response.headers["X-Trace-Id"] == f"trace-{lead}-abcdef" == answers[room]["traceId"]
    event = client.recv()
    assert (event["room"], event["offset"]) == ("lead:9", 1)
    with pytest.raises(websocket.WebSocketTimeoutException):  # nothing of lead:10 or lead:11 arrives
        client.recv(timeout=0.3)

    # the user: their connection and its rooms, the refusal, the delivery of lead:9 with its offset
    user = api.get("/api/debug/users/42")
    assert user["traced"] is True and user["nodes"] == ["local"]
    (live,) = user["connections"]["live"]
    assert live["connectionId"] == connection and "lead:9" in live["rooms"] and live["transport"] == "websocket"
    (refusal,) = user["refusals"]
    assert {k: refusal[k] for k in ("code", "room", "frame", "ref", "connectionId")} == {
        "code": "FORBIDDEN", "room": "role:ADMIN", "frame": "SUBSCRIBE", "ref": "s2", "connectionId": connection}
    (delivery,) = user["deliveries"]
    assert {k: delivery[k] for k in ("room", "offset", "type", "traceId", "connectionId", "outcome")} == {
        "room": "lead:9", "offset": 1, "type": "LEAD_UPDATED", "traceId": "trace-9-abcdef",
        "connectionId": connection, "outcome": "delivered"}

    # the events: lead:9 written to the connection; lead:10 and lead:11 not, because 42 is not a member
    nine = api.get("/api/debug/events/trace-9-abcdef")
    assert (nine["room"], nine["offset"], nine["members"], nine["delivered"]) == ("lead:9", 1, 1, 1)
    assert [(c["connectionId"], c["outcome"]) for c in nine["connections"]] == [(connection, "delivered")]
    assert [step["event"] for step in nine["steps"]] == ["publish", "route", "fan-out"]
    assert nine["steps"][0]["actor"] == "POST /api/live-sync"
    for lead in ("10", "11"):
        missed = api.get(f"/api/debug/events/trace-{lead}-abcdef")
        assert (missed["room"], missed["offset"], missed["members"], missed["delivered"]) == (f"lead:{lead}", 1, 0, 0)
        (outcome,) = missed["users"]["42"]
        assert outcome["outcome"] == "not a member" and outcome["connectionId"] == connection
        assert "lead:9" in outcome["memberOf"] and f"lead:{lead}" not in outcome["memberOf"]

    # an event of the room 42 was refused: refused by policy, with the code
    admins = api.publish("SYSTEM_ALERT", "role:ADMIN", {"level": "info", "title": "t", "message": "m"}).json()
    (outcome,) = api.get(f"/api/debug/events/{admins['traceId']}")["users"]["42"]
    assert outcome["outcome"].startswith("refused by policy: FORBIDDEN for SUBSCRIBE")

    # the entries explain themselves: the frame, the refusal, the delivery with its offset and trace id
    story = api.get(f"/api/debug/actors/{connection}")["trace"]
    subscribe = next(e for e in story if e["event"] == "in" and e.get("summary", {}).get("ref") == "s1")
    assert subscribe["summary"]["frame"] == "SUBSCRIBE" and subscribe["summary"]["room"] == "lead:9"
    refused_entry = next(e for e in story if e["event"] == "refused")
    assert refused_entry["summary"] == {"code": "FORBIDDEN", "frame": "SUBSCRIBE", "room": "role:ADMIN", "ref": "s2"}
    out = next(e for e in story if e["event"] == "out" and e.get("peer") == "socket")
    assert out["summary"]["offset"] == 1 and out["trace"] == "trace-9-abcdef" and out["node"] == "local"
    hub = api.get("/api/debug/actors/hub")["trace"]  # lead:9 was dormant: the hub took the join
    join = next(e for e in hub if e["message"] == "Join" and e["event"] == "in")
    assert join["summary"]["room"] == "lead:9" and join["summary"]["connection"] == connection

    # the rooms: lead:9 live with 42 as member and its publish; user:42 dormant (never carried an event)
    lead9 = api.get("/api/debug/rooms/lead:9")
    assert lead9["state"] == "live" and lead9["users"] == ["42"] and lead9["historySize"] == 1
    assert lead9["publishes"][0]["offset"] == 1 and lead9["publishes"][0]["delivered"] == 1
    assert lead9["publishes"][0]["traceId"] == "trace-9-abcdef"
    home = api.get("/api/debug/rooms/user:42")
    assert home["state"] == "dormant" and [m["connectionId"] for m in home["members"]] == [connection]
    assert api.get("/api/debug/rooms/lead:12")["state"] == "not held"

    # a closed connection keeps its close code and reason
    client.close()
    assert wait_until(lambda: api.get("/api/debug/users/42")["connections"]["closed"])
    (closed,) = api.get("/api/debug/users/42")["connections"]["closed"]
    assert closed["connectionId"] == connection and closed["code"] == 1000 and closed["reason"] == "normal close"
    assert "lead:9" in closed["rooms"] and closed["closed"] >= closed["opened"]
    assert api.get("/api/debug/users/42")["connections"]["live"] == []


def test_a_disconnect_by_an_administrator_and_a_slow_consumer_are_told_apart(start_server):
    server = start_server(outbox_max_frames=50, outbox_max_bytes=64 * 1024, write_timeout=30,
                          socket_send_buffer=16 * 1024)
    api = admin(server)
    api.call("PUT", "/api/debug/tracing", json={"users": ["7", "8"]})
    kicked, kicked_id = connect(server, "7")
    assert api.call("POST", f"/api/admin/connections/{kicked_id}/disconnect").status_code == 200
    assert kicked.expect_close() == 1000
    slow, slow_id = connect(server, "8", sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    slow.send("SUBSCRIBE", {"room": "lead:1"})
    assert slow.recv()["type"] == "SUBSCRIBED"
    traces = []
    for n in range(100):  # 400 KB: more than both kernel buffers and the 64 KiB outbox together
        traces.append(api.publish("LEAD_UPDATED", "lead:1", {"leadId": "1", "n": n, "blob": "x" * 4000})
                      .json()["traceId"])
    assert slow.expect_close(timeout=10) == 4008
    closed = {c["userId"]: c for user in ("7", "8")
              for c in api.get(f"/api/debug/users/{user}")["connections"]["closed"]}
    assert closed["7"]["code"] == 1000 and closed["7"]["reason"] == "disconnected by an administrator (user 1)"
    assert closed["8"]["code"] == 4008 and closed["8"]["reason"] == "slow consumer"
    missed = api.get("/api/debug/users/8")["missed"]
    assert any(m["outcome"] == "outbox full: closed 4008 (slow consumer)" for m in missed)
    refused = [api.get(f"/api/debug/events/{t}")["users"]["8"][0]["outcome"] for t in traces]
    assert "outbox full: closed 4008 (slow consumer)" in refused
    slow.close()


def test_a_replaced_progress_update_is_traced_as_coalesced_into_the_newer_one(start_server):
    server = start_server(coalesce_interval=0.5)
    api = admin(server)
    api.call("PUT", "/api/debug/tracing", json={"rooms": ["campaign:5"]})
    traces = [api.publish("CAMPAIGN_PROGRESS", "campaign:5", {"campaignId": "5", "sent": n, "total": 10})
              .json()["traceId"] for n in range(3)]
    first = api.get(f"/api/debug/events/{traces[0]}")
    assert first["offset"] == 1 and first["outcome"] is None  # the leading edge went at once
    second = api.get(f"/api/debug/events/{traces[1]}")
    assert second["outcome"] == f"coalesced into the newer {traces[2]}: sent to no one" and second["offset"] is None
    assert wait_until(lambda: api.get(f"/api/debug/events/{traces[2]}")["offset"] == 2)
    third = api.get(f"/api/debug/events/{traces[2]}")
    assert third["outcome"] == "held, then sent when its coalescing window ended"
    assert [s["event"] for s in third["steps"]][:3] == ["publish", "route", "held"]


def test_rules_expire_by_themselves(start_server):
    server = start_server()
    api = admin(server)
    assert api.call("PUT", "/api/debug/tracing", json={"users": ["42"], "minutes": 0.01}).status_code == 200
    assert api.get("/api/debug/tracing")["rules"]["active"] is True
    client, _ = connect(server)
    client.send("SUBSCRIBE", {"room": "lead:9"})
    client.recv()
    assert wait_until(lambda: api.get("/api/debug/tracing")["rules"]["active"] is False, timeout=3)
    assert server.system.tracer.enabled is False
    response = api.publish("LEAD_UPDATED", "lead:9", {"leadId": "9"})
    assert client.recv()["offset"] == 1
    assert api.call("GET", f"/api/debug/events/{response.json()['traceId']}").status_code == 404
    assert api.get("/api/debug/users/42")["deliveries"] == []
    cleared = api.call("PUT", "/api/debug/tracing", json={"rooms": ["lead:9"]}).json()
    assert cleared["rules"]["rooms"] == ["lead:9"]
    assert api.call("DELETE", "/api/debug/tracing").json()["rules"]["active"] is False
    actions = api.get("/api/admin/actions")["actions"]
    assert [a["rules"] for a in actions if a["action"] == "tracing"][:2] == ["off", "rooms lead:9 for 900s"]
    client.close()


def test_rules_are_checked(start_server):
    api = admin(start_server())
    bad = api.call("PUT", "/api/debug/tracing", json={"users": ["4 2"], "rooms": ["nope:1"], "minutes": 0,
                                                       "all": "yes", "what": 1})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"users.0", "rooms.0", "minutes", "all", "what"}
    assert api.call("PUT", "/api/debug/tracing", json={"minutes": 100_000}).status_code == 400
    assert api.call("GET", "/api/debug/events/no%20such").status_code == 400
    assert api.call("GET", "/api/debug/events/unknown-trace").status_code == 404
    assert api.call("GET", "/api/debug/users/not%20a%20user").status_code == 400
    assert api.call("GET", "/api/debug/rooms/nope:1").status_code == 400


DEBUG_CALLS = [("GET", "/api/debug/tracing"), ("PUT", "/api/debug/tracing"), ("DELETE", "/api/debug/tracing"),
               ("GET", "/api/debug/actors"), ("GET", "/api/debug/actors/hub"), ("GET", "/api/debug/trace"),
               ("GET", "/api/debug/users/42"), ("GET", "/api/debug/rooms/lead:9"),
               ("GET", "/api/debug/events/trace-1")]


def test_every_debug_endpoint_is_for_admins_only(start_server):
    server = start_server()
    for role in ("EMPLOYEE", "SERVICE"):
        api = Api(server.port, token("42", role))
        for method, path in DEBUG_CALLS:
            response = api.call(method, path, json={"all": True} if method == "PUT" else None)
            assert response.status_code == 403, (role, method, path, response.status_code)
            assert response.json()["error"]["code"] == "FORBIDDEN"
    anonymous = Api(server.port, None)
    for method, path in DEBUG_CALLS:
        assert anonymous.call(method, path).status_code == 401
    assert server.system.tracer.enabled is False  # no PUT got through


def _stream(api: Api, query: str, seen: list[dict[str, Any]]) -> gevent.Greenlet:
    def read() -> None:
        with api.call("GET", f"/api/debug/trace{query}", stream=True) as response:
            for line in response.iter_lines():
                if line.startswith(b"data: "):
                    seen.append(json.loads(line[6:]))
    greenlet = gevent.spawn(read)
    gevent.sleep(0.2)
    return greenlet


def test_the_live_stream_keeps_what_its_filter_asks_for(start_server):
    server = start_server()
    api = admin(server)
    api.call("PUT", "/api/debug/tracing", json={"all": True})
    of_42: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    of_room: list[dict[str, Any]] = []
    streams = [_stream(api, "?user=42", of_42), _stream(api, "?type=refused", refused),
               _stream(api, "?room=lead:3&type=LEAD_UPDATED", of_room)]
    mine, _ = connect(server, "42")
    other, _ = connect(server, "43")
    for client in (mine, other):
        client.send("SUBSCRIBE", {"room": "lead:3"})
        client.recv()
        client.send("SUBSCRIBE", {"room": "role:ADMIN"})
        client.recv()
    api.publish("LEAD_UPDATED", "lead:3", {"leadId": "3"})
    for client in (mine, other):
        client.recv()
    assert wait_until(lambda: len(refused) == 2 and of_room and any(e.get("peer") == "socket" for e in of_42))
    for greenlet in streams:
        greenlet.kill()
    assert of_42 and all("42" in (e.get("user"), e.get("summary", {}).get("user"))
                         or e.get("summary", {}).get("room") == "user:42" for e in of_42), of_42
    assert {e["user"] for e in refused} == {"42", "43"} and all(e["event"] == "refused" for e in refused)
    assert all(e.get("summary", {}).get("room") == "lead:3" or e["actor"] == "room:lead:3" for e in of_room)
    bad = api.call("GET", "/api/debug/trace?user=" + "x" * 200)
    assert bad.status_code == 400
    mine.close()
    other.close()


def test_no_token_in_any_entry_view_or_log_line(start_server, caplog):
    server = start_server()
    api = admin(server)
    api.call("PUT", "/api/debug/tracing", json={"all": True})
    secret = token("42", "EMPLOYEE")
    assert secret.startswith("eyJ")
    caplog.set_level(logging.DEBUG, logger="realtime")
    client, connection = connect(server)
    client.send("AUTH", {"token": secret}, id="a1")
    assert client.recv()["type"] == "AUTHENTICATED"
    client.send("AUTH", {"token": secret + "x"}, id="a2")  # refused: the refusal is kept, its token is not
    assert client.recv()["data"]["code"] == "BAD_REQUEST"
    client.send(secret)  # an unknown frame type that is a token
    assert client.recv()["data"]["code"] == "UNKNOWN_TYPE"
    client.send("SUBSCRIBE", {"room": "lead:9", "token": secret})
    client.recv()
    trace = api.publish("LEAD_UPDATED", "lead:9", {"leadId": "9", "token": secret, "note": f"Bearer {secret}",
                                                   "nested": {"apiKey": secret}}).json()["traceId"]
    client.recv()
    views = [api.get(f"/api/debug/actors/{connection}"), api.get("/api/debug/actors/hub"),
             api.get("/api/debug/actors/room:lead:9"), api.get("/api/debug/actors"),
             api.get("/api/debug/users/42"), api.get(f"/api/debug/events/{trace}"), api.get("/api/debug/rooms/lead:9"),
             api.get("/api/debug/actors/router")]
    client.close()
    text = json.dumps(views) + "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    signature = secret.split(".")[2]
    payload = secret.split(".")[1]
    assert signature not in text and payload not in text
    assert "LEAD_UPDATED" in text and '"***"' in text  # the entries are there, their secrets masked
    assert any(record.name == "realtime.trace" for record in caplog.records)


def test_bounds_hold_under_a_flood(start_server):
    server = start_server(trace_ring_size=20, trace_ring_bytes=6_000, trace_total_bytes=120_000, trace_records=25,
                          trace_events=30, rate_limit_burst=1_000, rate_limit_per_second=1_000)
    api = admin(server)
    api.call("PUT", "/api/debug/tracing", json={"all": True})
    tracer = server.system.tracer
    clients = []
    for n in range(40):  # 40 connections opened and closed: 25 closed ones kept
        client, _ = connect(server, str(n))
        client.send("SUBSCRIBE", {"room": "lead:1"})
        client.recv()
        client.send("SUBSCRIBE", {"room": "role:ADMIN"}, id=n)  # a refusal each
        client.recv()
        clients.append(client)
    flood, _ = connect(server, "flood")
    for n in range(500):
        flood.send("PING", id=n)
    for _ in range(500):
        flood.recv()
    for n in range(60):
        api.publish("LEAD_UPDATED", "lead:1", {"leadId": "1", "n": n, "text": "y" * 500})
    for client in clients:
        client.close()
    assert wait_until(lambda: len(api.get("/api/debug/users/39")["connections"]["closed"]) == 1)
    rings = list(tracer._rings.values()) + [s.ring for s in tracer._graveyard if s.ring is not None]
    assert all(len(ring.entries) <= 20 and ring.bytes <= 6_000 for ring in rings)
    assert tracer._total_bytes <= 120_000 and len(tracer._fifo) <= 120_000 // 200
    assert sum(ring.bytes for ring in rings) == tracer._total_bytes
    assert len(tracer._closed) == 25 and len(tracer._refusals) == 25 and len(tracer._deliveries) <= 25
    assert len(tracer._events) == 30
    assert len(api.get("/api/debug/actors/hub")["trace"]) <= 20
    memory = api.get("/api/debug/tracing")["memory"]
    assert memory["bytes"] <= memory["maxBytes"] == 120_000
    flood.close()


def test_records_older_than_the_keep_time_are_forgotten(start_server):
    server = start_server(trace_keep_seconds=0.5)
    api = admin(server)
    api.call("PUT", "/api/debug/tracing", json={"users": ["42"]})
    client, _ = connect(server)
    client.send("SUBSCRIBE", {"room": "role:ADMIN"})
    client.recv()
    trace = api.publish("LEAD_UPDATED", "lead:3", {"leadId": "3"}).json()["traceId"]
    client.close()
    assert wait_until(lambda: api.get("/api/debug/users/42")["connections"]["closed"])
    assert api.get("/api/debug/users/42")["refusals"] and api.call("GET", f"/api/debug/events/{trace}").ok
    time.sleep(0.6)
    user = api.get("/api/debug/users/42")
    assert user["connections"]["closed"] == [] and user["refusals"] == []
    assert api.call("GET", f"/api/debug/events/{trace}").status_code == 404
    assert api.get("/api/debug/rooms/lead:3")["publishes"][0].get("traceId") is None
