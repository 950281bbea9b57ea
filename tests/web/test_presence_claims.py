"""Claims in one process (the memory broker), over real sockets and REST: first wins, CONFLICT names the holder,
release, release after the grace when the holder's last connection is gone, renewal while connected, expiry,
ADMIN takeover (docs/presence.md)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.actors.presence.view import Viewer
from tests.client import WsClient
from tests.conftest import token

GRACE = 1.0


@pytest.fixture
def claim_server(start_server):
    return start_server(claim_grace=GRACE, presence_interval=0.2)


@pytest.fixture
def open_viewer(claim_server):
    opened: list[WsClient] = []

    def open_(sub: str, role: str = "EMPLOYEE") -> Viewer:
        client = WsClient.open(claim_server.port, token(sub, role))
        opened.append(client)
        assert client.recv()["type"] == "CONNECTED"
        return Viewer(client)

    yield open_
    for client in opened:
        client.close()


def rest(server, method, room, sub, role="EMPLOYEE", **body):
    return requests.request(method, f"http://127.0.0.1:{server.port}/api/rooms/{room}/claim",
                            headers={"Authorization": f"Bearer {token(sub, role)}"}, json=body or None, timeout=5)


def room_event(viewer: Viewer, type_: str, timeout: float = 5.0):
    return viewer.wait(lambda f: f["type"] == type_ and "offset" in f, timeout)


def test_the_first_claim_wins_the_second_gets_conflict_naming_the_holder(claim_server, open_viewer):
    room = "lead:1"
    ada, bob = open_viewer("ada"), open_viewer("bob")
    for viewer in (ada, bob):
        viewer.subscribe(room, presence=False)
    ada.client.send("CLAIM", {"room": room}, id="c1")
    for viewer in (ada, bob):
        claimed = room_event(viewer, "CLAIMED")
        assert claimed is not None and claimed["room"] == room
        assert claimed["data"]["by"] == "ada" and claimed["data"]["room"] == room
        assert claimed["data"]["until"].endswith("Z")
    bob.client.send("CLAIM", {"room": room}, id="c2")
    refused = bob.wait(lambda f: f["type"] == "ERROR")
    assert refused is not None
    assert refused["data"]["code"] == "CONFLICT" and refused["data"]["ref"] == "c2"
    assert refused["data"]["by"] == "ada" and "ada" in refused["data"]["message"]
    held = rest(claim_server, "GET", room, "bob").json()
    assert held["room"] == room and held["claim"]["by"] == "ada" and held["claim"]["role"] == "EMPLOYEE"
    bob.client.send("RELEASE", {"room": room}, id="r1")  # not his
    refused = bob.wait(lambda f: f["type"] == "ERROR")
    assert refused is not None and refused["data"]["code"] == "CONFLICT" and refused["data"]["by"] == "ada"
    ada.client.send("CLAIM", {"room": room}, id="again")  # the holder claims again: a new until, told again
    again = room_event(bob, "CLAIMED")
    assert again is not None and again["data"]["by"] == "ada"
    ada.client.send("RELEASE", {"room": room})
    released = room_event(bob, "RELEASED")
    assert released is not None and released["data"] == {"room": room, "by": "ada", "reason": "released"}
    assert rest(claim_server, "GET", room, "bob").json() == {"room": room, "claim": None}
    bob.client.send("CLAIM", {"room": room})
    assert ada.wait(lambda f: f["type"] == "CLAIMED" and f["data"]["by"] == "bob") is not None


def test_claims_are_checked_like_subscriptions(claim_server, open_viewer):
    ada = open_viewer("ada")
    ada.client.send("CLAIM", {"room": "campaign:1"}, id="x")  # not a claimable prefix
    refused = ada.wait(lambda f: f["type"] == "ERROR")
    assert refused is not None and refused["data"]["code"] == "BAD_REQUEST"
    ada.client.send("CLAIM", {"room": "user:bob"}, id="y")
    refused = ada.wait(lambda f: f["type"] == "ERROR")
    assert refused is not None and refused["data"]["code"] == "FORBIDDEN"
    ada.client.send("CLAIM", {"room": "lead:1", "ttl": 0}, id="z")
    refused = ada.wait(lambda f: f["type"] == "ERROR")
    assert refused is not None and refused["data"]["code"] == "BAD_REQUEST" and "ttl" in refused["data"]["message"]
    ada.client.send("CLAIM", {"room": "lead:1", "force": True}, id="f")  # only ADMIN takes over
    refused = ada.wait(lambda f: f["type"] == "ERROR")
    assert refused is not None and refused["data"]["code"] == "FORBIDDEN"
    assert rest(claim_server, "POST", "stats:x", "1", "ADMIN").status_code == 400
    assert rest(claim_server, "POST", "lead:1", "svc", "SERVICE").status_code == 403


def test_admin_takes_over_and_the_room_is_told(claim_server, open_viewer):
    room = "contact:9"
    ada = open_viewer("ada")
    ada.subscribe(room, presence=False)
    ada.client.send("CLAIM", {"room": room})
    assert room_event(ada, "CLAIMED") is not None
    boss = rest(claim_server, "POST", room, "boss", "ADMIN", force=True)
    assert boss.status_code == 200 and boss.json()["claim"]["by"] == "boss"
    taken = room_event(ada, "CLAIMED")
    assert taken is not None and taken["data"]["by"] == "boss" and taken["data"]["takenFrom"] == "ada"
    gone = rest(claim_server, "DELETE", room, "boss", "ADMIN")
    assert gone.status_code == 200 and gone.json() == {"room": room, "claim": None}
    released = room_event(ada, "RELEASED")
    assert released is not None and released["data"]["by"] == "boss"


def test_a_claim_ends_a_grace_after_the_holders_last_connection_and_is_renewed_while_connected(claim_server,
                                                                                               open_viewer):
    room = "lead:20"
    watcher = open_viewer("watcher")
    watcher.subscribe(room, presence=False)
    tabs = [open_viewer("ada"), open_viewer("ada")]
    tabs[0].client.send("CLAIM", {"room": room})
    assert room_event(watcher, "CLAIMED") is not None
    tabs[0].client.close()  # the claiming tab goes; another tab of the holder stays
    assert [f for f in watcher.drain(3 * GRACE) if f["type"] == "RELEASED"] == []  # renewed: ada is connected
    tabs[1].client.close()
    gone_at = time.monotonic()
    released = room_event(watcher, "RELEASED", timeout=10)
    assert released is not None and released["data"] == {"room": room, "by": "ada", "reason": "disconnected"}
    assert time.monotonic() - gone_at >= GRACE * 0.9  # not before the grace
    assert rest(claim_server, "GET", room, "watcher").json()["claim"] is None


def test_a_claim_ends_at_its_until_even_while_the_holder_is_connected(claim_server, open_viewer):
    room = "lead:21"
    ada = open_viewer("ada")
    ada.subscribe(room, presence=False)
    answer = rest(claim_server, "POST", room, "ada", ttl=1.5)
    assert answer.status_code == 200 and answer.json()["claim"]["by"] == "ada"
    claimed = room_event(ada, "CLAIMED")
    assert claimed is not None and claimed["data"]["until"] == answer.json()["claim"]["until"]
    released = room_event(ada, "RELEASED", timeout=10)
    assert released is not None and released["data"]["reason"] == "expired"


def test_rest_claims_conflict_and_release(claim_server, open_viewer):
    room = "contact:77"
    watcher = open_viewer("w")
    watcher.subscribe(room, presence=False)
    first = rest(claim_server, "POST", room, "ada")
    assert first.status_code == 200
    second = rest(claim_server, "POST", room, "bob")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "CONFLICT" and "ada" in second.json()["error"]["message"]
    assert rest(claim_server, "DELETE", room, "bob").status_code == 409
    assert rest(claim_server, "DELETE", room, "ada").status_code == 200
    assert rest(claim_server, "DELETE", room, "ada").json() == {"room": room, "claim": None}  # nothing held: fine
    kinds = [f["type"] for f in watcher.drain(0.5) if f["type"] in ("CLAIMED", "RELEASED")]
    assert kinds == ["CLAIMED", "RELEASED"]
    # a REST claim by a user with no connection lasts the grace only
    assert rest(claim_server, "POST", room, "nobody").status_code == 200
    released = room_event(watcher, "RELEASED", timeout=10)
    assert released is not None and released["data"]["reason"] == "disconnected"
