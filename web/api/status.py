"""``GET /api/ws`` (server status for any authenticated caller), ``GET /healthz`` and ``GET /readyz`` (for load
balancers: alive, and able to take publishes and hear other processes' events)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from ..auth import current_identity, system

bp = Blueprint("status", __name__)


@bp.get("/api/ws")
def status() -> Any:
    current_identity()
    answer = system().status()
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
