"""Presence, typing and claims across real server processes sharing the test Redis (docs/presence.md): viewers on
both nodes, a node killed with SIGKILL leaves no ghosts (timed), 1,000 join/leave cycles end at the truth (with the
PRESENCE frame rate), one TYPING_STOP for a dead node's typer, one holder in 1,000 claim races across two processes,
claims renewed by whichever node the holder is connected to and released when the holder's node dies."""

from __future__ import annotations

import random
import signal
import time
import uuid

import gevent
import pytest
import requests

from tests.actors.presence.view import Viewer
from tests.cluster.conftest import ADMIN, wait_for
from tests.conftest import token

pytestmark = pytest.mark.redis


def viewer(node, sub: str) -> Viewer:
    return Viewer(node.connect(sub))


def presence(node, room: str) -> list[str]:
    answer = requests.get(node.url(f"/api/rooms/{room}/presence"), headers=ADMIN, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["presence"]  # type: ignore[no-any-return]


def new_room(prefix: str = "lead") -> str:
    return f"{prefix}:{uuid.uuid4().hex[:10]}"


def test_viewers_on_both_nodes_see_each_other_come_and_go(cluster):
    a, b = cluster.start(2, PRESENCE_INTERVAL="0.2")
    room = new_room()
    ada = viewer(a, "ada")
    assert ada.subscribe(room)["presence"] == ["ada"]
    gevent.sleep(0.5)  # a writes its part of the room within an interval
    bob = viewer(b, "bob")
    assert set(bob.subscribe(room)["presence"]) == {"ada", "bob"}  # a's part read from Redis as b starts following
    assert ada.settle(room, {"ada", "bob"}) == {"ada", "bob"}
    assert bob.settle(room, {"ada", "bob"}) == {"ada", "bob"}
    assert presence(a, room) == presence(b, room) == ["ada", "bob"]
    second_tab = viewer(a, "bob")  # bob on both nodes: one viewer
    second_tab.subscribe(room, presence=False)
    bob.client.close()
    assert ada.drain(1.0) == [] or ada.viewers[room] == {"ada", "bob"}
    assert ada.viewers[room] == {"ada", "bob"}
    second_tab.client.close()
    assert ada.settle(room, {"ada"}) == {"ada"}
    assert presence(b, room) == ["ada"]


def test_a_killed_nodes_viewers_leave_everyones_view_within_three_heartbeats(cluster, record_property):
    a, b = cluster.start(2)  # the defaults: NODE_HEARTBEAT 2 s, PRESENCE_INTERVAL 1 s, PRESENCE_TTL 120 s
    room = new_room("contact")
    watcher = viewer(a, "watcher")
    watcher.subscribe(room)
    doomed = [viewer(b, f"b{n}") for n in range(3)]
    for client in doomed:
        client.subscribe(room, presence=False)
    everyone = {"watcher", "b0", "b1", "b2"}
    assert watcher.settle(room, everyone) == everyone
    killed_at = time.monotonic()
    b.stop(signal.SIGKILL)
    assert watcher.settle(room, {"watcher"}, timeout=20) == {"watcher"}
    gone_after = time.monotonic() - killed_at
    record_property("ghost_removal_seconds", round(gone_after, 2))
    print(f"\nghost removal after kill -9: {gone_after:.2f} s (NODE_HEARTBEAT 2 s)")
    assert gone_after < 15, gone_after  # the goal; three heartbeats plus one watch and one interval is 8 s
    assert presence(a, room) == ["watcher"]


def test_1000_join_and_leave_cycles_across_two_processes_end_at_the_truth(cluster, record_property):
    a, b = cluster.start(2)  # PRESENCE_INTERVAL 1 s, the default
    room = new_room("campaign")
    watchers = [viewer(a, "wa"), viewer(b, "wb")]
    for w in watchers:
        w.subscribe(room)
    clients = [(f"u{n % 25}", viewer(a if n % 2 else b, f"u{n % 25}")) for n in range(40)]  # users with tabs on both
    joined: set[int] = set()
    rng = random.Random(1000)
    started = time.monotonic()
    for cycle in range(1000):
        n = rng.randrange(len(clients))
        if n in joined:
            clients[n][1].client.send("UNSUBSCRIBE", {"room": room})
            joined.discard(n)
        else:
            clients[n][1].client.send("SUBSCRIBE", {"room": room})
            joined.add(n)
        if cycle % 10 == 0:
            for w in watchers:
                w.read(0.001)
            gevent.sleep(0.02)
    churn_seconds = time.monotonic() - started
    truth = {"wa", "wb"} | {clients[n][0] for n in joined}
    for w in watchers:
        assert w.settle(room, truth, timeout=10) == truth
    assert presence(a, room) == presence(b, room) == sorted(truth)
    frames = [at for at, frame in watchers[0].presence_frames if frame["data"]["room"] == room]
    window = [at for at in frames if at <= started + churn_seconds]
    rate = len(window) / churn_seconds
    record_property("presence_frames_per_second_under_churn", round(rate, 2))
    print(f"\n1,000 cycles in {churn_seconds:.1f} s ({1000 / churn_seconds:.0f}/s): {len(window)} PRESENCE frames to a "
          f"watcher, {rate:.2f}/s (PRESENCE_INTERVAL 1 s)")
    assert rate <= 1.5  # one frame per interval at most, whatever the churn (and the last one may start early)
    for _, client in clients:
        client.client.close()


def test_a_dead_nodes_typer_gets_exactly_one_typing_stop(cluster):
    a, b, c = cluster.start(3, PRESENCE_INTERVAL="0.2")
    room = "contact:" + uuid.uuid4().hex[:8]
    readers = [viewer(a, "ra"), viewer(b, "rb")]
    for reader in readers:
        reader.subscribe(room)
    typer = viewer(c, "typer")
    typer.subscribe(room, presence=False)
    for reader in readers:
        assert reader.settle(room, {"ra", "rb", "typer"}) == {"ra", "rb", "typer"}
    typer.client.send("TYPING_START", {"contactId": room.split(":")[1]})
    for reader in readers:
        assert reader.wait(lambda f: f["type"] == "TYPING_START") is not None
    gevent.sleep(0.5)  # c's part (with its typer) is written within an interval
    c.stop(signal.SIGKILL)
    for reader in readers:
        assert reader.settle(room, {"ra", "rb"}, timeout=20) == {"ra", "rb"}
    stops = [[f for f in reader.drain(1.5) + reader.frames if f["type"] == "TYPING_STOP"] for reader in readers]
    assert [len(s) for s in stops] == [1, 1], stops  # one survivor told the room; everyone heard it once
    assert stops[0][0]["offset"] == stops[1][0]["offset"] and stops[0][0]["data"]["userId"] == "typer"


def test_two_processes_racing_for_1000_claims_leave_exactly_one_holder_each(cluster, record_property):
    a, b = cluster.start(2, REST_RATE_LIMIT_PER_SECOND="0")  # 2,000 claims by two users in seconds: no 429 here
    rooms = [f"lead:race{uuid.uuid4().hex[:6]}{n}" for n in range(1000)]
    sessions = [requests.Session(), requests.Session()]

    def claim(node, session, room, sub):
        answer = session.post(node.url(f"/api/rooms/{room}/claim"), timeout=10,
                              headers={"Authorization": f"Bearer {token(sub, 'EMPLOYEE')}"})
        return answer.status_code, (answer.json().get("claim") or {}).get("by")

    winners = 0
    started = time.monotonic()
    for room in rooms:
        pair = [gevent.spawn(claim, a, sessions[0], room, "ada"), gevent.spawn(claim, b, sessions[1], room, "bob")]
        gevent.joinall(pair, raise_error=True)
        statuses = sorted(greenlet.value[0] for greenlet in pair)
        assert statuses == [200, 409], (room, statuses)
        winner = next(g.value[1] for g in pair if g.value[0] == 200)
        held = requests.get(a.url(f"/api/rooms/{room}/claim"), headers=ADMIN, timeout=5).json()["claim"]["by"]
        assert held == winner
        winners += 1
    record_property("claim_races_seconds", round(time.monotonic() - started, 1))
    assert winners == 1000


def test_a_claim_lives_while_its_holder_is_connected_to_any_node_and_ends_when_that_node_dies(cluster):
    a, b = cluster.start(2, CLAIM_GRACE="2")
    room = new_room()
    watcher = viewer(a, "watcher")
    watcher.subscribe(room, presence=False)
    holder = viewer(b, "ada")  # connected to b only
    answer = requests.post(a.url(f"/api/rooms/{room}/claim"), timeout=5,
                           headers={"Authorization": f"Bearer {token('ada', 'EMPLOYEE')}"})  # claimed through a
    assert answer.status_code == 200
    assert watcher.wait(lambda f: f["type"] == "CLAIMED") is not None
    assert [f for f in watcher.drain(6) if f["type"] == "RELEASED"] == []  # b renews it: ada is connected there
    assert holder.client is not None
    b.stop(signal.SIGKILL)
    released = watcher.wait(lambda f: f["type"] == "RELEASED", timeout=15)
    assert released is not None and released["data"] == {"room": room, "by": "ada", "reason": "disconnected"}
    assert wait_for(lambda: requests.get(a.url(f"/api/rooms/{room}/claim"), headers=ADMIN,
                                         timeout=5).json()["claim"] is None)


def _commands(client) -> int:
    return sum(int(stats["calls"]) for stats in client.info("commandstats").values())


@pytest.mark.parametrize("shape", ["one room", "a room each"])
def test_redis_commands_per_join_with_and_without_presence(private_redis, tmp_path, shape, record_property):
    """Measured on a Redis of the test's own (nothing else talks to it): every command the two nodes send while
    100 sockets join lead rooms, with presence on those rooms and with presence elsewhere (PRESENCE_PREFIXES)."""
    from tests.cluster.conftest import Cluster

    client = private_redis.client()
    figures = {}
    for label, prefixes in (("presence", "contact,lead,campaign"), ("no presence", "campaign")):
        cluster = Cluster(tmp_path / label.replace(" ", "-"), private_redis.url, f"rt-{label[:2]}:")
        cluster.tmp.mkdir()
        try:
            a, _ = cluster.start(2, PRESENCE_PREFIXES=prefixes)
            sockets = [a.connect(f"u{n}") for n in range(100)]
            gevent.sleep(2.5)  # connecting and the first heartbeats settle
            before = _commands(client)
            for n, socket in enumerate(sockets):
                room = "lead:one" if shape == "one room" else f"lead:r{n}"
                socket.send("SUBSCRIBE", {"room": room}, id="s")
                assert socket.recv_until(lambda f: f["type"] == "SUBSCRIBED")["data"]["room"] == room
            gevent.sleep(1.5)  # the presence writes of the last interval
            figures[label] = (_commands(client) - before) / len(sockets)
            for socket in sockets:
                socket.close()
        finally:
            cluster.stop_all()
    extra = figures["presence"] - figures["no presence"]
    record_property(f"redis_commands_per_join_{shape.replace(' ', '_')}", round(extra, 2))
    print(f"\n{shape}: {figures['presence']:.2f} Redis commands per join with presence, "
          f"{figures['no presence']:.2f} without (both include 1.5 s of heartbeats): {extra:+.2f} for presence")
    assert extra <= (6 if shape == "a room each" else 1)  # batched: a room's joins of one interval share a write


def test_after_redis_restarts_empty_each_node_writes_its_viewers_again(private_redis, private_cluster):
    """Redis lost every part: the nodes' presence listeners reconnect and resync, which writes each node's own
    part again, so a node started afterwards sees everyone (nothing but that rewrite could tell it)."""
    a, b = private_cluster.start(2, PRESENCE_INTERVAL="0.2", REDIS_PROBE_INTERVAL="0.5", REDIS_RECONNECT_MAX="0.5")
    room = new_room("contact")
    on_a, on_b = viewer(a, "ada"), viewer(b, "bob")
    for client in (on_a, on_b):
        client.subscribe(room)
    for client in (on_a, on_b):
        assert client.settle(room, {"ada", "bob"}) == {"ada", "bob"}
    private_redis.stop()
    gevent.sleep(1.0)
    private_redis.start()  # the same port, empty
    assert wait_for(lambda: a.status()["broker"]["connected"] and b.status()["broker"]["connected"], timeout=20)
    gevent.sleep(1.5)  # the presence listeners' own reconnect, then one interval to write
    [c] = private_cluster.start(1, PRESENCE_INTERVAL="0.2")
    late = viewer(c, "cat")
    assert set(late.subscribe(room)["presence"]) == {"ada", "bob", "cat"}
    assert presence(c, room) == ["ada", "bob", "cat"]
