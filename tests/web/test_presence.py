"""Presence in one process (the memory broker), over real sockets: viewers in SUBSCRIBED, batched PRESENCE diffs,
tabs, RBAC, the REST view, and typing that stops when the typer leaves or falls silent (docs/presence.md)."""

from __future__ import annotations

import random
import time

import pytest
import requests

from tests.actors.presence.view import Viewer
from tests.client import WsClient
from tests.conftest import token

INTERVAL = 0.2


@pytest.fixture
def presence_server(start_server):
    return start_server(presence_interval=INTERVAL, typing_timeout=0.6)


@pytest.fixture
def open_viewer(presence_server):
    opened: list[WsClient] = []

    def open_(sub: str, role: str = "EMPLOYEE", **claims) -> Viewer:
        client = WsClient.open(presence_server.port, token(sub, role, **claims))
        opened.append(client)
        assert client.recv()["type"] == "CONNECTED"
        return Viewer(client)

    yield open_
    for client in opened:
        client.close()


def rest_presence(server, room, sub="1", role="ADMIN"):
    return requests.get(f"http://127.0.0.1:{server.port}/api/rooms/{room}/presence",
                        headers={"Authorization": f"Bearer {token(sub, role)}"}, timeout=5)


def test_subscribe_with_presence_gets_the_viewers_then_batched_diffs(presence_server, open_viewer):
    room = "contact:1"
    ada = open_viewer("ada")
    assert ada.subscribe(room)["presence"] == ["ada"]  # nobody watched yet: the truth of now, herself included
    bob = open_viewer("bob")
    told = bob.subscribe(room)
    assert told["presence"] == ["ada"]  # what the watchers were last shown; bob's own join follows as a diff
    for viewer in (ada, bob):
        frame = viewer.wait(lambda f: f["type"] == "PRESENCE")
        assert frame is not None
        assert frame["data"] == {"room": room, "joins": ["bob"], "leaves": []}
        assert viewer.viewers[room] == {"ada", "bob"}
    assert rest_presence(presence_server, room).json() == {"room": room, "presence": ["ada", "bob"]}
    bob.client.close()
    frame = ada.wait(lambda f: f["type"] == "PRESENCE")
    assert frame is not None and frame["data"] == {"room": room, "joins": [], "leaves": ["bob"]}
    assert rest_presence(presence_server, room).json()["presence"] == ["ada"]


def test_two_tabs_are_one_viewer_who_leaves_with_the_last_tab(presence_server, open_viewer):
    room = "lead:7"
    watcher = open_viewer("w")
    watcher.subscribe(room)
    tabs = [open_viewer("ada"), open_viewer("ada")]
    for tab in tabs:
        tab.subscribe(room, presence=False)  # a subscriber is a viewer whether or not it watches presence
    assert watcher.settle(room, {"w", "ada"}) == {"w", "ada"}
    tabs[0].client.close()
    assert watcher.drain(4 * INTERVAL) == []  # one tab left: still a viewer, nothing to tell
    tabs[1].client.send("UNSUBSCRIBE", {"room": room}, id="u")
    assert tabs[1].wait(lambda f: f["type"] == "UNSUBSCRIBED") is not None
    frame = watcher.wait(lambda f: f["type"] == "PRESENCE")
    assert frame is not None and frame["data"]["leaves"] == ["ada"]
    joins = sum(len(f["data"]["joins"]) for f in watcher.of_type("PRESENCE"))
    assert joins == 1  # ada joined once, though two sockets did


def test_only_users_who_may_join_see_presence(presence_server, open_viewer):
    room = "lead:9"
    service = open_viewer("svc", "SERVICE")
    service.client.send("SUBSCRIBE", {"room": room, "presence": True}, id="s")
    refused = service.wait(lambda f: f["type"] == "ERROR")
    assert refused is not None and refused["data"]["code"] == "FORBIDDEN"
    assert rest_presence(presence_server, room, "svc", "SERVICE").status_code == 403
    assert rest_presence(presence_server, room, "e", "EMPLOYEE").status_code == 200
    patterned = open_viewer("p", "SERVICE", rooms=["lead:9"])  # a token pattern opens it
    assert patterned.subscribe(room)["presence"] == ["p"]
    assert rest_presence(presence_server, "user:1", "1", "ADMIN").status_code == 404  # no presence in user rooms
    assert rest_presence(presence_server, "nope:1").status_code == 400


