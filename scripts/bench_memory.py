"""Server memory per WebSocket: RSS growth of `realtime-server serve` for N idle authenticated clients.

    .venv/bin/python scripts/bench_memory.py [N] [--distinct-users]
        (N defaults to 2000; 10000 needs `ulimit -n 20000`)

With ``--distinct-users`` every client is another user, so each connection also brings its own
``user:{sub}`` room, as on a real dashboard; without it they share one user and its room.

The clients are plain sockets in a separate gevent process (no WebSocket library: it only has to
hold the sockets). Prints RSS before and after, KiB per connection, and the time to connect them.
This is the quick loop used while changing the hot path; `scripts/bench` measures the same figure
side by side with the peers.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402

SECRET = "memory-bench-secret-that-is-long-enough"
EXE = str(Path(sys.executable).with_name("realtime-server"))

CLIENTS = r'''
from gevent import monkey; monkey.patch_all()
import base64, os, socket, sys, time, gevent, jwt
port, n, secret, users = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
now = int(time.time())
tokens = [jwt.encode({"sub": str(i), "role": "EMPLOYEE", "iat": now, "exp": now + 3600}, secret, algorithm="HS256")
          for i in range(users)]
held, ready = [], [0]
def client(token):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws?token={token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    seen = b""
    while b"CONNECTED" not in seen:
        seen += s.recv(4096)
    held.append(s)
    ready[0] += 1
for i in range(n):
    gevent.spawn(client, tokens[i % len(tokens)])
    if i % 200 == 199:
        gevent.sleep(0.05)
while ready[0] < n:
    gevent.sleep(0.05)
print("READY", flush=True)
sys.stdin.readline()
'''


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 2000
    distinct = "--distinct-users" in sys.argv
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    work = tempfile.mkdtemp(prefix="bench-memory-")
    env = {**os.environ, "JWT_SECRET": SECRET, "DATABASE_URL": f"sqlite:///{work}/m.db"}
    server = subprocess.Popen([EXE, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "WARNING"],
                              env=env, cwd=work)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).ok:
                    break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        time.sleep(0.5)
        before = rss_kib(server.pid)
        started = time.monotonic()
        users = str(n if distinct else 1)
        clients = subprocess.Popen([sys.executable, "-c", CLIENTS, str(port), str(n), SECRET, users],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert clients.stdout is not None and clients.stdin is not None
        if clients.stdout.readline().strip() != "READY":
            raise RuntimeError("clients did not connect")
        took = time.monotonic() - started
        time.sleep(1.0)
        after = rss_kib(server.pid)
        print(f"N={n}{' distinct users' if distinct else ''}: RSS {before} KiB -> {after} KiB, "
              f"{(after - before) / n:.1f} KiB per connection; "
              f"connected in {took:.2f} s")
        clients.stdin.write("\n")
        clients.stdin.flush()
        clients.wait(timeout=30)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
