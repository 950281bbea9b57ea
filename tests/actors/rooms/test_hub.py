"""Hub: a real Hub on a MemoryBroker; members are Outlets over socket pairs, read as a client reads them."""

from __future__ import annotations

import time

import gevent.queue

from actors.protocol.positions import Since
from actors.rooms.actor_messages import (
    CloseConnection,
    ConnectedUsers,
    Deliver,
    History,
    Join,
    Joined,
    Leave,
    Publish,
    RegisterConnection,
    RoomIdle,
    Shutdown,
    Tick,
    UnregisterConnection,
)
from actors.rooms.memory_broker import MemoryBroker
from actors.runtime.reply import Reply
from actors.transport.framing import OP_PING
from tests.actors.parts import Inbox, identity, next_of
from tests.conftest import wait_until

ROOM = "lead:9"


def published(hub, room, n=0, type_="LEAD_UPDATED", data=None):
    reply = Reply()
    hub.hub.tell(Publish(room, type_, data or {"leadId": "9", "n": n}, reply))
    return reply.get(timeout=2)


def subscribed(member, hub, room=ROOM, since=None, ref=None):
    hub.hub.tell(Join(room, member.connection_id, member.outlet, since, ref))
    answer = member.peer.json()
    assert answer["type"] == "SUBSCRIBED", answer
    return answer["data"]


def register(hub, member, who, inbox):
    ref = Inbox.start(hub.ctx, inbox, f"inbox-{member.connection_id}")
    hub.hub.tell(RegisterConnection(member.connection_id, ref, member.outlet, who))
    return ref


# --- joins and fan-out ---------------------------------------------------------------------------


def test_a_join_is_answered_subscribed_with_the_brokers_position_and_starts_no_room_actor(start_hub, members):
    hub = start_hub()
    member = members(hub.ctx)
    answer = subscribed(member, hub, ref="s1")
    assert answer == {"room": ROOM, "epoch": hub.broker.position(ROOM).epoch, "offset": 0, "ref": "s1"}
    assert hub.status() == {"connections": 0, "rooms": 1, "roomActors": 0, "roomsCreated": 0}
    assert member.peer.silent()


def test_a_join_with_since_says_whether_this_incarnation_is_the_one_the_client_saw(start_hub, members):
    hub = start_hub()
    first, second = members(hub.ctx, "c1"), members(hub.ctx, "c2")
    epoch = subscribed(first, hub)["epoch"]
    assert subscribed(second, hub, since=Since(epoch, 0))["recovered"] is True
    assert subscribed(second, hub, since=Since("another", 0))["recovered"] is False


def test_publish_fans_out_one_frame_to_every_member_and_keeps_the_epoch_of_the_dormant_room(start_hub, members):
    hub = start_hub()
    one, two, elsewhere = members(hub.ctx, "c1"), members(hub.ctx, "c2"), members(hub.ctx, "c3")
    epoch = subscribed(one, hub)["epoch"]
    subscribed(two, hub)
    subscribed(elsewhere, hub, room="lead:10")
    answer = published(hub, ROOM, 1)
    assert answer == {"room": ROOM, "epoch": epoch, "offset": 1, "delivered": 2}
    [publication] = hub.broker.history(ROOM, None).publications
    assert one.peer.frame().raw == two.peer.frame().raw == publication.frame
    assert one.peer.silent() and two.peer.silent() and elsewhere.peer.silent()
    assert hub.status()["roomActors"] == 1
    assert published(hub, ROOM, 2)["offset"] == 2


def test_a_publish_to_a_room_without_members_is_numbered_and_delivered_to_none(start_hub):
    hub = start_hub()
    assert published(hub, "campaign:7") == {"room": "campaign:7", "epoch": hub.broker.position("campaign:7").epoch,
                                            "offset": 1, "delivered": 0}


