"""Lease: at most one node at a time does a cluster-wide job (the statistics refresh), and another takes
over within one lease period when the holder dies.

The holder renews the lease on every heartbeat; a node that finds it free takes it. ``held`` is a
local flag the heartbeat keeps current, so the job's own loop asks nothing of Redis.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("realtime.cluster")

ACQUIRE_OR_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
"""

RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Lease:
    """A named lease in Redis held by ``node_id`` for ``ttl`` seconds at a time."""

    def __init__(self, client: Any, key: str, node_id: str, ttl: float) -> None:
        self.key = key
        self._node_id = node_id
        self._ttl_ms = max(1, int(ttl * 1000))
        self._acquire = client.register_script(ACQUIRE_OR_RENEW)
        self._release = client.register_script(RELEASE)
        self.held = False

    def renew(self) -> bool:
        """Take or keep the lease; False when another node holds it or Redis cannot be reached."""
        try:
            held = bool(self._acquire(keys=[self.key], args=[self._node_id, self._ttl_ms]))
        except Exception as exc:  # noqa: BLE001 (Redis down: nobody can be sure to hold it, so we do not)
            log.debug("lease %s: %s", self.key, exc)
            held = False
        if held != self.held:
            log.info("%s the lease %s", "took" if held else "lost", self.key)
        self.held = held
        return held

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            self._release(keys=[self.key], args=[self._node_id])
        except Exception:  # noqa: BLE001 (it expires by itself)
            pass
