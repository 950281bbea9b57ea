"""NodeRegistry: each server process announces itself in Redis, so ``GET /api/ws`` on any of them shows all.

Every ``NODE_HEARTBEAT`` a node writes its record (id, host, pid, start, connections, heartbeat time)
with a TTL of three heartbeats and its id into a sorted set scored by that time. A node that dies
stops writing: its record expires and readers skip ids whose score is older than three heartbeats, so
it drops out within three heartbeats without anyone having to notice its death. The same loop renews
the node's leases.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import gevent

from .lease import Lease

log = logging.getLogger("realtime.cluster")

MISSED_HEARTBEATS = 3
"""A node whose last heartbeat is older than this many intervals is gone."""


class NodeRegistry:
    """This node's heartbeat, and the list of live nodes."""

    def __init__(self, client: Any, prefix: str, node_id: str, heartbeat: float,
                 info: Callable[[], dict[str, Any]], leases: tuple[Lease, ...] = ()) -> None:
        self._client = client
        self._set_key = f"{prefix}nodes"
        self._record_prefix = f"{prefix}node:"
        self.node_id = node_id
        self._heartbeat = heartbeat
        self._info = info
        self._leases = leases
        self._loop: gevent.Greenlet | None = None
        self.beats = 0

    def start(self) -> None:
        self.beat()
        self._loop = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.kill(block=True, timeout=2)
            self._loop = None
        for lease in self._leases:
            lease.release()
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.zrem(self._set_key, self.node_id)
                pipe.delete(self._record_prefix + self.node_id)
                pipe.execute()
        except Exception:  # noqa: BLE001 (Redis down: the record expires by itself)
            pass

    def _run(self) -> None:
        while True:
            gevent.sleep(self._heartbeat)
            self.beat()

    def beat(self) -> None:
        """Write this node's record and renew its leases; a Redis failure is logged and retried next time."""
        now = time.time()
        record = {**self._info(), "id": self.node_id, "heartbeat": round(now, 3)}
        ttl_ms = int(self._heartbeat * MISSED_HEARTBEATS * 1000)
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.set(self._record_prefix + self.node_id, json.dumps(record), px=ttl_ms)
                pipe.zadd(self._set_key, {self.node_id: now})
                pipe.zremrangebyscore(self._set_key, "-inf", now - self._heartbeat * MISSED_HEARTBEATS * 4)
                pipe.pexpire(self._set_key, ttl_ms * 4)
                pipe.execute()
            self.beats += 1
        except Exception as exc:  # noqa: BLE001
            log.warning("node heartbeat to Redis failed: %s", exc)
        for lease in self._leases:
            lease.renew()

    def nodes(self) -> list[dict[str, Any]]:
        """The live nodes' records, oldest start first."""
        horizon = time.time() - self._heartbeat * MISSED_HEARTBEATS
        ids = self._client.zrangebyscore(self._set_key, horizon, "+inf")
        if not ids:
            return []
        records = self._client.mget([self._record_prefix + node.decode() for node in ids])
        live = [json.loads(record) for record in records if record is not None]
        return sorted(live, key=lambda record: (record.get("started", ""), record["id"]))