def test_recovery_through_the_hub_replays_exactly_the_missed_events(start_hub, members):
    hub = start_hub()
    live, late = members(hub.ctx, "c1"), members(hub.ctx, "c2")
    epoch = subscribed(live, hub)["epoch"]
    frames = []
    for n in range(1, 6):
        published(hub, ROOM, n)
        frames.append(live.peer.frame().raw)
    answer = subscribed(late, hub, since=Since(epoch, 2), ref="r")
    assert answer == {"room": ROOM, "epoch": epoch, "offset": 5, "recovered": True, "ref": "r"}
    assert [late.peer.frame().raw for _ in range(3)] == frames[2:]
    assert late.peer.silent()
    gone = members(hub.ctx, "c3")
    assert subscribed(gone, hub, since=Since("another", 2))["recovered"] is False
    assert gone.peer.silent()  # nothing replayed


def test_deliver_fans_out_a_publication_of_another_process_without_renumbering_it(start_hub, members):
    hub = start_hub()
    member = members(hub.ctx)
    subscribed(member, hub)
    elsewhere = MemoryBroker(100, 300)  # the numbering of another process
    publications = [elsewhere.publish(ROOM, "LEAD_UPDATED", {"leadId": "9", "n": n}, superseding=False)
                    for n in range(1, 4)]
    for publication in publications:
        hub.hub.tell(Deliver(publication))
    # nothing was fanned out here in the room's first epoch: it follows the other numbering from its start
    assert [member.peer.frame().raw for _ in range(3)] == [p.frame for p in publications]
    assert hub.broker.position(ROOM).offset == 0  # not numbered here
    hub.hub.tell(Deliver(publications[1]))  # offset 2 again (a PUB/SUB echo after a refill): a duplicate
    assert member.peer.silent()


def test_a_gap_that_the_history_cannot_refill_closes_the_members_with_4010(start_hub, members):
    """Offset 3 after 1: the room asks its broker for 2, which this broker never held; it says so with
    4010 rather than skip 2 silently (a shared broker refills it: tests/cluster)."""
    hub = start_hub()
    member, other = members(hub.ctx, "c1"), members(hub.ctx, "c2")
    subscribed(member, hub)
    subscribed(other, hub)
    elsewhere = MemoryBroker(100, 300)
    first, _, third = (elsewhere.publish(ROOM, "LEAD_UPDATED", {"leadId": "9", "n": n}, superseding=False)
                       for n in range(1, 4))
    hub.hub.tell(Deliver(first))
    assert member.peer.frame().raw == first.frame and other.peer.frame().raw == first.frame
    hub.hub.tell(Deliver(third))
    assert member.peer.frame().close_code == 4010 and other.peer.frame().close_code == 4010


def test_deliver_for_a_room_without_members_here_starts_nothing(start_hub):
    hub = start_hub()
    elsewhere = MemoryBroker(100, 300)
    hub.hub.tell(Deliver(elsewhere.publish("lead:1", "LEAD_UPDATED", {"leadId": "1"}, superseding=False)))
    assert hub.status() == {"connections": 0, "rooms": 0, "roomActors": 0, "roomsCreated": 0}
    assert hub.broker.describe()["rooms"] == 0


def test_leave_answers_unsubscribed_and_ends_delivery(start_hub, members):
    hub = start_hub()
    member = members(hub.ctx)
    subscribed(member, hub)
    published(hub, ROOM)
    member.peer.frame()
    hub.hub.tell(Leave(ROOM, member.connection_id, True, "u"))
    answer = member.peer.json()
    assert answer["type"] == "UNSUBSCRIBED" and answer["data"] == {"room": ROOM, "ref": "u"}
    assert published(hub, ROOM)["delivered"] == 0
    assert member.peer.silent()


# --- connections ---------------------------------------------------------------------------------


