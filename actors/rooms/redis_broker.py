"""RedisBroker: one numbering and history per room for every process that shares a Redis.

Chosen by ``REDIS_URL`` (or ``BROKER_URL=redis://…``). The design is centrifuge's Redis broker:

- **One Lua script per publish** (``PUBLISH_SCRIPT``): the room's meta hash holds its epoch (a new one
  when the hash is missing, which also clears a stale stream) and its top offset; the script increments
  the offset, appends the event to the room's stream with the offset as the entry id (trimmed to
  ``HISTORY_SIZE``, the key expiring ``HISTORY_SECONDS`` after the last event), keeps superseding types
  in the room's latest-values hash, and ``PUBLISH``es the event with its position to the room's channel.
  Redis runs a script alone, so numbering is atomic across processes and every subscriber receives a
  room's events in offset order.
- **History** is read from the stream by a second script (``READ_SCRIPT``) that returns the meta and
  the entries together, so a recovery never mixes two moments. Entries older than ``HISTORY_SECONDS``
  (by Redis's clock) count as gone; the answer is all events after a position or none, as with memory.
- **Delivery**: every process's events of a room, the publisher's own included, arrive through
  ``RedisListener`` in the order the script numbered them and go to the receiver (the hub's
  ``Deliver``): while the listener is connected (``echoes``) a room fans out its own events when they
  come back, in that one order, rather than from the script's answer, which may overtake another
  process's event still on its way (a refill from the stream each time; measured: 185 refills for 1,000
  events from two publishers). The room keeps the last position it fanned out: a duplicate is dropped,
  a gap (the listener was away) is refilled from ``history``.
- **Keys** (all under ``REDIS_PREFIX``; ``{room}`` is a hash tag, so one room's keys share a Redis
  Cluster slot): ``m:{room}`` meta (TTL ``REDIS_META_TTL``), ``s:{room}`` stream (bounded, TTL
  ``HISTORY_SECONDS``), ``l:{room}`` latest values (TTL ``REDIS_META_TTL``); channel ``c:{room}``.

Every Redis failure in a call surfaces as ``Unavailable`` (503): a publish that was not stored is
refused, never acknowledged; nothing is buffered.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

import gevent
import gevent.queue

from ..errors import ConfigError, Unavailable
from ..protocol.frames import dumps, utc_now_iso
from ..protocol.positions import Since
from ..transport.framing import text_frame
from .broker import Checkpoint, Draft, HistoryAnswer, Publication, Receiver
from .memory_broker import new_epoch
from .redis_listener import RedisListener

log = logging.getLogger("realtime.redis")

PUBLISH_SCRIPT = """
local epoch = redis.call('hget', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[7]
  redis.call('del', KEYS[2], KEYS[3])
  redis.call('hset', KEYS[1], 'e', epoch, 's', 0)
end
local offset = redis.call('hincrby', KEYS[1], 's', 1)
redis.call('expire', KEYS[1], ARGV[5])
local now = redis.call('time')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local text = ARGV[1] .. epoch .. '","offset":' .. offset .. ARGV[2]
redis.call('xadd', KEYS[2], 'MAXLEN', ARGV[3], offset .. '-0', 't', string.format('%d', ms), 'y', ARGV[9], 'j', text)
redis.call('pexpire', KEYS[2], ARGV[4])
if ARGV[10] == '1' then
  redis.call('hset', KEYS[3], ARGV[9], text)
  redis.call('expire', KEYS[3], ARGV[5])
end
redis.call('publish', ARGV[6], ARGV[8] .. ' ' .. ARGV[9] .. ' ' .. epoch .. ' ' .. offset .. ' ' .. text)
return {epoch, offset}
"""
"""KEYS: meta, stream, latest. ARGV: JSON head (up to the epoch), JSON tail (after the offset), history size,
history ms, meta TTL s, channel, epoch if new, node id, type, superseding ('1'/'0')."""

READ_SCRIPT = """
local epoch = redis.call('hget', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[2]
  redis.call('del', KEYS[2], KEYS[3])
  redis.call('hset', KEYS[1], 'e', epoch, 's', 0)
end
local top = tonumber(redis.call('hget', KEYS[1], 's') or '0')
if top == 0 then
  redis.call('expire', KEYS[1], ARGV[5])
else
  redis.call('expire', KEYS[1], ARGV[3])
end
local now = redis.call('time')
local ms = string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
local since = tonumber(ARGV[1])
local entries = {}
if since >= 0 and since < top and (ARGV[4] == '' or ARGV[4] == epoch) then
  entries = redis.call('xrange', KEYS[2], (since + 1) .. '-0', '+')
end
return {epoch, top, ms, entries}
"""
"""KEYS: meta, stream, latest. ARGV: since offset (-1: the position only), epoch if new, meta TTL s, the epoch
the caller names ('' for any), TTL s of the meta of a room without events. Returns epoch, top offset, Redis's
clock in ms, the stream entries after since.

Asking a room's position creates its epoch (every process must tell its subscribers the same one), but a
room that never carries an event (most user rooms) keeps it only ``HISTORY_SECONDS`` after the last
asking: 10,000 users connecting leave no keys behind. Should it expire under subscribers, the next event
starts a new epoch from offset 1, which a room that fanned nothing out follows without loss."""


def _redis_module() -> Any:
    try:
        import redis
    except ImportError:
        raise ConfigError("REDIS_URL needs the redis client: pip install 'realtime-server[redis]' "
                          "(redis-py and hiredis)") from None
    return redis


def safe_url(url: str) -> str:
    """The URL without its password, for logs and GET /api/ws."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@", 1)
    return url


class RedisBroker:
    """Implements ``Broker`` over Redis; see the module docstring for the keys and the scripts."""

    def __init__(self, url: str, *, prefix: str, history_size: int, history_seconds: float, meta_ttl: float,
                 timeout: float, max_connections: int, probe_interval: float, reconnect_max: float) -> None:
        redis = _redis_module()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = url
        self.node_id = os.urandom(6).hex()
        """This process among the nodes; the PUB/SUB echo of its own publications carries it."""
        self._prefix = prefix
        self._history_size = history_size
        self._history_ms = max(1, int(history_seconds * 1000))
        self._meta_ttl = max(1, int(meta_ttl))
        self._empty_ttl = max(1, int(history_seconds))
        self._timeout = timeout
        # one retry, on a fresh connection, when a pooled one turns out dead (Redis restarted): only for
        # ConnectionError, never a timeout, after which the script may have run and a retry would number twice
        self.pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout, socket_timeout=timeout,
            socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            health_check_interval=0)
        self.client = redis.Redis(connection_pool=self.pool)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._no_script: type[Exception] = redis.exceptions.NoScriptError
        self._response_error: type[Exception] = redis.ResponseError
        self._connection_error: type[Exception] = redis.ConnectionError
        self._lane: gevent.queue.LifoQueue[Any] = gevent.queue.LifoQueue()
        """Connections for publishing (None: one may be opened), at most ``max_connections``; see ``_round_trip``."""
        for _ in range(max_connections):
            self._lane.put(None)
        self._publish = self.client.register_script(PUBLISH_SCRIPT)
        self._read = self.client.register_script(READ_SCRIPT)
        self._receive: Receiver | None = None
        self._channel_prefix = f"{prefix}c:".encode()
        self._listener = RedisListener(self._pubsub_connection, self._message, self._resubscribed,
                                       probe_interval=probe_interval, reconnect_max=reconnect_max,
                                       subscribe_timeout=max(timeout, 1.0))
        self._resyncs: set[gevent.Greenlet] = set()
        self._controls: dict[bytes, Callable[[bytes], None]] = {}
        """Channels that carry no room (the nodes' requests and answers, ``listen``) and who takes their messages."""
        self.checkpoints = 0
        self.published = 0
        """Events numbered by this process, and the round trips that carried them (``GET /api/ws``)."""
        self.publish_round_trips = 0

    # --- Broker ----------------------------------------------------------------------------------

    def start(self, receive: Receiver) -> None:
        self._receive = receive
        self._listener.start()

    def close(self) -> None:
        self._listener.close()
        for greenlet in list(self._resyncs):
            greenlet.kill(block=True, timeout=2)
        self._resyncs.clear()
        self.pool.disconnect()
        while not self._lane.empty():
            conn = self._lane.get()
            if conn is not None:
                conn.disconnect()

    def subscribe(self, room: str) -> None:
        self._listener.subscribe(self._channel(room))

    def unsubscribe(self, room: str) -> None:
        self._listener.unsubscribe(self._channel(room))

    def listen(self, channel: str, handle: Callable[[bytes], None]) -> None:
        """Hand every message of ``channel`` (a name outside the rooms', under the prefix) to ``handle``.

        For the nodes' own requests and answers (``actors/cluster``), on this process's one PUB/SUB
        connection. ``handle`` runs on the listener's greenlet: it must not wait for anything.
        """
        name = f"{self._prefix}{channel}".encode()
        assert not name.startswith(self._channel_prefix), f"{channel!r} would read as a room's channel"
        self._controls[name] = handle
        self._listener.subscribe(name)

    def position(self, room: str) -> Since:
        epoch, top, _, _ = self._read_room(room, -1, "")
        return Since(epoch, top)

    def publish(self, room: str, type_: str, data: Mapping[str, Any], *, superseding: bool) -> Publication:
        done = self.publish_many(room, [(type_, data, superseding)])[0]
        if isinstance(done, Exception):
            raise done
        return done

    def publish_many(self, room: str, drafts: Sequence[Draft]) -> list[Publication | Exception]:
        """One ``EVALSHA`` of the publish script per event, pipelined: one round trip for the lot.

        Redis runs the scripts one after another in the order sent, so the events are numbered in the
        order given (another process's may fall between them). The script is loaded when Redis does
        not know it (it restarted): none of the pipeline ran then, and the whole of it is sent again.
        """
        keys, channel, timestamp = self._keys(room), self._channel(room), dumps(utc_now_iso())
        parts: list[tuple[str, str] | Exception] = []
        for type_, data, _ in drafts:
            try:  # an event that cannot be encoded takes no offset; the others are published all the same
                parts.append((f'{{"type":{dumps(type_)},"room":{dumps(room)},"epoch":"',
                              f',"data":{dumps(data)},"timestamp":{timestamp}}}'))
            except ValueError as exc:
                parts.append(exc)
        commands = [("EVALSHA", self._publish.sha, 3, *keys, part[0], part[1], self._history_size, self._history_ms,
                     self._meta_ttl, channel, new_epoch(), self.node_id, type_, "1" if superseding else "0")
                    for (type_, _, superseding), part in zip(drafts, parts, strict=True) if isinstance(part, tuple)]
        try:
            answers = self._round_trip(commands) if commands else []
            if answers and all(isinstance(answer, self._no_script) for answer in answers):
                self.client.script_load(PUBLISH_SCRIPT)  # Redis restarted: none of them ran
                answers = self._round_trip(commands)
        except self._errors as exc:
            raise self._unavailable(exc) from None
        published: list[Publication | Exception] = []
        taken = iter(answers)
        for (type_, _, _), part in zip(drafts, parts, strict=True):
            if isinstance(part, Exception):
                published.append(part)
                continue
            answer = next(taken)
            if isinstance(answer, Exception):
                published.append(self._unavailable(answer))
                continue
            self.published += 1
            epoch, offset = answer[0].decode(), int(answer[1])
            published.append(Publication(room, type_, epoch, offset,
                                         text_frame(f'{part[0]}{epoch}","offset":{offset}{part[1]}')))
        return published

    def _round_trip(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send ``commands`` together on one connection and read every answer (an error answer as its exception).

        The publishing path's own connections, not redis-py's pool and pipeline: on this machine a
        pooled ``PING`` cost 66 µs of CPU and the same on a connection of its own 34 µs (the pool's
        bookkeeping, its check that the connection has nothing to read, the retry wrapper), half of
        a publish's cost in Redis's client. As with the pool, a connection found broken is replaced
        and the commands sent once more (a restarted Redis), but never after a timeout, after which
        they may have run.
        """
        self.publish_round_trips += 1
        for attempt in (1, 2):
            try:
                conn = self._lane.get(timeout=self._timeout)
            except gevent.queue.Empty:
                raise self._connection_error(f"no Redis connection free within {self._timeout}s") from None
            try:
                if conn is None:
                    conn = self.pool.connection_class(**self.pool.connection_kwargs)
                conn.send_packed_command(conn.pack_commands(commands), check_health=False)
                answers: list[Any] = []
                for _ in commands:
                    try:
                        answers.append(conn.read_response())
                    except self._response_error as exc:
                        answers.append(exc)
            except BaseException as exc:
                if conn is not None:
                    conn.disconnect()
                self._lane.put(None)
                if attempt == 1 and isinstance(exc, self._connection_error):
                    continue
                raise
            self._lane.put(conn)
            return answers
        raise AssertionError("unreachable")

    def history(self, room: str, since: Since | None) -> HistoryAnswer:
        epoch, top, now_ms, entries = self._read_room(room, 0 if since is None else since.offset,
                                                      "" if since is None else since.epoch)
        position = Since(epoch, top)
        horizon = now_ms - self._history_ms
        held = tuple(self._entry(room, epoch, entry) for entry in entries if int(entry[1][1]) >= horizon)
        if since is None:
            complete = top == 0 or (bool(held) and held[0].offset == 1)
            return HistoryAnswer(position, held, complete)
        if since.epoch != epoch or since.offset > top:
            return HistoryAnswer(position, (), False)
        if since.offset == top:
            return HistoryAnswer(position, (), True)
        if not held or held[0].offset > since.offset + 1:
            return HistoryAnswer(position, (), False)
        return HistoryAnswer(position, held, True)

    def latest(self, room: str) -> tuple[Publication, ...]:
        try:
            values = self.client.hgetall(self._keys(room)[2])
        except self._errors as exc:
            raise self._unavailable(exc) from None
        found = []
        for type_, text in values.items():
            head = json.loads(text)
            found.append(Publication(room, type_.decode(), head["epoch"], head["offset"], text_frame(text.decode())))
        return tuple(sorted(found, key=lambda publication: publication.offset))

    def describe(self) -> dict[str, Any]:
        return {"kind": "redis", "url": safe_url(self.url), "prefix": self._prefix, "node": self.node_id,
                "checkpoints": self.checkpoints, "published": self.published,
                "publishRoundTrips": self.publish_round_trips, **self._listener.describe()}

    @property
    def echoes(self) -> bool:
        """Own publications come back through the listener while it is connected (see the module docstring)."""
        return self._listener.connected

    @property
    def connected(self) -> bool:
        """The PUB/SUB connection is up (events of other processes reach this one)."""
        return self._listener.connected

    # --- internals -------------------------------------------------------------------------------

    def _keys(self, room: str) -> list[str]:
        prefix = self._prefix
        return [f"{prefix}m:{{{room}}}", f"{prefix}s:{{{room}}}", f"{prefix}l:{{{room}}}"]

    def _channel(self, room: str) -> bytes:
        return self._channel_prefix + room.encode()

    def _read_room(self, room: str, since: int, epoch: str) -> tuple[str, int, int, list[Any]]:
        try:
            epoch_bytes, top, now_ms, entries = self._read(keys=self._keys(room),
                                                           args=[since, new_epoch(), self._meta_ttl, epoch,
                                                                 self._empty_ttl])
        except self._errors as exc:
            raise self._unavailable(exc) from None
        return epoch_bytes.decode(), int(top), int(now_ms), entries

    @staticmethod
    def _entry(room: str, epoch: str, entry: Any) -> Publication:
        """A stream entry ``[id, [t, ms, y, type, j, json]]`` as a Publication."""
        entry_id, fields = entry
        return Publication(room, fields[3].decode(), epoch, int(entry_id.split(b"-", 1)[0]),
                           text_frame(fields[5].decode()))

    def _unavailable(self, exc: Exception) -> Unavailable:
        return Unavailable(f"the broker (Redis at {safe_url(self.url)}) is unavailable: {exc}")

    def _pubsub_connection(self, read_timeout: float) -> Any:
        kwargs = {**self.pool.connection_kwargs, "socket_timeout": read_timeout,
                  "client_name": f"{self._prefix}pubsub:{self.node_id}"}  # CLIENT LIST names whose it is
        return self.pool.connection_class(**kwargs)

    def _message(self, channel: bytes, payload: bytes) -> None:
        """A PUB/SUB message: ``node type epoch offset json``, ours included (the room fans those out now)."""
        control = self._controls.get(channel)
        if control is not None:
            control(payload)
            return
        _node, type_, epoch, offset, text = payload.split(b" ", 4)
        if self._receive is None:
            return
        room = channel[len(self._channel_prefix):].decode()
        self._receive(Publication(room, type_.decode(), epoch.decode(), int(offset), text_frame(text.decode())))

    def _resubscribed(self) -> None:
        """The listener subscribed everything again: checkpoint every room (off the listener's greenlet)."""
        greenlet = gevent.spawn(self._checkpoint_all)
        self._resyncs.add(greenlet)
        greenlet.link(self._resyncs.discard)

    def _checkpoint_all(self) -> None:
        rooms = [channel[len(self._channel_prefix):].decode() for channel in self._listener.wanted()
                 if channel.startswith(self._channel_prefix)]
        for start in range(0, len(rooms), 200):
            batch = rooms[start:start + 200]
            try:
                with self.client.pipeline(transaction=False) as pipe:
                    for room in batch:
                        self._read(keys=self._keys(room), args=[-1, new_epoch(), self._meta_ttl, "", self._empty_ttl],
                                   client=pipe)
                    answers = pipe.execute()
            except self._errors as exc:
                log.warning("checkpointing %d rooms after a reconnect failed: %s", len(batch), exc)
                return  # the listener's next session checkpoints again
            for room, (epoch, top, _, _) in zip(batch, answers, strict=True):
                self.checkpoints += 1
                if self._receive is not None:
                    self._receive(Checkpoint(room, Since(epoch.decode(), int(top))))
