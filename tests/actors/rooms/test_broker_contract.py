"""The Broker contract: what every broker must do, whichever process or store numbers the rooms.

Every test here but the last section runs once per entry of ``BROKER_FACTORIES``: a new broker is one
more line there. Rooms are named afresh per test, so a broker backed by a shared server (Redis) gets
no interference between tests. Expectations that belong to one broker only are at the end, marked.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gevent
import pytest

from actors.config import Settings
from actors.protocol.frames import utc_now_iso
from actors.protocol.positions import Since
from actors.rooms.broker import Broker, HistoryAnswer, Publication
from actors.rooms.brokers import open_broker
from actors.rooms.memory_broker import MemoryBroker
from actors.transport.framing import OP_TEXT, frame_payload

BrokerFactory = Callable[[int, float], Broker]


def by_url(url: str, **settings: Any) -> BrokerFactory:
    """A broker as the server opens it (``open_broker``), with the given history bounds."""
    return lambda history_size, history_seconds: open_broker(
        Settings(broker_url=url, history_size=history_size, history_seconds=history_seconds, **settings))


REDIS = "redis"
"""The Redis broker's entry: its factory needs the ``redis_url`` fixture and a key prefix of the test's own,
shared by every broker the test opens (they play processes sharing one Redis)."""

BROKER_FACTORIES = [
    pytest.param(by_url("memory://"), id="memory"),
    pytest.param(REDIS, id="redis", marks=pytest.mark.redis),
]


@dataclass
class Brokers:
    """Opens brokers of one kind for a test; every one is closed afterwards."""

    factory: BrokerFactory
    received: list[Publication] = field(default_factory=list)
    """What the brokers handed to their receiver: events published by another process (and, when a broker
    ``echoes``, its own)."""
    opened: list[Broker] = field(default_factory=list)

    def open(self, history_size: int = 100, history_seconds: float = 300.0) -> Broker:
        broker = self.factory(history_size, history_seconds)
        broker.start(self.received.append)
        self.opened.append(broker)
        return broker


@pytest.fixture(params=BROKER_FACTORIES)
def brokers(request: Any) -> Iterator[Brokers]:
    factory = request.param
    if factory == REDIS:
        factory = by_url(request.getfixturevalue("redis_url"), redis_prefix=request.getfixturevalue("redis_prefix"))
    made = Brokers(factory)
    yield made
    for broker in made.opened:
        broker.close()


@pytest.fixture
def broker(brokers: Brokers) -> Broker:
    return brokers.open()


@pytest.fixture
def room() -> str:
    return f"lead:{uuid.uuid4().hex[:16]}"


def publish(broker: Broker, room: str, n: int, type_: str = "LEAD_UPDATED", superseding: bool = False) -> Publication:
    return broker.publish(room, type_, {"leadId": "9", "n": n}, superseding=superseding)


def offsets(answer: HistoryAnswer) -> list[int]:
    return [p.offset for p in answer.publications]


def refused(answer: HistoryAnswer) -> bool:
    """Not recoverable, and nothing handed out: a partial replay must never look like a recovery."""
    return answer.complete is False and answer.publications == ()


# --- numbering -----------------------------------------------------------------------------------


def test_publish_numbers_1_2_3_in_one_epoch_and_returns_the_frame_every_member_gets(broker, room):
    broker.subscribe(room)
    before = utc_now_iso()
    published = [broker.publish(room, "LEAD_UPDATED", {"leadId": "9", "n": n, "name": "Zoë"}, superseding=False)
                 for n in (1, 2, 3)]
    assert [p.offset for p in published] == [1, 2, 3]
    assert len({p.epoch for p in published}) == 1 and isinstance(published[0].epoch, str) and published[0].epoch
    for n, publication in enumerate(published, start=1):
        assert (publication.room, publication.type) == (room, "LEAD_UPDATED")
        assert publication.frame[0] == 0x80 | OP_TEXT  # one whole, unmasked text frame
        body = json.loads(frame_payload(publication.frame).decode("utf-8"))
        assert body["type"] == "LEAD_UPDATED" and body["room"] == room
        assert (body["epoch"], body["offset"]) == (publication.epoch, publication.offset)
        assert body["data"] == {"leadId": "9", "n": n, "name": "Zoë"}
        assert body["timestamp"] >= before


def test_position_is_the_epoch_and_the_last_offset(broker, room):
    broker.subscribe(room)
    start = broker.position(room)
    assert isinstance(start, Since) and start.offset == 0 and start.epoch
    first = publish(broker, room, 1)
    assert first.epoch == start.epoch  # what a subscriber was told before the first event stays true
    publish(broker, room, 2)
    assert broker.position(room) == Since(start.epoch, 2)


def test_rooms_are_numbered_apart(broker, room):
    other = f"contact:{uuid.uuid4().hex[:16]}"
    broker.subscribe(room)
    broker.subscribe(other)
    publish(broker, room, 1)
    publish(broker, room, 2)
    assert broker.publish(other, "CONTACT_UPDATED", {"contactId": "1"}, superseding=False).offset == 1
    assert broker.position(room).offset == 2 and broker.position(other).offset == 1


def test_own_publications_come_back_to_the_receiver_in_order_exactly_when_the_broker_echoes(brokers, room):
    """A broker that ``echoes`` hands its own events back in the room's order, frame for frame, as anyone
    else's (the room fans them out then); one that does not never hands them back (the room fanned them
    out from ``publish``'s answer, and a copy would be a duplicate)."""
    broker = brokers.open()
    broker.subscribe(room)
    deadline = time.monotonic() + 5
    while isinstance(broker, MemoryBroker) is broker.echoes and time.monotonic() < deadline:
        gevent.sleep(0.01)  # a network broker echoes once its listener is connected; memory never does
    published = [publish(broker, room, n) for n in (1, 2, 3)]
    gevent.sleep(0.2)  # time for a network broker's echoes
    back = [p for p in brokers.received if isinstance(p, Publication)]  # checkpoints may come too
    assert back == ([] if isinstance(broker, MemoryBroker) else published)


