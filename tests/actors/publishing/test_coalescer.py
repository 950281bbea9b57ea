"""Coalescer: a real Coalescer in front of a real Hub; what a room member receives is read off its socket."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka
import pytest

from actors.errors import Conflict
from actors.publishing.actor_messages import Coalesce, GetSyncStatus, PushStats, RecomputeStats
from actors.publishing.coalescer import Coalescer
from actors.rooms.actor_messages import Join
from actors.runtime.reply import Reply
from tests import stats_provider_example
from tests.actors.parts import Member, RunningHub

INTERVAL = 0.2
ROOM = "campaign:7"


@dataclass
class Parts:
    hub: RunningHub
    coalescer: pykka.ActorRef[Any]
    member: Member
    """Joined to ROOM and to stats:dashboard."""

    def progress(self, sent: int, room: str = ROOM) -> dict[str, Any]:
        reply = Reply()
        self.coalescer.tell(Coalesce(room, "CAMPAIGN_PROGRESS", {"campaignId": room[9:], "sent": sent}, reply))
        return reply.get(timeout=2)  # type: ignore[no-any-return]

    def stats(self, **figures: Any) -> dict[str, Any]:
        reply = Reply()
        self.coalescer.tell(PushStats("stats:dashboard", figures, reply))
        return reply.get(timeout=2)  # type: ignore[no-any-return]

    def status(self) -> dict[str, Any]:
        return self.coalescer.ask(GetSyncStatus(), timeout=2)  # type: ignore[no-any-return]


@pytest.fixture
def parts(start_hub: Callable[..., RunningHub], members: Callable[..., Member]) -> Callable[..., Parts]:
    def start(**overrides: Any) -> Parts:
        hub = start_hub(**{"coalesce_interval": INTERVAL, **overrides})
        coalescer = Coalescer.start(hub.ctx)  # stopped with the hub's context
        member = members(hub.ctx)
        for room in (ROOM, "campaign:8", "stats:dashboard"):
            hub.hub.tell(Join(room, member.connection_id, member.outlet))
            assert member.peer.json()["type"] == "SUBSCRIBED"
        return Parts(hub, coalescer, member)

    return start


def test_the_first_update_of_a_quiet_spell_goes_out_at_once(parts):
    p = parts()
    started = time.monotonic()
    answer = p.progress(1)
    assert answer == {"room": ROOM, "epoch": answer["epoch"], "offset": 1, "delivered": 1}
    event = p.member.peer.json(timeout=INTERVAL / 2)
    assert time.monotonic() - started < INTERVAL
    assert (event["type"], event["offset"], event["data"]["sent"]) == ("CAMPAIGN_PROGRESS", 1, 1)


def test_a_burst_sends_the_leading_and_the_trailing_update_and_nothing_in_between(parts):
    p = parts()
    started = time.monotonic()
    p.progress(1)
    held = [p.progress(n) for n in range(2, 6)]
    assert held == [{"room": ROOM, "coalesced": True, "offset": None, "delivered": 0}] * 4
    assert p.member.peer.json()["data"]["sent"] == 1
    assert p.status()["pendingCoalesced"] == 1
    trailing = p.member.peer.json(timeout=INTERVAL * 3)
    assert time.monotonic() - started >= INTERVAL * 0.9
    assert (trailing["offset"], trailing["data"]["sent"]) == (2, 5)  # the last value, the next offset
    assert p.member.peer.silent(INTERVAL * 1.5)
    assert p.hub.ctx.metrics.of("CAMPAIGN_PROGRESS").coalesced == 3  # 2, 3 and 4 were replaced
    assert p.status()["pendingCoalesced"] == 0


def test_after_a_quiet_interval_the_next_update_leads_again(parts):
    p = parts()
    p.progress(1)
    p.member.peer.json()
    time.sleep(INTERVAL * 2.5)  # the slot is forgotten once an interval passes with nothing held
    assert p.progress(2)["offset"] == 2
    assert p.member.peer.json(timeout=INTERVAL / 2)["data"]["sent"] == 2


def test_each_room_and_type_is_coalesced_apart(parts):
    p = parts()
    assert p.progress(1, ROOM)["offset"] == 1
    assert p.progress(1, "campaign:8")["offset"] == 1
    assert p.stats(total=1)["offset"] == 1
    assert {p.member.peer.json()["room"] for _ in range(3)} == {ROOM, "campaign:8", "stats:dashboard"}


def test_stats_are_merged_and_every_update_carries_the_whole_set(parts):
    p = parts()
    assert p.stats(contacts=10, leads=2)["offset"] == 1
    assert p.member.peer.json()["data"] == {"contacts": 10, "leads": 2}
    assert p.stats(leads=3)["coalesced"] is True
    assert p.stats(messages=7)["coalesced"] is True
    trailing = p.member.peer.json(timeout=INTERVAL * 3)
    assert trailing["type"] == "STATS_UPDATE" and trailing["data"] == {"contacts": 10, "leads": 3, "messages": 7}
    status = p.status()
    assert status["stats"]["stats:dashboard"]["figures"] == {"contacts": 10, "leads": 3, "messages": 7}
    assert status["stats"]["stats:dashboard"]["updatedAt"] > time.time() - 5


def test_status_describes_the_coalescer(parts):
    p = parts()
    assert p.status() == {"coalesceIntervalMs": 200, "pendingCoalesced": 0, "statsProvider": None,
                          "statsRefreshSeconds": 0.0, "lastRecompute": None, "stats": {}}


def test_recompute_without_a_provider_is_a_conflict(parts):
    p = parts()
    reply = Reply()
    p.coalescer.tell(RecomputeStats(reply))
    with pytest.raises(Conflict, match="no STATS_PROVIDER"):
        reply.get(timeout=2)


def test_recompute_asks_the_provider_once_for_every_caller_waiting_and_sends_the_figures(parts):
    p = parts(stats_provider="tests.stats_provider_example:figures")
    calls = stats_provider_example.calls
    first, second = Reply(), Reply()
    p.coalescer.tell(RecomputeStats(first))
    p.coalescer.tell(RecomputeStats(second))
    answer = first.get(timeout=2)
    assert second.get(timeout=2) == answer
    assert stats_provider_example.calls == calls + 1
    assert answer == {"room": "stats:dashboard", "stats": {"totalContacts": 1000 + calls + 1,
                                                           "recomputed": calls + 1}}
    event = p.member.peer.json()
    assert event["type"] == "STATS_UPDATE" and event["data"] == answer["stats"]
    assert p.status()["lastRecompute"]["error"] is None


def test_a_failing_provider_is_a_conflict_and_is_remembered(parts):
    p = parts(stats_provider="tests.stats_provider_example:broken")
    reply = Reply()
    p.coalescer.tell(RecomputeStats(reply))
    with pytest.raises(Conflict, match="database unreachable"):
        reply.get(timeout=2)
    assert "database unreachable" in p.status()["lastRecompute"]["error"]
    assert p.member.peer.silent()


def test_a_held_update_dies_with_the_coalescer(parts):
    p = parts()
    p.progress(1)
    p.progress(2)
    p.member.peer.json()
    p.coalescer.stop(block=True, timeout=2)
    assert p.member.peer.silent(INTERVAL * 1.5)  # its timer was stopped: nothing is sent later
