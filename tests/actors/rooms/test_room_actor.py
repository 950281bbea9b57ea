"""RoomActor: a real room on a MemoryBroker; its hub is an Inbox actor, its members Outlets over socket pairs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gevent.queue
import pykka
import pytest

from actors.protocol.positions import Since
from actors.rooms.actor_messages import CheckPosition, Deliver, History, Join, Joined, Leave, Publish, Retire, RoomIdle
from actors.rooms.memory_broker import MemoryBroker
from actors.rooms.room_actor import RoomActor
from actors.runtime.context import ActorContext
from actors.runtime.reply import Reply
from actors.transport.framing import frame_payload
from tests.actors.parts import Inbox, Member, make_ctx, next_of, stop_actors
from tests.conftest import wait_until

ROOM = "campaign:7"


@dataclass
class RunningRoom:
    ctx: ActorContext
    broker: MemoryBroker
    ref: pykka.ActorRef[Any]
    hub_inbox: gevent.queue.Queue[Any]
    """What the room told its hub (RoomIdle)."""
    name: str

    def publish(self, n: int = 0, type_: str = "CAMPAIGN_STARTED", **data: Any) -> dict[str, Any]:
        return self.ref.ask(Publish(self.name, type_, {"campaignId": "7", "n": n, **data}), timeout=2)  # type: ignore[no-any-return]

    def join(self, member: Member, since: Since | None = None, frame_id: Any = None) -> dict[str, Any]:
        self.ref.tell(Join(self.name, member.connection_id, member.outlet, since, frame_id))
        answer = member.peer.json()
        assert answer["type"] == "SUBSCRIBED", answer
        return answer["data"]  # type: ignore[no-any-return]

    def history(self, since: int | None, epoch: str | None) -> dict[str, Any]:
        reply = Reply()
        self.ref.tell(History(self.name, since, epoch, reply))
        return reply.get(timeout=2)  # type: ignore[no-any-return]


@pytest.fixture
def start_room() -> Iterator[Callable[..., RunningRoom]]:
    """``start_room(room, **settings)``: a RoomActor as the hub starts one (the broker subscribed first)."""
    started: list[RunningRoom] = []

    def start(room: str = ROOM, **overrides: Any) -> RunningRoom:
        ctx = make_ctx(**overrides)
        inbox: gevent.queue.Queue[Any] = gevent.queue.Queue()
        ctx.hub = Inbox.start(ctx, inbox, "hub")
        broker = MemoryBroker(ctx.settings.history_size, ctx.settings.history_seconds)
        broker.start(lambda publication: None)
        broker.subscribe(room)
        running = RunningRoom(ctx, broker, RoomActor.start(ctx, room, broker), inbox, room)
        started.append(running)
        return running

    yield start
    for running in started:
        stop_actors(running.ctx)
        running.broker.close()


def offset_of(frame) -> int:
    return json.loads(frame.payload)["offset"]  # type: ignore[no-any-return]


# --- joins and fan-out ---------------------------------------------------------------------------


def test_join_answers_subscribed_with_the_brokers_position(start_room, members):
    room = start_room()
    first = members(room.ctx, "c1")
    epoch = room.broker.position(ROOM).epoch
    assert room.join(first, frame_id="s") == {"room": ROOM, "epoch": epoch, "offset": 0, "ref": "s"}
    room.publish(1)
    room.publish(2)
    assert room.join(members(room.ctx, "c2")) == {"room": ROOM, "epoch": epoch, "offset": 2}


def test_publish_fans_out_the_brokers_frame_to_every_member_and_answers_the_position(start_room, members):
    room = start_room()
    crowd = [members(room.ctx, f"c{n}") for n in range(3)]
    for member in crowd:
        room.join(member)
    answer = room.publish(1)
    epoch = room.broker.position(ROOM).epoch
    assert answer == {"room": ROOM, "epoch": epoch, "offset": 1, "delivered": 3}
    [publication] = room.broker.history(ROOM, None).publications
    for member in crowd:
        assert member.peer.frame().raw == publication.frame
        assert member.peer.silent(0.01)
    reply = Reply()
    room.ref.tell(Publish(ROOM, "CAMPAIGN_STARTED", {"campaignId": "7"}, reply))  # a told publish answers too
    assert reply.get(timeout=2) == {"room": ROOM, "epoch": epoch, "offset": 2, "delivered": 3}
    counts = room.ctx.metrics.of("CAMPAIGN_STARTED")
    assert (counts.published, counts.delivered, counts.dropped) == (2, 6, 0)


def test_a_member_whose_socket_is_closing_is_not_counted_as_delivered(start_room, members):
    room = start_room()
    staying, leaving = members(room.ctx, "c1"), members(room.ctx, "c2")
    room.join(staying)
    room.join(leaving)
    leaving.outlet.close(1000)
    assert room.publish()["delivered"] == 1
    assert room.ctx.metrics.of("CAMPAIGN_STARTED").dropped == 1


def test_join_with_ack_to_answers_the_connection_not_the_socket(start_room, members):
    room = start_room()
    member, inbox = members(room.ctx), gevent.queue.Queue()
    connection = Inbox.start(room.ctx, inbox, "connection")
    room.ref.tell(Join(ROOM, member.connection_id, member.outlet, ack_to=connection))
    assert next_of(inbox, Joined) == Joined((ROOM,))
    assert member.peer.silent()
    assert room.publish()["delivered"] == 1


def test_leave_answers_unsubscribed_once_and_ends_delivery(start_room, members):
    room = start_room()
    member = members(room.ctx)
    room.join(member)
    room.ref.tell(Leave(ROOM, member.connection_id, True, "u"))
    assert member.peer.json()["data"] == {"room": ROOM, "ref": "u"}
    room.ref.tell(Leave(ROOM, member.connection_id, True, "again"))  # not a member: nothing to answer on
    assert room.publish()["delivered"] == 0
    assert member.peer.silent()


# --- recovery ------------------------------------------------------------------------------------


def test_recovery_replays_exactly_the_missed_events_then_the_live_ones(start_room, members):
    room = start_room()
    for n in range(1, 6):
        room.publish(n)
    epoch = room.broker.position(ROOM).epoch
    frames = [p.frame for p in room.broker.history(ROOM, None).publications]
    member = members(room.ctx)
    assert room.join(member, Since(epoch, 2), "r") == {"room": ROOM, "epoch": epoch, "offset": 5, "recovered": True,
                                                        "ref": "r"}
    assert [member.peer.frame().raw for _ in range(3)] == frames[2:]
    assert member.peer.silent()
    room.publish(6)
    assert offset_of(member.peer.frame()) == 6


def test_since_the_current_position_is_recovered_with_nothing_to_replay(start_room, members):
    room = start_room()
    room.publish(1)
    member = members(room.ctx)
    assert room.join(member, room.broker.position(ROOM))["recovered"] is True
    assert member.peer.silent()


@pytest.mark.parametrize("case", ["another epoch", "past the end", "trimmed", "aged out"])
def test_a_position_that_cannot_be_recovered_answers_recovered_false_and_replays_nothing(start_room, members, case):
    room = start_room(history_size=2, history_seconds=0.05 if case == "aged out" else 300)
    for n in range(1, 4):
        room.publish(n)
    epoch = room.broker.position(ROOM).epoch
    since = {"another epoch": Since("another", 2), "past the end": Since(epoch, 4),
             "trimmed": Since(epoch, 0), "aged out": Since(epoch, 2)}[case]
    if case == "aged out":
        time.sleep(0.08)
    member = members(room.ctx)
    assert room.join(member, since) == {"room": ROOM, "epoch": epoch, "offset": 3, "recovered": False}
    assert member.peer.silent()  # not one event: a partial replay must never look like a recovery


def test_resubscribing_while_a_member_replays_only_the_gap_before_it_joined(start_room, members):
    room = start_room()
    room.publish(1)
    room.publish(2)
    epoch = room.broker.position(ROOM).epoch
    member = members(room.ctx)
    room.join(member)  # at offset 2
    room.publish(3)
    assert offset_of(member.peer.frame()) == 3  # sent live
    assert room.join(member, Since(epoch, 1))["recovered"] is True
    assert offset_of(member.peer.frame()) == 2  # the gap only: 3 is not sent twice
    assert member.peer.silent()


# --- latest superseding values -------------------------------------------------------------------


def test_a_new_subscriber_gets_the_latest_superseding_value_right_after_subscribed(start_room, members):
    room = start_room()
    room.publish(1, "CAMPAIGN_PROGRESS", sent=1)
    room.publish(2, "CAMPAIGN_STARTED")
    newest = room.publish(3, "CAMPAIGN_PROGRESS", sent=2)
    member = members(room.ctx)
    assert room.join(member)["offset"] == 3
    latest = member.peer.json()
    assert latest["type"] == "CAMPAIGN_PROGRESS" and latest["offset"] == newest["offset"] == 3
    assert member.peer.silent()
    # a position that cannot be recovered gets the latest values too, after recovered: false
    other = members(room.ctx, "c2")
    assert room.join(other, Since("another", 1))["recovered"] is False
    assert other.peer.json()["offset"] == 3


def test_the_latest_values_of_several_types_come_in_offset_order(start_room, members):
    """The browser client drops an event whose offset is not above the last one it took (``accept``)."""
    room = start_room("stats:dashboard")
    room.publish(1, "STATS_UPDATE")
    room.publish(2, "CAMPAIGN_PROGRESS", sent=1)
    room.publish(3, "STATS_UPDATE")
    member = members(room.ctx)
    room.join(member)
    got = [offset_of(member.peer.frame()) for _ in range(2)]
    assert got == [2, 3], f"latest values out of order: {got}"


# --- events numbered elsewhere -------------------------------------------------------------------


def test_deliver_fans_out_the_publication_as_it_is_and_numbers_nothing(start_room, members):
    room = start_room()
    one, two = members(room.ctx, "c1"), members(room.ctx, "c2")
    room.join(one)
    room.join(two)
    elsewhere = MemoryBroker(10, 300)
    publication = elsewhere.publish(ROOM, "CAMPAIGN_STARTED", {"campaignId": "7", "n": 1}, superseding=False)
    room.ref.tell(Deliver(publication))  # nothing fanned out here yet: the room follows that numbering
    assert one.peer.frame().raw == two.peer.frame().raw == publication.frame  # as it was numbered elsewhere
    assert room.broker.position(ROOM).offset == 0 and room.broker.history(ROOM, None).publications == ()
    assert room.ctx.metrics.of("CAMPAIGN_STARTED").delivered == 2


# --- order across processes: gaps, duplicates, checkpoints ---------------------------------------
# The room's own broker plays the shared one: events published into it directly are what other
# processes published; the room hears of them only through Deliver or a checkpoint.


def publish_elsewhere(room: RunningRoom, n: int):
    return room.broker.publish(ROOM, "CAMPAIGN_STARTED", {"campaignId": "7", "n": n}, superseding=False)


def test_a_gap_is_refilled_from_the_history_in_order_before_the_event_that_showed_it(start_room, members):
    room = start_room()
    member = members(room.ctx)
    room.join(member)
    missed = [publish_elsewhere(room, n) for n in (1, 2)]
    third = publish_elsewhere(room, 3)
    room.ref.tell(Deliver(third))  # 1 and 2 never came (a PUB/SUB connection was down)
    assert [member.peer.frame().raw for _ in range(3)] == [p.frame for p in (*missed, third)]
    for publication in (*missed, third):
        room.ref.tell(Deliver(publication))  # late echoes: duplicates
    assert member.peer.silent()


def test_an_own_publish_that_overtakes_a_delivery_refills_it_first(start_room, members):
    """Another process numbered 1; this room numbers 2 before the Deliver of 1 arrives."""
    room = start_room()
    member = members(room.ctx)
    room.join(member)
    other = publish_elsewhere(room, 1)
    answer = room.publish(2)
    assert answer["offset"] == 2 and answer["delivered"] == 1
    assert [offset_of(member.peer.frame()) for _ in range(2)] == [1, 2]
    room.ref.tell(Deliver(other))
    assert member.peer.silent()


def test_a_checkpoint_refills_what_was_missed_and_nothing_else(start_room, members):
    room = start_room()
    member = members(room.ctx)
    room.join(member)
    room.publish(1)
    assert offset_of(member.peer.frame()) == 1
    publish_elsewhere(room, 2)
    publish_elsewhere(room, 3)
    room.ref.tell(CheckPosition(ROOM, room.broker.position(ROOM)))
    assert [offset_of(member.peer.frame()) for _ in range(2)] == [2, 3]
    room.ref.tell(CheckPosition(ROOM, room.broker.position(ROOM)))  # nothing new: nothing sent
    assert member.peer.silent()


def test_a_gap_the_history_no_longer_holds_closes_every_member_with_4010(start_room, members):
    room = start_room(history_size=2)
    crowd = [members(room.ctx, f"c{n}") for n in range(2)]
    for member in crowd:
        room.join(member)
    for n in range(1, 5):
        publish_elsewhere(room, n)  # 1 and 2 are trimmed away
    room.ref.tell(CheckPosition(ROOM, room.broker.position(ROOM)))
    assert [member.peer.frame().close_code for member in crowd] == [4010, 4010]
    late = members(room.ctx, "late")  # the room goes on from where it stands now
    assert room.join(late)["offset"] == 4


def test_another_epoch_after_events_were_fanned_out_closes_members_with_4010(start_room, members):
    room = start_room()
    member = members(room.ctx)
    room.join(member)
    room.publish(1)
    member.peer.frame()
    room.ref.tell(CheckPosition(ROOM, Since("0123456789ab", 0)))  # Redis came back empty: a new epoch
    assert member.peer.frame().close_code == 4010


# --- REST history --------------------------------------------------------------------------------


def test_history_answers_the_events_after_since_as_json(start_room):
    room = start_room()
    for n in (1, 2, 3):
        room.publish(n)
    epoch = room.broker.position(ROOM).epoch
    everything = room.history(None, None)
    assert {k: everything[k] for k in ("room", "epoch", "offset", "recovered")} == {
        "room": ROOM, "epoch": epoch, "offset": 3, "recovered": True}
    frames = [json.loads(frame_payload(p.frame)) for p in room.broker.history(ROOM, None).publications]
    assert everything["events"] == frames
    assert [e["data"]["n"] for e in room.history(1, epoch)["events"]] == [2, 3]
    assert [e["offset"] for e in room.history(1, None)["events"]] == [2, 3]  # no epoch: the current one
    assert room.history(1, "another") == {"room": ROOM, "epoch": epoch, "offset": 3, "recovered": False, "events": []}
    assert room.history(None, "another") == {"room": ROOM, "epoch": epoch, "offset": 3, "recovered": False,
                                             "events": []}


def test_history_of_everything_once_trimmed_shows_what_is_held_as_not_recovered(start_room):
    room = start_room(history_size=2)
    for n in (1, 2, 3):
        room.publish(n)
    answer = room.history(None, None)
    assert answer["recovered"] is False and [e["offset"] for e in answer["events"]] == [2, 3]
    assert room.history(0, None)["events"] == []  # after a position: never in part


# --- idleness ------------------------------------------------------------------------------------


def test_an_empty_room_tells_the_hub_it_is_idle_after_the_idle_period(start_room):
    started = time.monotonic()
    room = start_room(room_idle_seconds=0.1)
    idle = next_of(room.hub_inbox, RoomIdle)
    assert idle == RoomIdle(ROOM, 0) and time.monotonic() - started >= 0.1


def test_a_member_keeps_the_room_from_idling_and_leaving_rearms_it(start_room, members):
    room = start_room(room_idle_seconds=0.1)
    member = members(room.ctx)
    room.join(member)
    time.sleep(0.15)
    assert room.hub_inbox.empty()
    room.ref.tell(Leave(ROOM, member.connection_id))
    assert next_of(room.hub_inbox, RoomIdle) == RoomIdle(ROOM, 2)  # it saw the join and the leave


def test_a_pinned_room_never_idles(start_room):
    room = start_room("stats:dashboard", room_idle_seconds=0.05)
    time.sleep(0.15)
    assert room.hub_inbox.empty()
    assert room.ref.is_alive()


def test_retire_stops_the_room(start_room):
    room = start_room()
    room.ref.tell(Retire())
    assert wait_until(lambda: not room.ref.is_alive())
    assert "room" not in [actor["kind"] for actor in room.ctx.tracer.actors()]
