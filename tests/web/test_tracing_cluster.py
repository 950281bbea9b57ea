"""Tracing across the cluster: real server processes sharing the test Redis.

A rule set on one node is in force on every node (and on a node started later); the debug views asked of
any node answer for every node, each part naming its node; an event published on one node and delivered on
another is one event in its view; a live stream on one node shows the other nodes' entries.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import gevent
import pytest
import requests

from tests.cluster.conftest import ADMIN, Node, cluster, subscribe, wait_for  # noqa: F401 (the fixture)

pytestmark = pytest.mark.redis


def call(node: Node, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, node.url(path), headers={**ADMIN, **kwargs.pop("headers", {})}, timeout=10,
                            **kwargs)


def view(node: Node, path: str) -> dict[str, Any]:
    response = call(node, "GET", path)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def read_stream(node: Node, query: str, seen: list[dict[str, Any]]) -> None:
    with call(node, "GET", f"/api/debug/trace{query}", stream=True) as response:
        for line in response.iter_lines():
            if line.startswith(b"data: "):
                seen.append(json.loads(line[6:]))


def test_rules_and_views_span_every_node(cluster):  # noqa: F811 (the fixture)
    a, b = cluster.start(2)
    id_a, id_b = a.status()["broker"]["node"], b.status()["broker"]["node"]
    assert view(a, "/api/debug/tracing")["node"] == id_a and view(a, "/api/debug/tracing")["cluster"] is True

    state = call(a, "PUT", "/api/debug/tracing", json={"users": ["42"], "minutes": 10}).json()
    assert state["rules"]["users"] == ["42"]
    assert wait_for(lambda: view(b, "/api/debug/tracing")["rules"]["users"] == ["42"])
    later = cluster.start(1)[0]  # started after the rule: it reads the rules in force
    assert view(later, "/api/debug/tracing")["rules"]["users"] == ["42"]

    room = f"lead:{uuid.uuid4().hex[:10]}"
    streamed: list[dict[str, Any]] = []
    stream = gevent.spawn(read_stream, a, "?user=42&type=refused", streamed)  # on A; the user will be on B
    gevent.sleep(0.5)
    client = b.connect("42")
    connection = client.connected["data"]["connectionId"]
    subscribe(client, room)
    client.send("SUBSCRIBE", {"room": "role:ADMIN"}, id="no")
    assert client.recv()["data"]["code"] == "FORBIDDEN"
    assert wait_for(lambda: streamed)  # B's entry, in A's stream
    stream.kill()
    (refused,) = streamed
    assert (refused["node"], refused["actor"], refused["summary"]["room"]) == (id_b, connection, "role:ADMIN")
    published = a.publish(room, 1)
    assert published.status_code == 202
    trace = published.json()["traceId"]
    assert client.recv()["offset"] == 1

    # the event, asked of the node that published it: the delivery happened on the other node
    event = wait_for(lambda: view(a, f"/api/debug/events/{trace}")["delivered"] == 1
                     and view(a, f"/api/debug/events/{trace}"))
    assert event, view(a, f"/api/debug/events/{trace}")
    assert {part["node"]: part["members"] for part in event["rooms"]}[id_b] == 1
    assert [(c["connectionId"], c["outcome"], c["node"]) for c in event["connections"]] == [
        (connection, "delivered", id_b)]
    outcomes = {(o["node"], o["outcome"]) for o in event["users"]["42"]}
    assert (id_b, "delivered") in outcomes and (id_a, "not connected") in outcomes
    assert set(event["nodes"]) >= {id_a, id_b} and event["unanswered"] == []
    assert {step["node"] for step in event["steps"]} == {id_a, id_b}

    # the user and the room, asked of a node where the user has no connection
    user = view(a, "/api/debug/users/42")
    assert [(c["connectionId"], c["node"]) for c in user["connections"]["live"]] == [(connection, id_b)]
    assert [(r["code"], r["room"], r["node"]) for r in user["refusals"]] == [("FORBIDDEN", "role:ADMIN", id_b)]
    assert [(d["room"], d["offset"], d["node"]) for d in user["deliveries"]] == [(room, 1, id_b)]
    members = view(later, f"/api/debug/rooms/{room}")
    assert [(m["connectionId"], m["node"]) for m in members["members"]] == [(connection, id_b)]
    assert members["state"] == "live" and members["states"][id_b] == "live"

    client.close()
    assert wait_for(lambda: view(a, "/api/debug/users/42")["connections"]["closed"])
    (closed,) = view(a, "/api/debug/users/42")["connections"]["closed"]
    assert closed["node"] == id_b and closed["code"] == 1000

    assert call(b, "DELETE", "/api/debug/tracing").status_code == 200
    for node in (a, later):
        assert wait_for(lambda node=node: view(node, "/api/debug/tracing")["rules"]["active"] is False)
