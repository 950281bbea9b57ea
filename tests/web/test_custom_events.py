"""A company's own event types (``EVENT_TYPES_FILE``): declared in a file, validated and routed like built-in ones.

The end-to-end test runs ``realtime-server serve`` as a user would, with the file named in the environment,
and publishes over REST to a subscriber on a real WebSocket.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from actors.config import DEFAULT_ROOM_PREFIXES
from actors.errors import ConfigError
from actors.protocol.events import CATALOGUE
from actors.protocol.schemas_custom import parse_types
from tests.client import WsClient
from tests.conftest import SECRET, token

EXE = str(Path(sys.executable).with_name("realtime-server"))
ORDERS = """
# our shop's events
[ORDER_SHIPPED]
summary = "an order left the warehouse"
rooms = ["order:{orderId}", "user:{customerId}"]
required = { orderId = "id", customerId = "id", carrier = "text" }
optional = { weight = "number", express = "bool" }
example = { orderId = "A-17", customerId = "42", carrier = "DHL", weight = 2.5 }

[INVOICE_PAID]
summary = "an invoice was paid"
rooms = ["order:{orderId}"]
required = { orderId = "id", amount = "number" }
example = { orderId = "A-17", amount = 99.5 }
"""
PREFIXES = (*DEFAULT_ROOM_PREFIXES, "order")


@contextlib.contextmanager
def running_server(tmp: Path, declarations: str, suffix: str = ".toml") -> Iterator[int]:
    """``realtime-server serve`` with EVENT_TYPES_FILE and ROOM_PREFIXES=order, until the block ends."""
    path = tmp / f"events{suffix}"
    path.write_text(declarations)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BROKER_URL")}
    env.update({"JWT_SECRET": SECRET, "HOST": "127.0.0.1", "PORT": str(port), "EVENT_TYPES_FILE": str(path),
                "ROOM_PREFIXES": "order", "DATABASE_URL": f"sqlite:///{tmp}/custom.db", "CLOSE_TIMEOUT": "1"})
    process = subprocess.Popen([EXE, "serve"], env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_custom_type_is_published_to_its_default_rooms_and_validated(tmp_path):
    service = {"Authorization": f"Bearer {token('shop', 'SERVICE')}"}
    with running_server(tmp_path, ORDERS) as port:
        watcher = WsClient.open(port, token("42", "EMPLOYEE"))  # customer 42: in user:42 from the start
        try:
            assert watcher.recv()["type"] == "CONNECTED"
            url = f"http://127.0.0.1:{port}/api/live-sync"
            event = {"type": "ORDER_SHIPPED", "data": {"orderId": "A-17", "customerId": 42, "carrier": "DHL"}}
            answer = requests.post(url, headers=service, json=event, timeout=5)
            assert answer.status_code == 202, answer.text
            body = answer.json()
            assert body["room"] == "order:A-17" and [r["room"] for r in body["rooms"]] == ["order:A-17", "user:42"]
            pushed = watcher.recv()
            assert pushed["type"] == "ORDER_SHIPPED" and pushed["room"] == "user:42"
            assert pushed["data"] == event["data"]  # passed on as it came

            bad = requests.post(url, headers=service, timeout=5, json={
                "type": "ORDER_SHIPPED", "data": {"orderId": "A-17", "carrier": 5, "weight": "heavy"}})
            assert bad.status_code == 400 and bad.json()["error"]["fields"] == {
                "data.customerId": "required", "data.carrier": "must be a string", "data.weight": "must be a number"}
            unknown = requests.post(url, headers=service, json={"type": "ORDER_LOST", "data": {}}, timeout=5)
            assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "UNKNOWN_TYPE"
            assert "ORDER_SHIPPED" in unknown.json()["error"]["message"]  # the known types include ours
        finally:
            watcher.close()
    assert "ORDER_SHIPPED" not in CATALOGUE  # another process's types never reach this one


def test_json_works_too(tmp_path):
    declared = {"TICKET_OPENED": {"summary": "a support ticket was opened", "rooms": ["role:ADMIN"],
                                  "required": {"ticketId": "id"}, "example": {"ticketId": 5}}}
    with running_server(tmp_path, json.dumps(declared), suffix=".json") as port:
        answer = requests.post(f"http://127.0.0.1:{port}/api/live-sync", timeout=5,
                               headers={"Authorization": f"Bearer {token('1', 'ADMIN')}"},
                               json={"type": "TICKET_OPENED", "data": {"ticketId": 5}})
        assert answer.status_code == 202 and answer.json()["room"] == "role:ADMIN"


@pytest.mark.parametrize("declaration, says", [
    ({"lead_created": {}}, "A-Z 0-9 _"),
    ({"LEAD_CREATED": {"summary": "x", "rooms": ["lead:{leadId}"], "required": {"leadId": "id"},
                       "example": {"leadId": 1}}}, "built-in"),
    ({"X_Y": {"summary": "x", "rooms": ["shop:{id}"], "required": {"id": "id"}, "example": {"id": 1}}},
     "prefix must be one of"),
    ({"X_Y": {"summary": "x", "rooms": ["order:{id}"], "optional": {"id": "id"}, "example": {"id": 1}}},
     "not a required field"),
    ({"X_Y": {"summary": "x", "rooms": ["order:{id}"], "required": {"id": "uuid"}, "example": {"id": 1}}},
     "unknown kind 'uuid'"),
    ({"X_Y": {"summary": "x", "rooms": ["order:{id}"], "required": {"id": "id", "n": "number"},
              "example": {"id": 1, "n": "one"}}}, "data.n: must be a number"),
    ({"X_Y": {"summary": "x", "rooms": ["order:{id}"], "required": {"id": "id"}}}, "example: required"),
    ({"X_Y": {"summary": "x", "rooms": ["order:{id}"], "required": {"id": "id"}, "example": {"id": "a b"}}},
     "example is refused"),
    ({"X_Y": {"summary": "x", "rooms": [], "required": {"id": "id"}, "example": {"id": 1}}}, "rooms: required"),
    ({"X_Y": {"summary": "x", "room": ["order:{id}"]}}, "unknown key 'room'"),
])
def test_every_mistake_is_named_before_the_server_starts(declaration, says):
    with pytest.raises(ConfigError) as refused:
        parse_types(declaration, PREFIXES)
    assert says in refused.value.message
    assert list(declaration)[0] in refused.value.message or "A-Z" in refused.value.message


def test_a_bad_file_stops_the_start_with_exit_2(tmp_path):
    path = tmp_path / "events.toml"
    path.write_text('[ORDER_SHIPPED]\nsummary = "x"\nrooms = ["order:{orderId}"]\nrequired = { orderId = "uuid" }\n')
    env = {**os.environ, "JWT_SECRET": SECRET, "EVENT_TYPES_FILE": str(path), "ROOM_PREFIXES": "order",
           "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    done = subprocess.run([EXE, "serve", "--port", "0", "--host", "127.0.0.1"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "ORDER_SHIPPED: required.orderId: unknown kind 'uuid'" in done.stderr
