"""``GET /api/ws`` (server status for any authenticated caller), ``GET /healthz`` and ``GET /readyz`` (for load
balancers: alive, and able to take publishes and hear other processes' events)."""

from __future__ import annotations

import gc
import os
from typing import Any

import gevent
import greenlet
from flask import Blueprint, current_app, jsonify, request

from ..auth import current_identity, system

bp = Blueprint("status", __name__)


@bp.get("/api/ws")
def status() -> Any:
    """The server's status; ``?room=`` adds that room's members on every node (a room the caller may join)."""
    identity = current_identity()
    room = request.args.get("room")
    if room is not None:
        system().policy.check(identity, room)  # 400 for a malformed name, 403 for a room not the caller's
    answer = system().status()
    if room is not None:
        answer["room"] = system().room_census(room)
    waiting = current_app.extensions.get("realtime.http")
    if waiting is not None:
        answer["http"] = waiting.snapshot()  # connections still sending a request (web/http_deadlines.py)
    if request.args.get("process") in ("1", "true"):
        answer["process"] = process_figures()
    return jsonify(answer)


def process_figures() -> dict[str, int | None]:
    """This process's resident memory, live greenlets, open descriptors and sockets (``?process=true``).

    For soak runs and leak hunts (``scripts/soak``): compare two readings. Only on request: counting
    greenlets walks every object the collector tracks, a few milliseconds with 10,000 sockets' objects
    alive, and it sees only greenlets the collector tracks, so not those of start-up once ``serve`` has
    frozen them (``gc.freeze``). Linux only (``/proc``); elsewhere the memory and descriptor figures are null.
    """
    rss: int | None = None
    fds: int | None = None
    sockets: int | None = None
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        links = []
        for name in os.listdir("/proc/self/fd"):
            try:
                links.append(os.readlink(f"/proc/self/fd/{name}"))
            except OSError:  # closed meanwhile (the listing's own descriptor, for one)
                pass
        fds, sockets = len(links), sum(1 for link in links if link.startswith("socket:"))
    except OSError:
        pass
    greenlets = sum(1 for obj in gc.get_objects() if isinstance(obj, greenlet.greenlet) and not obj.dead)
    return {"rssBytes": rss, "greenlets": greenlets, "fds": fds, "sockets": sockets}


@bp.get("/healthz")
def health() -> Any:
    running = system().running
    return jsonify({"ok": running}), 200 if running else 503


@bp.get("/readyz")
def ready() -> Any:
    """200 while the server runs, is not draining, and its database and broker answer; 503 otherwise.

    The sockets stay open meanwhile. A process whose PUB/SUB connection is down still serves its sockets,
    but misses other processes' events until it reconnects; one whose database does not answer cannot
    store notifications; one draining after SIGTERM (``SHUTDOWN_GRACE``) is about to close: a load
    balancer should send new clients elsewhere in each case.
    """
    running = system()
    draining = bool(current_app.extensions.get("realtime.draining"))
    store = current_app.extensions.get("realtime.store")
    database = None if store is None else database_answers(store, running.settings.ask_timeout)
    ready = running.broker_ready() and not draining and database is not False
    broker = running.broker.describe() if running.broker is not None else None
    return jsonify({"ready": ready, "draining": draining, "database": database, "broker": broker}), \
        200 if ready else 503


def database_answers(store: Any, timeout: float) -> bool:
    """Whether the database answers ``SELECT 1`` within ``timeout`` (on the store's worker, like every query)."""
    try:
        with gevent.Timeout(timeout):
            store.run(lambda: store.db.execute_sql("SELECT 1").fetchone())
    except (Exception, gevent.Timeout):  # noqa: BLE001 (unreachable, refused, locked, timed out: not ready)
        return False
    return True
