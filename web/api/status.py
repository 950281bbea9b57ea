"""``GET /api/ws`` (server status for any authenticated caller) and ``GET /healthz`` (for load balancers)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..auth import current_identity, system

bp = Blueprint("status", __name__)


@bp.get("/api/ws")
def status() -> Any:
    current_identity()
    return jsonify(system().status())


@bp.get("/healthz")
def health() -> Any:
    running = system().running
    return jsonify({"ok": running}), 200 if running else 503
