"""RoomActor on the Redis broker: its own events come back through PUB/SUB and are fanned out then, publishes
waiting behind one are numbered together, and an event that never comes back is read from the stream.

The room is a real RoomActor on a real RedisBroker (the test Redis, keys under the test's own prefix); the
broker's receiver tells the room what the hub would (``Deliver``, ``CheckPosition``).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gevent.queue
import pykka
import pytest

from actors.config import Settings
from actors.errors import Unavailable
from actors.rooms.actor_messages import CheckPosition, Deliver, Join, Leave, Publish
from actors.rooms.broker import Checkpoint, Publication
from actors.rooms.brokers import open_broker
from actors.rooms.redis_broker import RedisBroker
from actors.rooms.room_actor import GAPS, RoomActor
from actors.runtime.context import ActorContext
from actors.runtime.reply import Failure, Reply
from tests.actors.parts import Inbox, Member, make_ctx, stop_actors
from tests.conftest import wait_until

pytestmark = pytest.mark.redis

ROOM = "lead:on-redis"


@dataclass
class RedisRoom:
    ctx: ActorContext
    broker: RedisBroker
    ref: pykka.ActorRef[Any]

    def publish(self, n: int) -> Reply:
        reply = Reply()
        self.ref.tell(Publish(ROOM, "LEAD_UPDATED", {"leadId": "1", "n": n}, reply))
        return reply

    def join(self, member: Member) -> dict[str, Any]:
        self.ref.tell(Join(ROOM, member.connection_id, member.outlet))
        answer = member.peer.json()
        assert answer["type"] == "SUBSCRIBED", answer
        return answer["data"]  # type: ignore[no-any-return]


@pytest.fixture
def redis_room(redis_url: str, redis_prefix: str) -> Iterator[Callable[..., RedisRoom]]:
    """``redis_room(subscribed=True, **settings)``: a RoomActor on a RedisBroker, started as the hub starts one."""
    made: list[RedisRoom] = []

    def start(subscribed: bool = True, url: str | None = None, **overrides: Any) -> RedisRoom:
        ctx = make_ctx(**overrides)
        ctx.hub = Inbox.start(ctx, gevent.queue.Queue(), "hub")
        broker = open_broker(Settings(redis_url=url or redis_url, redis_prefix=redis_prefix, **overrides))
        assert isinstance(broker, RedisBroker)
        refs: list[pykka.ActorRef[Any]] = []

        def receive(item: Publication | Checkpoint) -> None:  # what the hub does with them
            if refs:
                refs[0].tell(Deliver(item) if isinstance(item, Publication) else CheckPosition(item.room, item.position))

        broker.start(receive)
        assert wait_until(lambda: broker.echoes), "the PUB/SUB listener did not connect"
        if subscribed:
            broker.subscribe(ROOM)
        refs.append(RoomActor.start(ctx, ROOM, broker, start=broker.position(ROOM)))
        made.append(RedisRoom(ctx, broker, refs[0]))
        return made[-1]

    yield start
    for room in made:
        stop_actors(room.ctx)
        room.broker.close()


def test_own_events_are_fanned_out_when_they_come_back_and_answered_then(redis_room, members):
    room = redis_room()
    member = members(room.ctx)
    room.join(member)
    before = GAPS.snapshot()
    answers = [room.publish(n).get(timeout=3) for n in (1, 2, 3)]
    assert [(a["offset"], a["delivered"]) for a in answers] == [(1, 1), (2, 1), (3, 1)]
    assert [member.peer.json()["offset"] for _ in range(3)] == [1, 2, 3]
    assert member.peer.silent(0.2)  # each once: the echo is the delivery, not a second copy
    assert GAPS.snapshot() == before  # nothing refilled, nothing dropped as a duplicate


def test_publishes_waiting_behind_one_are_numbered_in_one_round_trip_and_reach_a_socket_together(redis_room, members):
    room = redis_room()
    member = members(room.ctx)
    room.join(member)
    writes, trips = room.ctx.metrics.writes_out, room.broker.publish_round_trips
    replies = [room.publish(n) for n in range(1, 21)]  # all in the mailbox before the room runs
    answers = [reply.get(timeout=3) for reply in replies]
    assert [a["offset"] for a in answers] == list(range(1, 21))  # numbered in the order told
    assert room.broker.publish_round_trips - trips == 1  # one pipelined round trip for the 20, not 20
    assert room.broker.describe()["published"] == 20
    assert [member.peer.json()["data"]["n"] for _ in range(20)] == list(range(1, 21))
    assert room.ctx.metrics.writes_out - writes <= 4  # and they came back together: a few writes, not 20


def test_an_own_event_that_never_comes_back_is_read_from_the_stream_and_answered(redis_room, members):
    room = redis_room(subscribed=False, redis_echo_wait=0.3)  # nobody listens on its channel: no echo
    member = members(room.ctx)
    room.join(member)
    started = time.monotonic()
    answer = room.publish(1).get(timeout=3)
    waited = time.monotonic() - started
    assert (answer["offset"], answer["delivered"]) == (1, 1)
    assert 0.25 <= waited < 2.0, waited  # after REDIS_ECHO_WAIT, not before
    got = member.peer.json()
    assert (got["offset"], got["data"]["n"]) == (1, 1)
    assert room.publish(2).get(timeout=3)["offset"] == 2
    assert member.peer.json()["offset"] == 2 and member.peer.silent(0.1)


def test_a_publish_put_aside_alone_that_redis_does_not_take_is_answered_unavailable(redis_room, private_redis):
    """A publish put aside (more mail behind it, but no other publish) and numbered alone when its note
    comes up: when Redis does not answer, its caller gets Unavailable within REDIS_TIMEOUT, not silence."""
    room = redis_room(url=private_redis.url, redis_timeout=0.3, redis_probe_interval=5)
    assert private_redis.process is not None
    os.kill(private_redis.process.pid, signal.SIGSTOP)  # commands time out; the listener still looks connected
    assert room.broker.echoes
    reply = room.publish(1)
    room.ref.tell(Leave(ROOM, "nobody"))  # mail behind the publish: the room puts it aside
    started = time.monotonic()
    answer = reply.get(timeout=3)
    assert isinstance(answer, Failure) and isinstance(answer.error, Unavailable), answer
    assert time.monotonic() - started < 2.0


def test_own_events_of_two_epochs_at_the_same_offset_are_each_answered(redis_room, members, redis_url, redis_prefix):
    """Redis lost the room (a restart without persistence) while an own event had not come back: the next
    publish starts a new epoch at offset 1 again, and both publishes are answered, neither replaces the other."""
    import redis

    room = redis_room(subscribed=False, redis_echo_wait=0.3)  # no echo: both wait for the catch-up
    first = room.publish(1)
    gevent.sleep(0.05)
    client = redis.Redis.from_url(redis_url)
    client.delete(*(f"{redis_prefix}{kind}:{{{ROOM}}}" for kind in ("m", "s", "l")))
    second = room.publish(2)
    answers = [first.get(timeout=3), second.get(timeout=3)]
    assert [a["offset"] for a in answers] == [1, 1] and answers[0]["epoch"] != answers[1]["epoch"], answers
