"""Hardening of /ws against a client that means harm, and the /echo test mode: over real sockets to a real server.

Each attack of issue 11 is sent as the attacker sent it (raw frames after a real handshake with a valid
EMPLOYEE token), and what the server answers is read as a browser would read it: the close code, the
order of the answers, and that the server keeps serving everyone else meanwhile.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import subprocess
import time
from typing import Any

import gevent
import pytest
import requests

from actors.errors import ConfigError
from actors.transport.framing import OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT
from tests.actors.parts import Peer, client_frame
from tests.conftest import SECRET, make_settings, token
from tests.web.test_cli import EXE, env, run_serve, stop, wait_for_health


def open_raw(port: int, path: str = "/ws", token_: str | None = None, connected: bool = True) -> Peer:
    """A WebSocket opened by hand (the handshake, then raw frames); its CONNECTED frame read when /ws."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    query = f"?token={token_}" if token_ else ""
    sock.sendall((f"GET {path}{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, f"the server closed during the handshake: {head!r}"
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    peer = Peer(sock)
    peer._buffer = rest
    if connected:
        assert peer.json()["type"] == "CONNECTED"
    return peer


def cut(peer: Peer, timeout: float) -> bool:
    """True when the server ends the connection (with or without a close frame) within ``timeout``."""
    try:
        while True:
            frame = peer.frame(timeout)
            if frame.opcode == OP_CLOSE:
                return True
    except EOFError:
        return True
    except TimeoutError:
        return False




def status(server: Any) -> dict[str, Any]:
    answer = requests.get(f"http://127.0.0.1:{server.port}/api/ws",
                          headers={"Authorization": f"Bearer {token('1', 'ADMIN')}"}, timeout=5)
    return answer.json()  # type: ignore[no-any-return]


# --- D1: one socket must not stall the server ------------------------------------------------------


def test_a_flood_of_empty_continuation_frames_is_charged_and_closed_with_1008(server):
    """The first attack: FIN=0 and no payload, then 1,000 empty continuation frames per write."""
    peer = open_raw(server.port, token_=token())
    peer.sock.sendall(client_frame(b"", OP_TEXT, fin=False))
    flood = client_frame(b"", OP_CONTINUATION, fin=False) * 1000
    try:
        for _ in range(20):
            peer.sock.sendall(flood)
    except OSError:
        pass  # the server may have closed already
    assert peer.close_code() == 1008  # MAX_MESSAGE_FRAGMENTS (32) comes first with the defaults
    peer.sock.close()


@pytest.mark.parametrize("frame", [client_frame(b"", OP_CONTINUATION, fin=False), client_frame(b"", OP_PING),
                                   client_frame(b"", OP_PONG)], ids=["continuation", "ping", "pong"])
def test_fragments_and_control_frames_count_toward_the_frame_rate_limit(start_server, frame):
    """With no fragment limit in the way, empty fragments, pings and pongs each take a token, and
    RATE_LIMIT_STRIKES refused in a row close with 1008 (they used to cost nothing: framesIn stayed 0)."""
    server = start_server(max_message_fragments=1_000_000, rate_limit_burst=40, rate_limit_strikes=20)
    peer = open_raw(server.port, token_=token())
    if frame[0] & 0x0F == OP_CONTINUATION:
        peer.sock.sendall(client_frame(b"", OP_TEXT, fin=False))
    try:
        peer.sock.sendall(frame * 1000)
    except OSError:
        pass
    assert peer.close_code() == 1008
    assert status(server)["rateLimited"] >= 20
    peer.sock.close()


def test_a_message_sent_as_one_byte_fragments_is_closed_with_1008(server):
    """The second attack: a legal 64 KiB message as 1-byte fragments, 1,460 bytes a write."""
    peer = open_raw(server.port, token_=token())
    frames = [client_frame(b"x", OP_TEXT, fin=False)] + [client_frame(b"x", OP_CONTINUATION, fin=False)] * 65534
    stream = b"".join(frames)
    try:
        for start in range(0, len(stream), 1460):
            peer.sock.sendall(stream[start:start + 1460])
            if start > 200_000:
                break
    except OSError:
        pass
    assert peer.close_code() == 1008  # MAX_MESSAGE_FRAGMENTS (32) is passed long before the rate limit
    peer.sock.close()


def test_the_fragment_limit_and_its_setting(start_server):
    server = start_server(max_message_fragments=4)
    peer = open_raw(server.port, token_=token())
    peer.sock.sendall(client_frame(b'{"type":', fin=False) + client_frame(b'"PI', OP_CONTINUATION, fin=False)
                      + client_frame(b'NG"', OP_CONTINUATION, fin=False) + client_frame(b"}", OP_CONTINUATION))
    assert peer.json()["type"] == "PONG"  # four fragments are allowed
    peer.sock.sendall(client_frame(b"", fin=False) + client_frame(b"", OP_CONTINUATION, fin=False) * 4)
    assert peer.close_code() == 1008


def test_a_message_not_finished_within_message_timeout_is_closed_with_1008(start_server):
    server = start_server(message_timeout=0.5)
    peer = open_raw(server.port, token_=token())
    peer.sock.sendall(client_frame(b'{"type":"PING"}')[:9])  # a frame begun, never finished
    started = time.monotonic()
    assert peer.close_code(timeout=5) == 1008
    assert time.monotonic() - started >= 0.4


def test_a_trickle_of_fragments_does_not_count_as_life_for_the_heartbeat(start_server):
    """Within the rate limit and the deadline, but completing nothing: cut at HEARTBEAT_TIMEOUT like a
    silent socket (it used to be kept alive by any byte)."""
    server = start_server(heartbeat_interval=0.3, heartbeat_timeout=1.0, message_timeout=30,
                          max_message_fragments=1000)
    peer = open_raw(server.port, token_=token())
    peer.sock.sendall(client_frame(b"", fin=False))
    ended = False
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline and not ended:
        try:
            peer.sock.sendall(client_frame(b"", OP_CONTINUATION, fin=False))
        except OSError:
            ended = True
            break
        try:
            frame = peer.frame(0.25)
            ended = frame.opcode == OP_CLOSE
        except TimeoutError:
            pass
        except EOFError:
            ended = True
    assert ended, "a socket that completed nothing for 6 s was not cut (HEARTBEAT_TIMEOUT 1 s)"


def test_a_message_of_200000_fragments_is_parsed_once_while_healthz_answers(start_server):
    """With every limit raised out of the way, the first attack runs its course: the server keeps answering
    /healthz meanwhile and answers the message at its end."""
    server = start_server(rate_limit_burst=1_000_000, rate_limit_per_second=1_000_000, rate_limit_strikes=1_000_000,
                          max_message_fragments=1_000_000, message_timeout=60)
    peer = open_raw(server.port, token_=token())
    peer.sock.sendall(client_frame(b"", fin=False))
    flood = client_frame(b"", OP_CONTINUATION, fin=False) * 1000

    def attack() -> None:
        for _ in range(200):
            peer.sock.sendall(flood)
            gevent.sleep(0.005)

    attacker = gevent.spawn(attack)
    try:
        while not attacker.dead:
            assert requests.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10).ok  # answered while the flood goes on (each within the request's own timeout)
    finally:
        attacker.join(timeout=60)
        attacker.kill()
    # 200,000 empty fragments, then the last one: parsed once each, so the whole message is still answered
    # (the parser that re-read every fragment on every read would take hours here)
    peer.sock.sendall(client_frame(b'{"type":"PING","id":"after"}', OP_CONTINUATION))
    answer = peer.json(timeout=10)
    assert answer["type"] == "PONG" and answer["data"] == {"ref": "after"}
    peer.sock.close()


# --- D6: invalid close frames ---------------------------------------------------------------------


@pytest.mark.parametrize("payload, answer", [
    (b"\x03", 1002),
    *((struct.pack("!H", code), 1002) for code in (0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999)),
    (struct.pack("!H", 1000) + b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64", 1007),
    (struct.pack("!H", 1000) + b"bye", 1000),
    (struct.pack("!H", 3000), 3000),
    (b"", 1000),
], ids=lambda value: value.hex() or "empty" if isinstance(value, bytes) else str(value))
def test_a_close_frame_is_checked_before_it_is_echoed(server, payload, answer):
    peer = open_raw(server.port, token_=token())
    peer.send_frame(payload, OP_CLOSE)
    assert peer.close_code() == answer


# --- D7: what came before a violation is answered first -------------------------------------------


@pytest.mark.parametrize("violation", [
    client_frame(b"", 0x5),                                  # a reserved opcode
    bytes((0xC1, 0x80)) + b"mask",                           # RSV1 without an extension
    client_frame(b"plain", OP_TEXT, masked=False),           # not masked
], ids=["opcode-5", "rsv1", "unmasked"])
def test_answers_to_frames_before_a_violation_come_before_the_1002(server, violation):
    peer = open_raw(server.port, token_=token())
    peer.sock.sendall(client_frame(b'{"type":"PING","id":"first"}') + client_frame(b"ping", OP_PING) + violation)
    frames = []
    while not frames or frames[-1].opcode != OP_CLOSE:
        frames.append(peer.frame())
    kinds = sorted((f.opcode, f.payload if f.opcode == OP_PONG else None) for f in frames[:-1])
    assert kinds == sorted([(OP_TEXT, None), (OP_PONG, b"ping")])
    assert [f.json()["data"] for f in frames if f.opcode == OP_TEXT] == [{"ref": "first"}]
    assert frames[-1].close_code == 1002


# --- UTF-8 of a fragmented message, checked as it arrives -----------------------------------------


def test_invalid_utf8_in_a_fragment_closes_with_1007_before_the_message_ends(server):
    peer = open_raw(server.port, token_=token())
    peer.sock.sendall(client_frame("κόσμε".encode(), OP_TEXT, fin=False))
    assert peer.silent(0.1)
    peer.sock.sendall(client_frame(b"\xf4\x90\x80\x80", OP_CONTINUATION, fin=False))
    assert peer.close_code() == 1007  # the last fragment was never sent


# --- /echo: the conformance test mode -------------------------------------------------------------


def test_echo_does_not_exist_without_the_test_mode(server):
    assert requests.get(f"http://127.0.0.1:{server.port}/echo", timeout=5).status_code == 404
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert sock.recv(100).startswith(b"HTTP/1.1 404")
    sock.close()


def test_echo_answers_every_message_through_the_same_limits(start_server):
    server = start_server(conformance_echo=True, max_frame_bytes=1000)
    peer = open_raw(server.port, "/echo", connected=False)
    peer.sock.sendall(client_frame("héllo".encode()) + client_frame(b"\x00\xff", OP_BINARY)
                      + client_frame(b"frag", fin=False) + client_frame(b"ping", OP_PING)
                      + client_frame(b"ment", OP_CONTINUATION))
    got = [(f.opcode, f.payload) for f in peer.frames(4)]
    assert got == [(OP_TEXT, "héllo".encode()), (OP_BINARY, b"\x00\xff"), (OP_PONG, b"ping"), (OP_TEXT, b"fragment")]
    peer.send_frame(b"x" * 1001, OP_BINARY)
    assert peer.close_code() == 1009  # MAX_FRAME_BYTES, as on /ws


def test_echo_is_refused_on_a_host_that_is_not_loopback(tmp_path):
    with pytest.raises(ConfigError, match="loopback"):
        make_settings(tmp_path, conformance_echo=True, host="0.0.0.0")
    make_settings(tmp_path, conformance_echo=True, host="::1")
    out = subprocess.run([EXE, "serve", "--conformance-echo", "--host", "0.0.0.0", "--port", "0"],
                         env=env(JWT_SECRET=SECRET), cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "loopback" in out.stderr


def test_the_test_mode_says_so_loudly_at_start(tmp_path):
    port, proc = run_serve(tmp_path, "--conformance-echo", "--host", "127.0.0.1", JWT_SECRET=SECRET,
                           DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite")
    try:
        wait_for_health(port, proc)
        peer = open_raw(port, "/echo", connected=False)
        peer.send_frame(b"no token needed")
        assert peer.frame().payload == b"no token needed"
        peer.sock.close()
    finally:
        stderr = stop(proc)
    assert "CONFORMANCE TEST MODE" in stderr
