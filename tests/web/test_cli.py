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
from tests.conftest import token as make_token

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


def test_dev_mode_keeps_one_key_for_every_folder_and_says_where(tmp_path):
    """``token --dev`` run from another folder signs with the key the running ``serve --dev`` verifies."""
    port = free_port()
    data_home = tmp_path / "xdg"
    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    proc = subprocess.Popen([EXE, "serve", "--dev", "--port", str(port)], cwd=tmp_path / "here",
                            env=env(XDG_DATA_HOME=str(data_home)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_for_health(port, proc)
        token = subprocess.run([EXE, "token", "--dev", "--sub", "2", "--role", "EMPLOYEE"],
                               cwd=tmp_path / "elsewhere", env=env(XDG_DATA_HOME=str(data_home)),
                               capture_output=True, text=True, timeout=30, check=True)
        status = requests.get(f"http://127.0.0.1:{port}/api/ws", timeout=5,
                              headers={"Authorization": f"Bearer {token.stdout.strip()}"})
        assert status.status_code == 200  # the server accepts it: one key, wherever the command ran
        for page in ("/", "/admin"):  # the sign-in pages' hint shows the command that works
            assert "realtime-server token --dev --sub" in requests.get(f"http://127.0.0.1:{port}{page}", timeout=5).text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        out, log = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    key = data_home / "realtime-server" / "dev-jwt-secret"
    assert not (tmp_path / "here" / "data" / "dev-jwt-secret").exists()
    assert not (tmp_path / "elsewhere" / "data").exists()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert str(key) in token.stderr  # the command says which key it used
    assert "DEVELOPMENT MODE" in log and str(key) in log
    assert "realtime-server token --dev --sub 1 --role ADMIN" in log  # the hint shows the command that works
    admin = re.search(r"Admin token \(sub 1\):\s+(\S+)", out).group(1)  # tokens on stdout, never in the log
    assert admin not in log
    assert TokenVerifier(Settings(jwt_secret=key.read_text())).verify(admin).role == "ADMIN"


@pytest.mark.parametrize("flag, value", [("--port", "eighty"), ("--max-frame-bytes", "big")])
def test_bad_flags_are_refused(flag, value):
    out = subprocess.run([EXE, "serve", flag, value], env=env(JWT_SECRET=SECRET), capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2 and flag in out.stderr


def non_loopback_address():
    """An IPv4 address of this machine other than loopback, or None (then the test that needs one skips)."""
    import socket
    candidates = set()
    try:
        candidates.update(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET))
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only asks the routing table
            candidates.add(probe.getsockname()[0])
        except OSError:
            pass
    return next((a for a in sorted(candidates) if not a.startswith("127.") and a != "0.0.0.0"), None)


def run_serve(tmp_path, *flags, **extra_env):
    port = free_port()
    proc = subprocess.Popen([EXE, "serve", "--port", str(port), *flags], cwd=tmp_path,
                            env=env(XDG_DATA_HOME=str(tmp_path / "xdg"), **extra_env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return port, proc


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stderr.read()


def test_dev_mode_listens_on_loopback_unless_host_says_otherwise(tmp_path):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try the dev server from")
    port, proc = run_serve(tmp_path, "--dev")
    try:
        wait_for_health(port, proc)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{address}:{port}/healthz", timeout=2)
    finally:
        log = stop(proc)
    assert f"listening on http://127.0.0.1:{port}" in log


def test_dev_tokens_are_served_to_this_machine_only(tmp_path):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try the dev server from")
    port, proc = run_serve(tmp_path, "--dev", "--host", "0.0.0.0")
    try:
        wait_for_health(port, proc)
        local = requests.get(f"http://127.0.0.1:{port}/api/dev/tokens", timeout=5)
        assert local.status_code == 200 and {u["role"] for u in local.json()["users"]} == {"ADMIN", "EMPLOYEE"}
        remote = requests.get(f"http://{address}:{port}/api/dev/tokens", timeout=5)
        assert remote.status_code == 403 and "realtime-server token --dev" in remote.json()["error"]["message"]
        assert "users" not in remote.json()
        proxied = requests.get(f"http://127.0.0.1:{port}/api/dev/tokens", timeout=5,
                               headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 403  # a proxy on this machine would make everyone look local
        assert requests.get(f"http://{address}:{port}/healthz", timeout=5).ok  # --host opened the rest
    finally:
        log = stop(proc)
    assert "reachable from the network" in log


def test_secrets_and_urls_are_read_from_files(tmp_path):
    """The ``*_FILE`` convention: the server runs on the secret and the database named in files."""
    secret_file = tmp_path / "jwt-secret"
    secret_file.write_text(SECRET + "\n")  # the newline an editor leaves is not part of it
    db_file = tmp_path / "database-url"
    db_file.write_text(f"sqlite:///{tmp_path}/from-file.db\n")
    metrics_file = tmp_path / "metrics-token"
    metrics_file.write_text("metrics-token-from-a-file\n")
    port, proc = run_serve(tmp_path, JWT_SECRET_FILE=str(secret_file), DATABASE_URL_FILE=str(db_file),
                           METRICS_TOKEN_FILE=str(metrics_file))
    try:
        wait_for_health(port, proc)
        client = WsClient.open(port, make_token())
        assert client.recv()["type"] == "CONNECTED"  # signed with SECRET: the file's key verifies it
        client.close()
        scraped = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5,
                               headers={"Authorization": "Bearer metrics-token-from-a-file"})
        assert scraped.status_code == 200 and "realtime_connections" in scraped.text
    finally:
        stop(proc)
    assert (tmp_path / "from-file.db").exists() and not (tmp_path / "data").exists()


def test_a_setting_and_its_file_together_or_an_unreadable_file_are_refused(tmp_path):
    secret_file = tmp_path / "jwt-secret"
    secret_file.write_text(SECRET)
    both = subprocess.run([EXE, "serve"], env=env(JWT_SECRET=SECRET, JWT_SECRET_FILE=str(secret_file)),
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert both.returncode == 2 and "set JWT_SECRET or JWT_SECRET_FILE, not both" in both.stderr
    missing = subprocess.run([EXE, "serve"], env=env(DATABASE_URL_FILE=str(tmp_path / "nope")), cwd=tmp_path,
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2 and "DATABASE_URL_FILE: cannot read" in missing.stderr and "nope" in missing.stderr


def test_public_key_and_redis_url_files(tmp_path, redis_url, redis_prefix):
    """JWT_PUBLIC_KEY_FILE and REDIS_URL_FILE: an RS256 server on the real Redis, both named only in files."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "private.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "public.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo) + b"\n")
    (tmp_path / "redis-url").write_text(redis_url + "\n")
    files = {"JWT_PUBLIC_KEY_FILE": str(tmp_path / "public.pem"), "REDIS_URL_FILE": str(tmp_path / "redis-url")}
    signed = subprocess.run([EXE, "token", "--sub", "1", "--role", "ADMIN", "--private-key",
                             str(tmp_path / "private.pem")], env=env(**files), capture_output=True, text=True,
                            timeout=30, check=True).stdout.strip()
    port, proc = run_serve(tmp_path, REDIS_PREFIX=redis_prefix, **files)
    try:
        wait_for_health(port, proc)
        status = requests.get(f"http://127.0.0.1:{port}/api/ws", headers={"Authorization": f"Bearer {signed}"},
                              timeout=5)
        assert status.status_code == 200, status.text  # verified with the public key from the file
        assert status.json()["broker"]["kind"] == "redis"  # the broker the file named
    finally:
        stop(proc)


def migrate_cmd(tmp_path, *flags, url=None):
    return subprocess.run([EXE, "migrate", *flags], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=env(DATABASE_URL=url or f"sqlite:///{tmp_path}/m.db"))


def test_migrate_and_migrate_check(tmp_path):
    from store import MIGRATIONS

    fresh = migrate_cmd(tmp_path, "--check")
    assert fresh.returncode == 1, fresh.stderr
    assert "not current" in fresh.stdout and f"pending: {MIGRATIONS[0].version} {MIGRATIONS[0].name}" in fresh.stdout
    applied = migrate_cmd(tmp_path)  # no JWT_SECRET needed: this command signs nothing
    assert applied.returncode == 0, applied.stderr
    assert f"applied: {MIGRATIONS[0].version} {MIGRATIONS[0].name}" in applied.stdout
    current = migrate_cmd(tmp_path, "--check")
    assert current.returncode == 0 and f"current ({len(MIGRATIONS)} of {len(MIGRATIONS)}" in current.stdout
    again = migrate_cmd(tmp_path)
    assert again.returncode == 0 and "0 applied now" in again.stdout
    # a database it cannot reach is not "pending" (1): 2, and the password stays out of the message
    unreachable = migrate_cmd(tmp_path, "--check", url="postgresql://app:hunter2@127.0.0.1:1/app")
    assert unreachable.returncode == 2 and "cannot read the database" in unreachable.stderr
    assert "hunter2" not in unreachable.stderr and "app:***@" in unreachable.stderr


def test_migrate_check_on_postgresql(tmp_path, postgres_url):
    assert migrate_cmd(tmp_path, "--check", url=postgres_url).returncode == 1
    assert migrate_cmd(tmp_path, url=postgres_url).returncode == 0
    current = migrate_cmd(tmp_path, "--check", url=postgres_url)
    assert current.returncode == 0, current.stdout + current.stderr


def test_serve_migrates_at_start_unless_told_not_to(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    refused = subprocess.run([EXE, "serve", "--no-migrate", "--port", str(free_port())], cwd=tmp_path,
                             env=env(JWT_SECRET=SECRET, DATABASE_URL=url), capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "realtime-server migrate" in refused.stderr
    assert migrate_cmd(tmp_path, "--check", url=url).returncode == 1  # --no-migrate changed nothing
    port, proc = run_serve(tmp_path, JWT_SECRET=SECRET, DATABASE_URL=url)  # the default: migrate at start
    try:
        wait_for_health(port, proc)
    finally:
        stop(proc)
    assert migrate_cmd(tmp_path, "--check", url=url).returncode == 0
    port, proc = run_serve(tmp_path, "--no-migrate", JWT_SECRET=SECRET, DATABASE_URL=url)
    try:
        wait_for_health(port, proc)  # current now: --no-migrate starts
    finally:
        stop(proc)


ZONE = "Pacific/Chatham"  # +12:45/+13:45: a zone no machine is set to by accident


def test_quiet_hours_work_without_the_os_zone_files(tmp_path):
    """``tzdata`` is a dependency: with PYTHONTZPATH pointing at an empty folder (a slim image without
    /usr/share/zoneinfo) a user's quiet hours in an IANA zone still silence their pushes."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    no_zones = tmp_path / "no-zoneinfo"
    no_zones.mkdir()
    probe = "import zoneinfo, sys; print(zoneinfo.TZPATH); zoneinfo.ZoneInfo(sys.argv[1]); print('found')"
    hidden = subprocess.run([sys.executable, "-c", "import sys; sys.modules['tzdata'] = None; " + probe, ZONE],
                            env=env(PYTHONTZPATH=str(no_zones)), capture_output=True, text=True, timeout=30)
    assert hidden.returncode != 0 and "ZoneInfoNotFoundError" in hidden.stderr  # the OS files are out of reach
    found = subprocess.run([sys.executable, "-c", probe, ZONE], env=env(PYTHONTZPATH=str(no_zones)),
                           capture_output=True, text=True, timeout=30)
    assert found.returncode == 0 and "found" in found.stdout, found.stderr  # ... and tzdata has the zone

    now = dt.datetime.now(ZoneInfo(ZONE))
    window = {"start": (now - dt.timedelta(hours=1)).strftime("%H:%M"),
              "end": (now + dt.timedelta(hours=1)).strftime("%H:%M"), "timezone": ZONE}
    port, proc = run_serve(tmp_path, JWT_SECRET=SECRET, PYTHONTZPATH=str(no_zones))
    try:
        wait_for_health(port, proc)
        user = {"Authorization": f"Bearer {make_token('42', 'EMPLOYEE')}"}
        saved = requests.put(f"http://127.0.0.1:{port}/api/notifications/preferences", headers=user, timeout=5,
                             json={"quietHours": window})
        assert saved.status_code == 200, saved.text
        assert saved.json()["quietHours"]["timezone"] == ZONE
        client = WsClient.open(port, make_token("42", "EMPLOYEE"))
        assert client.recv()["type"] == "CONNECTED"
        created = requests.post(f"http://127.0.0.1:{port}/api/notifications", timeout=5, json={
            "userId": "42", "title": "t", "message": "m", "type": "billing.invoice", "priority": "HIGH"},
            headers={"Authorization": f"Bearer {make_token('1', 'ADMIN')}"})
        assert created.status_code == 201, created.text
        push = client.recv_until(lambda f: f["type"] == "NOTIFICATION")
        assert push["data"]["silent"] is True and push["data"]["toast"] is False  # inside the window, in Chatham
        client.close()
    finally:
        stop(proc)
