"""A room's member count across the cluster (GET /api/ws?room=), over real server processes and real Redis."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import pytest
import requests

from tests.client import SseClient
from tests.cluster.conftest import ADMIN, EXE, Node, free_port, server_env, subscribe, wait_for
from tests.conftest import token

pytestmark = pytest.mark.redis


def census(node: Node, room: str, headers: dict[str, str] = ADMIN) -> requests.Response:
    return requests.get(node.url("/api/ws"), params={"room": room}, headers=headers, timeout=10)


def test_every_node_counts_its_own_members_of_a_room(cluster):
    a, b = cluster.start(2)
    ids = {node.status()["broker"]["node"]: node for node in (a, b)}
    id_a, id_b = (next(i for i, n in ids.items() if n is node) for node in (a, b))
    room = f"lead:{uuid.uuid4().hex[:12]}"
    on_a = [a.connect(f"a{n}") for n in range(2)]
    on_b = [b.connect(f"b{n}") for n in range(3)]
    for client in on_a + on_b:
        subscribe(client, room)
    stream = SseClient(b.port, token("s1"), rooms=room)  # an SSE stream is a member too
    try:
        assert stream.next_of("SUBSCRIBED")["data"]["data"]["room"] == room
        for asked in (a, b):  # any node answers for the whole cluster
            answer = census(asked, room)
            assert answer.status_code == 200, answer.text
            assert answer.json()["room"] == {"room": room, "members": {"total": 6, "byNode": {id_a: 2, id_b: 4}},
                                             "unanswered": []}
        assert b.publish(room, 1).status_code == 202  # a live room (an actor) counts as a dormant one did
        on_a[0].close()
        assert wait_for(lambda: census(b, room).json()["room"]["members"]["byNode"] == {id_a: 1, id_b: 4})
    finally:
        stream.close()
    user = census(a, "user:b0").json()["room"]["members"]  # a home room: one socket, on B
    assert user == {"total": 1, "byNode": {id_a: 0, id_b: 1}}
    nobody = census(a, f"lead:{uuid.uuid4().hex[:12]}").json()["room"]["members"]
    assert nobody == {"total": 0, "byNode": {id_a: 0, id_b: 0}}
    for client in on_a[1:] + on_b:
        client.close()


def test_a_node_that_does_not_answer_is_named_until_it_drops_out_of_the_cluster(cluster):
    cluster.settings.update(NODE_HEARTBEAT=1, CLUSTER_QUERY_TIMEOUT=0.3)
    a, b = cluster.start(2)
    id_b = b.status()["broker"]["node"]
    room = f"lead:{uuid.uuid4().hex[:12]}"
    subscribe(a.connect("1"), room)
    subscribe(b.connect("2"), room)
    assert census(a, room).json()["room"]["members"]["total"] == 2
    b.stop(signal.SIGKILL)  # still listed as live for up to three heartbeats, but it cannot answer
    partial = census(a, room).json()["room"]
    assert partial["members"]["total"] == 1 and partial["unanswered"] == [id_b]
    gone = wait_for(lambda: (r := census(a, room).json()["room"])["unanswered"] == [] and r, timeout=6)
    assert gone["members"]["total"] == 1 and id_b not in gone["members"]["byNode"]


def test_the_count_is_for_rooms_the_caller_may_join(cluster):
    (a,) = cluster.start(1)
    employee = {"Authorization": f"Bearer {token('7', 'EMPLOYEE')}"}
    assert census(a, "user:7", employee).status_code == 200
    assert census(a, "user:8", employee).status_code == 403
    assert census(a, "nonsense", employee).status_code == 400
    assert "room" not in requests.get(a.url("/api/ws"), headers=employee, timeout=5).json()


def test_one_process_without_redis_answers_for_itself(tmp_path: Path):
    import subprocess

    port = free_port()
    log_path = tmp_path / "single.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([EXE, "serve"], env=server_env(PORT=port, DATABASE_URL=f"sqlite:///{tmp_path}/s.db"),
                                   cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    node = Node(process, port, log_path)
    try:
        node.wait_healthy()
        room = "campaign:5"
        clients = [node.connect(str(n)) for n in range(3)]
        for client in clients:
            subscribe(client, room)
        answer = census(node, room).json()
        assert answer["room"] == {"room": room, "members": {"total": 3, "byNode": {"local": 3}}, "unanswered": []}
        assert "nodes" not in answer
        for client in clients:
            client.close()
    finally:
        node.stop()
