"""Logs as operators read them: LOG_FORMAT=json lines with context, a start-up line, and never a token.

The server runs as a real process (``realtime-server serve``) and is driven with real tokens over
every way a token travels (``?token=`` on /ws and /sse, ``Authorization`` on REST, an ``AUTH``
frame, tokens that fail); then every line it logged is searched for the text of every token.
"""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess

import jwt
import requests

from actors import Settings
from tests.client import SseClient, WsClient
from tests.conftest import SECRET, token
from tests.web.test_cli import EXE, env, free_port, wait_for_health
from web.logging_setup import JsonFormatter, configure_logging, effective_settings, mask_url, redact

METRICS_TOKEN = "metrics-token-do-not-log-0123"


def serve(tmp_path, *flags, **extra_env):
    port = free_port()
    proc = subprocess.Popen([EXE, "serve", "--host", "127.0.0.1", "--port", str(port), *flags], cwd=tmp_path,
                            env=env(JWT_SECRET=SECRET, METRICS_TOKEN=METRICS_TOKEN, **extra_env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_health(port, proc)
    return port, proc


def finish(proc) -> str:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    return proc.stderr.read()


def traffic(port: int) -> list[str]:
    """Real clients doing what clients do, each way a token can travel; returns every token used."""
    employee, admin, fresh = token("42", "EMPLOYEE"), token("1", "ADMIN"), token("42", "EMPLOYEE", ttl=7200)
    forged = jwt.encode({"sub": "42", "role": "ADMIN", "exp": 4102444800, "iat": 1}, "another-key-" * 4,
                        algorithm="HS256")
    client = WsClient.open(port, employee)
    assert client.recv()["type"] == "CONNECTED"
    client.send("SUBSCRIBE", {"room": "user:99"}, id="a")
    assert client.recv()["data"]["code"] == "FORBIDDEN"
    client.send("AUTH", {"token": fresh}, id="b")
    assert client.recv()["type"] == "AUTHENTICATED"
    client.send("AUTH", {"token": forged}, id="c")
    assert client.recv()["data"]["code"] == "BAD_REQUEST"
    client.send_raw(json.dumps({"type": "NOPE", "data": {"token": forged}}))
    assert client.recv()["data"]["code"] == "UNKNOWN_TYPE"
    stream = SseClient(port, employee, rooms="lead:9")
    assert stream.next_of("CONNECTED")
    headers = {"Authorization": f"Bearer {admin}"}
    published = requests.post(f"http://127.0.0.1:{port}/api/live-sync", headers=headers, timeout=5,
                              json={"type": "LEAD_UPDATED", "room": "lead:9", "data": {"leadId": "9"}})
    assert published.status_code == 202
    assert requests.get(f"http://127.0.0.1:{port}/api/ws", headers={"Authorization": f"Bearer {forged}"},
                        timeout=5).status_code == 401
    refused = requests.get(f"http://127.0.0.1:{port}/ws", params={"token": forged}, timeout=5,
                           headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert refused.status_code == 401
    assert requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5,
                        headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
    stream.close()
    client.ws.close(status=1000)
    return [employee, admin, fresh, forged, METRICS_TOKEN, SECRET]


def test_json_lines_carry_context_and_no_token_even_at_debug_with_tracing(tmp_path):
    port, proc = serve(tmp_path, "--debug", LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    try:
        secrets = traffic(port)
    finally:
        if proc.poll() is None:
            log = finish(proc)
    lines = [line for line in log.splitlines() if line.strip()]
    assert len(lines) > 20
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
        assert entry["time"].endswith("Z")
    for secret in secrets:  # the whole log, every level, every logger
        leaked = [line for line in lines if secret in line]
        assert not leaked, f"a token reached the log: {leaked[:2]}"

    start = next(e for e in entries if e["message"] == "starting serve")
    assert start["settings"]["JWT_SECRET"] == "***" and start["settings"]["METRICS_TOKEN"] == "***"
    assert start["settings"]["PORT"] == port and start["settings"]["LOG_FORMAT"] == "json"
    connected = next(e for e in entries if e["message"] == "connected" and e["transport"] == "websocket")
    assert connected["user_id"] == "42" and connected["role"] == "EMPLOYEE" and len(connected["connection_id"]) == 16
    assert connected["logger"] == "realtime.connection" and connected["level"] == "INFO"
    refusal = next(e for e in entries if e.get("code") == "FORBIDDEN")
    assert refusal["room"] == "user:99" and refusal["frame"] == "SUBSCRIBE"
    assert refusal["connection_id"] == connected["connection_id"] and refusal["level"] == "INFO"
    closed = next(e for e in entries if e["message"] == "disconnected" and e["connection_id"] ==
                  connected["connection_id"])
    assert closed["code"] == 1000 and closed["reason"] == "normal close" and closed["user_id"] == "42"
    sse_gone = next(e for e in entries if e["message"] == "disconnected" and e["connection_id"] !=
                    connected["connection_id"])
    assert sse_gone["code"] == 1006
    handshake = next(e for e in entries if e["message"].startswith("refused GET /ws"))
    assert handshake["code"] == "UNAUTHORIZED" and handshake["transport"] == "websocket"
    rest = next(e for e in entries if e["message"].startswith("refused GET /api/ws"))
    assert rest["code"] == "UNAUTHORIZED" and rest["path"] == "/api/ws"


def test_text_lines_at_info_say_who_and_why(tmp_path):
    port, proc = serve(tmp_path)  # the defaults: LOG_FORMAT=text, LOG_LEVEL=INFO
    try:
        client = WsClient.open(port, token("42", "EMPLOYEE"))
        connection_id = client.recv()["data"]["connectionId"]
        client.ws.close(status=1000)
    finally:
        log = finish(proc)
    assert " DEBUG realtime" not in log  # INFO by default
    start = next(line for line in log.splitlines() if "starting serve" in line)
    assert "JWT_SECRET=***" in start and f"PORT={port}" in start and SECRET not in log
    line = next(line for line in log.splitlines() if " disconnected " in line)
    assert " INFO realtime.connection: disconnected " in line
    assert f"connection_id={connection_id}" in line and "user_id=42" in line
    assert 'code=1000 reason="normal close"' in line


def test_bad_log_settings_are_refused(tmp_path):
    for name, value in (("LOG_FORMAT", "xml"), ("LOG_LEVEL", "LOUD")):
        out = subprocess.run([EXE, "serve"], env=env(JWT_SECRET=SECRET, **{name: value}), cwd=tmp_path,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and name in out.stderr


def test_redaction_and_masking():
    jwt_text = token("42", "EMPLOYEE")
    assert jwt_text not in redact(f"GET /ws?token={jwt_text} HTTP/1.1")
    assert redact("GET /sse?rooms=a&token=abc123 HTTP/1.1") == "GET /sse?rooms=a&token=*** HTTP/1.1"
    assert redact("Authorization: Bearer s3cr3t-value") == "Authorization: Bearer ***"
    assert jwt_text not in redact(f"failed for {jwt_text}")
    assert mask_url("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"
    assert mask_url("postgresql://app:pw@db/app") == "postgresql://app:***@db/app"
    shown = effective_settings(Settings(jwt_secret=SECRET, database_url="postgresql://app:pw@db/app"))
    assert shown["JWT_SECRET"] == "***" and shown["DATABASE_URL"] == "postgresql://app:***@db/app"
    assert shown["METRICS_TOKEN"] == ""  # not set: nothing to mask, and it says so


def test_a_token_passed_to_a_log_call_by_mistake_is_not_written():
    stream = io.StringIO()
    handler = configure_logging("INFO", "json", stream)
    try:
        jwt_text = token("42", "EMPLOYEE")
        logging.getLogger("realtime.test").info("oops %s", jwt_text, extra={"room": "lead:9", "trace_id": "t-1"})
    finally:
        logging.getLogger().removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert jwt_text not in stream.getvalue() and entry["message"] == "oops ***"
    assert entry["room"] == "lead:9" and entry["trace_id"] == "t-1"
    assert isinstance(JsonFormatter().format(logging.makeLogRecord({"msg": "x"})), str)


def test_lines_logged_from_many_greenlets_leave_no_dummy_thread_behind():
    """A record asking for its thread name made gevent create a dummy Thread per logging greenlet (every
    connection logs ``connected``), kept in ``threading._active`` while the greenlet lived."""
    import threading

    import gevent
    import gevent.event

    stream = io.StringIO()
    handler = configure_logging("INFO", "text", stream)
    hold = gevent.event.Event()

    def connection(n: int) -> None:
        logging.getLogger("realtime.connection").info("connected", extra={"connection_id": f"c{n}"})
        hold.wait()

    before = len(threading._active)  # type: ignore[attr-defined]
    try:
        greenlets = [gevent.spawn(connection, n) for n in range(200)]
        gevent.sleep(0.05)
        assert stream.getvalue().count("connected") == 200
        assert len(threading._active) - before < 5  # type: ignore[attr-defined]  # not one per greenlet
    finally:
        hold.set()
        gevent.joinall(greenlets, timeout=2)
        logging.getLogger().removeHandler(handler)
