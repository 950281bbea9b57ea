"""ActorSystem: starting and stopping the actors of one process, and the shape of what its calls answer.

A real system in this process (no HTTP): its sockets are socket pairs served by ``serve_connection``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pykka
import pytest

from actors.config import Settings
from actors.errors import ConfigError, InvalidRoom, Unavailable
from actors.system import ActorSystem
from tests.actors.parts import Peer, identity, stop_actors
from tests.conftest import SECRET, live_greenlets


def settings(**overrides: Any) -> Settings:
    value = Settings(**{"jwt_secret": SECRET, "close_timeout": 0.5, **overrides})
    value.validate()
    return value


@pytest.fixture
def start_system() -> Iterator[Callable[..., ActorSystem]]:
    """``start_system(**settings)``: a started ActorSystem, stopped afterwards (with any actor it left)."""
    started: list[ActorSystem] = []

    def start(**overrides: Any) -> ActorSystem:
        system = ActorSystem(settings(**overrides))
        started.append(system)
        return system.start()

    yield start
    for system in started:
        system.stop(timeout=2)
        if system.ctx is not None:
            stop_actors(system.ctx)  # whatever stop left behind: a test may be about exactly that


@pytest.fixture
def sockets() -> Iterator[Callable[[ActorSystem], tuple[Peer, gevent.Greenlet]]]:
    """``sockets(system)``: a WebSocket served by the system over a socket pair, CONNECTED read already."""
    opened: list[tuple[socket.socket, socket.socket, gevent.Greenlet]] = []

    def open_socket(system: ActorSystem) -> tuple[Peer, gevent.Greenlet]:
        ours, theirs = socket.socketpair()
        greenlet = gevent.spawn(system.serve_connection, identity("42", "EMPLOYEE"), ours)
        opened.append((ours, theirs, greenlet))
        peer = Peer(theirs)
        assert peer.json()["type"] == "CONNECTED"
        return peer, greenlet

    yield open_socket
    for ours, theirs, greenlet in opened:
        theirs.close()
        greenlet.join(timeout=3)
        ours.close()


# --- lifecycle -----------------------------------------------------------------------------------


def test_start_then_stop_leaves_nothing_running(start_system):
    registry, greenlets = len(pykka.ActorRegistry.get_all()), live_greenlets()
    system = start_system()
    assert system.running
    status = system.status()
    assert {k: status[k] for k in ("connections", "rooms", "roomActors", "actors", "debug", "broker")} == {
        "connections": 0, "rooms": 0, "roomActors": 0, "actors": 4, "debug": False,  # hub, coalescer, presence, claims
        "broker": {"kind": "memory", "rooms": 0}}
    assert set(status["gc"]) >= {"collections", "pauseMsMax", "longPauses"}
    system.stop()
    assert not system.running and system.tracer.count() == 0
    assert len(pykka.ActorRegistry.get_all()) == registry and live_greenlets() <= greenlets
    system.stop()  # twice: nothing more to do


def test_stop_closes_every_socket_with_its_code_and_waits_for_them(start_system, sockets):
    system = start_system()
    peer, served = sockets(system)
    stopping = gevent.spawn(system.stop, 4000, 2)
    assert peer.close_code() == 4000
    peer.sock.close()  # the client answers by going
    stopping.join(timeout=3)
    assert stopping.dead and served.dead
    assert system.metrics.connections == 0 and system.tracer.count() == 0


def test_an_unknown_broker_url_is_a_config_error_at_start_and_nothing_starts():
    registry, greenlets = len(pykka.ActorRegistry.get_all()), live_greenlets()
    system = ActorSystem(settings(broker_url="kafka://localhost:9092"))
    with pytest.raises(ConfigError) as refused:
        system.start()
    assert refused.value.message == ("BROKER_URL 'kafka://localhost:9092': expected one of memory://, redis://, "
                                     "rediss://, unix://")
    assert not system.running and system.tracer.count() == 0
    assert len(pykka.ActorRegistry.get_all()) == registry and live_greenlets() <= greenlets
    with pytest.raises(Unavailable):
        system.publish("LEAD_UPDATED", {"leadId": "1"})


def test_stop_while_events_are_being_published_leaves_no_actor_behind(start_system):
    registry = len(pykka.ActorRegistry.get_all())
    system = start_system(coalesce_interval=0.01)

    def publish_until_refused() -> None:
        n = 0
        while True:
            n += 1
            try:
                system.publish("LEAD_UPDATED", {"leadId": str(n % 50)}, wait=False)
                system.publish("CAMPAIGN_PROGRESS", {"campaignId": str(n % 5), "sent": n}, wait=False)
            except (Unavailable, pykka.ActorDeadError):
                return
            gevent.sleep(0)

    publisher = gevent.spawn(publish_until_refused)
    gevent.sleep(0.05)
    system.stop(timeout=2)
    publisher.join(timeout=2)
    assert publisher.dead
    gevent.sleep(0.05)
    assert system.tracer.count() == 0, system.tracer.actors()
    assert len(pykka.ActorRegistry.get_all()) == registry, pykka.ActorRegistry.get_all()


@pytest.mark.parametrize("call", ["publish", "history", "status", "sync_status"])
def test_after_stop_every_call_is_unavailable(start_system, call):
    """The web layer answers an ``Unavailable`` with 503; anything else would be a 500."""
    system = start_system()
    system.stop()
    calls = {
        "publish": lambda: system.publish("LEAD_UPDATED", {"leadId": "1"}),
        "history": lambda: system.history("lead:1", None, None),
        "status": system.status,
        "sync_status": system.sync_status,
    }
    with pytest.raises(Unavailable):
        calls[call]()


# --- what the calls answer -----------------------------------------------------------------------


def test_publish_answers_the_rooms_position_and_how_many_took_it(start_system):
    system = start_system()
    first = system.publish("LEAD_UPDATED", {"leadId": "9"})
    assert first == {"room": "lead:9", "epoch": first["epoch"], "offset": 1, "delivered": 0}
    assert isinstance(first["epoch"], str) and first["epoch"]
    assert system.publish("LEAD_UPDATED", {"leadId": "9"}, "lead:9")["offset"] == 2
    assert system.publish("LEAD_UPDATED", {"leadId": "9"}, wait=False) is None
    assert system.events.lead_updated("9", {"status": "WON"})["offset"] == 4  # the typed door, the same path


def test_publish_to_several_rooms_answers_each(start_system):
    system = start_system()
    answer = system.publish("LEAD_ASSIGNED", {"leadId": "9", "assignedTo": "42"})
    assert [r["room"] for r in answer["rooms"]] == ["lead:9", "user:42"]
    assert {k: answer[k] for k in ("room", "epoch", "offset", "delivered")} == answer["rooms"][0]


def test_a_held_update_answers_coalesced_without_an_offset(start_system):
    system = start_system(coalesce_interval=30)
    assert system.publish("CAMPAIGN_PROGRESS", {"campaignId": "7", "sent": 1})["offset"] == 1
    assert system.publish("CAMPAIGN_PROGRESS", {"campaignId": "7", "sent": 2}) == {
        "room": "campaign:7", "coalesced": True, "offset": None, "delivered": 0}
    assert system.push_stats({"contacts": 1})["room"] == "stats:dashboard"
    sync = system.sync_status()
    assert sync["pendingCoalesced"] == 1 and sync["delivery"]["CAMPAIGN_PROGRESS"]["coalesced"] == 0


def test_a_publish_reaches_a_served_socket(start_system, sockets):
    system = start_system()
    peer, _ = sockets(system)
    peer.send("SUBSCRIBE", {"room": "lead:9"})
    assert peer.json()["type"] == "SUBSCRIBED"
    assert system.publish("LEAD_UPDATED", {"leadId": "9"})["delivered"] == 1
    event = peer.json()
    assert (event["type"], event["room"], event["offset"]) == ("LEAD_UPDATED", "lead:9", 1)


def test_history_answers_the_rooms_events_and_refuses_a_bad_room(start_system):
    system = start_system()
    epoch = system.publish("LEAD_UPDATED", {"leadId": "9", "n": 1})["epoch"]
    system.publish("LEAD_UPDATED", {"leadId": "9", "n": 2})
    answer = system.history("lead:9", 1, epoch)
    assert {k: answer[k] for k in ("room", "epoch", "offset", "recovered")} == {
        "room": "lead:9", "epoch": epoch, "offset": 2, "recovered": True}
    assert [e["data"]["n"] for e in answer["events"]] == [2]
    with pytest.raises(InvalidRoom):
        system.history("nope:1", None, None)
