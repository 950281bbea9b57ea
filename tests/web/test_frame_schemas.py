"""The frame schemas of the API document hold for the real server: what it sends matches ``ServerFrame``, what
``ClientFrame`` allows it takes without BAD_REQUEST, and what it refuses as malformed ``ClientFrame`` refuses too.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
import requests
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from actors.errors import BadRequest
from actors.protocol.frames import parse_client_frame
from tests.conftest import token

VALID_CLIENT_FRAMES = [
    {"type": "PING"},
    {"type": "PING", "data": {}, "id": 1},
    {"type": "PING", "data": None, "id": "p-1"},
    {"type": "SUBSCRIBE", "data": {"room": "lead:9"}, "id": "s1"},
    {"type": "SUBSCRIBE", "data": {"room": "lead:9", "since": {"epoch": "abc", "offset": 0}}, "id": 2.5},
    {"type": "UNSUBSCRIBE", "data": {"room": "lead:9"}},
    {"type": "TYPING_START", "data": {"contactId": "123"}},
    {"type": "TYPING_STOP", "data": {"contactId": 123}},
]
MALFORMED = [
    {"type": "PING", "id": True},
    {"type": "PING", "data": [1]},
    {"data": {}},
    {"type": 5},
]


def validator(document: dict, name: str) -> jsonschema.Draft202012Validator:
    """A validator for one component of the document, its references resolved inside the document."""
    registry = Registry().with_resource("urn:api", DRAFT202012.create_resource(document))
    return jsonschema.Draft202012Validator({"$ref": f"urn:api#/components/schemas/{name}"}, registry=registry)


@pytest.fixture
def document(server) -> dict:
    return requests.get(f"http://127.0.0.1:{server.port}/api/openapi.json", timeout=5).json()


def test_what_the_server_sends_matches_server_frame(server, connect, admin_headers, document):
    check = validator(document, "ServerFrame")
    client = connect("1", "ADMIN")
    frames = [client.connected]
    client.send("PING", id="p")
    frames.append(client.recv())
    client.send("SUBSCRIBE", {"room": "lead:9"}, id="s")
    frames.append(client.recv())
    requests.post(f"http://127.0.0.1:{server.port}/api/live-sync", headers=admin_headers, timeout=5,
                  json={"type": "LEAD_UPDATED", "room": "lead:9", "data": {"leadId": "9"}})
    frames.append(client.recv())
    client.send("SUBSCRIBE", {"room": "nope:1"}, id=7)
    frames.append(client.recv())
    client.send("AUTH", {"token": token("1", "ADMIN", ttl=7200)}, id="a")
    frames.append(client.recv())
    client.send("UNSUBSCRIBE", {"room": "lead:9"})
    frames.append(client.recv())
    assert [f["type"] for f in frames] == ["CONNECTED", "PONG", "SUBSCRIBED", "LEAD_UPDATED", "ERROR",
                                           "AUTHENTICATED", "UNSUBSCRIBED"]
    for frame in frames:
        errors = [e.message for e in check.iter_errors(frame)]
        assert not errors, (frame, errors)


def test_client_frames_the_schema_allows_are_taken(connect, document):
    check = validator(document, "ClientFrame")
    client = connect("1", "ADMIN")
    for frame in VALID_CLIENT_FRAMES:
        assert check.is_valid(frame), frame
        parse_client_frame(json.dumps(frame), 64)  # the hot-path parser takes it
        client.send_raw(json.dumps(frame))
        if frame["type"] in ("TYPING_START", "TYPING_STOP"):
            continue  # no answer on success
        answer = client.recv()
        assert answer["type"] != "ERROR", (frame, answer)


def test_frames_the_parser_refuses_the_schema_refuses(document):
    check = validator(document, "ClientFrame")
    for frame in MALFORMED:
        with pytest.raises(BadRequest):
            parse_client_frame(json.dumps(frame), 64)
        assert not check.is_valid(frame), frame
