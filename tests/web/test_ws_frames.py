"""Every client frame of the wire contract (docs/protocol.md) and every ERROR code, over a real socket that stays open."""

import json
import time

import pytest
import requests

from actors.protocol.events import EXAMPLES
from tests.client import WsClient
from tests.conftest import token

CODES_THAT_KEEP_THE_SOCKET = ["BAD_REQUEST", "UNKNOWN_TYPE", "INVALID_ROOM", "FORBIDDEN"]


def publish(server, headers, room, type_="LEAD_UPDATED", data=None):
    response = requests.post(f"http://127.0.0.1:{server.port}/api/live-sync", headers=headers,
                             json={"type": type_, "room": room, "data": {**EXAMPLES[type_], **(data or {})}},
                             timeout=5)
    assert response.status_code == 202, response.text
    return response.json()


def still_open(client):
    client.send("PING", id="alive?")
    assert client.recv()["data"]["ref"] == "alive?"


def test_ping_pong_with_ref(connect):
    client = connect()
    client.send("PING", id="p-1")
    pong = client.recv()
    assert pong["type"] == "PONG" and pong["data"] == {"ref": "p-1"}
    client.send("PING", id=7)
    assert client.recv()["data"]["ref"] == 7
    client.send("PING")
    assert client.recv()["data"] == {}


def test_subscribe_receive_unsubscribe(connect, server, admin_headers):
    client = connect()
    client.send("SUBSCRIBE", {"room": "contact:123"}, id="s1")
    subscribed = client.recv()
    assert subscribed["type"] == "SUBSCRIBED"
    assert subscribed["data"]["room"] == "contact:123" and subscribed["data"]["ref"] == "s1"
    assert subscribed["data"]["offset"] == 0 and subscribed["data"]["epoch"]
    assert "recovered" not in subscribed["data"]
    sent = publish(server, admin_headers, "contact:123", "MESSAGE_RECEIVED", {"text": "hi"})
    event = client.recv()
    assert event["type"] == "MESSAGE_RECEIVED" and event["data"]["text"] == "hi"
    assert (event["room"], event["epoch"], event["offset"]) == ("contact:123", sent["epoch"], 1)
    client.send("UNSUBSCRIBE", {"room": "contact:123"}, id="u1")
    assert client.recv()["type"] == "UNSUBSCRIBED"
    assert publish(server, admin_headers, "contact:123")["delivered"] == 0
    still_open(client)  # and nothing from contact:123 arrived before the PONG


def test_unsubscribe_from_a_room_never_joined_is_answered(connect):
    client = connect()
    client.send("UNSUBSCRIBE", {"room": "lead:5"}, id="u")
    answer = client.recv()
    assert answer["type"] == "UNSUBSCRIBED" and answer["data"] == {"room": "lead:5", "ref": "u"}


@pytest.mark.parametrize("frame, code", [
    ("this is not json", "BAD_REQUEST"),
    ("[1, 2]", "BAD_REQUEST"),
    ('{"data": {}}', "BAD_REQUEST"),
    ('{"type": 5}', "BAD_REQUEST"),
    ('{"type": "SUBSCRIBE", "data": []}', "BAD_REQUEST"),
    ('{"type": "SUBSCRIBE", "data": {}}', "BAD_REQUEST"),
    ('{"type": "SUBSCRIBE", "data": {"room": "lead:1", "since": {"epoch": "e", "offset": -1}}}', "BAD_REQUEST"),
    ('{"type": "SUBSCRIBE", "data": {"room": "lead:1", "since": "yesterday"}}', "BAD_REQUEST"),
    ('{"type": "TYPING_START", "data": {}}', "BAD_REQUEST"),
    ('{"type": "AUTH", "data": {"token": 5}}', "BAD_REQUEST"),
    ('{"type": "AUTH", "data": {"token": "garbage"}}', "BAD_REQUEST"),
    ('{"type": "PING", "id": {"nested": true}}', "BAD_REQUEST"),
    ('{"type": "LEAD_ASSIGNED", "data": {}}', "UNKNOWN_TYPE"),
    ('{"type": "DROP_TABLES"}', "UNKNOWN_TYPE"),
    ('{"type": "SUBSCRIBE", "data": {"room": "secrets:1"}}', "INVALID_ROOM"),
    ('{"type": "SUBSCRIBE", "data": {"room": "lead:has space"}}', "INVALID_ROOM"),
    ('{"type": "UNSUBSCRIBE", "data": {"room": "nope"}}', "INVALID_ROOM"),
    ('{"type": "SUBSCRIBE", "data": {"room": "user:43"}}', "FORBIDDEN"),
    ('{"type": "SUBSCRIBE", "data": {"room": "role:ADMIN"}}', "FORBIDDEN"),
])
def test_errors_keep_the_connection_open(connect, frame, code):
    client = connect("42", "EMPLOYEE")
    client.send_raw(frame)
    error = client.recv()
    assert error["type"] == "ERROR" and error["data"]["code"] == code, error
    assert error["data"]["message"]
    still_open(client)


def test_error_carries_the_ref_of_the_frame(connect):
    client = connect()
    client.send("SUBSCRIBE", {"room": "user:999"}, id="abc")
    error = client.recv()
    assert error["data"] == {"code": "FORBIDDEN", "message": error["data"]["message"], "ref": "abc"}