def test_register_joins_the_home_rooms_and_answers_joined_once_for_the_dormant_ones(start_hub, members):
    hub = start_hub()
    published(hub, "role:EMPLOYEE")  # this home room already has an actor: it answers for itself
    member, inbox = members(hub.ctx), gevent.queue.Queue()
    register(hub, member, identity("42"), inbox)
    joined = {next_of(inbox, Joined).rooms, next_of(inbox, Joined).rooms}
    assert joined == {("user:42",), ("role:EMPLOYEE",)}
    assert member.peer.silent()  # no SUBSCRIBED for home rooms: the connection sends CONNECTED
    assert hub.status()["connections"] == 1
    assert hub.hub.ask(ConnectedUsers(("EMPLOYEE",)), timeout=2) == {"42": "EMPLOYEE"}
    assert hub.hub.ask(ConnectedUsers(("ADMIN",), ("42",)), timeout=2) == {"42": "EMPLOYEE"}
    assert hub.hub.ask(ConnectedUsers(("ADMIN",)), timeout=2) == {}
    assert published(hub, "user:42")["delivered"] == 1
    assert published(hub, "role:EMPLOYEE")["delivered"] == 1


def test_unregister_takes_the_connection_out_of_every_room(start_hub, members):
    hub = start_hub()
    member = members(hub.ctx)
    register(hub, member, identity("42"), gevent.queue.Queue())
    subscribed(member, hub)
    published(hub, ROOM)
    member.peer.frame()
    hub.hub.tell(UnregisterConnection(member.connection_id, ("user:42", "role:EMPLOYEE", ROOM)))
    assert published(hub, ROOM)["delivered"] == 0
    assert published(hub, "user:42")["delivered"] == 0
    assert hub.status()["connections"] == 0
    assert hub.hub.ask(ConnectedUsers(("EMPLOYEE",)), timeout=2) == {}


def test_a_tick_pings_every_member_and_cuts_the_silent_ones(start_hub, members):
    hub = start_hub()
    talking, silent = members(hub.ctx, "c1"), members(hub.ctx, "c2")
    register(hub, talking, identity("1"), gevent.queue.Queue())
    register(hub, silent, identity("2"), gevent.queue.Queue())
    silent.outlet.last_heard = time.monotonic() - hub.ctx.settings.heartbeat_timeout - 1
    assert hub.hub.ask(Tick(), timeout=2) == 1
    assert talking.peer.frame().opcode == OP_PING
    assert silent.peer.ended()  # cut: the TCP connection is shut down


def test_ticks_in_slices_ping_each_member_once_per_round(start_hub, members):
    hub = start_hub()
    crowd = [members(hub.ctx, f"c{n}") for n in range(8)]
    for n, member in enumerate(crowd):
        register(hub, member, identity(str(n)), gevent.queue.Queue())
    hub.hub.ask(Tick(0, 2), timeout=2)
    hub.hub.ask(Tick(1, 2), timeout=2)
    for member in crowd:
        assert member.peer.frame().opcode == OP_PING
        assert member.peer.silent(0.01)


def test_shutdown_closes_every_connection_and_retires_every_room(start_hub, members):
    hub = start_hub()
    member, inbox = members(hub.ctx), gevent.queue.Queue()
    register(hub, member, identity("42"), inbox)
    published(hub, ROOM)
    assert hub.hub.ask(Shutdown(1001), timeout=2) == 1
    assert next_of(inbox, CloseConnection) == CloseConnection(1001, "server shutting down")
    assert wait_until(lambda: [a["kind"] for a in hub.ctx.tracer.actors()].count("room") == 0)
    assert hub.status()["rooms"] == 0


# --- idle rooms ----------------------------------------------------------------------------------


