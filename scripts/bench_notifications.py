#!/usr/bin/env python3
"""Benchmark: do durable notification creates stall the sockets? (issue 4; a SQLite call blocks the gevent loop)

Starts ``realtime-server serve`` on 127.0.0.1 with its own SQLite file (synchronous=FULL, the
default) or ``--database-url``. A Node.js load generator (built-in modules only, embedded below)
connects N WebSocket clients as EMPLOYEE users and streams LEAD_UPDATED events to ``role:EMPLOYEE``
(every client) at a steady rate through ``POST /api/live-sync``. Each round has two phases on the same
server and sockets:

  A  the stream alone;
  B  the same stream while M notifications are created through ``POST /api/notifications`` as fast
     as ``--concurrency`` keep-alive HTTP clients can, each to a connected user, each with an
     Idempotency-Key (so every create also writes its key; ``--no-keys`` leaves them out).

Latency is measured by the load generator from the moment a publish request is sent to the moment
a client has read the event, so it includes the REST publish path. Phase B's figures are over the
events published while the creates ran; ``creates/s`` is M over the time from the first create sent
to the last 201 read (201 means committed). Also reported: the latency from a create's request to
its NOTIFICATION on the recipient's socket, and the server's CPU use per phase. Bounded: at most
``--max-seconds`` in all; every count is capped; all traffic stays on 127.0.0.1.

  scripts/bench_notifications.py                      # 1,000 clients, 1,000 creates, 3 rounds
  scripts/bench_notifications.py --json out.json --keep
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actors import Settings, issue_token  # noqa: E402

HOST = "127.0.0.1"

LOADGEN_JS = r"""
'use strict';
// WebSocket clients on raw TCP (server frames are unmasked; ours are masked), an HTTP publisher and
// HTTP creators, all on Node's built-in modules. Config: JSON file named by argv[2]. Output: JSON lines.
const net = require('net'), http = require('http'), crypto = require('crypto'), fs = require('fs');
const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const now = () => performance.timeOrigin + performance.now();
const sleep = ms => new Promise(r => setTimeout(r, ms));
let stream = [], pushed = [], closed = 0;

function wsConnect(token) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(cfg.port, cfg.host);
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0), upgraded = false, connected = false, text = [];
    const timer = setTimeout(() => reject(new Error('connect timeout')), 30000);
    sock.on('connect', () => sock.write(`GET /ws?token=${token} HTTP/1.1\r\nHost: ${cfg.host}:${cfg.port}\r\n` +
      `Upgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`));
    sock.on('error', e => { if (!connected) reject(e); });
    sock.on('close', () => { closed++; });
    sock.on('data', chunk => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!buf.subarray(0, 12).toString().includes('101')) {
          reject(new Error(buf.toString().slice(0, 200))); return;
        }
        upgraded = true; buf = buf.subarray(end + 4);
      }
      while (buf.length >= 2) {
        const op = buf[0] & 0x0f, fin = buf[0] & 0x80; let len = buf[1] & 0x7f, off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
        if (buf.length < off + len) return;
        const payload = buf.subarray(off, off + len); buf = buf.subarray(off + len);
        if (op === 9) { const mask = crypto.randomBytes(4), p = Buffer.from(payload);
          for (let i = 0; i < p.length; i++) p[i] ^= mask[i & 3];
          sock.write(Buffer.concat([Buffer.from([0x8a, 0x80 | p.length]), mask, p])); continue; }
        if (op === 8) { sock.end(); return; }
        if (op !== 1 && op !== 0) continue;
        text.push(payload); if (!fin) continue;
        const frame = JSON.parse(Buffer.concat(text).toString()); text = [];
        const at = now();
        if (frame.type === 'LEAD_UPDATED') stream.push([frame.data.t, at - frame.data.t]);
        else if (frame.type === 'NOTIFICATION') pushed.push(at - frame.data.notification.data.t);
        else if (frame.type === 'CONNECTED' && !connected) { connected = true; clearTimeout(timer); resolve(sock); }
      }
    });
  });
}