# --- history after a position --------------------------------------------------------------------


def test_history_since_returns_every_later_event_in_order(broker, room):
    broker.subscribe(room)
    published = [publish(broker, room, n) for n in range(1, 6)]
    epoch = published[0].epoch
    for since in range(0, 5):
        answer = broker.history(room, Since(epoch, since))
        assert answer.complete is True
        assert offsets(answer) == list(range(since + 1, 6))
        assert [p.frame for p in answer.publications] == [p.frame for p in published[since:]]
        assert answer.position == Since(epoch, 5)


def test_since_the_current_position_is_complete_and_empty(broker, room):
    broker.subscribe(room)
    assert broker.history(room, broker.position(room)) == HistoryAnswer(broker.position(room), (), True)
    publish(broker, room, 1)
    publish(broker, room, 2)
    answer = broker.history(room, broker.position(room))
    assert answer.complete is True and answer.publications == ()


def test_another_epoch_is_refused(broker, room):
    broker.subscribe(room)
    publish(broker, room, 1)
    publish(broker, room, 2)
    other = "not-" + broker.position(room).epoch
    assert refused(broker.history(room, Since(other, 0)))
    assert refused(broker.history(room, Since(other, 1)))


def test_an_offset_past_the_end_is_refused(broker, room):
    broker.subscribe(room)
    publish(broker, room, 1)
    epoch = broker.position(room).epoch
    answer = broker.history(room, Since(epoch, 2))
    assert refused(answer) and answer.position == Since(epoch, 1)


def test_events_trimmed_by_history_size_are_refused_never_replayed_in_part(brokers, room):
    broker = brokers.open(history_size=3)
    broker.subscribe(room)
    for n in range(1, 6):  # 1 and 2 are trimmed; 3, 4, 5 are held
        publish(broker, room, n)
    epoch = broker.position(room).epoch
    assert refused(broker.history(room, Since(epoch, 0)))
    assert refused(broker.history(room, Since(epoch, 1)))  # 2 is gone
    assert offsets(broker.history(room, Since(epoch, 2))) == [3, 4, 5]  # the oldest held follows at once
    assert broker.history(room, Since(epoch, 2)).complete is True


def test_events_aged_out_by_history_seconds_are_refused(brokers, room):
    broker = brokers.open(history_seconds=0.05)
    broker.subscribe(room)
    publish(broker, room, 1)
    publish(broker, room, 2)
    time.sleep(0.08)
    epoch = broker.position(room).epoch
    assert refused(broker.history(room, Since(epoch, 0)))  # everything aged out
    assert broker.history(room, Since(epoch, 2)).complete is True  # nothing was missed
    publish(broker, room, 3)
    assert refused(broker.history(room, Since(epoch, 1)))  # 2 aged out, 3 is held: still never in part
    assert offsets(broker.history(room, Since(epoch, 2))) == [3]


# --- history(None): everything held --------------------------------------------------------------


def test_history_of_none_is_complete_for_a_room_without_events(broker, room):
    broker.subscribe(room)
    answer = broker.history(room, None)
    assert answer == HistoryAnswer(broker.position(room), (), True)


def test_history_of_none_is_every_event_from_offset_1(broker, room):
    broker.subscribe(room)
    published = [publish(broker, room, n) for n in range(1, 4)]
    answer = broker.history(room, None)
    assert answer.complete is True and answer.publications == tuple(published)
    assert answer.position == Since(published[0].epoch, 3)


