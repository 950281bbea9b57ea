"""What coalescing saves: a burst of CAMPAIGN_PROGRESS updates to many clients, with and without it.

    .venv/bin/python scripts/bench_coalescing.py [--clients 1000] [--updates 10000] [--interval 0.25]

Runs the server twice (COALESCE_INTERVAL=<interval>, then 0, which sends every update), each time with
the same clients connected from a separate process (gevent sockets that read and count frames), and
publishes the same burst over REST (keep-alive, 16 in flight). Reports, per run: frames written, bytes
written, server CPU seconds, time until every client has the last value, and the ratios.
Traffic stays on 127.0.0.1; every phase has a time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from gevent import monkey

monkey.patch_all()

import jwt  # noqa: E402
import requests  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-that-is-long-enough-0123456789"
EXE = str(Path(sys.executable).with_name("realtime-server"))

CLIENTS = r'''
from gevent import monkey; monkey.patch_all()
import base64, json, os, socket, sys, time, gevent
port, n, token, want = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
ready, done, frames = [0], [0], [0]
def client():
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws?token={token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    payload = json.dumps({"type": "SUBSCRIBE", "data": {"room": "campaign:bench"}}).encode()
    mask = os.urandom(4)
    s.sendall(bytes((0x81, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    seen = b""
    while b"SUBSCRIBED" not in seen:
        seen += s.recv(65536)
    ready[0] += 1
    tail = b""
    while True:
        data = s.recv(262144)
        if not data:
            return
        frames[0] += data.count(b'"CAMPAIGN_PROGRESS"')
        tail = (tail + data)[-200:]
        if want in tail:
            done[0] += 1
            return
for i in range(n):
    gevent.spawn(client)
    if i % 100 == 99:
        gevent.sleep(0.05)
while ready[0] < n:
    gevent.sleep(0.05)
print("READY", flush=True)
while done[0] < n:
    gevent.sleep(0.01)
print(json.dumps({"frames": frames[0]}), flush=True)
'''


def token(sub: str, role: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "role": role, "iat": now, "exp": now + 3600}, SECRET, algorithm="HS256")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(clients: int, updates: int, interval: float, workdir: Path) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "JWT_SECRET": SECRET, "WEBSOCKET_DEBUG": "false", "COALESCE_INTERVAL": str(interval),
           "DATABASE_URL": f"sqlite:///{workdir}/bench.db"}
    server = subprocess.Popen([EXE, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "WARNING"],
                              env=env, cwd=workdir, start_new_session=True)
    load = None
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        final = f'"sent":{updates}'
        load = subprocess.Popen([sys.executable, "-c", CLIENTS, str(port), str(clients), token("9", "EMPLOYEE"), final],
                                stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert load.stdout is not None
        if load.stdout.readline().strip() != "READY":
            raise RuntimeError("clients did not connect")
        headers = {"Authorization": f"Bearer {token('1', 'ADMIN')}"}
        status = requests.get(f"http://127.0.0.1:{port}/api/ws", headers=headers, timeout=5).json()
        frames_before, bytes_before = status["framesOut"], status["bytesOut"]
        cpu_before = cpu_seconds(server.pid)
        started = time.monotonic()

        import gevent
        from gevent.pool import Pool

        session = requests.Session()
        pool = Pool(16)
        url = f"http://127.0.0.1:{port}/api/live-sync"
        for sent in range(1, updates):
            body = {"type": "CAMPAIGN_PROGRESS", "data": {"campaignId": "bench", "sent": sent, "total": updates}}
            pool.spawn(session.post, url, json=body, headers=headers, timeout=30)
        pool.join(timeout=300)
        # the final value alone: with requests in flight the server may take them in any order
        session.post(url, json={"type": "CAMPAIGN_PROGRESS", "data": {"campaignId": "bench", "sent": updates,
                                                                      "total": updates}}, headers=headers, timeout=30)
        published = time.monotonic() - started
        out = load.stdout.readline()
        elapsed = time.monotonic() - started
        received = json.loads(out)["frames"] if out else -1
        cpu = cpu_seconds(server.pid) - cpu_before
        status = requests.get(f"http://127.0.0.1:{port}/api/ws", headers=headers, timeout=5).json()
        gevent.sleep(0)
        return {"frames": status["framesOut"] - frames_before, "bytes": status["bytesOut"] - bytes_before,
                "received": received, "cpu": cpu, "elapsed": elapsed, "publish": published,
                "published": status["delivery"].get("CAMPAIGN_PROGRESS", {}).get("published", 0),
                "coalesced": status["delivery"].get("CAMPAIGN_PROGRESS", {}).get("coalesced", 0)}
    finally:
        for proc in (load, server):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=0.25)
    args = parser.parse_args()
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="bench-coalescing-"))
    on = run(args.clients, args.updates, args.interval, work)
    off = run(args.clients, args.updates, 0.0, work)
    print(f"{args.updates} CAMPAIGN_PROGRESS updates to {args.clients} clients, one campaign, REST publisher")
    print(f"{'':34s}{'coalesced':>18s}{'every update':>18s}{'ratio':>8s}")
    rows = [("events published to room", "published"), ("frames written", "frames"),
            ("frames counted by clients", "received"), ("bytes written", "bytes"),
            ("server CPU seconds", "cpu"), ("until all had the last value, s", "elapsed")]
    for label, key in rows:
        ratio = on[key] / off[key] if off[key] else float("nan")
        print(f"{label:34s}{on[key]:>18,.2f}{off[key]:>18,.2f}{ratio:>8.3f}")
    print(f"updates held and replaced (coalesced): {on['coalesced']:,}")


if __name__ == "__main__":
    main()