def test_binary_frames_are_bad_requests(connect):
    client = connect()
    client.ws.send_binary(b"\x00\x01")
    assert client.recv()["data"]["code"] == "BAD_REQUEST"
    still_open(client)


def test_typing_goes_to_the_contact_room_with_the_user_id(connect):
    watcher = connect("7", "EMPLOYEE")
    watcher.send("SUBSCRIBE", {"room": "contact:123"})
    assert watcher.recv()["type"] == "SUBSCRIBED"
    typist = connect("42", "EMPLOYEE")
    typist.send("TYPING_START", {"contactId": "123"})
    event = watcher.recv()
    assert event["type"] == "TYPING_START" and event["room"] == "contact:123"
    assert event["data"] == {"contactId": "123", "userId": "42"}
    typist.send("TYPING_STOP", {"contactId": 123})
    assert watcher.recv()["type"] == "TYPING_STOP"


def test_typing_needs_access_to_the_contact(connect):
    service = connect("s", "SERVICE")
    service.send("TYPING_START", {"contactId": "1"}, id="t")
    assert service.recv()["data"]["code"] == "FORBIDDEN"


def test_auth_extends_and_checks_the_user(connect):
    client = connect("42", "EMPLOYEE", ttl=60)
    fresh = token("42", "EMPLOYEE", ttl=7200)
    client.send("AUTH", {"token": fresh}, id="a1")
    answer = client.recv()
    assert answer["type"] == "AUTHENTICATED" and answer["data"]["ref"] == "a1"
    assert answer["data"]["exp"] > time.time() + 3600
    client.send("AUTH", {"token": token("43", "EMPLOYEE")}, id="a2")
    assert client.recv()["data"]["code"] == "FORBIDDEN"


def test_only_subscribers_receive(connect, server, admin_headers):
    inside, outside = connect("1", "EMPLOYEE"), connect("2", "EMPLOYEE")
    inside.send("SUBSCRIBE", {"room": "lead:9"})
    assert inside.recv()["type"] == "SUBSCRIBED"
    assert publish(server, admin_headers, "lead:9", "LEAD_ASSIGNED", {"leadId": "9"})["delivered"] == 1
    assert inside.recv()["type"] == "LEAD_ASSIGNED"
    still_open(outside)  # its next frame is the PONG, so the event never reached it


def test_recovery_with_since(connect, server, admin_headers):
    client = connect()
    client.send("SUBSCRIBE", {"room": "lead:1"})
    first = client.recv()["data"]
    for n in range(5):
        publish(server, admin_headers, "lead:1", data={"n": n})
    seen = [client.recv() for _ in range(5)]
    assert [e["offset"] for e in seen] == [1, 2, 3, 4, 5]
    client.close()
    again = connect()
    again.send("SUBSCRIBE", {"room": "lead:1", "since": {"epoch": first["epoch"], "offset": 2}}, id="r")
    answer = again.recv()["data"]
    assert answer["recovered"] is True and answer["offset"] == 5 and answer["ref"] == "r"
    assert [again.recv()["offset"] for _ in range(3)] == [3, 4, 5]
    again.send("SUBSCRIBE", {"room": "lead:1", "since": {"epoch": "other-epoch", "offset": 2}})
    assert again.recv()["data"]["recovered"] is False
    still_open(again)  # nothing was replayed


def test_rate_limit_then_1008(start_server):
    server = start_server(rate_limit_per_second=1, rate_limit_burst=3, rate_limit_strikes=5)
    client = WsClient.open(server.port, token())
    assert client.recv()["type"] == "CONNECTED"
    for _ in range(3):
        client.send("PING")
    assert [client.recv()["type"] for _ in range(3)] == ["PONG"] * 3
    client.send("PING")
    assert client.recv()["data"]["code"] == "RATE_LIMITED"
    for _ in range(10):
        client.send("PING")
    assert client.expect_close() == 1008
    client.close()


def test_frame_over_the_limit_closes_with_1009(start_server):
    server = start_server(max_frame_bytes=1024)
    client = WsClient.open(server.port, token())
    assert client.recv()["type"] == "CONNECTED"
    client.send_raw(json.dumps({"type": "PING", "data": {"pad": "x" * 900}}))
    assert client.recv()["type"] == "PONG"
    client.send_raw(json.dumps({"type": "PING", "data": {"pad": "x" * 100_000}}))
    assert client.expect_close() == 1009
    client.close()


def test_invalid_utf8_closes_with_1007(connect):
    client = connect()
    client.ws.send(b"\xff\xfe", opcode=1)
    assert client.expect_close() == 1007


def test_client_close_is_echoed(connect):
    client = connect()
    client.ws.send_close(status=4100, reason=b"bye")
    assert client.expect_close() == 4100


def test_subscription_limit(start_server):
    server = start_server(max_rooms_per_connection=3)
    client = WsClient.open(server.port, token())
    assert client.recv()["type"] == "CONNECTED"  # user:42 and role:EMPLOYEE count
    client.send("SUBSCRIBE", {"room": "lead:1"})
    assert client.recv()["type"] == "SUBSCRIBED"
    client.send("SUBSCRIBE", {"room": "lead:2"}, id="x")
    assert client.recv()["data"]["code"] == "FORBIDDEN"
    client.close()
