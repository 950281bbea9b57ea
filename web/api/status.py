"""``GET /api/ws`` (server status for any authenticated caller), ``GET /healthz`` and ``GET /readyz`` (for load
balancers: alive, and able to take publishes and hear other processes' events)."""

from __future__ import annotations

from typing import Any

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
    return jsonify(answer)


@bp.get("/healthz")
def health() -> Any:
    running = system().running
    return jsonify({"ok": running}), 200 if running else 503


@bp.get("/readyz")
def ready() -> Any:
    """200 while the server runs and its broker is reachable; 503 otherwise (the sockets stay open meanwhile).

    A process whose PUB/SUB connection is down still serves its sockets, but misses other processes'
    events until it reconnects: a load balancer should send new clients elsewhere.
    """
    running = system()
    ready = running.broker_ready()
    broker = running.broker.describe() if running.broker is not None else None
    return jsonify({"ready": ready, "broker": broker}), 200 if ready else 503
