"""RedisPresenceShare: each node's viewers and typers of a room, held in Redis under the node's heartbeat.

A node writes only its own part of a room: the field named by its node id in the room's hash
(``p:{room}``), holding the users viewing the room through this node and the ones typing in it, with
a number that grows with every write (``seq``). The same write is published on the room's presence
channel (``pc:{room}``), so the nodes that follow the room apply it at once; one that starts following
subscribes first and then reads the hash, and the numbers tell a stale message from a fresh one.

**No ghosts.** Nothing here expires a node's entries on a short TTL: an entry is valid while its
node's heartbeat is (``actors/cluster/nodes.py``: a node missing three heartbeats is gone). Every node
watches the list of live nodes, and the entries of a node that left it are dropped from every view
at once: a node killed with ``kill -9`` has its users leave within three heartbeats, however long the
TTL. The TTL (``PRESENCE_TTL``, refreshed at a third of it) only bounds the garbage of nodes that died
while nobody followed their rooms.

Writes are batched by the PresenceActor: one pipeline per ``PRESENCE_INTERVAL`` for every room whose
local viewers or typers changed (``HSET``/``HDEL``, ``PEXPIRE``, ``PUBLISH`` per room). The share has
its own PUB/SUB connection (a ``RedisListener``), so presence traffic never queues behind room events,
and its reconnects end in a ``Resync`` (every followed room read again).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import gevent
import pykka

from ..config import Settings
from ..rooms.redis_broker import RedisBroker
from ..rooms.redis_listener import RedisListener
from .actor_messages import LiveNodes, NodeState, Resync

log = logging.getLogger("realtime.presence")

State = tuple[int, tuple[str, ...], tuple[str, ...]]
"""One node's part of a room: (seq, viewers, typers)."""

TYPING_STOP_MARK_MS = 60_000
"""How long the mark that one survivor has told a dead node's typer's stop is kept (the others skip it)."""


