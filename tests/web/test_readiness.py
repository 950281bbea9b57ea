"""``/readyz`` and a graceful stop: a real process and SIGTERM; a database that stops answering.

On SIGTERM with ``SHUTDOWN_GRACE`` the server first says it is not ready (503, ``draining: true``) while it
goes on serving everything, new connections included, and only after the grace closes its sockets with 1001.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import gevent
import requests
from gevent.server import StreamServer

from tests.client import WsClient
from tests.conftest import SECRET, token

EXE = str(Path(sys.executable).with_name("realtime-server"))
ADMIN = {"Authorization": f"Bearer {token('1', 'ADMIN')}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sigterm_drains_for_the_grace_period_then_closes_with_1001(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BROKER_URL")}
    env.update({"JWT_SECRET": SECRET, "HOST": "127.0.0.1", "PORT": str(port), "SHUTDOWN_GRACE": "3",
                "DATABASE_URL": f"sqlite:///{tmp_path}/r.db", "CLOSE_TIMEOUT": "1"})
    process = subprocess.Popen([EXE, "serve"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                if requests.get(f"{base}/healthz", timeout=0.5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert ready.json()["database"] is True and ready.json()["draining"] is False
        before = WsClient.open(port, token("7", "EMPLOYEE"))
        assert before.recv()["type"] == "CONNECTED"

        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        draining = None
        while draining is None and time.monotonic() - signalled < 2:
            answer = requests.get(f"{base}/readyz", timeout=5)
            if answer.status_code == 503:
                draining = answer.json()
        assert draining is not None and draining["draining"] is True and draining["ready"] is False
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200  # alive: do not restart it

        # still serving everything during the grace: REST, events to open sockets, new sockets
        published = requests.post(f"{base}/api/live-sync", headers=ADMIN, timeout=5,
                                  json={"type": "LEAD_UPDATED", "room": "user:7", "data": {"leadId": "1"}})
        assert published.status_code == 202
        assert before.recv()["type"] == "LEAD_UPDATED"
        during = WsClient.open(port, token("8", "EMPLOYEE"))  # the listener still accepts
        assert during.recv()["type"] == "CONNECTED"
        assert time.monotonic() - signalled < 3  # all of the above happened inside the grace

        assert before.expect_close(timeout=10) == 1001 and during.expect_close(timeout=10) == 1001
        assert time.monotonic() - signalled >= 3  # not before the grace was over
        assert process.wait(timeout=15) == 0
        log = process.stderr.read() if process.stderr else ""
        assert "draining for 3s" in log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


class Cuttable:
    """A TCP proxy to the test PostgreSQL on a port of its own: ``cut`` drops every connection and refuses new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.open = True
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()
        self.port = self.server.server_port

    def _handle(self, client: socket.socket, _address: object) -> None:
        if not self.open:
            client.close()
            return
        upstream = socket.create_connection(self.target)
        self.pairs.append((client, upstream))

        def pipe(source: socket.socket, sink: socket.socket) -> None:
            try:
                while chunk := source.recv(65536):
                    sink.sendall(chunk)
            except OSError:
                pass
            for end in (source, sink):
                try:
                    end.close()
                except OSError:
                    pass

        gevent.joinall([gevent.spawn(pipe, client, upstream), gevent.spawn(pipe, upstream, client)])

    def cut(self) -> None:
        self.open = False
        for pair in self.pairs:
            for end in pair:
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.cut()
        self.server.stop(timeout=1)


def test_readyz_is_503_while_the_database_does_not_answer(start_server, postgres_url):
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(postgres_url)
    proxy = Cuttable((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
        server = start_server(database_url=urlunsplit(parts._replace(netloc=netloc)), ask_timeout=2)
        base = f"http://127.0.0.1:{server.port}"
        assert requests.get(f"{base}/readyz", timeout=5).json()["database"] is True
        proxy.cut()
        answer = requests.get(f"{base}/readyz", timeout=10)
        assert answer.status_code == 503
        assert answer.json()["database"] is False and answer.json()["draining"] is False
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200  # alive, just not ready
    finally:
        proxy.close()
