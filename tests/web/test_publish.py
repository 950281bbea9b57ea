"""``POST /api/live-sync``: who may publish, what is checked, and that offsets grow by one."""

import pytest
import requests

from actors.protocol.events import EVENT_TYPES, EXAMPLES
from tests.conftest import token


def url(server, path="/api/live-sync"):
    return f"http://127.0.0.1:{server.port}{path}"


@pytest.mark.parametrize("type_", sorted(EVENT_TYPES))
def test_every_event_type_is_published_with_room_epoch_offset(connect, server, admin_headers, type_):
    client = connect("1", "ADMIN")
    client.send("SUBSCRIBE", {"room": "campaign:c1"})
    epoch = client.recv()["data"]["epoch"]
    response = requests.post(url(server), headers=admin_headers,
                             json={"type": type_, "room": "campaign:c1", "data": EXAMPLES[type_]}, timeout=5)
    assert response.status_code == 202
    answer = response.json()
    assert answer.pop("traceId") == response.headers["X-Trace-Id"]  # every publish answers with its trace id
    assert answer == {"room": "campaign:c1", "epoch": epoch, "offset": 1, "delivered": 1}
    event = client.recv()
    assert event["type"] == type_ and event["room"] == "campaign:c1" and event["epoch"] == epoch
    assert event["offset"] == 1 and event["timestamp"].endswith("Z")
    expected = EXAMPLES[type_] if type_ != "STATS_UPDATE" else EXAMPLES[type_]  # merged into nothing yet
    assert event["data"] == expected


def test_offsets_grow_by_one_per_room(server, admin_headers):
    offsets = {"lead:1": [], "lead:2": []}
    for n in range(10):
        room = "lead:1" if n % 3 else "lead:2"
        answer = requests.post(url(server), headers=admin_headers,
                               json={"type": "LEAD_UPDATED", "room": room, "data": {"leadId": "1"}}, timeout=5).json()
        offsets[room].append(answer["offset"])
    assert offsets["lead:1"] == list(range(1, 7)) and offsets["lead:2"] == list(range(1, 5))


def test_service_role_may_publish(server):
    headers = {"Authorization": f"Bearer {token('billing', 'SERVICE')}"}
    response = requests.post(url(server), headers=headers, json={"type": "LEAD_CREATED", "room": "lead:1", "data": {"leadId": "1"}}, timeout=5)
    assert response.status_code == 202


@pytest.mark.parametrize("headers, status, code", [
    ({}, 401, "UNAUTHORIZED"),
    ({"Authorization": "Bearer nonsense"}, 401, "UNAUTHORIZED"),
    ({"Authorization": f"Bearer {token('42', 'EMPLOYEE')}"}, 403, "FORBIDDEN"),
])
def test_who_may_not_publish(server, headers, status, code):
    response = requests.post(url(server), headers=headers, json={"type": "LEAD_CREATED", "room": "lead:1", "data": {"leadId": "1"}}, timeout=5)
    assert response.status_code == status and response.json()["error"]["code"] == code


@pytest.mark.parametrize("body, status, code", [
    ('{"type": "LEAD_CREATED", "room": "lead:1"', 400, "BAD_REQUEST"),
    ("[1]", 400, "BAD_REQUEST"),
    ("", 400, "BAD_REQUEST"),
    ('{"room": "lead:1"}', 400, "BAD_REQUEST"),
    ('{"type": "LEAD_CREATED", "room": "lead:1", "data": [1]}', 400, "BAD_REQUEST"),
    ('{"type": "PING", "room": "lead:1"}', 400, "UNKNOWN_TYPE"),
    ('{"type": "LEAD_CREATED", "room": "warehouse:1", "data": {"leadId": "1"}}', 400, "INVALID_ROOM"),
    ('{"type": "LEAD_CREATED", "room": "lead:", "data": {"leadId": "1"}}', 400, "INVALID_ROOM"),
    ('{"type": "LEAD_CREATED", "room": "lead:1", "data": {}}', 400, "BAD_REQUEST"),
    ('{"type": "LEAD_CREATED", "room": "lead:1", "data": {"leadId": true}}', 400, "BAD_REQUEST"),
    ('{"type": "LEAD_CREATED", "room": 5, "data": {"leadId": "1"}}', 400, "BAD_REQUEST"),
])
def test_bad_events_are_refused_and_nothing_is_published(server, admin_headers, body, status, code):
    response = requests.post(url(server), headers={**admin_headers, "Content-Type": "application/json"},
                             data=body, timeout=5)
    assert response.status_code == status and response.json()["error"]["code"] == code
    good = requests.post(url(server), headers=admin_headers, json={"type": "LEAD_CREATED", "room": "lead:1", "data": {"leadId": "1"}},
                         timeout=5)
    assert good.json()["offset"] == 1  # the failed request did not take an offset


def test_missing_fields_are_named(server, admin_headers):
    response = requests.post(url(server), headers=admin_headers, json={"data": "x", "room": "lead:1"}, timeout=5)
    assert set(response.json()["error"]["fields"]) == {"type", "data"}


def test_body_over_the_limit_is_413(start_server, admin_headers):
    server = start_server(max_body_bytes=2048)
    response = requests.post(url(server), headers=admin_headers,
                             json={"type": "LEAD_CREATED", "room": "lead:1", "data": {"x": "y" * 5000}}, timeout=5)
    assert response.status_code == 413 and response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