class RedisPresenceShare:
    """This node's side of presence in Redis: writes its parts, follows rooms, watches the live nodes."""

    def __init__(self, broker: RedisBroker, settings: Settings, live_nodes: Callable[[], Iterable[str]]) -> None:
        import redis

        self._client = broker.client
        self._pool = broker.pool
        self.node_id = broker.node_id
        self._prefix = settings.redis_prefix
        self._ttl_ms = max(1, int(settings.presence_ttl * 1000))
        self._watch_every = max(0.1, settings.node_heartbeat / 2)
        self._live_nodes = live_nodes
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._listener = RedisListener(self._connect, self._message, self._resubscribed,
                                       probe_interval=settings.redis_probe_interval,
                                       reconnect_max=settings.redis_reconnect_max,
                                       subscribe_timeout=max(settings.redis_timeout, 1.0))
        self._channel_prefix = f"{self._prefix}pc:".encode()
        self._actor: pykka.ActorRef[Any] | None = None
        self._watcher: gevent.Greenlet | None = None
        self._seq = 0
        self.commands = 0
        """Redis commands sent for presence by this node (writes, reads, subscriptions): ``GET /api/ws``."""
        self.failures = 0

    # --- life ------------------------------------------------------------------------------------

    def start(self, actor: pykka.ActorRef[Any]) -> None:
        self._actor = actor
        self._listener.start()
        self._watcher = gevent.spawn(self._watch)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.kill(block=True, timeout=2)
            self._watcher = None
        self._listener.close()

    # --- the actor's calls -----------------------------------------------------------------------

    def follow(self, room: str) -> dict[str, State]:
        """Hear the room's writes from now on, then read every node's part (one that fails reads as none:
        the listener's next session ends in a Resync)."""
        self.commands += 1
        self._listener.subscribe(self._channel(room))
        return self.load([room]).get(room, {})

    def unfollow(self, room: str) -> None:
        self.commands += 1
        self._listener.unsubscribe(self._channel(room))

    def load(self, rooms: list[str]) -> dict[str, dict[str, State]]:
        """Every node's part of each room (this node's own left out), read in one pipeline."""
        if not rooms:
            return {}
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for room in rooms:
                    pipe.hgetall(self._key(room))
                answers = pipe.execute()
        except self._errors as exc:
            self.failures += 1
            log.warning("reading the presence of %d rooms failed: %s", len(rooms), exc)
            return {}
        self.commands += len(rooms)
        parts: dict[str, dict[str, State]] = {}
        for room, fields in zip(rooms, answers, strict=True):
            found: dict[str, State] = {}
            for node, value in fields.items():
                name = node.decode()
                if name != self.node_id:
                    state = self._parse(value)
                    if state is not None:
                        found[name] = state
            parts[room] = found
        return parts

    def write(self, parts: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]) -> bool:
        """Write this node's part of each room (an empty part removes it) and publish it; False when Redis failed
        (the caller writes the same rooms again next time: a part is the whole state, never a diff)."""
        if not parts:
            return True
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for room, (users, typing) in parts.items():
                    self._seq += 1
                    text = json.dumps({"u": list(users), "t": list(typing)}, separators=(",", ":"))
                    key = self._key(room)
                    if users or typing:
                        pipe.hset(key, self.node_id, f"{self._seq} {text}")
                        pipe.pexpire(key, self._ttl_ms)
                    else:
                        pipe.hdel(key, self.node_id)
                    pipe.publish(self._channel(room), f"{self.node_id} {self._seq} {text}")
                pipe.execute()
        except self._errors as exc:
            self.failures += 1
            log.warning("writing the presence of %d rooms failed (retried at the next interval): %s", len(parts), exc)
            return False
        self.commands += sum(3 if users or typing else 2 for users, typing in parts.values())
        return True

    def refresh(self, rooms: list[str]) -> None:
        """Push back the TTL of the rooms this node has a part in (their parts change only when viewers do)."""
        if not rooms:
            return
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for room in rooms:
                    pipe.pexpire(self._key(room), self._ttl_ms)
                pipe.execute()
            self.commands += len(rooms)
        except self._errors as exc:
            self.failures += 1
            log.warning("refreshing the presence of %d rooms failed: %s", len(rooms), exc)

    def first_to_stop(self, room: str, user: str, node: str) -> bool:
        """True for exactly one survivor: it tells the room that a dead node's typer stopped."""
        try:
            self.commands += 1
            return bool(self._client.set(f"{self._prefix}pt:{{{room}}}:{user}:{node}", 1, nx=True,
                                         px=TYPING_STOP_MARK_MS))
        except self._errors:
            return False

    def describe(self) -> dict[str, Any]:
        return {"node": self.node_id, "commands": self.commands, "failures": self.failures,
                "channels": self._listener.channels, "connected": self._listener.connected}

    # --- internals -------------------------------------------------------------------------------

    def _key(self, room: str) -> str:
        return f"{self._prefix}p:{{{room}}}"

    def _channel(self, room: str) -> bytes:
        return self._channel_prefix + room.encode()

    @staticmethod
    def _parse(value: bytes) -> State | None:
        try:
            seq, text = value.split(b" ", 1)
            part = json.loads(text)
            return int(seq), tuple(str(u) for u in part.get("u", ())), tuple(str(u) for u in part.get("t", ()))
        except (ValueError, AttributeError, TypeError):
            return None

    def _connect(self, read_timeout: float) -> Any:
        kwargs = {**self._pool.connection_kwargs, "socket_timeout": read_timeout,
                  "client_name": f"{self._prefix}presence:{self.node_id}"}
        return self._pool.connection_class(**kwargs)

    def _message(self, channel: bytes, payload: bytes) -> None:
        """On the listener's greenlet: only a tell."""
        try:
            node, seq, text = payload.split(b" ", 2)
            part = json.loads(text)
            users = tuple(str(u) for u in part.get("u", ()))
            typing = tuple(str(u) for u in part.get("t", ()))
            state = NodeState(channel[len(self._channel_prefix):].decode(), node.decode(), int(seq), users, typing)
        except (ValueError, AttributeError, TypeError) as exc:  # another deployment's garbage: skip it
            log.warning("ignoring a malformed presence message: %s", exc)
            return
        if state.node != self.node_id:
            self._tell(state)

    def _resubscribed(self) -> None:
        self._tell(Resync())

    def _watch(self) -> None:
        """Every half heartbeat: which nodes are alive (a failed read decides nothing)."""
        while True:
            gevent.sleep(self._watch_every)
            try:
                nodes = frozenset(self._live_nodes())
            except Exception as exc:  # noqa: BLE001 (Redis down: nobody is declared dead for it)
                log.debug("reading the live nodes failed: %s", exc)
                continue
            self._tell(LiveNodes(nodes))

    def _tell(self, message: object) -> None:
        actor = self._actor
        if actor is None:
            return
        try:
            actor.tell(message)
        except pykka.ActorDeadError:
            pass
