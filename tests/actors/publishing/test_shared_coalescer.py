"""Coalescing for the cluster: two real Coalescers (two nodes' worth) sharing their windows and figures in the
real test Redis, in front of one real Hub; what a room member receives is read off its socket.

The processes' own test (two server processes publishing to one room) is tests/cluster/test_shared_coalescing.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pykka
import pytest
import redis

from actors.cluster.coalescing import SharedWindows
from actors.errors import Unavailable
from actors.publishing.actor_messages import Coalesce, GetSyncStatus, PushStats, RecomputeStats
from actors.publishing.coalescer import Coalescer
from actors.rooms.actor_messages import Join
from actors.runtime.reply import Reply, answer
from tests import stats_provider_example
from tests.actors.parts import Member, RunningHub, make_ctx, stop_actors

pytestmark = pytest.mark.redis

INTERVAL = 0.2
ROOM = "campaign:7"
STATS = "stats:dashboard"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Node:
    coalescer: pykka.ActorRef[Any]

    def progress(self, sent: int, room: str = ROOM) -> dict[str, Any]:
        reply = Reply()
        self.coalescer.tell(Coalesce(room, "CAMPAIGN_PROGRESS", {"campaignId": room[9:], "sent": sent}, reply))
        return answer(reply, 2, "coalescer")  # type: ignore[no-any-return]

    def stats(self, **figures: Any) -> dict[str, Any]:
        reply = Reply()
        self.coalescer.tell(PushStats(STATS, figures, reply))
        return answer(reply, 2, "coalescer")  # type: ignore[no-any-return]

    def status(self) -> dict[str, Any]:
        return self.coalescer.ask(GetSyncStatus(), timeout=2)  # type: ignore[no-any-return]


@dataclass
class Parts:
    a: Node
    b: Node
    member: Member

    def events(self, within: float) -> list[dict[str, Any]]:
        """Every event the member receives until nothing more comes for ``within`` seconds."""
        got = []
        while True:
            try:
                got.append(self.member.peer.json(timeout=within))
            except TimeoutError:
                return got


@pytest.fixture
def parts(start_hub: Callable[..., RunningHub], members: Callable[..., Member], redis_url: str,
          redis_prefix: str) -> Iterator[Callable[..., Parts]]:
    contexts = []
    clients = []

    def start(url: str = redis_url, **overrides: Any) -> Parts:
        settings = {"coalesce_interval": INTERVAL, **overrides}
        hub = start_hub(**settings)
        nodes = []
        for name in ("node-a", "node-b"):
            ctx = make_ctx(**settings)  # a node's own context, publishing into the one hub
            ctx.hub = hub.hub
            contexts.append(ctx)
            client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
            clients.append(client)
            shared = SharedWindows(client, redis_prefix, name, INTERVAL, 3600)
            nodes.append(Node(Coalescer.start(ctx, shared=shared)))
        member = members(hub.ctx)
        for room in (ROOM, STATS):
            hub.hub.tell(Join(room, member.connection_id, member.outlet))
            assert member.peer.json()["type"] == "SUBSCRIBED"
        return Parts(nodes[0], nodes[1], member)

    yield start
    for ctx in contexts:
        stop_actors(ctx)
    for client in clients:
        client.close()


def test_a_burst_through_two_nodes_sends_the_leading_and_the_last_update_only(parts):
    p = parts()
    assert p.a.progress(1)["offset"] == 1  # opens the window: sent at once
    held = [(p.b if n % 2 else p.a).progress(n) for n in range(2, 12)]
    assert held == [{"room": ROOM, "coalesced": True, "offset": None, "delivered": 0}] * 10
    got = p.events(within=INTERVAL * 3)
    assert [(e["offset"], e["data"]["sent"]) for e in got] == [(1, 1), (2, 11)]  # the last value, from A's flush
    assert p.a.status()["sharedWindows"] is True


def test_a_steady_stream_through_two_nodes_goes_out_once_per_window_and_ends_with_the_last_value(parts):
    p = parts()
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < INTERVAL * 5:
        n += 1
        (p.a if n % 2 else p.b).progress(n)
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    got = p.events(within=INTERVAL * 3)
    sent = [e["data"]["sent"] for e in got]
    assert sent[-1] == n and sent == sorted(sent)  # newest last, never an older value after a newer one
    assert [e["offset"] for e in got] == list(range(1, len(got) + 1))
    windows = elapsed / INTERVAL
    print(f"\n{n} updates through two nodes in {elapsed:.2f}s ({windows:.1f} windows): {len(got)} sent")
    assert len(got) <= windows + 2, (len(got), windows)  # one per window for both nodes, not one per node
    assert len(got) >= 3


def test_statistics_pushed_to_two_nodes_are_one_merged_set(parts):
    p = parts()
    assert p.a.stats(contacts=10, leads=2)["offset"] == 1
    assert p.b.stats(leads=3)["coalesced"] is True
    assert p.a.stats(messages=7)["coalesced"] is True
    got = p.events(within=INTERVAL * 3)
    assert [e["data"] for e in got] == [{"contacts": 10, "leads": 2}, {"contacts": 10, "leads": 3, "messages": 7}]
    assert p.b.status()["stats"][STATS]["figures"] == {"contacts": 10, "leads": 3}  # what B saw when it pushed
    time.sleep(INTERVAL * 1.5)
    assert p.b.stats(deals=1)["offset"] == 3  # a new window: B leads, with the whole set
    assert p.member.peer.json()["data"] == {"contacts": 10, "leads": 3, "messages": 7, "deals": 1}


def test_a_recompute_on_one_node_merges_with_figures_pushed_to_the_other(parts):
    p = parts(stats_provider="tests.stats_provider_example:figures")
    p.a.stats(pushed=1)
    p.member.peer.json()
    time.sleep(INTERVAL * 1.5)
    calls = stats_provider_example.calls
    reply = Reply()
    p.b.coalescer.tell(RecomputeStats(reply))
    computed = answer(reply, 2, "coalescer")
    assert computed == {"room": STATS, "stats": {"pushed": 1, "totalContacts": 1000 + calls + 1,
                                                 "recomputed": calls + 1}}
    assert p.member.peer.json()["data"] == computed["stats"]


def test_a_window_whose_owner_stops_does_not_block_the_next_update(parts):
    p = parts()
    p.a.progress(1)
    p.b.progress(2)  # held in A's window
    p.a.coalescer.stop(block=True, timeout=2)  # A's flush never runs: its held value is not sent
    assert [e["data"]["sent"] for e in p.events(within=INTERVAL * 2)] == [1]
    assert p.b.progress(3)["offset"] == 2  # the window is over: B leads with the newest value
    assert p.member.peer.json()["data"]["sent"] == 3


def test_without_redis_an_update_is_refused_not_acknowledged(parts):
    p = parts(url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with pytest.raises(Unavailable, match="coalescing needs Redis"):
        p.a.progress(1)
    with pytest.raises(Unavailable):
        p.b.stats(contacts=1)
    assert p.member.peer.silent(INTERVAL)
