#!/usr/bin/env python3
"""Benchmark orchestrator behind ``scripts/bench`` (see docs/benchmarks.md).

For each N and each system: start the server on 127.0.0.1 in its own process group, start the
Node.js load generator (a separate process), read the server's RSS and CPU from /proc at every
phase mark the load generator prints, stop the server, and at the end write a Markdown report and
a JSON dump. Standard library only; the peers need gevent, gevent-websocket, PyJWT and (for
"socketio") python-socketio from requirements.txt.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import http.client
import json
import os
import platform
import queue
import resource
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
LOADGEN_DIR = HERE / "loadgen"
PEERS_DIR = HERE / "peers"
DEFAULT_MD = REPO / "docs" / "benchmarks.md"
DEFAULT_JSON = REPO / "docs" / "benchmarks.json"
ALL_SYSTEMS = ("raw", "socketio", "ours", "ours-inproc", "ours-cluster", "socketio-cluster", "ours-presence",
               "ours-cluster-presence")
DEFAULT_SYSTEMS = ("raw", "socketio", "ours", "ours-inproc")
CLUSTER_WORKERS = 2
"""The cluster case (--systems ours,ours-cluster,socketio-cluster): each cluster system runs this many worker
processes on one port (SO_REUSEPORT: the kernel spreads clients and REST requests over them) and a private
redis-server the run starts on a free port and stops after it."""
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

# "ours": rooms and event types. LEAD_UPDATED is never coalesced, so every published event must
# reach every client and the counts stay comparable with the peers (CAMPAIGN_PROGRESS may be).
OURS_ROOM = "lead:bench"
OURS_REST_ROOM = "lead:benchrest"
OURS_EVENT = "LEAD_UPDATED"
OURS_CLIENT_CLAIMS = {"rooms": ["lead:*", "campaign:*"]}
OURS_EXTRA_DATA = '{"leadId": "bench"}'  # LEAD_UPDATED's schema requires data.leadId
PRESENCE_ROOM_PREFIX = "lead:bench-presence-"
"""The presence case (systems ours-presence, ours-cluster-presence): each client also subscribes with
"presence": true to one of --presence-rooms rooms named with this prefix (client i to room i mod rooms), and
during every measured burst clients leave and rejoin their presence room at --presence-churn cycles a second.
The same server as ours / ours-cluster: presence on against off is the same run, the same N."""
PRESENCE_REJOIN_MS = 1500
"""A churned client rejoins its presence room this long after leaving it: more than PRESENCE_INTERVAL (1 s by
default), so its leave and its rejoin reach the room's viewers as two PRESENCE diffs."""
DEFAULT_OURS_CMD = "realtime-server serve --host 127.0.0.1 --port {port} --jwt-secret {secret}"



def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


class Skip(Exception):
    """The system cannot be measured in this run; the reason goes into the report."""


# ---------------------------------------------------------------------------- child processes

_children: list[subprocess.Popen] = []
_nofile_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def _child_setup() -> None:  # runs in the child between fork and exec
    try:
        hard = _nofile_hard if _nofile_hard != resource.RLIM_INFINITY else 1 << 20
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    try:  # die with the orchestrator even if it is SIGKILLed
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn(cmd, **kw) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, preexec_fn=_child_setup, start_new_session=True, **kw)
    _children.append(proc)
    return proc


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    else:  # the leader is gone; its group may not be
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if proc in _children:
        _children.remove(proc)


def stop_all() -> None:
    for proc in list(_children):
        stop(proc, grace=2.0)


def _on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# ---------------------------------------------------------------------------- /proc readings

