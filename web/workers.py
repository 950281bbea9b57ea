"""``realtime-server serve --workers N``: N whole server processes sharing one port, and their supervisor.

Python runs one core per process, so more cores means more processes. Each worker is an ordinary
``serve`` (its own actor system, sockets and database connection) listening with SO_REUSEPORT on the
same port, where the kernel spreads new connections over them; Redis (``REDIS_URL``, required: without
it the workers would number rooms apart and never see each other's events) makes them one server.

The parent holds no socket and runs no actor. It restarts a worker that dies (a crash or ``kill -9``;
its clients reconnect to the others and resume), waiting longer between restarts of a worker that keeps
dying at once, and on SIGTERM or SIGINT it forwards SIGTERM to every worker, which closes its sockets
with 1001 and exits; the parent exits 0 once they all have.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time

import gevent
from gevent.event import Event

from actors.config import Settings

log = logging.getLogger("realtime.workers")

QUICK_DEATH = 5.0
"""A worker that dies sooner than this after its start is restarted after a growing pause (up to 30 s)."""


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class Worker:
    """One worker process: its command, the process, and when and how often it was started."""

    def __init__(self, index: int, command: list[str]) -> None:
        self.index = index
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.quick_deaths = 0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command)
        self.started = time.monotonic()
        log.info("worker %d started (pid %d)", self.index, self.process.pid)


def supervise(settings: Settings, argv: list[str]) -> int:
    """Run ``settings.workers`` workers until SIGTERM/SIGINT; returns the exit status (0 after a clean drain)."""
    port = settings.port or _free_port(settings.host)
    # flags win over the environment and a later flag over an earlier one: each worker is a plain serve
    command = [sys.executable, "-m", "web.cli", *argv, "--workers", "1", "--reuse-port", "--port", str(port)]
    stop = Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    workers = [Worker(index, command) for index in range(settings.workers)]
    for worker in workers:
        worker.start()
    log.info("supervising %d workers on port %d", len(workers), port)
    restart_at: dict[int, float] = {}
    while not stop.is_set():
        now = time.monotonic()
        for worker in workers:
            process = worker.process
            if process is None or process.poll() is None:
                if process is None and restart_at.get(worker.index, 0.0) <= now:
                    restart_at.pop(worker.index, None)
                    worker.start()
                continue
            lived = now - worker.started
            worker.quick_deaths = worker.quick_deaths + 1 if lived < QUICK_DEATH else 0
            pause = min(30.0, 0.5 * 2 ** worker.quick_deaths) if worker.quick_deaths else 0.0
            log.warning("worker %d (pid %d) exited with %s after %.1fs; starting a new one%s", worker.index,
                        process.pid, process.returncode, lived, f" in {pause:.1f}s" if pause else "")
            worker.process = None
            restart_at[worker.index] = now + pause
        stop.wait(0.2)
    return _drain(workers, settings)


def _drain(workers: list[Worker], settings: Settings) -> int:
    """SIGTERM to every worker (each closes its sockets with 1001), then wait; kill what outlives the wait."""
    log.info("stop requested; draining %d workers", len(workers))
    running = [w.process for w in workers if w.process is not None and w.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + max(10.0, settings.close_timeout * 4 + 5) + settings.shutdown_grace
    status = 0
    for process in running:
        try:
            code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("worker pid %d did not stop in time; killing it", process.pid)
            process.kill()
            process.wait()
            code = 1
        if code != 0:
            status = 1
    log.info("all workers stopped")
    return status
