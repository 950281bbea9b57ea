"""SharedWindows: coalescing windows and merged statistics kept in Redis, so that several processes
coalesce ``CAMPAIGN_PROGRESS`` and ``STATS_UPDATE`` as one process does.

With one process the Coalescer keeps, per (type, room), when it last sent and the value it holds. With
several, each would keep its own and a campaign pushed through two processes would go out up to twice
per interval, and statistics pushed to A and to B would be two sets. So with the Redis broker the
state lives in Redis, and the Coalescer of each process asks it (one script per update, from the
Coalescer's own greenlet; no other actor waits on Redis for it):

- **Leading edge**: ``SET window NX PX interval``. The node that sets it sends the update at once and
  owns the window; it also deletes any value still held from an earlier window (the new one supersedes it).
- **Held**: while the window is open, an update from any node replaces the held value (``held`` key).
- **Trailing edge**: the owner's timer fires just after the window's end; if a value is held (and no other
  node has opened a window since), it takes it, opens the next window under a new token, and sends it.
  So at most one update per interval leaves the cluster for each (type, room), and the last one always
  does, unless the owner dies inside its window (the held value then waits for the next update, which
  leads, or expires with the key).
- **Statistics**: a stats room's figures are a Redis hash (one field per figure, its JSON), merged by the
  same script that opens or holds the window; what is sent is always the whole merged hash as it stands
  when sent, so a push on A and a push on B give one set, whichever process sends it.

Keys (under the prefix, ``{room}`` a hash tag): ``cw:{room}:TYPE`` the window (TTL the interval),
``ch:{room}:TYPE`` the held value (TTL a few intervals), ``st:{room}`` the figures (TTL ``REDIS_META_TTL``).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from ..errors import Unavailable

OFFER_SCRIPT = """
if ARGV[4] ~= '' then
  for i = 6, #ARGV, 2 do
    redis.call('hset', KEYS[3], ARGV[i], ARGV[i + 1])
  end
  redis.call('pexpire', KEYS[3], ARGV[4])
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('del', KEYS[2])
  if ARGV[4] ~= '' then
    return {1, 0, redis.call('hgetall', KEYS[3])}
  end
  return {1, 0, ARGV[3]}
end
local replaced = redis.call('exists', KEYS[2])
redis.call('set', KEYS[2], ARGV[3], 'PX', ARGV[5])
if ARGV[4] ~= '' then
  return {0, replaced, redis.call('hgetall', KEYS[3])}
end
return {0, replaced}
"""
"""KEYS: window, held, figures. ARGV: token, interval ms, the value's JSON, the figures' TTL ms ('' when this is
not a statistics update), the held value's TTL ms, then figure/JSON pairs to merge. Returns {led, replaced a held
value, what to send (the value, or the merged figures as a flat list)}."""

FLUSH_SCRIPT = """
local current = redis.call('get', KEYS[1])
if current and current ~= ARGV[1] then
  return {0}
end
local held = redis.call('get', KEYS[2])
if not held then
  return {0}
end
redis.call('del', KEYS[2])
redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
if ARGV[4] == '1' then
  return {1, redis.call('hgetall', KEYS[3])}
end
return {1, held}
"""
"""KEYS: window, held, figures. ARGV: the token of the window this node opened, the next window's token,
interval ms, '1' for statistics. Returns {0} when there is nothing to send (nothing held, or another node
has opened a window since and flushes it), else {1, the value or the merged figures}."""

FLUSH_MARGIN = 0.002
"""Seconds after a window's end that its owner flushes: Redis has expired the window key by then, so no
update can be held in a window nobody will flush."""


@dataclass(frozen=True, slots=True)
class Offered:
    """What Redis said about one update: send it now (``lead``) or it is held; what to send if led."""

    lead: bool
    replaced: bool
    """A held value (of this or another node) was replaced: counted as coalesced."""
    value: dict[str, Any] | None
    """To send now (led), or for statistics the merged figures as they stand (held too)."""
    token: str | None
    """The window this node opened (led): its flush names it."""


class SharedWindows:
    """The cluster's coalescing windows and statistics in Redis; every call is one script (may raise Unavailable)."""

    def __init__(self, client: Any, prefix: str, node_id: str, interval: float, figures_ttl: float) -> None:
        self._prefix = prefix
        self._node_id = node_id
        self._interval_ms = max(1, int(interval * 1000))
        self._held_ms = max(10_000, 4 * self._interval_ms)
        self._figures_ms = max(1, int(figures_ttl * 1000))
        self._offer = client.register_script(OFFER_SCRIPT)
        self._flush = client.register_script(FLUSH_SCRIPT)
        self._tokens = itertools.count(1)

    @property
    def interval(self) -> float:
        return self._interval_ms / 1000

    def keys(self, room: str, type_: str) -> list[str]:
        prefix = self._prefix
        return [f"{prefix}cw:{{{room}}}:{type_}", f"{prefix}ch:{{{room}}}:{type_}", f"{prefix}st:{{{room}}}"]

    def offer(self, room: str, type_: str, data: dict[str, Any], *, merge: bool) -> Offered:
        """An update: sent at once if it opens a window, else held. ``merge``: ``data`` are figures to merge."""
        token = f"{self._node_id}:{next(self._tokens)}"
        pairs: list[str] = []
        if merge:
            for name, value in data.items():
                pairs += [name, json.dumps(value)]
        args = [token, self._interval_ms, "" if merge else json.dumps(data),
                self._figures_ms if merge else "", self._held_ms, *pairs]
        try:
            answer = self._offer(keys=self.keys(room, type_), args=args)
        except Exception as exc:  # noqa: BLE001 (any Redis failure: not stored, so refused)
            raise Unavailable(f"coalescing needs Redis, which is unavailable: {exc}") from None
        led, replaced = bool(answer[0]), bool(answer[1])
        value = None
        if len(answer) > 2:
            value = _figures(answer[2]) if merge else json.loads(answer[2])
        return Offered(led, replaced, value, token if led else None)

    def flush(self, room: str, type_: str, token: str, *, merge: bool) -> tuple[dict[str, Any] | None, str | None]:
        """The end of a window this node opened: the held value to send (and the next window's token), or None."""
        following = f"{self._node_id}:{next(self._tokens)}"
        try:
            answer = self._flush(keys=self.keys(room, type_),
                                 args=[token, following, self._interval_ms, "1" if merge else "0"])
        except Exception as exc:  # noqa: BLE001
            raise Unavailable(f"coalescing needs Redis, which is unavailable: {exc}") from None
        if not answer[0]:
            return None, None
        return (_figures(answer[1]) if merge else json.loads(answer[1])), following


def _figures(flat: list[bytes]) -> dict[str, Any]:
    """HGETALL's flat answer (name, JSON, name, JSON, ...) as the figures."""
    return {flat[i].decode(): json.loads(flat[i + 1]) for i in range(0, len(flat), 2)}