def _session_pids(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # fields[3] is the session id
            pids.append(int(entry))
    return pids


def _cpu_line() -> list[int]:
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


def machine_busy_sec() -> float:
    """CPU seconds the whole machine spent busy (all CPUs, everything but idle and iowait)."""
    fields = _cpu_line()
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    guest = sum(fields[8:10]) if len(fields) > 9 else 0  # already counted in user/nice
    return (sum(fields) - idle - guest) / CLK_TCK


def machine_irq_sec() -> float:
    """CPU seconds in hard and soft interrupts (loopback TCP delivery), charged to no process."""
    fields = _cpu_line()
    return (fields[5] + fields[6]) / CLK_TCK


def wait_idle(max_wait: float, threshold_pct: float = 15.0) -> dict:
    """Wait (bounded) until the machine is nearly idle; other work skews every figure."""
    t0 = time.monotonic()
    while True:
        b0 = machine_busy_sec()
        time.sleep(0.5)
        busy_pct = 200 * (machine_busy_sec() - b0)
        waited = time.monotonic() - t0
        if busy_pct < threshold_pct or waited >= max_wait:
            return {"busyPctOfOneCore": round(busy_pct, 1), "waitedSec": round(waited, 1),
                    "idle": busy_pct < threshold_pct}


def all_ticks() -> dict[int, tuple[str, int, int, int]]:
    """pid -> (command name, session id, utime + stime ticks, parent pid) for every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
            fields = rest.split()
            out[int(entry)] = (head.split("(", 1)[1], int(fields[3]), int(fields[11]) + int(fields[12]),
                               int(fields[1]))
        except (OSError, IndexError, ValueError):
            continue
    return out


def other_processes(before: dict, after: dict, exclude_sids: set[int], wall: float) -> tuple[float, list[str]]:
    """CPU seconds used by user-space processes other than ours between two all_ticks() snapshots,
    and the busiest of them. Kernel threads (ksoftirqd, kworker: children of kthreadd) are left
    out: they mostly carry our own loopback traffic."""
    total = 0.0
    used = []
    for pid, (name, sid, ticks, ppid) in after.items():
        if sid in exclude_sids or pid == os.getpid() or pid == 2 or ppid == 2:
            continue
        delta = (ticks - before.get(pid, (name, sid, 0, ppid))[2]) / CLK_TCK
        total += delta
        if delta > 0.02:
            used.append((delta, f"{name} (pid {pid}): {100 * delta / wall:.0f}%"))
    return total, [text for _, text in sorted(used, reverse=True)[:4]]


def proc_sample(sid: int) -> dict:
    """RSS, peak RSS and CPU seconds summed over every process of the server's session."""
    rss = hwm = 0
    ticks = 0
    pids = _session_pids(sid)
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            continue
    return {"t": time.time(), "rssKiB": rss, "hwmKiB": hwm, "cpuSec": ticks / CLK_TCK,
            "processes": len(pids), "machineBusySec": machine_busy_sec(),
            "machineIrqSec": machine_irq_sec()}


# ---------------------------------------------------------------------------- systems

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _which(cmd: str) -> str | None:
    # the Python environment the peers run in comes first: that is where `pip install` put it
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    return shutil.which(cmd, path=path)


def system_spec(name: str, port: int, secret: str, args) -> dict:
    py = sys.executable
    if name == "raw":
        return {"cmd": [py, str(PEERS_DIR / "raw_gevent.py"), "--port", str(port),
                         "--jwt-secret", secret],
                "env": {}, "health": "/health", "loadgen": {
                    "kind": "raw", "publishPath": "/publish", "rooms": [], "burstRoom": "bench",
                    "pacedRoom": "bench", "burstType": "LEAD_UPDATED", "pacedType": "LEAD_UPDATED"}}
    if name in ("socketio", "socketio-cluster"):
        try:
            import socketio  # noqa: F401
        except ImportError as e:
            raise Skip(f"python-socketio is not installed ({e}); run "  # noqa: B904
                       "`pip install -r scripts/benchmarks/requirements.txt`")
        cluster = ["--workers", str(CLUSTER_WORKERS), "--redis-url", "{redis_url}"] if name.endswith("-cluster") else []
        return {"cmd": [py, str(PEERS_DIR / "socketio_gevent.py"), "--port", str(port),
                         "--jwt-secret", secret, *cluster],
                "redis": bool(cluster), "env": {}, "health": "/health", "loadgen": {
                    "kind": "socketio", "publishPath": "/publish", "rooms": [],
                    "burstRoom": "bench", "pacedRoom": "bench", "burstType": "LEAD_UPDATED",
                    "pacedType": "LEAD_UPDATED"}}
    presence = name.endswith("-presence")
    name = name.removesuffix("-presence")
    if name in ("ours", "ours-inproc", "ours-cluster"):
        if name in ("ours", "ours-cluster"):
            cmd = shlex.split(args.ours_cmd.format(port=port, secret=secret))
            exe = _which(cmd[0])
            if exe is None:
                raise Skip(f"`{cmd[0]}` is not on PATH (our server is not installed in this "
                           "environment yet): 'ours' skipped")
            cmd[0] = exe
        else:  # the same server, published into through ActorSystem.publish by a bench-only POST /publish
            cmd = [py, str(PEERS_DIR / "ours_inproc.py"), "--host", "127.0.0.1", "--port", str(port),
                   "--jwt-secret", secret]
        env = {"WEBSOCKET_DEBUG": "false"}
        if name == "ours-cluster":
            cmd += ["--workers", str(CLUSTER_WORKERS)]
            env["REDIS_URL"] = "{redis_url}"
        for kv in args.ours_env:
            k, _, v = kv.partition("=")
            env[k] = v
        rooms = [OURS_ROOM] if args.ours_paced_room == OURS_ROOM else [OURS_ROOM, args.ours_paced_room]
        return {"cmd": cmd, "env": env, "health": "/api/ws", "redis": name == "ours-cluster", "loadgen": {
            "kind": "ours", "publishPath": "/publish" if name == "ours-inproc" else "/api/live-sync",
            "wsPath": "/ws", "rooms": rooms,
            "burstRoom": OURS_ROOM, "pacedRoom": args.ours_paced_room, "burstType": OURS_EVENT,
            "pacedType": args.ours_paced_type, "restType": OURS_EVENT,
            "clientRole": "EMPLOYEE", "clientClaims": OURS_CLIENT_CLAIMS,
            "extraData": json.loads(args.ours_extra_data),
            **({"presence": {"rooms": args.presence_rooms, "prefix": PRESENCE_ROOM_PREFIX,
                             "churnPerSec": args.presence_churn, "rejoinMs": PRESENCE_REJOIN_MS}}
               if presence else {}),
            **({"rest": {"room": OURS_REST_ROOM}} if name != "ours-inproc" else {})}}
    raise Skip(f"unknown system {name!r}")


def wait_ready(proc: subprocess.Popen, port: int, path: str, timeout: float, logfile: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Skip(f"server exited with code {proc.returncode} before it was ready; "
                       f"log tail: {tail(logfile)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return  # any HTTP answer (even 401) means it is serving
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
    raise Skip(f"server did not answer HTTP on port {port} within {timeout:.0f} s; "
               f"log tail: {tail(logfile)}")


def tail(path: Path, n: int = 600) -> str:
    try:
        data = path.read_bytes()[-n:].decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return " | ".join(line for line in data.splitlines() if line.strip()) or "(empty log)"


# ---------------------------------------------------------------------------- load generator

def ensure_loadgen() -> None:
    if (LOADGEN_DIR / "node_modules" / "ws" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm not found: Node.js 18+ and npm are needed for the load generator")
    sub = "ci" if (LOADGEN_DIR / "package-lock.json").exists() else "install"
    log(f"installing the load generator's dependencies (npm {sub}) in {LOADGEN_DIR}")
    subprocess.run([npm, sub, "--no-audit", "--no-fund"], cwd=LOADGEN_DIR, check=True,
                   timeout=300, stdout=sys.stderr)


def run_loadgen(cfg: dict, server_sid: int, settle: float, phase_idle_wait: float,
                probe=None, redis_calls=None) -> tuple[dict, dict]:
    """Run one load generator; return (its result, server samples keyed by mark name). ``redis_calls`` (the
    cluster systems): a function reading the private Redis's command count, recorded at every mark."""
    node = shutil.which("node")
    proc = spawn([node, str(LOADGEN_DIR / "loadgen.js"), json.dumps(cfg)],
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True)
    lines: queue.Queue = queue.Queue()

    assert proc.stdout is not None and proc.stdin is not None

    def reader():
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    marks: dict[str, dict] = {}
    snapshots: dict[str, dict] = {}
    result: dict = {}
    deadline = time.monotonic() + cfg["deadlineMs"] / 1000 + 30
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                result = {"error": "load generator overran its deadline; killed"}
                break
            try:
                line = lines.get(timeout=min(left, 5.0))
            except queue.Empty:
                continue
            if line is None:
                if not result:
                    result = {"error": f"load generator exited (code {proc.wait(5)}) without a result"}
                break
            try:
                msg = json.loads(line)
            except ValueError:
                log(f"loadgen stdout (not JSON): {line.strip()[:200]}")
                continue
            if msg.get("mark") == "ready":  # before a measured phase: wait (bounded) for quiet
                marks[f"ready_{msg.get('phase')}"] = wait_idle(phase_idle_wait)
                if redis_calls is not None:
                    marks[f"ready_{msg.get('phase')}"]["redisCalls"] = redis_calls()
                if probe is not None and msg.get("phase") == "storm":  # where the clients are before the cut
                    marks["ready_storm"]["status"] = probe()
                proc.stdin.write("go\n")
                proc.stdin.flush()
            elif "mark" in msg:
                sample = proc_sample(server_sid)
                sample["loadgenT"] = msg["t"]
                if redis_calls is not None:
                    sample["redisCalls"] = redis_calls()
                if probe is not None and msg["mark"].endswith(("_start", "_end")):
                    sample["status"] = probe()
                marks[msg["mark"]] = sample
                name = msg["mark"]
                snapshots[name] = all_ticks()
                if name.endswith("_end") and name[:-4] + "_start" in snapshots:
                    start = marks[name[:-4] + "_start"]
                    wall = max(1e-3, (msg["t"] - start["loadgenT"]) / 1000)
                    sample["otherProcessesCpuSec"], sample["topOtherProcesses"] = other_processes(
                        snapshots[name[:-4] + "_start"], snapshots[name], {server_sid, proc.pid}, wall)
                if msg["mark"] == "connected":
                    time.sleep(settle)  # let the allocator settle before the memory reading
                    marks["connected_settled"] = proc_sample(server_sid)
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
            elif "result" in msg:
                result = msg["result"]
                break
    finally:
        stop(proc, grace=3.0)
    result["pid"] = proc.pid
    return result, marks


# ---------------------------------------------------------------------------- one measurement

def phase_config(args, n: int) -> dict:
    quick = args.quick
    burst_events = args.burst_events
    paced_seconds = args.paced_seconds if args.paced_seconds is not None else (3 if quick else 10)
    connect_deadline = max(30_000, n * 15)
    burst_timeout = max(30_000, burst_events * n // 5)
    rest_requests = args.rest_requests if args.rest_requests is not None else (200 if quick else 6000)
    cfg = {
        "n": n, "host": "127.0.0.1", "eventBytes": args.event_bytes,
        "slowFraction": args.slow_readers,
        "connectConcurrency": args.connect_concurrency, "connectTimeoutMs": 30_000,
        "connectDeadlineMs": connect_deadline,
        "settleMs": 300 if quick else 1000,
        "requestTimeoutMs": 30_000,
        "warmupEvents": 5,
        "burst": {"events": burst_events, "concurrency": 4, "timeoutMs": burst_timeout,
                  "repeat": args.burst_repeat if args.burst_repeat is not None else (1 if quick else 3)},
        "paced": {"rate": args.paced_rate, "seconds": paced_seconds, "drainTimeoutMs": 30_000},
        "restSpec": {"requests": rest_requests, "concurrency": args.rest_concurrency,
                     "subscribers": 10, "timeoutMs": 30_000, "drainTimeoutMs": 15_000},
    }
    cfg["deadlineMs"] = int(connect_deadline + burst_timeout * (cfg["burst"]["repeat"] + 1)
                            + paced_seconds * 1000 + 30_000 + 45_000
                            + 8 * cfg["settleMs"] + 30_000)
    if args.recovery_storm:
        storm_timeout = max(30_000, n * 10)
        cfg["storm"] = {"events": args.storm_events, "concurrency": 4, "timeoutMs": storm_timeout}
        cfg["deadlineMs"] += storm_timeout + 30_000
    return cfg


def status_probe(port: int, secret: str, room: str | None = None):
    """For our server: its garbage-collector figures from ``GET /api/ws``, read at each phase boundary, and
    with ``room`` (the recovery storm) that room's members on each node (``?room=``: where the clients are)."""
    def probe() -> dict | None:
        try:
            import jwt  # the peers' own dependency

            now = int(time.time())
            token = jwt.encode({"sub": "bench-probe", "role": "ADMIN", "iat": now, "exp": now + 300}, secret,
                               algorithm="HS256")
            writes: dict[str, list[int]] = {}
            first: dict | None = None
            for _ in range(12):  # with --workers the kernel picks a worker per connection: ask until each answered
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
                conn.request("GET", "/api/ws" + (f"?room={room}" if room and first is None else ""),
                             headers={"Authorization": f"Bearer {token}"})
                body = json.loads(conn.getresponse().read())
                conn.close()
                first = first or body
                node = (body.get("broker") or {}).get("node") or "local"
                broker = body.get("broker") or {}
                writes[node] = [body.get("framesOut", 0), body.get("writesOut", 0), broker.get("published", 0),
                                broker.get("publishRoundTrips", 0)]
                if len(writes) >= max(1, len(body.get("nodes") or ())):
                    break
            return {"gc": first.get("gc"), "writes": writes, **({"room": first.get("room")} if room else {})}
        except Exception as e:  # noqa: BLE001  (a diagnostic: never fail the run for it)
            return {"error": repr(e)[:200]}
    return probe


def measure(name: str, n: int, args, logdir: Path) -> dict:
    rec: dict = {"system": name, "n": n, "status": "ok"}
    port = free_port()
    secret = "bench-" + secrets.token_hex(24)  # >= 32 bytes: the server refuses shorter HMAC keys
    try:
        spec = system_spec(name, port, secret, args)
    except Skip as e:
        rec.update(status="skipped", reason=str(e))
        log(f"N={n} {name}: SKIPPED: {e}")
        return rec
    idle = wait_idle(args.wait_idle)
    rec["machineBeforeStart"] = idle
    if not idle["idle"]:
        log(f"N={n} {name}: WARNING: the machine is busy ({idle['busyPctOfOneCore']:.0f}% of a core "
            f"used by other processes) after waiting {idle['waitedSec']:.0f} s; figures will suffer")
    logfile = logdir / f"{name}-{n}.log"
    redis = PrivateRedis(logdir) if spec.get("redis") else None
    if redis is not None:
        try:
            redis.start()
        except Skip as e:
            rec.update(status="skipped", reason=str(e))
            log(f"N={n} {name}: SKIPPED: {e}")
            return rec
        spec["cmd"] = [c.replace("{redis_url}", redis.url) for c in spec["cmd"]]
        spec["env"] = {k: v.replace("{redis_url}", redis.url) for k, v in spec["env"].items()}
    env = dict(os.environ, **spec["env"])
    log(f"N={n} {name}: starting `{shlex.join(spec['cmd']).replace(secret, '<secret>')}` "
        f"(log: {logfile})")
    with open(logfile, "wb") as lf:
        server = spawn(spec["cmd"], stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                       env=env, cwd=logdir)
    try:
        try:
            wait_ready(server, port, spec["health"], args.start_timeout, logfile)
        except Skip as e:
            rec.update(status="skipped", reason=str(e))
            log(f"N={n} {name}: SKIPPED: {e}")
            return rec
        time.sleep(1.0)
        before = proc_sample(server.pid)
        cfg = phase_config(args, n)
        lg = dict(spec["loadgen"])
        rest_spec = cfg.pop("restSpec")
        if "rest" in lg:
            lg["rest"] = dict(rest_spec, **lg["rest"])
        cfg.update(lg, port=port, secret=secret, label=f"{name} N={n}")
        cfg["deadlineMs"] += int(8 * (args.phase_wait_idle + 1) * 1000)
        if "storm" in cfg:
            if lg["kind"] == "ours":
                cfg["storm"]["room"] = lg["burstRoom"]
            else:
                del cfg["storm"]  # resuming with `since` is our protocol's: the peers have nothing to compare
        probe = status_probe(port, secret, cfg.get("storm", {}).get("room")) if name.startswith("ours") else None
        redis_before = redis.sample() if redis is not None else None
        result, marks = run_loadgen(cfg, server.pid, settle=0.3 if args.quick else 1.0,
                                    phase_idle_wait=args.phase_wait_idle, probe=probe,
                                    redis_calls=redis.calls if redis is not None else None)
        after = proc_sample(server.pid)
        if redis is not None and redis_before is not None:
            rec["redis"] = redis.figures(redis_before, result, OURS_ROOM if name.startswith("ours") else None)
        rec.update(port=port, serverPid=server.pid, serverCmd=[c.replace(secret, "<secret>") for c in spec["cmd"]],
                   serverEnv=spec["env"], serverLog=str(logfile), loadgen=result,
                   server={"before": before, "marks": marks, "after": after,
                           "alive": server.poll() is None})
        if result.get("error"):
            rec["status"] = "failed"
            rec["reason"] = result["error"]
            if _get(result, "phases.storm.failure"):
                log(f"N={n} {name}: !!! {result['phases']['storm']['failure']}")
        if server.poll() is not None:
            rec["status"] = "failed"
            rec["reason"] = (f"server exited with code {server.returncode} during the run; "
                             f"log tail: {tail(logfile)}")
        derive(rec)
        return rec
    finally:
        stop(server)
        if redis is not None:
            redis.stop()
        time.sleep(0.5)


class PrivateRedis:
    """A redis-server of the run's own (in memory, free port) for a cluster system, and what it cost."""

    def __init__(self, logdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.logdir = logdir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        binary = _which("redis-server")
        if binary is None:
            raise Skip("redis-server is not installed (apt-get install redis-server): the cluster case needs it")
        try:
            import redis  # noqa: F401
        except ImportError as e:
            raise Skip(f"redis-py is not installed ({e}): pip install 'realtime-server[redis]'")  # noqa: B904
        with open(self.logdir / f"redis-{self.port}.log", "wb") as lf:
            self.proc = spawn([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(self.logdir)], stdout=lf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.client().ping()
                return
            except Exception:  # noqa: BLE001
                time.sleep(0.1)
        raise Skip(f"redis-server on port {self.port} did not start")

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5)

    def sample(self) -> dict:
        info = self.client().info()
        return {"cpuSec": float(info["used_cpu_sys"]) + float(info["used_cpu_user"]),
                "usedMemory": int(info["used_memory"]), "calls": self.calls()}

    def calls(self) -> int:
        """Commands Redis has run since it started (INFO commandstats, summed): the presence case's Redis
        operations per join are differences of these."""
        stats = self.client().info("commandstats")
        return sum(int(v.get("calls", 0)) for k, v in stats.items() if k.startswith("cmdstat_"))

    def figures(self, before: dict, result: dict, room: str | None) -> dict:
        """Redis CPU per 100,000 deliveries over the whole run, and one room's history in memory."""
        after = self.sample()
        delivered = sum(int(p.get("delivered") or 0) for p in (result.get("phases") or {}).values()
                        if isinstance(p, dict))
        out: dict = {"cpuSec": after["cpuSec"] - before["cpuSec"], "delivered": delivered,
                     "usedMemoryMiB": after["usedMemory"] / 2**20, "callsBefore": before["calls"],
                     "callsAfter": after["calls"]}
        if delivered:
            out["cpuSecPer100kDeliveries"] = out["cpuSec"] * 100_000 / delivered
        if room is not None:
            client = self.client()
            keys = [f"rt:m:{{{room}}}", f"rt:s:{{{room}}}", f"rt:l:{{{room}}}"]
            used = [client.memory_usage(key) or 0 for key in keys]
            out["roomHistory"] = {"room": room, "events": client.xlen(keys[1]), "bytes": sum(used)}
        return out

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


def derive(rec: dict) -> None:
    """Headline figures computed from the raw readings."""
    lg = rec.get("loadgen") or {}
    srv = rec.get("server") or {}
    marks = srv.get("marks", {})
    d: dict = {}
    conn = lg.get("connect") or {}
    ready = conn.get("ready") or 0
    settled = marks.get("connected_settled") or marks.get("connected")
    if settled and ready:
        d["kibPerConnection"] = (settled["rssKiB"] - srv["before"]["rssKiB"]) / ready
        d["rssConnectedMiB"] = settled["rssKiB"] / 1024
    d["rssBeforeMiB"] = srv.get("before", {}).get("rssKiB", 0) / 1024
    if srv.get("after"):
        d["rssEndMiB"] = srv["after"]["rssKiB"] / 1024
        d["rssPeakMiB"] = srv["after"]["hwmKiB"] / 1024
    for ph in ("burst", "paced", "rest", "storm"):
        name = _get(lg, "phases.burst.name") if ph == "burst" else ph
        a, b = marks.get(f"{name}_start"), marks.get(f"{name}_end")
        if a and b:
            wall = (b["loadgenT"] - a["loadgenT"]) / 1000
            d[f"{ph}ServerCpuSec"] = b["cpuSec"] - a["cpuSec"]
            d[f"{ph}WallSec"] = wall
            p = (lg.get("phases") or {}).get(ph) or {}
            if "loadgenCpuSec" in p and wall > 0:
                d[f"{ph}LoadgenCpuPct"] = 100 * p["loadgenCpuSec"] / wall
                d[f"{ph}ServerCpuPct"] = 100 * d[f"{ph}ServerCpuSec"] / wall
                if "machineBusySec" in a and "machineBusySec" in b:
                    busy = 100 * (b["machineBusySec"] - a["machineBusySec"]) / wall
                    d[f"{ph}MachineBusyPct"] = busy
                    # irq + softirq: partly also charged to the processes that ran them
                    d[f"{ph}IrqCpuPct"] = 100 * (b.get("machineIrqSec", 0) - a.get("machineIrqSec", 0)) / wall
                if "otherProcessesCpuSec" in b:
                    d[f"{ph}OtherCpuPct"] = 100 * b["otherProcessesCpuSec"] / wall
        wa, wb = _get(a or {}, "status.writes"), _get(b or {}, "status.writes")
        if wa and wb and set(wa) == set(wb):  # frames per socket write, every node: how well the phase batched
            frames = sum(wb[k][0] - wa[k][0] for k in wb)
            writes = sum(wb[k][1] - wa[k][1] for k in wb)
            if writes > 0:
                d[f"{ph}FramesPerWrite"] = frames / writes
            trips = sum(wb[k][3] - wa[k][3] for k in wb if len(wb[k]) > 3 and len(wa[k]) > 3)
            if trips > 0:  # a shared broker: events numbered per round trip to it
                d[f"{ph}PublishesPerRoundTrip"] = sum(wb[k][2] - wa[k][2] for k in wb) / trips
        ga, gb = _get(a or {}, "status.gc"), _get(b or {}, "status.gc")
        if ga and gb:
            d[f"{ph}ServerGcMs"] = round(sum(gb["pauseMsTotal"]) - sum(ga["pauseMsTotal"]), 1)
            d[f"{ph}ServerGcCollections"] = sum(gb["collections"]) - sum(ga["collections"])
            d[f"{ph}ServerGcFull"] = gb["collections"][2] - ga["collections"][2]
    burst = lg.get("phases", {}).get("burst") or {}
    if burst.get("delivered"):
        d["burstLoadgenUsPerDelivery"] = 1e6 * burst["loadgenCpuSec"] / burst["delivered"]
    if marks.get("connected") and "before" in srv:
        d["connectServerCpuSec"] = marks["connected"]["cpuSec"] - srv["before"]["cpuSec"]
    _derive_presence(rec, d, marks)
    for when, mark in (("Start", "ready_storm"), ("End", "storm_end")):  # before the cut; after resuming
        by_node = _get(marks, f"{mark}.status.room.members.byNode")
        if by_node:
            d[f"storm{when}ByNode"] = by_node
    rec["derived"] = d


def _derive_presence(rec: dict, d: dict, marks: dict) -> None:
    """The presence case's own figures, and (cluster systems) the Redis commands of two windows: connect
    (every client's joins, then the warm-up: from before the load generator starts to the first burst's
    ready mark) and the measured bursts (each from its start to the next phase's ready mark: the events
    plus, with presence, the churn's leaves and the rejoins that follow them)."""
    lg = rec.get("loadgen") or {}
    pres = lg.get("presence")
    if pres:
        d["presenceFrames"] = pres.get("frames")
        d["presenceJoins"] = pres.get("joins")
        d["churnCycles"] = pres.get("churnCycles")
    before = _get(rec, "redis.callsBefore")
    at_burst = _get(marks, "ready_burst1.redisCalls")
    ready = _get(lg, "connect.ready")
    if isinstance(before, int) and isinstance(at_burst, int) and ready:
        d["redisCallsConnect"] = at_burst - before
        d["redisCallsConnectPerClient"] = (at_burst - before) / ready
    runs = (lg.get("phases") or {}).get("burstRuns") or []
    if pres and runs:
        d["burstChurnCycles"] = sum(int(run.get("churnCycles") or 0) for run in runs)
    calls = []
    for k, run in enumerate(runs):  # to the next phase's ready mark: the churn's last rejoins come after the end
        following = f"burst{k + 2}" if k + 1 < len(runs) else "paced"
        a, b = _get(marks, f"{run.get('name')}_start.redisCalls"), _get(marks, f"ready_{following}.redisCalls")
        if isinstance(a, int) and isinstance(b, int):
            calls.append(b - a)
    if runs and len(calls) == len(runs):
        d["redisCallsBursts"] = sum(calls)


def presence_figures(by: dict, system: str) -> dict:
    """A presence system against the same server with presence off, from one run: the burst ratio, and the
    Redis commands presence adds per join (connect window) and per leave-and-rejoin cycle (bursts)."""
    on, off = by.get(system), by.get(system.removesuffix("-presence"))
    out: dict = {"frames": _get(on, "derived.presenceFrames") if on else None}
    if on is None or off is None:
        return out
    a, b = _get(on, "loadgen.phases.burst.deliveriesPerSec"), _get(off, "loadgen.phases.burst.deliveriesPerSec")
    if a and b:
        out["burstRatio"] = a / b
    ready = _get(on, "loadgen.connect.ready")
    ca, cb = _get(on, "derived.redisCallsConnect"), _get(off, "derived.redisCallsConnect")
    if isinstance(ca, int) and isinstance(cb, int) and ready:
        out["redisPerJoin"] = (ca - cb) / ready
    ba, bb = _get(on, "derived.redisCallsBursts"), _get(off, "derived.redisCallsBursts")
    cycles = _get(on, "derived.burstChurnCycles")
    if isinstance(ba, int) and isinstance(bb, int) and cycles:
        out["redisPerChurnCycle"] = (ba - bb) / cycles
    return out


# ---------------------------------------------------------------------------- report

def machine_info() -> dict:
    info: dict = {"nproc": os.cpu_count(), "nprocAvailable": len(os.sched_getaffinity(0)),
                  "kernel": platform.release(), "python": platform.python_version(),
                  "pythonExecutable": sys.executable}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["memTotalGiB"] = round(int(line.split()[1]) / 1048576, 1)
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True,
                                      timeout=10).stdout.strip()
        info["ws"] = json.loads((LOADGEN_DIR / "node_modules" / "ws" / "package.json")
                                .read_text())["version"]
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    pkgs = {}
    for dist in ("gevent", "gevent-websocket", "PyJWT", "python-socketio", "python-engineio",
                 "pykka", "Flask"):
        try:
            pkgs[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    info["packages"] = pkgs
    info["nofileHardLimit"] = _nofile_hard
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        info["gitHead"] = rev.stdout.strip() or None
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        info["gitDirty"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def _get(rec: dict, path: str):
    cur = rec
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _frac(rec, phase):
    p = _get(rec, f"loadgen.phases.{phase}")
    if not p:
        return None
    return f"{p['delivered']:,}/{p['expected']:,}"


def _runs(rec):
    runs = _get(rec, "loadgen.phases.burst.runsDeliveriesPerSec")
    return ", ".join(f"{x:,}" for x in runs) if runs else None


def _storm_exact(rec):
    storm = _get(rec, "loadgen.phases.storm")
    if not storm:
        return None
    verdict = "exactly once" if storm.get("complete") else "**FAILED**"
    return f"{storm['deliveredOnce']:,}/{storm['expected']:,}, {verdict}"


def _storm_nodes(when: str):
    def get(rec):
        by_node = _get(rec, f"derived.storm{when}ByNode")
        return " / ".join(f"{count:,}" for _, count in sorted(by_node.items())) if by_node else None
    return get


def _per_request_us(rec):
    """Server CPU (every process of the server, not Redis) per REST publish, in µs."""
    cpu, done = _get(rec, "derived.restServerCpuSec"), _get(rec, "loadgen.phases.rest.ok")
    return 1e6 * cpu / done if cpu and done else None


def _ready(rec):
    ready = _get(rec, "loadgen.connect.ready")
    return None if ready is None else f"{ready:,}/{rec['n']:,}"


# (label, path into the record or a function of it, format, show ratios?)
METRICS: list[tuple[str, Any, str, bool]] = [
    ("connect time for N clients (s)", "loadgen.connect.seconds", "{:.2f}", True),
    ("connect: last CONNECTED received (s)", "loadgen.connect.connectedSeconds", "{:.2f}", True),
    ("clients ready", _ready, "{}", False),
    ("handshake p99 (ms)", "loadgen.connect.handshakeMs.p99", "{:.1f}", True),
    ("server KiB per connection", "derived.kibPerConnection", "{:.1f}", True),
    ("burst: deliveries/s", "loadgen.phases.burst.deliveriesPerSec", "{:,.0f}", True),
    ("burst: delivered", lambda r: _frac(r, "burst"), "{}", False),
    ("burst: every run (deliveries/s)", _runs, "{}", False),
    ("burst: delivery latency p99 (ms)", "loadgen.phases.burst.latencyMs.p99", "{:.1f}", True),
    ("burst: server CPU (% of one core)", "derived.burstServerCpuPct", "{:.0f}", False),
    ("burst: load generator CPU (% of one core)", "derived.burstLoadgenCpuPct", "{:.0f}", False),
    ("burst: load generator CPU per delivery (µs)", "derived.burstLoadgenUsPerDelivery", "{:.1f}", False),
    ("burst: frames per socket write (ours only)", "derived.burstFramesPerWrite", "{:.2f}", True),
    ("burst: events numbered per round trip to Redis", "derived.burstPublishesPerRoundTrip", "{:.2f}", False),
    ("burst: whole machine busy (% of one core)", "derived.burstMachineBusyPct", "{:.0f}", False),
    ("burst: other processes (% of one core)", "derived.burstOtherCpuPct", "{:.0f}", False),
    ("paced: latency p50 (ms)", "loadgen.phases.paced.latencyMs.p50", "{:.1f}", True),
    ("paced: latency p99 (ms)", "loadgen.phases.paced.latencyMs.p99", "{:.1f}", True),
    ("paced: delivered", lambda r: _frac(r, "paced"), "{}", False),
    ("paced: load generator CPU (% of one core)", "derived.pacedLoadgenCpuPct", "{:.0f}", False),
    ("paced: load generator's own GC pauses, total (ms)", "loadgen.phases.paced.loadgenGc.totalMs", "{:.0f}", False),
    ("paced: server GC pauses, total (ms; ours only)", "derived.pacedServerGcMs", "{:.0f}", False),
    ("paced: server full collections (ours only)", "derived.pacedServerGcFull", "{}", False),
    ("paced: slowest event's slowest delivery (ms)",
     lambda r: max(_get(r, "loadgen.phases.paced.slowestPerEventMs") or [None]) or None, "{:.1f}", True),
    ("REST publish: requests/s", "loadgen.phases.rest.requestsPerSec", "{:,.0f}", True),
    ("REST publish: events numbered per round trip to Redis", "derived.restPublishesPerRoundTrip", "{:.2f}", False),
    ("REST publish: server CPU per request (µs)", lambda r: _per_request_us(r), "{:.0f}", True),
    ("REST publish: request p99 (ms)", "loadgen.phases.rest.requestMs.p99", "{:.1f}", True),
    ("REST publish→delivery p99 (ms)", "loadgen.phases.rest.deliveryLatencyMs.p99", "{:.1f}", True),
    ("recovery storm: clients cut at once", "loadgen.phases.storm.clients", "{:,}", False),
    ("recovery storm: events published while away", "loadgen.phases.storm.events", "{:,}", False),
    ("recovery storm: all reconnected and recovered after (s)", "loadgen.phases.storm.secondsToAllRecovered",
     "{:.2f}", True),
    ("recovery storm: per-client recovery p99 (ms)", "loadgen.phases.storm.recoveryMs.p99", "{:.0f}", True),
    ("recovery storm: missed deliveries", _storm_exact, "{}", False),
    ("recovery storm: clients per node before the cut", _storm_nodes("Start"), "{}", False),
    ("recovery storm: clients per node after resuming", _storm_nodes("End"), "{}", False),
    ("recovery storm: server CPU (% of one core)", "derived.stormServerCpuPct", "{:.0f}", False),
    ("server RSS after connect (MiB)", "derived.rssConnectedMiB", "{:.0f}", True),
    ("server RSS at the end (MiB)", "derived.rssEndMiB", "{:.0f}", True),
    ("server peak RSS (MiB)", "derived.rssPeakMiB", "{:.0f}", True),
    ("slow readers (clients that never read)", lambda r: _get(r, "loadgen.slowReaders") or None,
     "{:,}", False),
    ("presence: PRESENCE frames received", "derived.presenceFrames", "{:,}", False),
    ("presence: joins (clients + leave-and-rejoin cycles)", "derived.presenceJoins", "{:,}", False),
    ("Redis: commands, connect and warm-up", "derived.redisCallsConnect", "{:,}", True),
    ("Redis: commands per client, connect and warm-up", "derived.redisCallsConnectPerClient", "{:.2f}", True),
    ("Redis: commands during the measured bursts (and the rejoins after)", "derived.redisCallsBursts", "{:,}",
     True),
    ("load generator CPU, whole run (s)", "loadgen.loadgen.cpuSec", "{:.1f}", False),
    ("clients dropped by the server", "loadgen.closedAfterReady", "{:,}", False),
]
RATIOS = [("ours", "raw"), ("ours", "socketio"), ("ours-inproc", "raw"), ("ours-inproc", "socketio"),
          ("socketio", "raw"), ("ours-cluster", "ours"), ("ours-cluster", "socketio-cluster"),
          ("ours-presence", "ours"), ("ours-cluster-presence", "ours-cluster")]


def _fmt(value, fmt):
    if value is None:
        return "—"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def table_for(n: int, recs: list[dict]) -> list[str]:
    by = {r["system"]: r for r in recs if r["n"] == n}
    measured = [s for s in ALL_SYSTEMS if s in by and by[s]["status"] != "skipped"]
    ratios = [(a, b) for a, b in RATIOS if a in measured and b in measured]
    if not measured:
        return ["No system was measured for this N."] + [
            f"- **{s}**: {by[s]['status']}: {by[s].get('reason', '')}" for s in ALL_SYSTEMS if s in by]
    head = ["figure"] + measured + [f"{a}/{b}" for a, b in ratios]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, get, fmt, ratio_ok in METRICS:
        vals = {s: (get(by[s]) if callable(get) else _get(by[s], get)) for s in measured}
        if all(v is None for v in vals.values()):
            continue
        row = [label] + [_fmt(vals[s], fmt) for s in measured]
        for a, b in ratios:
            va, vb = vals[a], vals[b]
            if ratio_ok and isinstance(va, (int, float)) and isinstance(vb, (int, float)) and vb:
                row.append(f"{va / vb:.2f}")
            else:
                row.append("")
        out.append("| " + " | ".join(row) + " |")
    notes = []
    for s in ALL_SYSTEMS:
        if s not in by:
            continue
        r = by[s]
        if r["status"] != "ok":
            notes.append(f"- **{s}**: {r['status']}: {r.get('reason', '')}")
        if _get(r, "machineBeforeStart.idle") is False:
            notes.append(f"- **{s}**: the machine was busy before the start "
                         f"({_get(r, 'machineBeforeStart.busyPctOfOneCore')}% of one core in other "
                         "processes): treat these figures with suspicion")
        for ph in ("burst", "paced", "rest"):
            other = _get(r, f"derived.{ph}OtherCpuPct")
            if other is not None and other > 20:
                name = _get(r, "loadgen.phases.burst.name") if ph == "burst" else ph
                top = _get(r, f"server.marks.{name}_end.topOtherProcesses") or []
                notes.append(f"- **{s}** {ph}: other processes used {other:.0f}% of a core during the "
                             "measured run: that figure is likely understated"
                             + (f" (busiest: {'; '.join(top)})" if top else ""))
        if r["status"] == "ok":
            fails = _get(r, "loadgen.connect.failReasons")
            if fails:
                notes.append(f"- **{s}**: connection failures: `{json.dumps(fails)}`")
            for ph in ("burst", "paced", "rest"):
                p = _get(r, f"loadgen.phases.{ph}")
                # bursts and REST publish several events at once, so only the paced phase
                # has a defined order, and only while its publishes do not overlap
                if p and (not p.get("complete") or (ph == "paced" and p.get("outOfOrder"))):
                    overlap = p.get("maxInFlight", 1) > 1
                    notes.append(
                        f"- **{s}** {ph}: complete={p.get('complete')}, "
                        f"deliveries out of order={p.get('outOfOrder')}"
                        + (f" (publishes overlapped, up to {p['maxInFlight']} requests in flight, "
                           "so the server may take them in either order)" if overlap else "")
                        + f", responses={json.dumps(p.get('responses', {}).get('byStatus'))}")
                err = p and p.get("responses", {}).get("firstError")
                if err:
                    notes.append(f"- **{s}** {ph}: first failed publish: `{err[:200]}`")
            wire = _get(r, "loadgen.wireBytes")
            if wire:
                notes.append(f"- {s}: one event frame on the wire = "
                             + ", ".join(f"{k} {v} B" for k, v in sorted(wire.items())))
    return out + ([""] + notes if notes else [])


USAGE = """\
# Benchmarks

Generated by `scripts/bench` (code in `scripts/benchmarks/`); do not edit by hand, rerun it.

## Usage

```sh
scripts/bench --n 1000,10000                 # full run: every system, N = 1,000 then 10,000
scripts/bench --quick                        # smoke run: N = 200, 3 s paced phase (report goes to /tmp)
scripts/bench --n 1000 --systems raw,socketio
scripts/bench --n 10000 --slow-readers 1%    # 1% of clients stop reading after subscribing
```

Needs Python with gevent, gevent-websocket and PyJWT (the project's own dependencies) plus
`pip install -r scripts/benchmarks/requirements.txt` (python-socketio, benchmark only), and Node.js 18+
with npm: the load generator's `node_modules` is installed with `npm ci` on first use. The Python
used is `$BENCH_PYTHON`, else the active virtualenv's, else the project's `.venv` (made by
`scripts/serve` or `scripts/test`), else `python3`. The system "ours" is started as
`realtime-server serve --host 127.0.0.1 --port P --jwt-secret S` with `WEBSOCKET_DEBUG=false`
(override with `--ours-cmd`, add variables with `--ours-env K=V`), in the run's log directory
(under `$TMPDIR`), where it may create `data/`. When that command is missing or does not start,
"ours" is reported as skipped and the peers are still measured. Other flags: `scripts/bench --help`.

## Method

- Every server runs alone on 127.0.0.1 in its own process group, on a fresh port; a separate Node.js
  process (`ws` client library) opens the N WebSockets, authenticated by an HS256 JWT
  (`?token=` for raw and ours, the Socket.IO CONNECT auth payload for socketio). Up to
  `--connect-concurrency` handshakes are in flight at once. Every process gets `ulimit -n` at the
  hard limit; servers listen with a backlog of 4096 (capped by `net.core.somaxconn`).
- **connect time**: first connect started → last client ready (raw: `CONNECTED` received;
  socketio: Socket.IO CONNECT acknowledged, room joined; ours: `CONNECTED`, then `SUBSCRIBE` →
  `SUBSCRIBED`, as our JavaScript client does: it subscribes once `CONNECTED` arrives). The row "last
  CONNECTED received" stops the clock at the last `CONNECTED` instead (the same as connect time for
  raw and socketio), which leaves out our clients' extra round trip, though not the server's work for
  the `SUBSCRIBE`s of clients that connected earlier.
- **memory**: (server RSS once all clients are ready and 1 s has passed − RSS before the first
  connection) / N, from `/proc/<pid>/status` (VmRSS summed over the server's process group).
- **burst**: 50 events of ~200 bytes JSON published over HTTP (4 requests in flight, keep-alive) to
  the room that holds every client; deliveries/s = deliveries counted at the clients ÷ (last
  delivery − first publish sent). After a 5-event warm-up, the burst runs 3 times; the table shows
  the median run (and every run's rate). "Frames per socket write" (ours) is the servers' `framesOut`
  over `writesOut` across the median burst, from `GET /api/ws` of every node: how many events a socket
  got per system call, i.e. how well the burst was batched (the main lever on the server's and the
  kernel's CPU per delivery). With Redis, "events numbered per round trip" is the nodes' `published`
  over `publishRoundTrips`.
- **paced**: 4 events/s for 10 s, each sent at its scheduled time whether or not the previous
  publish was answered; latency = receive time − the send timestamp in the payload (same machine,
  same clock), over every delivery; p50 and p99. The JSON also has each event's slowest delivery
  (`slowestPerEventMs`), which tells a few stalled events from a uniformly slower fan-out, and the
  load generator's own garbage-collection pauses in the phase (`loadgenGc`, from `perf_hooks`), which
  delay its receive timestamps as a server pause would.
- **REST publish** ("ours" only): 6,000 `POST /api/live-sync` requests, 16 in flight, into a room
  with 10 subscribers (so the HTTP path, not the fan-out, is measured); requests/s, the server's CPU
  per request (every process of the server, not Redis) and publish→delivery p99. (2,000 requests
  until issue 12's tuning: a phase of half a second varied by ±20 % from run to run.)
- **CPU**: server (its process group) and load generator, per phase, as % of one core, from
  `/proc`; "whole machine busy" counts every CPU (200% = both cores of this machine saturated,
  including kernel work such as loopback TCP delivery) and "other processes" is the CPU of every
  user-space process that is neither the server nor the load generator. Before each system and
  each measured phase the harness waits (up to `--wait-idle` / `--phase-wait-idle` s) for the
  machine to be idle, and the report names the busiest other processes when they were not.
- Peers: **raw** (`peers/raw_gevent.py`) writes one pre-built frame per socket in a plain loop:
  the stack's ceiling. **socketio** (`peers/socketio_gevent.py`) is python-socketio 5.x in gevent
  mode with the gevent-websocket transport. Both set TCP_NODELAY and are driven by `POST /publish`.
  **ours** publishes over REST (`POST /api/live-sync`, admin bearer token), `LEAD_UPDATED` (with
  `data.leadId`, which its schema requires) into `lead:bench`: never coalesced, so every event must
  arrive. Like our browser client, an "ours" client that has heard nothing for a
  heartbeat (25 s) sends a JSON `PING`; the servers' WebSocket pings are answered by the `ws` library,
  as browsers do. Its clients' tokens carry role
  `EMPLOYEE` and `rooms: ["lead:*", "campaign:*"]`; the publisher's token has role `ADMIN`.
- Ratio columns divide the two systems' figures as they stand (for times and sizes lower is better,
  for rates higher is better). Runs on this machine varied by about ±20%.
- Reading the figures: server and load generator share the same CPUs. In a burst the machine is
  close to saturated (server + load generator + kernel ≈ all cores), so deliveries/s is what the
  pair achieves together: the load generator spends several µs of CPU per delivery (row "load
  generator CPU per delivery"), which bounds the fastest server (raw) more than the slower ones.
  Latencies include the load generator's serial work: one event to N clients costs it about
  N × that figure before the last client's timestamp is taken (≈ 80 ms at N = 10,000), so treat
  that as the floor of p99 at large N. The baselines measured before the project (docs/architecture.md)
  were counted at the server, these at
  the clients.
- `--slow-readers 1%`: that share of the clients pause their socket after subscribing and never
  read again; the figures then cover the other clients (note: 50 × 200-byte events fit in the
  kernel's socket buffers, so raise `--burst-events`/`--event-bytes` to make backpressure bite).
- **ours-inproc** (`peers/ours_inproc.py`) is the same server with the same settings and clients,
  but its events are published through the in-process API, `ActorSystem.publish` (what a Python
  service embedded in the server, or `system.events`, calls): a bench-only `POST /publish` in front
  of the WSGI application, like the peers', with no token, Flask or REST layer on the way in. Next to
  "ours" it shows what the REST layer costs; next to raw, what the actor path costs.
- The cluster case (`--systems ours,ours-cluster,socketio-cluster`, not in the default set):
  **ours-cluster** is `realtime-server serve --workers 2` with `REDIS_URL` pointing at a private
  `redis-server` the run starts on a free port; **socketio-cluster** is the socketio peer with
  python-socketio's `RedisManager` and two processes on the port. The kernel (SO_REUSEPORT) spreads the
  clients and the REST publishes over both workers. Server CPU and memory are summed over the workers
  and their parent; Redis's CPU per 100,000 deliveries (from `INFO`) and the bench room's history in
  bytes (`MEMORY USAGE`) are in the JSON under `redis`. "ours-cluster/ours" is the price of scale-out
  on one machine.
- The recovery storm (`--recovery-storm`, our systems only, after the other phases): every client is
  cut at once (its TCP connection destroyed, no close frame), `--storm-events` events (20) are published
  to `lead:bench` over REST while they are away, then every client reconnects (up to
  `--connect-concurrency` at once; with `ours-cluster` the kernel picks the worker) and sends
  `SUBSCRIBE` with `since` = the last position it saw. "All reconnected and recovered after" runs from
  the first reconnect to the last client's last missed event; the case **fails** (the run exits 1)
  unless every client answered `recovered: true` and received exactly the offsets it missed, in order,
  each once. The clients per node before the cut and after resuming come from `GET /api/ws?room=` (each
  node's own count).
- The presence case (issue 16; `--systems ours,ours-presence,ours-cluster,ours-cluster-presence`):
  **ours-presence** and **ours-cluster-presence** are the same servers as ours and ours-cluster, and
  each client (its own user, `bench-<i>`) also sends `SUBSCRIBE {"room": "lead:bench-presence-<i mod R>",
  "presence": true}` with R = `--presence-rooms` (1,000: ten viewers a room at N = 10,000), so connect
  counts that join too. During every measured burst, clients leave their presence room (`UNSUBSCRIBE`),
  one after another at `--presence-churn` a second (50), and each rejoins 1.5 s later (longer than
  `PRESENCE_INTERVAL`, so the leave and the rejoin are two diffs to the room's other viewers); the burst
  waits for the last rejoin after its end mark, so the rate it reports is unchanged by the wait. The
  Presence targets table compares burst deliveries/s with presence on against off (the system without
  `-presence`, same run, same N; goal >= 0.9x) and counts the `PRESENCE` frames the clients received.
  With the cluster systems the run reads the private Redis's `INFO commandstats` (every command's
  calls, summed) at each phase mark: "Redis commands presence adds per join" is (commands from before
  the load generator starts to the first burst's ready mark, with presence, minus the same without) /
  clients ready, and "per leave-and-rejoin" the same difference over the measured bursts (each up to the
  next phase's ready mark) divided by the cycles. Both differences also hold the time-driven commands
  (heartbeats, lease renewals) of windows that differ in length, so at small N they are rough (a
  smoke run can show a negative churn figure); the run's few `INFO` calls are the same in both.
"""


def _rel(value):
    if isinstance(value, Path):
        try:
            return str(value.resolve().relative_to(REPO))
        except ValueError:
            return str(value)
    return value


# Issue 3's targets, judged on the largest N of the run: (label, figure, compare with, bound, higher is better).
TARGETS = [
    ("burst deliveries/s >= 1.0x raw", "loadgen.phases.burst.deliveriesPerSec", "raw", 1.0, True),
    ("burst deliveries/s >= 4x socketio", "loadgen.phases.burst.deliveriesPerSec", "socketio", 4.0, True),
    ("paced p99 <= 1.25x raw", "loadgen.phases.paced.latencyMs.p99", "raw", 1.25, False),
    ("server memory <= 28 KiB per connection", "derived.kibPerConnection", None, 28.0, False),
    ("connect time <= 1.3x raw", "loadgen.connect.seconds", "raw", 1.3, False),
    ("REST publish >= 3,000 requests/s", "loadgen.phases.rest.requestsPerSec", None, 3000.0, True),
]

CLUSTER_TARGETS = [
    ("burst deliveries/s >= 0.9x ours", "loadgen.phases.burst.deliveriesPerSec", "ours", 0.9, True),
    ("paced p99 <= 1.25x ours", "loadgen.phases.paced.latencyMs.p99", "ours", 1.25, False),
    ("REST publish requests/s >= 0.8x ours", "loadgen.phases.rest.requestsPerSec", "ours", 0.8, True),
    ("burst deliveries/s >= 4x socketio-cluster", "loadgen.phases.burst.deliveriesPerSec", "socketio-cluster", 4.0,
     True),
]
"""The cluster case: ours with Redis and two workers against ours in one process at the same N."""


def targets_for(recs: list[dict]) -> list[str]:
    """The targets table: each figure of ours and ours-inproc against its bound, from this run only."""
    if not recs:
        return []
    n = max(r["n"] for r in recs)
    by = {r["system"]: r for r in recs if r["n"] == n and r["status"] == "ok"}
    out: list[str] = []
    for title, systems, targets in ((f"## Targets (N = {n:,}, this run)", ("ours", "ours-inproc"), TARGETS),
                                    (f"## Cluster targets (N = {n:,}, this run)", ("ours-cluster",),
                                     CLUSTER_TARGETS)):
        out += _targets_table(title, [s for s in systems if s in by], targets, by)
    out += _presence_table(n, by)
    if out:
        out += ["Ratios from one run vary by about ±20 % (see Method); [performance.md](performance.md) has the "
                "history of these figures, what each hot-path change bought, and what stands in the way of the "
                "ones not met. The cluster case's Redis costs are in the JSON (`redis`: CPU per 100,000 "
                "deliveries, one room's history in bytes).", ""]
    return out


def _presence_table(n: int, by: dict) -> list[str]:
    """Issue 16's case: each presence system against the same server with presence off, in this run."""
    systems = [s for s in ("ours-presence", "ours-cluster-presence") if s in by]
    if not systems:
        return []
    figs = {s: presence_figures(by, s) for s in systems}

    def cell(value, fmt: str, bound: float | None = None) -> str:
        if not isinstance(value, (int, float)):
            return "—"
        return fmt.format(value) + ("" if bound is None else " met" if value >= bound else " **not met**")

    rooms = {_get(by[s], "loadgen.presence.rooms") for s in systems} - {None}
    churn = {_get(by[s], "loadgen.presence.churnPerSec") for s in systems} - {None}
    return [f"## Presence targets (N = {n:,}, {', '.join(f'{r:,}' for r in sorted(rooms))} presence rooms, "
            f"churn {', '.join(f'{c:g}' for c in sorted(churn))}/s during bursts, this run)", "",
            "| target | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems),
            "| burst deliveries/s >= 0.9x presence off | "
            + " | ".join(cell(figs[s].get("burstRatio"), "{:.2f}x", 0.9) for s in systems) + " |",
            "| PRESENCE frames received | "
            + " | ".join(cell(figs[s].get("frames"), "{:,}") for s in systems) + " |",
            "| leave-and-rejoin cycles during the bursts | "
            + " | ".join(cell(_get(by[s], "derived.burstChurnCycles"), "{:,}") for s in systems) + " |",
            "| Redis commands presence adds per join (connect) | "
            + " | ".join(cell(figs[s].get("redisPerJoin"), "{:.2f}") for s in systems) + " |",
            "| Redis commands presence adds per leave-and-rejoin (bursts) | "
            + " | ".join(cell(figs[s].get("redisPerChurnCycle"), "{:.2f}") for s in systems) + " |",
            ""]


def _targets_table(title: str, ours: list[str], targets: list, by: dict) -> list[str]:
    if not ours:
        return []
    out = [title, "", "| target | " + " | ".join(ours) + " |", "|---|" + "---|" * len(ours)]
    for label, path, peer, bound, higher in targets:
        cells = []
        for s in ours:
            value = _get(by[s], path)  # burst: the median run
            if peer is not None:
                base = _get(by[peer], path) if peer in by else None
                value = value / base if isinstance(value, (int, float)) and base else None
            if not isinstance(value, (int, float)):
                cells.append("—")
                continue
            met = value >= bound if higher else value <= bound
            shown = f"{value:.2f}x" if peer is not None else f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
            cells.append(f"{shown} {'met' if met else '**not met**'}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out + [""]


def write_report(md_path: Path, json_path: Path, command: str, options: dict, machine: dict,
                 recs: list[dict], started: str, duration: float, interrupted: bool) -> None:
    lines = [USAGE, "## Last run", ""]
    lines.append(f"- command: `{command}`")
    lines.append(f"- started {started}, took {duration:.0f} s"
                 + (" — **interrupted, partial results**" if interrupted else ""))
    cpu = machine.get("cpu", "?")
    lines.append(f"- machine: {machine.get('nproc')} CPUs ({cpu}), "
                 f"{machine.get('memTotalGiB')} GiB RAM, Linux {machine.get('kernel')}, "
                 f"`ulimit -n` hard {machine.get('nofileHardLimit')}")
    pk = machine.get("packages", {})
    lines.append(f"- Python {machine.get('python')} ("
                 + ", ".join(f"{k} {v}" for k, v in pk.items())
                 + f"); Node.js {machine.get('node')}, ws {machine.get('ws')}")
    if machine.get("gitHead"):
        lines.append(f"- repository at commit {machine['gitHead']}"
                     + (" plus uncommitted changes" if machine.get("gitDirty") else ""))
    if options.get("slow_readers"):
        lines.append(f"- slow readers: {options['slow_readers'] * 100:g}% of clients never read")
    lines.append(f"- raw readings: [`{json_path.name}`]({json_path.name})")
    lines += [""] + targets_for(recs)
    for n in sorted({r["n"] for r in recs}):
        lines += ["", f"### N = {n:,}", ""] + table_for(n, recs)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text("\n".join(lines) + "\n")
    json_path.write_text(json.dumps({
        "command": command, "started": started, "durationSec": round(duration, 1),
        "interrupted": interrupted, "machine": machine,
        "options": options, "results": recs},
        indent=1, default=str) + "\n")
    log(f"wrote {md_path} and {json_path}")


# ---------------------------------------------------------------------------- main

def parse_fraction(text: str) -> float:
    text = text.strip()
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError("must be a share of the clients, e.g. 1% or 0.01")
    return value


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog=os.environ.get("BENCH_ARGV0", "scripts/bench"),
        description="Fan-out, latency, memory and connect benchmarks: raw gevent-websocket, "
                    "python-socketio and our server, driven by a Node.js load generator. "
                    "Writes docs/benchmarks.md and docs/benchmarks.json.")
    ap.add_argument("--n", default=None,
                    help="comma-separated client counts (default 1000; --quick: 200)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: N=200, 3 s paced phase, 200 REST requests; report to "
                         "$TMPDIR/realtime-bench unless --out is given")
    ap.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS),
                    help=f"comma-separated, from {', '.join(ALL_SYSTEMS)} (default: %(default)s)")
    ap.add_argument("--slow-readers", type=parse_fraction, default=0.0, metavar="PCT",
                    help="share of clients that stop reading after subscribing, e.g. 1%%")
    ap.add_argument("--burst-events", type=int, default=50)
    ap.add_argument("--burst-repeat", type=int, default=None,
                    help="measured bursts per system, the median is reported (default 3; --quick: 1)")
    ap.add_argument("--event-bytes", type=int, default=200, help="size of one published event's JSON")
    ap.add_argument("--paced-rate", type=float, default=4.0, help="events per second")
    ap.add_argument("--paced-seconds", type=float, default=None, help="default 10 (--quick: 3)")
    ap.add_argument("--rest-requests", type=int, default=None, help="default 6000 (--quick: 200)")
    ap.add_argument("--rest-concurrency", type=int, default=16)
    ap.add_argument("--connect-concurrency", type=int, default=200,
                    help="WebSocket handshakes in flight at once (default %(default)s)")
    ap.add_argument("--start-timeout", type=float, default=20.0,
                    help="seconds a server gets to answer HTTP before it is skipped")
    ap.add_argument("--recovery-storm", action="store_true",
                    help="our systems only, after the other phases: cut every client at once, publish "
                         "--storm-events while they are away, reconnect all (with --workers the kernel picks the "
                         "process) and resume with `since`; reports the time until all are recovered and fails "
                         "the case unless every client gets exactly the events it missed, once each")
    ap.add_argument("--storm-events", type=int, default=20,
                    help="events published while the storm's clients are away (default %(default)s)")
    ap.add_argument("--presence-rooms", type=int, default=1000,
                    help="systems ours-presence and ours-cluster-presence: each client also subscribes with "
                         "presence: true to one of this many lead: rooms (default %(default)s)")
    ap.add_argument("--presence-churn", type=float, default=50.0, metavar="PER_SEC",
                    help="presence systems: clients leaving and rejoining their presence room per second "
                         "during each measured burst (default %(default)s)")
    ap.add_argument("--ours-cmd", default=DEFAULT_OURS_CMD,
                    help="command starting our server; {port} and {secret} are filled in")
    ap.add_argument("--ours-env", action="append", default=[], metavar="K=V",
                    help="extra environment for our server (repeatable)")
    ap.add_argument("--ours-paced-type", default=OURS_EVENT,
                    help="event type of the paced phase for 'ours' (default %(default)s)")
    ap.add_argument("--ours-paced-room", default=OURS_ROOM,
                    help="room of the paced phase for 'ours' (default %(default)s)")
    ap.add_argument("--wait-idle", type=float, default=30.0, metavar="SECONDS",
                    help="before each system, wait up to this long for the machine to be idle "
                         "(default %(default)s)")
    ap.add_argument("--phase-wait-idle", type=float, default=15.0, metavar="SECONDS",
                    help="before each measured phase, wait up to this long for the machine to be "
                         "idle (default %(default)s)")
    ap.add_argument("--ours-extra-data", default=OURS_EXTRA_DATA, metavar="JSON",
                    help="fields added to every event's data for 'ours' (default %(default)s)")
    ap.add_argument("--out", type=Path, default=None, help="Markdown report path")
    ap.add_argument("--json", type=Path, default=None, help="JSON dump path")
    ap.add_argument("--render", type=Path, default=None, metavar="JSON",
                    help="measure nothing: rewrite the report (--out, default docs/benchmarks.md) "
                         "from an earlier run's JSON dump")
    ap.add_argument("--log-dir", type=Path, default=None,
                    help="where server logs go (default: a new directory under $TMPDIR)")
    args = ap.parse_args(argv)
    if args.n is None:
        args.n = "200" if args.quick else "1000"
    try:
        args.ns = [int(x.replace("_", "").replace(",", "")) for x in args.n.split(",") if x.strip()]
    except ValueError:
        ap.error("--n takes comma-separated integers, e.g. 1000,10000")
    args.system_list = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in args.system_list:
        if s not in ALL_SYSTEMS:
            ap.error(f"unknown system {s!r}; choose from {', '.join(ALL_SYSTEMS)}")
    if args.presence_rooms < 1 or args.presence_churn < 0:
        ap.error("--presence-rooms must be at least 1 and --presence-churn not negative")
    limit = _nofile_hard if _nofile_hard != resource.RLIM_INFINITY else 1 << 20
    for n in args.ns:
        if n < 1 or n + 200 > limit:
            ap.error(f"N={n} does not fit the open-file limit ({limit}) of one process")
    if args.quick and args.out is None:
        qdir = Path(tempfile.gettempdir()) / "realtime-bench"
        args.out, args.json = qdir / "benchmarks-quick.md", qdir / "benchmarks-quick.json"
    args.out = args.out or DEFAULT_MD
    args.json = args.json or args.out.with_suffix(".json")
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.render is not None:
        dump = json.loads(args.render.read_text())
        for rec in dump["results"]:
            if rec.get("status") != "skipped":
                derive(rec)  # the figures follow this version of the code
        json_path = args.json if args.json.resolve() != args.render.resolve() else args.render
        write_report(args.out, json_path, dump["command"], dump.get("options", {}), dump["machine"],
                     dump["results"], dump["started"], dump.get("durationSec", 0),
                     dump.get("interrupted", False))
        return 0
    command = " ".join([os.environ.get("BENCH_ARGV0", "scripts/bench")] + [shlex.quote(a) for a in argv])
    # SIGINT too: a shell starts background jobs with SIGINT ignored
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    if shutil.which("node") is None:
        sys.exit("node not found: Node.js 18+ is needed for the load generator")
    ensure_loadgen()
    logdir = args.log_dir or Path(tempfile.mkdtemp(prefix="realtime-bench-"))
    logdir.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.monotonic()
    recs: list[dict] = []
    interrupted = False
    try:
        for n in args.ns:
            for name in args.system_list:
                recs.append(measure(name, n, args, logdir))
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: stopping servers and writing partial results")
    finally:
        stop_all()
    options = {k: _rel(v) for k, v in vars(args).items()}
    write_report(args.out, args.json, command, options, machine, recs, started,
                 time.monotonic() - t0, interrupted)
    for n in args.ns:
        print(f"\nN = {n:,}", flush=True)
        print("\n".join(table_for(n, recs)), flush=True)
    log(f"server logs in {logdir}")
    if interrupted:
        return 130
    return 1 if any(r["status"] == "failed" for r in recs) else 0


if __name__ == "__main__":
    sys.exit(main())
