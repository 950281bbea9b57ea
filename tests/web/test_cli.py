"""The ``realtime-server`` command as a user runs it: a real process, real signals."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from actors import Settings, TokenVerifier
from tests.client import WsClient
from tests.conftest import SECRET

EXE = str(Path(sys.executable).with_name("realtime-server"))


def env(**extra):
    base = {k: v for k, v in os.environ.items() if k not in ("JWT_SECRET", "DATABASE_URL", "WEBSOCKET_DEBUG")}
    base.update(extra)
    return base


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(port, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early with {proc.returncode}: {proc.stderr.read()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).ok:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError("server did not become healthy")


def test_token_command_signs_with_the_configured_key():
    out = subprocess.run([EXE, "token", "--sub", "42", "--role", "EMPLOYEE", "--ttl", "120", "--rooms", "lead:*"],
                         env=env(JWT_SECRET=SECRET), capture_output=True, text=True, timeout=30, check=True)
    identity = TokenVerifier(Settings(jwt_secret=SECRET)).verify(out.stdout.strip())
    assert (identity.user_id, identity.role, identity.room_patterns) == ("42", "EMPLOYEE", ("lead:*",))
    assert 100 < identity.exp - time.time() <= 121


def test_missing_secret_is_a_clear_error(tmp_path):
    out = subprocess.run([EXE, "serve", "--port", "0"], env=env(), cwd=tmp_path, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2 and "JWT_SECRET is required" in out.stderr and "--dev" in out.stderr


def test_serve_then_sigterm_closes_sockets_with_1001_and_exits_0(tmp_path):
    port = free_port()
    proc = subprocess.Popen([EXE, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path,
                            env=env(JWT_SECRET=SECRET), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_health(port, proc)
        assert (tmp_path / "data" / "realtime.db").exists()  # the default: an SQLite file under ./data
        token = subprocess.run([EXE, "token", "--sub", "3", "--role", "EMPLOYEE"], env=env(JWT_SECRET=SECRET),
                               capture_output=True, text=True, timeout=30, check=True).stdout.strip()
        clients = [WsClient.open(port, token) for _ in range(3)]
        for client in clients:
            assert client.recv()["type"] == "CONNECTED"
        proc.send_signal(signal.SIGTERM)
        assert [client.expect_close() for client in clients] == [1001, 1001, 1001]
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopped" in proc.stderr.read()


def test_dev_mode_generates_a_key_says_so_and_keeps_it(tmp_path):
    port = free_port()
    proc = subprocess.Popen([EXE, "serve", "--dev", "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path,
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_health(port, proc)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        log = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "DEVELOPMENT MODE" in log
    admin = re.search(r"Admin token \(sub 1\):\s+(\S+)", log).group(1)
    secret = (tmp_path / "data" / "dev-jwt-secret").read_text()
    assert oct((tmp_path / "data" / "dev-jwt-secret").stat().st_mode & 0o777) == "0o600"
    assert TokenVerifier(Settings(jwt_secret=secret)).verify(admin).role == "ADMIN"
    again = subprocess.run([EXE, "token", "--dev", "--sub", "2", "--role", "EMPLOYEE"], cwd=tmp_path, env=env(),
                           capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    assert TokenVerifier(Settings(jwt_secret=secret)).verify(again).user_id == "2"


@pytest.mark.parametrize("flag, value", [("--port", "eighty"), ("--max-frame-bytes", "big")])
def test_bad_flags_are_refused(flag, value):
    out = subprocess.run([EXE, "serve", flag, value], env=env(JWT_SECRET=SECRET), capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2 and flag in out.stderr