def test_presence_flag_is_checked_and_ignored_outside_presence_rooms(presence_server, open_viewer):
    viewer = open_viewer("v")
    viewer.client.send("SUBSCRIBE", {"room": "lead:1", "presence": "yes"}, id="bad")
    refused = viewer.wait(lambda f: f["type"] == "ERROR")
    assert refused is not None and refused["data"]["code"] == "BAD_REQUEST" and refused["data"]["ref"] == "bad"
    told = viewer.subscribe("stats:dashboard")
    assert "presence" not in told  # stats: has no presence (PRESENCE_PREFIXES)


def test_churn_is_batched_to_one_frame_per_interval_and_ends_at_the_truth(presence_server, open_viewer):
    room = "campaign:churn"
    watcher = open_viewer("watcher")
    watcher.subscribe(room)
    users = [open_viewer(f"u{n}") for n in range(12)]
    in_room: set[str] = set()
    rng = random.Random(7)
    started = time.monotonic()
    cycles = 0
    while time.monotonic() - started < 2.0:
        n = rng.randrange(len(users))
        name = f"u{n}"
        if name in in_room:
            users[n].client.send("UNSUBSCRIBE", {"room": room})
            in_room.discard(name)
        else:
            users[n].client.send("SUBSCRIBE", {"room": room})
            in_room.add(name)
        cycles += 1
        watcher.read(0.005)
    elapsed = time.monotonic() - started
    assert watcher.settle(room, in_room | {"watcher"}, timeout=3) == in_room | {"watcher"}
    got = [at for at, frame in watcher.presence_frames if frame["data"]["room"] == room]
    assert cycles > 100
    # at most one frame per interval (the timer may fire just after a frame was read: allow one more)
    assert len(got) <= elapsed / INTERVAL + 3, (len(got), elapsed)
    gaps = [b - a for a, b in zip(got, got[1:], strict=False)]
    assert all(gap > INTERVAL / 2 for gap in gaps), gaps
    assert rest_presence(presence_server, room).json()["presence"] == sorted(in_room | {"watcher"})


def test_typing_stops_when_the_typer_leaves(presence_server, open_viewer):
    room = "contact:42"
    reader = open_viewer("reader")
    reader.subscribe(room)
    typer = open_viewer("typer")
    typer.subscribe(room, presence=False)
    typer.client.send("TYPING_START", {"contactId": "42"})
    start = reader.wait(lambda f: f["type"] == "TYPING_START")
    assert start is not None and start["data"]["userId"] == "typer"
    typer.client.close()
    stop = reader.wait(lambda f: f["type"] == "TYPING_STOP", timeout=3)
    assert stop is not None and stop["room"] == room and "offset" in stop
    assert stop["data"] == {"contactId": "42", "userId": "typer", "reason": "left"}


def test_typing_stops_when_the_typer_unsubscribes_or_falls_silent_and_not_while_typing(presence_server,
                                                                                      open_viewer):
    room = "contact:43"
    reader = open_viewer("reader")
    reader.subscribe(room)
    typer = open_viewer("typer")
    typer.subscribe(room, presence=False)
    started = time.monotonic()
    while time.monotonic() - started < 1.5:  # renewed every 0.2 s: never silent for TYPING_TIMEOUT (0.6 s)
        typer.client.send("TYPING_START", {"contactId": 43})
        last_start = time.monotonic()
        time.sleep(0.2)
    assert [f for f in reader.drain(0.05) + reader.frames if f["type"] == "TYPING_STOP"] == []
    stop = reader.wait(lambda f: f["type"] == "TYPING_STOP", timeout=5)
    assert stop is not None and stop["data"]["reason"] == "silent"
    assert time.monotonic() - last_start >= 0.6  # not before TYPING_TIMEOUT of silence
    typer.client.send("TYPING_START", {"contactId": 43})
    typer.client.send("UNSUBSCRIBE", {"room": room})
    stop = reader.wait(lambda f: f["type"] == "TYPING_STOP", timeout=3)
    assert stop is not None and stop["data"]["reason"] == "left"


def test_a_typer_who_says_stop_gets_no_second_stop(presence_server, open_viewer):
    room = "contact:44"
    reader = open_viewer("reader")
    reader.subscribe(room)
    typer = open_viewer("typer")
    typer.client.send("TYPING_START", {"contactId": "44"})  # typing needs no subscription
    typer.client.send("TYPING_STOP", {"contactId": "44"})
    assert reader.wait(lambda f: f["type"] == "TYPING_STOP") is not None
    typer.client.close()
    assert [f for f in reader.drain(1.2) if f["type"] == "TYPING_STOP"] == []
