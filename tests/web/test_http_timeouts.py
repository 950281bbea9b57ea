"""No socket holds the server before its request is in: header and keep-alive timeouts, and a bound on
connections still sending their request (slowloris), against a real server with short timeouts.

The attacker's test held 1,000 half-finished upgrades (1 byte every 15 s) and 200 silent or half-header
sockets for over 120 s, none of them counted toward MAX_CONNECTIONS and no token needed.
"""

from __future__ import annotations

import argparse
import socket

import gevent
import pytest
import requests

from actors.config import Settings, add_arguments, load_settings
from actors.errors import ConfigError
from tests.client import WsClient
from tests.conftest import token, wait_until

SHORT = dict(http_header_timeout=1.0, http_idle_timeout=1.0)
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _open(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _closed_by_server(sock: socket.socket, within: float = 10.0) -> bytes | None:
    """What the server sent before closing (b"" for nothing), or None when it kept the socket open."""
    sock.settimeout(within)
    received = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return received
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        return received


def _status(port: int) -> dict:
    response = requests.get(f"http://127.0.0.1:{port}/api/ws", timeout=5,
                            headers={"Authorization": f"Bearer {token('1', 'ADMIN')}"})
    assert response.status_code == 200
    return response.json()["http"]


def test_a_silent_socket_is_closed_after_the_header_timeout(start_server):
    server = start_server(**SHORT)
    sock = _open(server.port)
    try:
        assert _closed_by_server(sock) == b""
    finally:
        sock.close()
    assert wait_until(lambda: _status(server.port)["headerTimeouts"] >= 1)


@pytest.mark.parametrize("head", [
    b"GET /ws?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n",  # half the headers
    b"GET /heal",  # half the request line
])
def test_half_a_request_is_closed_after_the_header_timeout(start_server, capfd, head):
    server = start_server(**SHORT)
    sock = _open(server.port)
    capfd.readouterr()
    try:
        sock.sendall(head)
        assert _closed_by_server(sock) == b""
    finally:
        sock.close()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Invalid request" not in err, err  # a cut is not the client's error


def test_a_slowloris_trickle_is_cut_while_it_is_still_sending(start_server):
    """One byte at a time keeps every read busy: only a deadline for the whole header stops it."""
    server = start_server(**SHORT)
    sock = _open(server.port)
    head = b"GET /ws?token=" + b"a" * 200 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    sent = 0
    try:
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break  # the server closed it
            sent += 1
            gevent.sleep(0.3)
            sock.settimeout(0)
            try:
                if sock.recv(1) == b"":
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
        assert sent < len(head), "the whole request went through one byte at a time"
    finally:
        sock.close()


def test_a_kept_alive_connection_is_served_then_closed_when_idle(start_server):
    server = start_server(**SHORT)
    sock = _open(server.port)
    try:
        for _ in range(3):  # keep-alive works: several requests on one connection, each within the idle time
            sock.sendall(REQUEST)
            reply = b""
            while b'{"ok":true}' not in reply:
                chunk = sock.recv(4096)
                assert chunk, reply
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 200")
            gevent.sleep(0.3)
        assert _closed_by_server(sock) == b""  # then silence: closed after the idle timeout
    finally:
        sock.close()
    assert wait_until(lambda: _status(server.port)["idleTimeouts"] >= 1)


def test_the_header_deadline_of_a_kept_alive_connection_starts_with_its_next_request(start_server):
    server = start_server(http_header_timeout=1.0, http_idle_timeout=5.0)
    sock = _open(server.port)
    try:
        sock.sendall(REQUEST)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        gevent.sleep(1.5)  # idle longer than the header timeout, shorter than the idle timeout
        sock.sendall(REQUEST)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # then half a request: the header deadline applies
        assert _closed_by_server(sock) == b""
    finally:
        sock.close()


def test_waiting_connections_are_bounded_and_the_oldest_goes_first(start_server):
    server = start_server(http_header_timeout=60.0, http_idle_timeout=60.0, max_pending_connections=5)
    silent = [_open(server.port) for _ in range(5)]
    try:
        assert wait_until(lambda: _status(server.port)["pending"] >= 4)  # (the status call is one of them)
        more = [_open(server.port) for _ in range(20)]
        silent += more
        assert _closed_by_server(silent[0]) == b""  # the oldest was closed to make room
        assert wait_until(lambda: _status(server.port)["pending"] <= 5)
        # a real request still gets through at once, however many sockets wait
        assert requests.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5).json() == {"ok": True}
        assert _status(server.port)["evicted"] >= 20
        still_open = sum(1 for sock in silent[-4:] if _closed_by_server(sock, within=0.2) is None)
        assert still_open >= 1  # the newest ones are still waiting: only the surplus was closed
    finally:
        for sock in silent:
            sock.close()


def test_upgraded_sockets_and_slow_apps_are_not_cut_by_the_header_timeout(start_server):
    server = start_server(**SHORT)
    client = WsClient.open(server.port, token("42"))
    try:
        assert client.recv()["type"] == "CONNECTED"
        gevent.sleep(2.5)  # longer than both HTTP timeouts: the socket is a WebSocket now
        client.send("PING", id="still-here")
        assert client.recv()["data"] == {"ref": "still-here"}
    finally:
        client.close()
    assert _status(server.port)["pending"] <= 1


def test_the_timeouts_are_settings_with_flags():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--http-header-timeout", "3", "--http-idle-timeout", "4",
                              "--max-pending-connections", "9"])
    settings = load_settings(args, environ={})
    assert (settings.http_header_timeout, settings.http_idle_timeout, settings.max_pending_connections) == (3, 4, 9)
    defaults = Settings()
    assert defaults.http_header_timeout > 0 and defaults.http_idle_timeout > 0 and defaults.max_pending_connections > 0
    for bad in (dict(http_header_timeout=0), dict(http_idle_timeout=-1), dict(max_pending_connections=0)):
        with pytest.raises(ConfigError):
            Settings(jwt_secret="x" * 40, **bad).validate()


def test_process_figures_are_given_on_request_only(server):
    headers = {"Authorization": f"Bearer {token('1', 'ADMIN')}"}
    plain = requests.get(f"http://127.0.0.1:{server.port}/api/ws", headers=headers, timeout=5).json()
    assert "process" not in plain
    client = WsClient.open(server.port, token("42"))
    try:
        assert client.recv()["type"] == "CONNECTED"
        process = requests.get(f"http://127.0.0.1:{server.port}/api/ws?process=true", headers=headers,
                               timeout=5).json()["process"]
    finally:
        client.close()
    assert process["rssBytes"] > 10 * 2**20 and process["greenlets"] >= 1
    assert process["sockets"] >= 2 and process["fds"] >= process["sockets"]  # the listener and this WebSocket
