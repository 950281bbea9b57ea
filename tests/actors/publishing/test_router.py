"""Router: validation, then each event to its rooms by its catalogue route; a real Hub and Coalescer behind it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka
import pytest

from actors.errors import BadRequest, Conflict, InvalidRoom, UnknownType
from actors.protocol.events import CATALOGUE, EXAMPLES, ROUTE_COALESCE, ROUTE_ROOM, ROUTE_STATS
from actors.publishing.actor_messages import GetSyncStatus
from actors.publishing.coalescer import Coalescer
from actors.publishing.router import Router
from actors.rooms.actor_messages import Join
from tests.actors.parts import Member, RunningHub


@dataclass
class Parts:
    hub: RunningHub
    coalescer: pykka.ActorRef[Any]
    router: Router

    def sync_status(self) -> dict[str, Any]:
        return self.coalescer.ask(GetSyncStatus(), timeout=2)  # type: ignore[no-any-return]


@pytest.fixture
def parts(start_hub: Callable[..., RunningHub]) -> Callable[..., Parts]:
    def start(**overrides: Any) -> Parts:
        hub = start_hub(**{"coalesce_interval": 30.0, **overrides})  # a second update always waits
        coalescer = Coalescer.start(hub.ctx)  # stopped with the hub's context, its timers with it
        return Parts(hub, coalescer, Router(hub.ctx.settings, hub.hub, coalescer))

    return start


def joined(p: Parts, member: Member, room: str) -> Member:
    p.hub.hub.tell(Join(room, member.connection_id, member.outlet))
    assert member.peer.json()["type"] == "SUBSCRIBED"
    return member


@pytest.mark.parametrize("type_", sorted(CATALOGUE))
def test_each_type_travels_by_its_catalogue_route(parts, type_):
    p = parts()
    route = CATALOGUE[type_].route
    first = p.router.publish(type_, EXAMPLES[type_])
    second = p.router.publish(type_, EXAMPLES[type_])
    if route == ROUTE_ROOM:  # straight to the room: every one numbered
        assert isinstance(first["offset"], int) and second["offset"] == first["offset"] + 1
        assert "coalesced" not in first and "coalesced" not in second
        assert p.sync_status()["pendingCoalesced"] == 0
    else:  # through the Coalescer: the first leads, the second waits for the end of the interval
        assert route in (ROUTE_COALESCE, ROUTE_STATS)
        assert first["offset"] == 1 and "coalesced" not in first
        assert second == {"room": first["room"], "coalesced": True, "offset": None, "delivered": 0}
        assert p.sync_status()["pendingCoalesced"] == 1
    assert ("stats:dashboard" in p.sync_status()["stats"]) is (route == ROUTE_STATS)


def test_the_answer_is_the_first_rooms_plus_every_rooms_when_there_are_several(parts):
    p = parts()
    answer = p.router.publish("LEAD_ASSIGNED", {"leadId": "9", "assignedTo": 42})
    lead = {"room": "lead:9", "epoch": p.hub.broker.position("lead:9").epoch, "offset": 1, "delivered": 0}
    user = {"room": "user:42", "epoch": p.hub.broker.position("user:42").epoch, "offset": 1, "delivered": 0}
    assert answer == {**lead, "rooms": [lead, user]}
    single = p.router.publish("LEAD_UPDATED", {"leadId": "9"})
    assert "rooms" not in single and single["offset"] == 2


def test_a_named_room_replaces_the_default_rooms(parts):
    p = parts()
    answer = p.router.publish("LEAD_ASSIGNED", {"leadId": "9", "assignedTo": 42}, "role:ADMIN")
    assert answer["room"] == "role:ADMIN" and "rooms" not in answer
    assert p.hub.broker.describe()["rooms"] == 1


def test_without_wait_the_answer_is_none_and_the_event_still_goes(parts, members):
    p = parts()
    member = joined(p, members(p.hub.ctx), "lead:9")
    assert p.router.publish("LEAD_UPDATED", {"leadId": "9", "n": 1}, wait=False) is None
    event = member.peer.json()
    assert (event["type"], event["offset"], event["data"]) == ("LEAD_UPDATED", 1, {"leadId": "9", "n": 1})


@pytest.mark.parametrize("type_, data, room, error", [
    ("NOPE", {}, None, UnknownType),
    ("LEAD_UPDATED", {}, None, BadRequest),
    ("LEAD_UPDATED", {"leadId": "9"}, "shop:1", InvalidRoom),
    ("CAMPAIGN_PROGRESS", {"campaignId": "7"}, None, BadRequest),
    ("STATS_UPDATE", ["not", "an object"], None, BadRequest),
    ("LEAD_ASSIGNED", {"leadId": "9", "assignedTo": "no spaces allowed"}, None, InvalidRoom),  # 2nd room bad
])
def test_a_refused_event_sends_nothing_anywhere(parts, type_, data, room, error):
    p = parts()
    with pytest.raises(error):
        p.router.publish(type_, data, room)
    assert p.hub.broker.describe()["rooms"] == 0 and p.hub.status()["roomsCreated"] == 0
    assert p.sync_status()["stats"] == {} and p.sync_status()["pendingCoalesced"] == 0


def test_recompute_without_a_provider_is_a_conflict(parts):
    p = parts()
    with pytest.raises(Conflict):
        p.router.recompute_stats()


def test_recompute_answers_with_the_providers_figures_and_sends_them(parts, members):
    p = parts(stats_provider="tests.stats_provider_example:figures")
    member = joined(p, members(p.hub.ctx), "stats:dashboard")
    answer = p.router.recompute_stats()
    assert answer["room"] == "stats:dashboard" and answer["stats"]["recomputed"] >= 1
    event = member.peer.json()
    assert event["type"] == "STATS_UPDATE" and event["data"] == answer["stats"]