def test_history_of_none_hands_out_what_is_held_but_not_as_complete_once_trimmed(brokers, room):
    broker = brokers.open(history_size=2)
    broker.subscribe(room)
    for n in range(1, 5):
        publish(broker, room, n)
    answer = broker.history(room, None)
    assert answer.complete is False  # offsets 1 and 2 are gone
    assert offsets(answer) == [3, 4]  # every held one, in order (the REST history shows them, not recovered)


def test_history_of_none_once_everything_aged_out(brokers, room):
    broker = brokers.open(history_seconds=0.05)
    broker.subscribe(room)
    publish(broker, room, 1)
    time.sleep(0.08)
    answer = broker.history(room, None)
    assert answer.complete is False and answer.publications == () and answer.position.offset == 1


# --- latest superseding values -------------------------------------------------------------------


def test_latest_keeps_the_newest_superseding_event_per_type(broker, room):
    broker.subscribe(room)
    assert broker.latest(room) == ()
    publish(broker, room, 1, "STATS_UPDATE", superseding=True)
    publish(broker, room, 2, "LEAD_UPDATED")  # not superseding: never a latest value
    newest = publish(broker, room, 3, "STATS_UPDATE", superseding=True)
    assert broker.latest(room) == (newest,)


def test_latest_follows_the_flag_not_the_type_name(broker, room):
    broker.subscribe(room)
    publish(broker, room, 1, "STATS_UPDATE", superseding=False)
    assert broker.latest(room) == ()


def test_latest_is_one_per_type_oldest_first(broker, room):
    """A client drops an event whose offset is not above the last it took (``RoomPositions.accept``), so
    the latest values a new subscriber gets must come in offset order or all but the newest are lost."""
    broker.subscribe(room)
    publish(broker, room, 1, "STATS_UPDATE", superseding=True)
    progress = publish(broker, room, 2, "CAMPAIGN_PROGRESS", superseding=True)
    stats = publish(broker, room, 3, "STATS_UPDATE", superseding=True)
    latest = broker.latest(room)
    assert {p.type: p for p in latest} == {"STATS_UPDATE": stats, "CAMPAIGN_PROGRESS": progress}
    assert [p.offset for p in latest] == [2, 3], f"latest not oldest first: {[(p.type, p.offset) for p in latest]}"


def test_latest_outlives_the_history_bound(brokers, room):
    """A statistics value published long ago still fills a new subscriber's widget."""
    broker = brokers.open(history_size=1)
    broker.subscribe(room)
    stats = publish(broker, room, 1, "STATS_UPDATE", superseding=True)
    publish(broker, room, 2)
    publish(broker, room, 3)
    assert offsets(broker.history(room, None)) == [3]
    assert broker.latest(room) == (stats,)


def test_latest_of_a_room_never_seen_is_empty(broker):
    assert broker.latest(f"lead:{uuid.uuid4().hex[:16]}") == ()


# --- describe ------------------------------------------------------------------------------------


def test_describe_names_the_broker_and_is_json(broker, room):
    broker.subscribe(room)
    description = broker.describe()
    assert isinstance(description.get("kind"), str) and description["kind"]
    assert json.loads(json.dumps(description)) == description  # GET /api/ws shows it as it is


# --- MemoryBroker only ---------------------------------------------------------------------------
# A room's log lives while this process holds the room: forgetting it is the only way a memory broker
# frees it, and the new epoch tells a resuming client that its position is gone. A broker shared by
# several processes keeps the numbering when one process lets go; these do not apply to it.


def test_memory_broker_forgets_an_unsubscribed_room_and_starts_a_new_epoch(room):
    broker = MemoryBroker(history_size=100, history_seconds=300)
    broker.start(lambda publication: None)
    broker.subscribe(room)
    old = publish(broker, room, 1)
    publish(broker, room, 2, "STATS_UPDATE", superseding=True)
    assert broker.describe() == {"kind": "memory", "rooms": 1}
    broker.unsubscribe(room)
    assert broker.describe() == {"kind": "memory", "rooms": 0}
    assert broker.latest(room) == ()
    broker.subscribe(room)
    fresh = broker.position(room)
    assert fresh.epoch != old.epoch and fresh.offset == 0
    assert refused(broker.history(room, Since(old.epoch, 1)))
    assert publish(broker, room, 1).offset == 1
    broker.close()
    assert broker.describe() == {"kind": "memory", "rooms": 0}


def test_memory_broker_counts_the_rooms_it_holds(room):
    broker = MemoryBroker(history_size=100, history_seconds=300)
    broker.start(lambda publication: None)
    broker.subscribe(room)
    broker.subscribe(room)
    broker.subscribe("user:1")
    assert broker.describe() == {"kind": "memory", "rooms": 2}
    broker.unsubscribe("user:1")
    broker.unsubscribe("user:1")  # twice: nothing to forget the second time
    assert broker.describe() == {"kind": "memory", "rooms": 1}
    broker.close()