def test_an_idle_room_retires_and_the_broker_forgets_it(start_hub, members):
    hub = start_hub(room_idle_seconds=0.1)
    member = members(hub.ctx)
    epoch = subscribed(member, hub)["epoch"]
    published(hub, ROOM)
    hub.hub.tell(Leave(ROOM, member.connection_id))
    assert hub.status()["roomActors"] == 1
    assert wait_until(lambda: hub.status()["roomActors"] == 0, timeout=2)
    assert wait_until(lambda: hub.ctx.tracer.count() == 1)  # the hub alone: the room actor stopped
    assert hub.broker.describe()["rooms"] == 0
    again = published(hub, ROOM)
    assert again["epoch"] != epoch and again["offset"] == 1  # a new incarnation


def test_a_room_that_got_a_member_back_does_not_retire(start_hub, members):
    hub = start_hub(room_idle_seconds=0.1)
    member = members(hub.ctx)
    epoch = subscribed(member, hub)["epoch"]
    published(hub, ROOM)
    member.peer.frame()
    hub.hub.tell(Leave(ROOM, member.connection_id))
    subscribed(member, hub)
    time.sleep(0.2)
    assert hub.status()["roomActors"] == 1
    assert published(hub, ROOM) == {"room": ROOM, "epoch": epoch, "offset": 2, "delivered": 1}


def test_a_late_room_idle_is_ignored_when_the_hub_has_forwarded_more_since(start_hub):
    hub = start_hub()
    published(hub, ROOM)
    hub.hub.tell(RoomIdle(ROOM, seen=0))  # the room counted none of the hub's messages: stale
    assert hub.status()["roomActors"] == 1
    hub.hub.tell(RoomIdle(ROOM, seen=1))  # every message the hub forwarded was seen: retire
    assert wait_until(lambda: hub.status()["roomActors"] == 0)


def test_an_empty_dormant_room_is_forgotten_by_the_first_round_after_the_idle_period(start_hub, members):
    hub = start_hub(room_idle_seconds=0.1)
    member = members(hub.ctx)
    epoch = subscribed(member, hub)["epoch"]
    hub.hub.tell(Leave(ROOM, member.connection_id))
    hub.hub.ask(Tick(), timeout=2)  # within the idle period: kept, with its epoch
    assert hub.broker.describe()["rooms"] == 1
    assert subscribed(member, hub)["epoch"] == epoch
    hub.hub.tell(Leave(ROOM, member.connection_id))
    time.sleep(0.15)
    hub.hub.ask(Tick(1, 2), timeout=2)  # not the first slice of a round: not now
    assert hub.broker.describe()["rooms"] == 1
    hub.hub.ask(Tick(0, 2), timeout=2)
    assert hub.broker.describe()["rooms"] == 0
    assert subscribed(member, hub)["epoch"] != epoch


# --- REST history --------------------------------------------------------------------------------


def test_history_of_a_room_not_held_here_is_answered_by_the_hub_without_starting_a_room(start_hub, members):
    hub = start_hub()
    reply = Reply()
    hub.hub.tell(History("lead:404", None, None, reply))
    assert reply.get(timeout=2) == {"room": "lead:404", "epoch": None, "offset": 0, "recovered": True, "events": []}
    member = members(hub.ctx)
    epoch = subscribed(member, hub)["epoch"]
    for since_epoch, recovered in ((epoch, True), (None, True), ("another", False)):
        reply = Reply()
        hub.hub.tell(History(ROOM, 0, since_epoch, reply))
        assert reply.get(timeout=2) == {"room": ROOM, "epoch": epoch, "offset": 0, "recovered": recovered,
                                        "events": []}
    assert hub.status()["roomActors"] == 0


def test_history_of_a_live_room_is_the_room_actors(start_hub):
    hub = start_hub()
    for n in (1, 2, 3):
        published(hub, ROOM, n)
    reply = Reply()
    hub.hub.tell(History(ROOM, 1, None, reply))
    answer = reply.get(timeout=2)
    assert answer["recovered"] is True and [e["offset"] for e in answer["events"]] == [2, 3]
    assert [e["data"]["n"] for e in answer["events"]] == [2, 3]