function post(agent, path, token, body, extra) {
  return new Promise(resolve => {
    const data = JSON.stringify(body);
    const headers = {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json',
                     'Content-Length': Buffer.byteLength(data), ...(extra || {})};
    const req = http.request({host: cfg.host, port: cfg.port, path, method: 'POST', headers, agent}, res => {
      res.resume(); res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.end(data);
  });
}

async function publishStream(seconds) {
  const agent = new http.Agent({keepAlive: true, maxSockets: 1});
  const start = now(), interval = 1000 / cfg.rate; let n = 0;
  while (now() - start < seconds * 1000) {
    n++;
    const status = await post(agent, '/api/live-sync', cfg.publisherToken,
      {type: 'LEAD_UPDATED', room: 'role:EMPLOYEE', data: {leadId: '9', t: now(), seq: n}});
    if (status !== 202) throw new Error('publish failed with ' + status);
    const wait = start + n * interval - now();
    if (wait > 0) await sleep(wait);
  }
  agent.destroy();
}

async function createAll(round) {
  const agent = new http.Agent({keepAlive: true, maxSockets: cfg.concurrency});
  let next = 0, failures = 0;
  async function worker() {
    while (next < cfg.notifications) {
      const i = next++;
      const status = await post(agent, '/api/notifications', cfg.adminToken,
        {userId: 'u' + (i % cfg.clients), title: 'Lead assigned', message: 'lead ' + i, type: 'LEAD_ASSIGNED',
         priority: 'NORMAL', data: {t: now(), i}}, cfg.keys ? {'Idempotency-Key': `bench-${round}-${i}`} : {});
      if (status !== 201) failures++;
    }
  }
  const started = now();
  await Promise.all(Array.from({length: cfg.concurrency}, worker));
  const ended = now();
  agent.destroy();
  return [started, ended, failures];
}

function pct(values, q) {
  if (!values.length) return null;
  const s = Float64Array.from(values).sort();
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 100) / 100;
}

async function phase(name, round, withCreates) {
  stream = []; pushed = [];
  process.stdout.write(JSON.stringify({mark: 'start', phase: name, round}) + '\n');
  const publisher = publishStream(cfg.phaseSeconds);
  let window = [now() + cfg.warmup * 1000, now() + cfg.phaseSeconds * 1000];
  const result = {phase: name, round};
  if (withCreates) {
    await sleep(cfg.warmup * 1000);
    process.stdout.write(JSON.stringify({mark: 'creates'}) + '\n');
    const [started, ended, failures] = await createAll(round);
    process.stdout.write(JSON.stringify({mark: 'created'}) + '\n');
    window = [started, ended];
    Object.assign(result, {creates: cfg.notifications, createSeconds: Math.round(ended - started) / 1000,
      createsPerSecond: Math.round(cfg.notifications / ((ended - started) / 1000)), createFailures: failures});
  }
  await publisher;
  await sleep(1000);
  const inWindow = stream.filter(([t]) => t >= window[0] && t <= window[1]).map(([, lat]) => lat);
  Object.assign(result, {samples: inWindow.length, p50: pct(inWindow, 0.5), p99: pct(inWindow, 0.99),
    max: inWindow.length ? Math.round(Math.max(...inWindow) * 100) / 100 : null});
  if (withCreates) Object.assign(result, {phaseP99: pct(stream.map(([, l]) => l), 0.99), pushed: pushed.length,
    pushP50: pct(pushed, 0.5), pushP99: pct(pushed, 0.99)});
  process.stdout.write(JSON.stringify({mark: 'end', ...result}) + '\n');
}

(async () => {
  const tokens = cfg.tokens; const started = now(); const sockets = [];
  for (let i = 0; i < tokens.length; i += 100)
    sockets.push(...await Promise.all(tokens.slice(i, i + 100).map(wsConnect)));
  process.stdout.write(JSON.stringify({mark: 'connected', clients: sockets.length,
    seconds: Math.round(now() - started) / 1000}) + '\n');
  await phase('warm-up', 0, false);
  for (let round = 1; round <= cfg.rounds; round++) {
    await phase('A stream only', round, false);
    await phase('B stream + creates', round, true);
  }
  for (const s of sockets) s.destroy();
  process.stdout.write(JSON.stringify({mark: 'done', closedEarly: closed - sockets.length}) + '\n');
  process.exit(0);
})().catch(e => { process.stdout.write(JSON.stringify({mark: 'error', error: String(e)}) + '\n'); process.exit(1); });
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def machine_idle_seconds() -> float:
    """Idle time of all CPUs together (Linux /proc/stat), to show what else was running."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return (int(fields[3]) + int(fields[4])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), for the server's CPU share per phase."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node (Node.js 18+) is needed for the load generator")
    workdir = Path(tempfile.mkdtemp(prefix="bench-notifications-"))
    secret = secrets.token_hex(32)
    settings = Settings(jwt_secret=secret)
    port = free_port()
    database_url = args.database_url or f"sqlite:///{workdir}/bench.db"
    env = {**os.environ, "JWT_SECRET": secret, "DATABASE_URL": database_url}
    exe = shutil.which("realtime-server", path=str(Path(sys.executable).parent)) or "realtime-server"
    deadline = time.monotonic() + args.max_seconds
    results: list[dict[str, Any]] = []
    with open(workdir / "server.log", "wb") as log:
        server = subprocess.Popen([exe, "serve", "--host", HOST, "--port", str(port), "--log-level", "WARNING"],
                                  env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    loadgen: subprocess.Popen[str] | None = None
    try:
        while True:
            if server.poll() is not None:
                raise SystemExit(f"server exited: {(workdir / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start in time")
        config = {
            "host": HOST, "port": port, "clients": args.clients, "notifications": args.notifications,
            "concurrency": args.concurrency, "rate": args.rate, "phaseSeconds": args.phase_seconds,
            "warmup": args.warmup, "rounds": args.rounds, "keys": not args.no_keys,
            "tokens": [issue_token(settings, f"u{i}", "EMPLOYEE", ttl=3600) for i in range(args.clients)],
            "adminToken": issue_token(settings, "bench-admin", "ADMIN", ttl=3600),
            "publisherToken": issue_token(settings, "bench-publisher", "SERVICE", ttl=3600),
        }
        (workdir / "config.json").write_text(json.dumps(config))
        (workdir / "loadgen.js").write_text(LOADGEN_JS)
        loadgen = subprocess.Popen([node, str(workdir / "loadgen.js"), str(workdir / "config.json")],
                                   stdout=subprocess.PIPE, text=True, cwd=workdir)
        assert loadgen.stdout is not None
        cpu_at_start = cpu_creates = 0.0
        started_at = creates_at = 0.0
        creates_cpu: float | None = None
        loadgen_cpu = idle_at_creates = 0.0
        while_creating: dict[str, float] = {}
        for line in loadgen.stdout:
            if time.monotonic() > deadline:
                raise SystemExit(f"over --max-seconds {args.max_seconds}; stopping")
            event = json.loads(line)
            mark = event.pop("mark")
            if mark == "error":
                raise SystemExit(f"load generator failed: {event['error']}")
            if mark == "connected":
                print(f"{event['clients']} clients connected in {event['seconds']}s; stream {args.rate}/s to all",
                      flush=True)
            elif mark == "start":
                cpu_at_start, started_at = cpu_seconds(server.pid), time.monotonic()
                creates_cpu = None
            elif mark == "creates":
                cpu_creates, creates_at = cpu_seconds(server.pid), time.monotonic()
                loadgen_cpu, idle_at_creates = cpu_seconds(loadgen.pid), machine_idle_seconds()
            elif mark == "created":
                elapsed = time.monotonic() - creates_at
                creates_cpu = 100 * (cpu_seconds(server.pid) - cpu_creates) / elapsed
                loadgen_share = 100 * (cpu_seconds(loadgen.pid) - loadgen_cpu) / elapsed
                idle_share = 100 * (machine_idle_seconds() - idle_at_creates) / elapsed / (os.cpu_count() or 1)
                while_creating = {"loadgenCpuPercentWhileCreating": round(loadgen_share, 1),
                                  "machineIdlePercentWhileCreating": round(idle_share, 1)}
            elif mark == "end":
                event["serverCpuPercent"] = round(100 * (cpu_seconds(server.pid) - cpu_at_start)
                                                  / (time.monotonic() - started_at), 1)
                if creates_cpu is not None:
                    event["serverCpuPercentWhileCreating"] = round(creates_cpu, 1)
                    event.update(while_creating)
                if event["round"] > 0:
                    results.append(event)
                print(json.dumps(event), flush=True)
            elif mark == "done" and event.get("closedEarly", 0) > 0:
                print(f"warning: {event['closedEarly']} sockets were closed by the server", flush=True)
        if loadgen.wait(timeout=30) != 0:
            raise SystemExit("the load generator failed")
    finally:
        for proc in (loadgen, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if args.keep:
            print(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    a = [r["p99"] for r in results if r["phase"].startswith("A") and r["p99"] is not None]
    b = [r["p99"] for r in results if r["phase"].startswith("B") and r["p99"] is not None]
    if not a or not b:
        raise SystemExit("no stream events fell inside a measured window: raise --rate or --notifications")
    rates = [r["createsPerSecond"] for r in results if "createsPerSecond" in r]
    p99_a, p99_b, rate = statistics.median(a), statistics.median(b), statistics.median(rates)
    return {"rounds": len(a), "p99WithoutCreatesMs": p99_a, "p99WithCreatesMs": p99_b,
            "ratio": round(p99_b / p99_a, 2), "createsPerSecond": rate,
            "p99Within2x": p99_b <= 2 * p99_a, "createsAtLeast1000PerSecond": rate >= 1000,
            "createFailures": sum(r.get("createFailures", 0) for r in results)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000, help="WebSocket clients (at most 5,000)")
    parser.add_argument("--notifications", type=int, default=1000, help="creates per round (at most 100,000)")
    parser.add_argument("--concurrency", type=int, default=32, help="parallel HTTP clients creating (at most 256)")
    parser.add_argument("--rate", type=float, default=10.0, help="stream events per second, each to every client")
    parser.add_argument("--phase-seconds", type=float, default=5.0, help="length of each phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds at the start of a phase not measured")
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds; the summary takes medians")
    parser.add_argument("--no-keys", action="store_true", help="create without Idempotency-Key headers")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file (synchronous=FULL)")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="give up after this long")
    parser.add_argument("--json", default="", help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (server log, SQLite file)")
    args = parser.parse_args()
    args.clients = max(1, min(args.clients, 5000))
    args.notifications = max(1, min(args.notifications, 100_000))
    args.concurrency = max(1, min(args.concurrency, 256))
    args.rounds = max(1, min(args.rounds, 10))
    args.rate = max(0.5, min(args.rate, 200.0))
    args.phase_seconds = max(2.0, min(args.phase_seconds, 60.0))
    args.max_seconds = max(10.0, min(args.max_seconds, 1800.0))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the server and the load generator
    results = run(args)
    report = {"args": vars(args), "results": results, "summary": summary(results)}
    print(json.dumps(report["summary"]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
