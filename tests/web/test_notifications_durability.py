"""``realtime-server serve`` as real processes: a 201 survives kill -9; retries across processes make one row."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import gevent
import pytest
import requests

from tests.conftest import SECRET
from tests.web.test_notifications_api import Api

EXE = str(Path(sys.executable).with_name("realtime-server"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve(tmp_path):
    """``serve(database_url)`` starts a server process and waits until it is healthy; all are killed afterwards."""
    procs = []

    def start(database_url):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("JWT_SECRET", "DATABASE_URL", "WEBSOCKET_DEBUG")}
        env.update(JWT_SECRET=SECRET, DATABASE_URL=database_url)
        log_path = tmp_path / f"server-{len(procs)}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen([EXE, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                    cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).ok:
                    return proc, Api(port)
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-2000:]
            time.sleep(0.1)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def all_ids(api, user):
    found, before = [], ""
    while True:
        page = api.listing(user, f"?limit=100{before}")
        found += [n["id"] for n in page["notifications"]]
        if page["nextCursor"] is None:
            return found
        before = f"&before={page['nextCursor']}"


def test_every_notification_acknowledged_with_201_survives_kill_9(serve, database_url):
    proc, api = serve(database_url)
    acknowledged = []

    def keep_creating(worker):
        for i in range(10_000):
            try:
                response = api.create(userId="7", title=f"w{worker}-{i}")
            except requests.RequestException:
                return  # the server is gone
            if response.status_code != 201:
                return
            acknowledged.append(response.json()["notifications"][0]["id"])
            if len(acknowledged) == 200:  # kill the moment an answer arrives: other creates are mid-commit
                os.kill(proc.pid, signal.SIGKILL)

    workers = [gevent.spawn(keep_creating, w) for w in range(8)]
    gevent.joinall(workers, timeout=60)
    assert all(w.dead for w in workers) and proc.wait(timeout=10) == -signal.SIGKILL
    assert len(acknowledged) >= 200, "the server stopped acknowledging creates"

    _, restarted = serve(database_url)
    stored = set(all_ids(restarted, ("7", "EMPLOYEE")))
    lost = [nid for nid in acknowledged if nid not in stored]
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged notifications lost"


def test_concurrent_retries_on_two_server_processes_give_one_row(serve, database_url):
    (_, one), (_, two) = serve(database_url), serve(database_url)
    headers = {"Idempotency-Key": "two-processes"}
    calls = [gevent.spawn((one, two)[i % 2].create, headers=headers, userId="7") for i in range(16)]
    responses = [c.get(timeout=30) for c in calls]
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert [h for h in (r.headers["Idempotent-Replayed"] for r in responses)].count("false") == 1
    assert len(all_ids(one, ("7", "EMPLOYEE"))) == 1 == len(all_ids(two, ("7", "EMPLOYEE")))
