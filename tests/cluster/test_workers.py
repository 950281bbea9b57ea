"""``realtime-server serve --workers N`` as a user runs it: a supervisor and N processes on one port."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from websocket import WebSocketException

from tests.client import ConnectionClosed, WsClient
from tests.cluster.conftest import EXE, Node, events_of, free_port, server_env, subscribe, wait_for

pytestmark = pytest.mark.redis


def test_workers_without_redis_refuse_to_start_with_a_clear_message(tmp_path):
    out = subprocess.run([EXE, "serve", "--workers", "2", "--port", "0"], env=server_env(), cwd=tmp_path,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "--workers 2 needs REDIS_URL" in out.stderr, out.stderr


def start_workers(tmp_path: Path, redis_url: str, prefix: str, count: int = 2) -> Node:
    port = free_port()
    log_path = tmp_path / "workers.log"
    env = server_env(REDIS_URL=redis_url, REDIS_PREFIX=prefix, PORT=port, NODE_HEARTBEAT=0.5,
                     DATABASE_URL=f"sqlite:///{tmp_path}/workers.db")
    with open(log_path, "wb") as log:
        process = subprocess.Popen([EXE, "serve", "--workers", str(count)], env=env, cwd=tmp_path, stdout=log,
                                   stderr=subprocess.STDOUT)
    return Node(process, port, log_path).wait_healthy()


def retried(call, attempts: int = 5):
    """What a client does while the kernel changes the port's SO_REUSEPORT group (a worker died or started):
    a connection caught in its handshake may be reset, and is tried again."""
    for attempt in range(attempts):
        try:
            return call()
        except (requests.ConnectionError, ConnectionResetError, WebSocketException):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)


def alive(client: WsClient) -> bool:
    try:
        client.send("PING", id="alive")
        client.recv_until(lambda f: f["type"] == "PONG", timeout=2)
        return True
    except (ConnectionClosed, WebSocketException, OSError):
        return False


def test_kill_9_of_a_worker_its_clients_resume_on_the_other_and_the_parent_starts_a_new_one(
        tmp_path, redis_url, redis_prefix):
    supervisor = start_workers(tmp_path, redis_url, redis_prefix)
    try:
        nodes = wait_for(lambda: (s := supervisor.status()) and s["totals"]["nodes"] == 2 and s["nodes"], timeout=20)
        assert nodes, supervisor.log()[-2000:]
        room = f"lead:{uuid.uuid4().hex[:8]}"
        clients = [supervisor.connect(str(n)) for n in range(16)]  # the kernel spreads them over both workers
        counted = wait_for(lambda: (s := supervisor.status()) and s["totals"]["connections"] == 16 and s["nodes"])
        by_node = {n["pid"]: n["connections"] for n in counted}  # as of each node's last heartbeat
        assert all(by_node.values()), by_node
        epoch = subscribe(clients[0], room)["epoch"]
        for client in clients[1:]:
            subscribe(client, room)
        supervisor.publish(room, 1)
        for client in clients:
            assert events_of(client, room, 1)[0]["offset"] == 1

        victim = nodes[0]["pid"]
        os.kill(victim, signal.SIGKILL)
        cut = [client for client in clients if not alive(client)]
        assert cut and len(cut) < len(clients)
        for n in (2, 3, 4):  # published while they are away, through whichever worker takes the request
            assert retried(lambda n=n: supervisor.publish(room, n)).status_code == 202
        for _ in cut:  # each reconnects (to whichever worker the kernel picks) and resumes
            again = retried(lambda: supervisor.connect("resumed"))
            answer = subscribe(again, room, since={"epoch": epoch, "offset": 1})
            assert answer["recovered"] is True and answer["offset"] == 4
            assert [e["offset"] for e in events_of(again, room, 3)] == [2, 3, 4]
            clients.append(again)
        restarted = wait_for(lambda: (s := supervisor.status()) and s["totals"]["nodes"] == 2
                             and victim not in {n["pid"] for n in s["nodes"]} and s["nodes"], timeout=20)
        assert restarted, supervisor.log()[-3000:]
        assert "exited with -9" in supervisor.log()

        survivors = [client for client in clients if client not in cut]
        supervisor.process.send_signal(signal.SIGTERM)  # drain: 1001 to every socket on every worker
        assert [client.expect_close(timeout=10) for client in survivors] == [1001] * len(survivors)
        assert supervisor.process.wait(timeout=30) == 0
    finally:
        supervisor.stop(signal.SIGKILL)
        for pid in _children_left(supervisor.process.pid):
            os.kill(pid, signal.SIGKILL)


def _children_left(parent: int) -> list[int]:
    """Workers of a killed supervisor that are still running (none after a clean drain)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == parent:
                found.append(int(entry.name))
    return found
