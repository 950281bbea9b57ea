"""Real server processes sharing a real Redis: the parts a user runs with ``REDIS_URL`` (and ``--workers``).

Each ``Node`` is a ``realtime-server serve`` process on a free loopback port, started as a user starts it
(environment variables), talking to a Redis: the test Redis (``TEST_REDIS_URL``) under a key prefix of the
test's own, or a private ``redis-server`` this suite starts on a free port when a test must stop or cut it.
Every process started here is stopped afterwards (SIGTERM, then SIGKILL), every private Redis too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.client import WsClient
from tests.conftest import IN_CI, SECRET, redis_available, token

EXE = str(Path(sys.executable).with_name("realtime-server"))
ADMIN = {"Authorization": f"Bearer {token('1', 'ADMIN')}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_redis(url: str) -> None:
    reason = redis_available(url)
    if reason:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


def server_env(**extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("JWT_SECRET", "DATABASE_URL", "WEBSOCKET_DEBUG", "REDIS_URL", "BROKER_URL", "WORKERS")}
    env.update({"JWT_SECRET": SECRET, "HOST": "127.0.0.1", "CLOSE_TIMEOUT": "1", "LOG_LEVEL": "WARNING"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


@dataclass
class Node:
    """One server process (or a ``--workers`` supervisor) and the calls a test makes to it."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_healthy(self, timeout: float = 30.0) -> Node:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}: {self.log()[-2000:]}")
            try:
                if requests.get(self.url("/healthz"), timeout=0.5).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server on {self.port} did not become healthy: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def status(self) -> dict[str, Any]:
        response = requests.get(self.url("/api/ws"), headers=ADMIN, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def publish(self, room: str, n: int, type_: str = "LEAD_UPDATED", session: Any = requests) -> requests.Response:
        return session.post(self.url("/api/live-sync"), headers=ADMIN, timeout=10,
                            json={"type": type_, "room": room, "data": {"leadId": "9", "n": n}})

    def connect(self, sub: str = "42", role: str = "EMPLOYEE", timeout: float = 5.0) -> WsClient:
        client = WsClient.open(self.port, token(sub, role), timeout=timeout)
        connected = client.recv(timeout)
        assert connected["type"] == "CONNECTED", connected
        client.connected = connected
        return client

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@dataclass
class Cluster:
    """Starts nodes sharing one Redis (under one prefix) and one SQLite file; stops them all at the end."""

    tmp: Path
    redis_url: str
    prefix: str
    settings: dict[str, Any] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)

    def start(self, count: int = 1, *args: str, **overrides: Any) -> list[Node]:
        started = []
        for _ in range(count):
            port = int(overrides.pop("PORT", 0)) or free_port()
            log_path = self.tmp / f"node-{len(self.nodes)}-{port}.log"
            env = server_env(REDIS_URL=self.redis_url, REDIS_PREFIX=self.prefix, PORT=port,
                             DATABASE_URL=f"sqlite:///{self.tmp}/cluster.db", **{**self.settings, **overrides})
            with open(log_path, "wb") as log:
                process = subprocess.Popen([EXE, "serve", *args], env=env, cwd=self.tmp, stdout=log,
                                           stderr=subprocess.STDOUT)
            node = Node(process, port, log_path)
            self.nodes.append(node)
            started.append(node)
        for node in started:
            node.wait_healthy()
        return started

    def stop_all(self) -> None:
        for node in self.nodes:
            node.stop()


def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=5)


def delete_prefix(url: str, prefix: str) -> None:
    client = redis_client(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def cluster(redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Nodes on the test Redis, under a prefix of this test's own (deleted afterwards)."""
    made = Cluster(tmp_path, redis_url, f"rt-cluster-{uuid.uuid4().hex[:8]}:")
    yield made
    made.stop_all()
    delete_prefix(redis_url, made.prefix)


@dataclass
class PrivateRedis:
    """A ``redis-server`` of the test's own on a free port, in memory only: it may be stopped, cut, restarted empty."""

    tmp: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", str(self.tmp)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if redis_available(self.url) is None:
                return self
            time.sleep(0.05)
        raise AssertionError(f"redis-server on {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def client(self) -> Any:
        return redis_client(self.url)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A ``redis-server`` of the test's own (free port, in memory), which it may stop, restart or freeze
    (SIGSTOP): thawed, then stopped afterwards. Other test folders import this fixture."""
    if shutil.which("redis-server") is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    server = PrivateRedis(tmp_path).start()
    yield server
    if server.process is not None and server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


@pytest.fixture
def private_cluster(private_redis: PrivateRedis, tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path, private_redis.url, "rt:")
    yield made
    made.stop_all()


def subscribe(client: WsClient, room: str, since: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"room": room}
    if since is not None:
        data["since"] = since
    client.send("SUBSCRIBE", data, id=room)
    return client.recv_until(lambda f: f["type"] == "SUBSCRIBED" and f["data"]["room"] == room)["data"]


def events_of(client: WsClient, room: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The next ``count`` events of ``room`` on ``client`` (other frames skipped)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{len(got)} of {count} events of {room} arrived: {[e.get('offset') for e in got]}"
        frame = client.recv(timeout=remaining)
        if frame.get("room") == room and "offset" in frame:
            got.append(frame)
    return got


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
