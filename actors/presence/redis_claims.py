"""RedisClaims: the cluster's claims in Redis, each change one Lua script, so one holder even when nodes race.

Keys (under ``REDIS_PREFIX``; ``{claims}`` is a hash tag, so both share a Redis Cluster slot): the hash
``{claims}:all`` (room -> the claim as JSON) and the sorted set ``{claims}:due`` (room -> when it ends
unless renewed, in ms). ``TAKE`` reads the holder and writes the claimant in one script: of two nodes
claiming a free room at the same instant, Redis runs one script first and the other sees its holder.
``EXPIRE`` removes what is due and returns it, so a claim past its time is handed to one sweeper only.
Times are Redis-agnostic wall-clock milliseconds from the nodes (keep their clocks in step, as for JWTs).
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import Unavailable
from .claim_store import Claim, Taken

TAKE = """
local cur = redis.call('hget', KEYS[1], ARGV[1])
if cur and ARGV[6] ~= '1' then
  local due = tonumber(redis.call('zscore', KEYS[2], ARGV[1]) or '0')
  if due > tonumber(ARGV[4]) and cjson.decode(cur)['by'] ~= ARGV[3] then
    return {0, cur}
  end
end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
redis.call('zadd', KEYS[2], ARGV[5], ARGV[1])
return {1, cur or ''}
"""
"""KEYS: all, due. ARGV: room, the claim's JSON, its holder, now (ms), due (ms), force ('1'/'0')."""

RELEASE = """
local cur = redis.call('hget', KEYS[1], ARGV[1])
if not cur then
  return {0, ''}
end
if ARGV[2] ~= '' and cjson.decode(cur)['by'] ~= ARGV[2] then
  return {0, cur}
end
redis.call('hdel', KEYS[1], ARGV[1])
redis.call('zrem', KEYS[2], ARGV[1])
return {1, cur}
"""
"""KEYS: all, due. ARGV: room, the holder it must be ('' for whoever holds it)."""

RENEW = """
local renewed = 0
for i = 2, #ARGV, 2 do
  local cur = redis.call('hget', KEYS[1], ARGV[i])
  if cur then
    local claim = cjson.decode(cur)
    if claim['by'] == ARGV[i + 1] then
      local due = math.min(tonumber(ARGV[1]), math.floor(claim['until'] * 1000))
      local old = tonumber(redis.call('zscore', KEYS[2], ARGV[i]) or '0')
      if due > old then
        redis.call('zadd', KEYS[2], due, ARGV[i])
      end
      renewed = renewed + 1
    end
  end
end
return renewed
"""
"""KEYS: all, due. ARGV: due (ms), then room and holder pairs."""

EXPIRE = """
local due = redis.call('zrangebyscore', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local ended = {}
for _, room in ipairs(due) do
  local cur = redis.call('hget', KEYS[1], room)
  redis.call('zrem', KEYS[2], room)
  if cur then
    redis.call('hdel', KEYS[1], room)
    table.insert(ended, cur)
  end
end
return ended
"""
"""KEYS: all, due. ARGV: now (ms), how many at most."""

EXPIRE_BATCH = 500
RENEW_BATCH = 500


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class RedisClaims:
    """Implements ``ClaimStore`` over Redis; see the module docstring."""

    def __init__(self, client: Any, prefix: str) -> None:
        import redis

        self._client = client
        self._keys = [f"{prefix}{{claims}}:all", f"{prefix}{{claims}}:due"]
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._take = client.register_script(TAKE)
        self._release = client.register_script(RELEASE)
        self._renew = client.register_script(RENEW)
        self._expire = client.register_script(EXPIRE)

    def take(self, claim: Claim, due: float, now: float, force: bool) -> Taken:
        text = json.dumps(claim.to_json())
        try:
            won, held = self._take(keys=self._keys, args=[claim.room, text, claim.by, _ms(now),
                                                          _ms(min(due, claim.until)), "1" if force else "0"])
        except self._errors as exc:
            raise Unavailable(f"claims are unavailable (Redis): {exc}") from None
        previous = Claim.from_json(json.loads(held)) if held else None
        if int(won):
            return Taken(True, claim, previous)
        assert previous is not None
        return Taken(False, previous, previous)

    def release(self, room: str, user: str | None) -> tuple[bool, Claim | None]:
        try:
            ended, held = self._release(keys=self._keys, args=[room, user or ""])
        except self._errors as exc:
            raise Unavailable(f"claims are unavailable (Redis): {exc}") from None
        return bool(int(ended)), Claim.from_json(json.loads(held)) if held else None

    def get(self, room: str, now: float) -> Claim | None:
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.hget(self._keys[0], room)
                pipe.zscore(self._keys[1], room)
                held, due = pipe.execute()
        except self._errors as exc:
            raise Unavailable(f"claims are unavailable (Redis): {exc}") from None
        if held is None or due is None or due <= _ms(now):
            return None
        return Claim.from_json(json.loads(held))

    def holders(self) -> dict[str, str]:
        try:
            everything = self._client.hgetall(self._keys[0])
        except self._errors as exc:
            raise Unavailable(f"claims are unavailable (Redis): {exc}") from None
        return {room.decode(): str(json.loads(text)["by"]) for room, text in everything.items()}

    def renew(self, held: list[tuple[str, str]], due: float) -> None:
        for start in range(0, len(held), RENEW_BATCH):
            args: list[Any] = [_ms(due)]
            for room, user in held[start:start + RENEW_BATCH]:
                args += [room, user]
            try:
                self._renew(keys=self._keys, args=args)
            except self._errors as exc:
                raise Unavailable(f"claims are unavailable (Redis): {exc}") from None

    def expire_due(self, now: float) -> list[Claim]:
        try:
            ended = self._expire(keys=self._keys, args=[_ms(now), EXPIRE_BATCH])
        except self._errors as exc:
            raise Unavailable(f"claims are unavailable (Redis): {exc}") from None
        return [Claim.from_json(json.loads(text)) for text in ended]
