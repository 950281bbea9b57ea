"""No leaks across two servers sharing Redis: 1,000 connect/subscribe/close cycles leave Redis keys, channel
subscriptions, actors and greenlets where they were.

The two servers run in this process (``start_server``) so that the greenlets can be counted; they share
the test Redis exactly as two processes do (each its own broker, listener and node record).
"""

from __future__ import annotations

import gc

import pytest

from tests.client import WsClient
from tests.cluster.conftest import redis_client, subscribe, wait_for
from tests.conftest import live_greenlets, token

pytestmark = pytest.mark.redis


def test_1000_cycles_across_two_servers_leave_keys_channels_actors_and_greenlets_at_their_baseline(
        start_server, redis_url, redis_prefix):
    settings = dict(redis_url=redis_url, redis_prefix=redis_prefix, room_idle_seconds=0.3, heartbeat_interval=0.3,
                    heartbeat_timeout=5, history_seconds=1, redis_meta_ttl=1, node_heartbeat=0.5)
    servers = [start_server(**settings), start_server(**settings)]
    client = redis_client(redis_url)

    def keys() -> set[bytes]:
        return set(client.scan_iter(match=f"{redis_prefix}*", count=1000))

    def channels() -> int:
        return len(client.pubsub_channels(f"{redis_prefix}c:*"))

    def actors() -> list[int]:
        return [server.system.tracer.count() for server in servers]

    def cycle(n: int) -> None:
        server = servers[n % 2]
        ws = WsClient.open(server.port, token(f"leak{n}"))
        assert ws.recv()["type"] == "CONNECTED"
        subscribe(ws, f"lead:leak{n % 7}")
        if n % 100 == 0:  # some rooms carry events: streams, latest values, room actors
            other = servers[(n + 1) % 2]
            other.system.publish("LEAD_UPDATED", {"leadId": str(n)}, f"lead:leak{n % 7}")
        ws.close()

    def settled(baseline_keys: set[bytes], baseline_channels: int, baseline_actors: list[int]) -> bool:
        return (keys() <= baseline_keys and channels() <= baseline_channels and actors() <= baseline_actors
                and all(server.system.metrics.connections == 0 for server in servers))

    cycle(1001)  # warm: module-level caches, the node records, the statistics lease (no event: no stream)
    # hub, coalescer, notifications, presence, claims, deliveries
    assert wait_for(lambda: channels() == 0 and actors() == [6, 6] and len(keys()) <= 4, timeout=10), (
        channels(), actors(), keys())
    base_keys, base_channels, base_actors = keys(), channels(), actors()
    gc.collect()
    base_greenlets = live_greenlets()
    assert {k.decode().removeprefix(redis_prefix).split(":")[0] for k in base_keys} <= {"nodes", "node", "lease"}

    for n in range(1, 1001):
        cycle(n)
    peak = {"keys": len(keys()), "channels": channels()}
    assert peak["keys"] > len(base_keys)  # the cycles did leave their marks while they ran

    assert wait_for(lambda: settled(base_keys, base_channels, base_actors), timeout=15), (
        f"keys {sorted(keys() - base_keys)[:5]}, channels {channels()}, actors {actors()}")
    gc.collect()
    assert wait_for(lambda: live_greenlets() <= base_greenlets, timeout=5), (live_greenlets(), base_greenlets)
    client.close()
