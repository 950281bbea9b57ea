"""Shared fixtures: a real server on a free loopback port, real WebSocket clients, real databases.

gevent is patched here first, as in the server's own entry point (``scripts/test`` runs pytest
under ``python -m gevent.monkey`` so the patch comes even earlier).
"""

from gevent import monkey

if not monkey.is_module_patched("socket"):
    monkey.patch_all()

import gc  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any

import gevent  # noqa: E402
import pykka  # noqa: E402
import pytest  # noqa: E402

from actors import Settings, issue_token  # noqa: E402
from tests.client import WsClient  # noqa: E402
from web.server import RealtimeServer  # noqa: E402

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def live_greenlets() -> int:
    """Spawned greenlets still alive: actors (patched threads), readers, writers, timers."""
    return sum(1 for obj in gc.get_objects() if isinstance(obj, gevent.Greenlet) and not obj.dead)


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        gevent.sleep(interval)


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves actors or greenlets behind: a fixture that starts an actor also stops it."""
    actors_before = len(pykka.ActorRegistry.get_all())
    greenlets_before = live_greenlets()
    yield
    wait_until(lambda: len(pykka.ActorRegistry.get_all()) <= actors_before)
    assert len(pykka.ActorRegistry.get_all()) <= actors_before, f"actors leaked: {pykka.ActorRegistry.get_all()}"
    gc.collect()
    ok = wait_until(lambda: live_greenlets() <= greenlets_before)
    assert ok, f"greenlets leaked: {live_greenlets()} alive, {greenlets_before} before"


def make_settings(tmp_path: Any, **overrides: Any) -> Settings:
    base: dict[str, Any] = dict(
        host="127.0.0.1", port=0, jwt_secret=SECRET, database_url=f"sqlite:///{tmp_path}/realtime.db",
        data_dir=str(tmp_path), close_timeout=1.0,
    )
    base.update(overrides)
    settings = Settings(**base)
    settings.validate()
    return settings


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def start_server(tmp_path: Any) -> Iterator[Callable[..., RealtimeServer]]:
    """``start_server(**settings)`` runs a server in this process; every one is stopped afterwards."""
    started: list[RealtimeServer] = []

    def start(**overrides: Any) -> RealtimeServer:
        server = RealtimeServer(make_settings(tmp_path, **overrides)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., RealtimeServer]) -> RealtimeServer:
    return start_server()


def token(sub: str = "42", role: str = "EMPLOYEE", **kwargs: Any) -> str:
    return issue_token(Settings(jwt_secret=SECRET), sub, role, **kwargs)


@pytest.fixture
def connect(server: RealtimeServer) -> Iterator[Callable[..., WsClient]]:
    """``connect(sub, role)`` opens a real WebSocket to ``server`` and reads CONNECTED."""
    clients: list[WsClient] = []

    def open_client(sub: str = "42", role: str = "EMPLOYEE", **kwargs: Any) -> WsClient:
        client = WsClient.open(server.port, token(sub, role, **kwargs))
        clients.append(client)
        connected = client.recv()
        assert connected["type"] == "CONNECTED", connected
        client.connected = connected
        return client

    yield open_client
    for client in clients:
        client.close()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {token('1', 'ADMIN')}"}


def postgres_available() -> str | None:
    """None when the test PostgreSQL answers; else the reason (CI then fails instead of skipping)."""
    try:
        import psycopg2
    except ImportError:
        return "psycopg2 is not installed (pip install -e '.[test]')"
    try:
        psycopg2.connect(POSTGRES_URL, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        return (f"PostgreSQL not reachable at {POSTGRES_URL} ({str(exc).strip()[:120]}); "
                "start it or set TEST_DATABASE_URL")
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL database, dropped afterwards."""
    reason = postgres_available()
    if reason:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    import psycopg2

    schema = f"rt_test_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(POSTGRES_URL)
    conn.autocommit = True
    conn.cursor().execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-c%20search_path%3D{schema}"
    conn.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
    conn.close()


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_available(url: str = REDIS_URL) -> str | None:
    """None when the test Redis answers; else the reason (CI then fails instead of skipping)."""
    try:
        import redis
    except ImportError:
        return "redis-py is not installed (pip install -e '.[test]')"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001
        return f"Redis not reachable at {url} ({str(exc).strip()[:120]}); start redis-server or set TEST_REDIS_URL"
    return None


@pytest.fixture
def redis_url() -> str:
    """The test Redis (``TEST_REDIS_URL``, default 127.0.0.1:6379/0): fails in CI when unreachable, skips elsewhere.

    Tests share it, so each names its keys under a prefix of its own (``redis_prefix``).
    """
    reason = redis_available()
    if reason:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"rt-test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: Any, tmp_path: Any) -> str:
    """Run a test on a real SQLite file and on the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return str(request.getfixturevalue("postgres_url"))
