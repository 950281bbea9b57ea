"""Who gets a socket: 401/403/503 before any upgrade, CONNECTED first for everyone else."""

import time

import jwt
import pytest
import requests
import websocket

from actors.protocol.events import EXAMPLES
from tests.client import WsClient
from tests.conftest import SECRET, token

UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def handshake(port, query="", headers=None):
    return requests.get(f"http://127.0.0.1:{port}/ws{query}", headers={**UPGRADE, **(headers or {})}, timeout=5)


def now():
    return int(time.time())


BAD_TOKENS = {
    "missing": None,
    "malformed": "abc.def.ghi",
    "expired": jwt.encode({"sub": "1", "role": "ADMIN", "iat": now() - 7200, "exp": now() - 3600}, SECRET),
    "wrong key": jwt.encode({"sub": "1", "role": "ADMIN", "iat": now(), "exp": now() + 60}, "k" * 40),
    "alg none": jwt.encode({"sub": "1", "role": "ADMIN", "iat": now(), "exp": now() + 60}, None, algorithm="none"),
    "no exp": jwt.encode({"sub": "1", "role": "ADMIN", "iat": now()}, SECRET),
}


@pytest.mark.parametrize("case", BAD_TOKENS)
def test_bad_tokens_get_401_and_no_upgrade(server, case):
    bad = BAD_TOKENS[case]
    response = handshake(server.port, f"?token={bad}" if bad else "")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert "Sec-WebSocket-Accept" not in response.headers
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        WsClient.open(server.port, bad)
    assert err.value.status_code == 401


def test_bearer_header_is_accepted(server):
    client = WsClient.open(server.port, header=[f"Authorization: Bearer {token('5', 'ADMIN')}"])
    try:
        hello = client.recv()
        assert hello["type"] == "CONNECTED" and hello["data"]["userId"] == "5"
        assert hello["data"]["rooms"] == ["user:5", "role:ADMIN"]
    finally:
        client.close()


def test_connected_is_the_first_frame_and_home_rooms_are_live(connect, server, admin_headers):
    client = connect("42", "EMPLOYEE")
    data = client.connected["data"]
    assert data["connectionId"] and data["userId"] == "42" and data["role"] == "EMPLOYEE"
    assert data["rooms"] == ["user:42", "role:EMPLOYEE"] and data["heartbeat"] == 25
    assert client.connected["timestamp"].endswith("Z")
    for room in ("user:42", "role:EMPLOYEE"):
        answer = requests.post(f"http://127.0.0.1:{server.port}/api/live-sync", headers=admin_headers,
                               json={"type": "SYSTEM_ALERT", "room": room, "data": EXAMPLES["SYSTEM_ALERT"]}, timeout=5)
        assert answer.status_code == 202 and answer.json()["delivered"] == 1
        assert client.recv()["room"] == room


def test_origin_allow_list(start_server):
    server = start_server(allowed_origins=("https://dash.example",))
    good = token()
    assert handshake(server.port, f"?token={good}", {"Origin": "https://evil.example"}).status_code == 403
    client = WsClient.open(server.port, good, origin="https://dash.example")
    assert client.recv()["type"] == "CONNECTED"
    client.close()
    same_origin = f"http://127.0.0.1:{server.port}"
    client = WsClient.open(server.port, good, origin=same_origin)
    assert client.recv()["type"] == "CONNECTED"
    client.close()


def test_connection_limit(start_server):
    server = start_server(max_connections=2)
    clients = [WsClient.open(server.port, token(str(i))) for i in range(2)]
    for client in clients:
        assert client.recv()["type"] == "CONNECTED"
    refused = handshake(server.port, f"?token={token()}")
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "UNAVAILABLE"
    clients[0].close()
    deadline = time.monotonic() + 5
    while handshake(server.port, f"?token={token()}").status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.05)
    late = WsClient.open(server.port, token("9"))
    assert late.recv()["type"] == "CONNECTED"
    late.close()
    clients[1].close()


def test_plain_get_without_upgrade_is_a_clear_400(server):
    response = requests.get(f"http://127.0.0.1:{server.port}/ws?token={token()}", timeout=5)
    assert response.status_code == 400
    assert "error" in response.json()
