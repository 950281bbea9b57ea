"""The Flask application factory: blueprints, JSON errors, body limits. No state of its own."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from actors import ActorSystem
from actors.errors import PayloadTooLarge, RealtimeError

log = logging.getLogger("realtime.web")


class _StrictJSON(DefaultJSONProvider):
    """Flask's JSON answers, but never NaN or Infinity (not JSON: a browser's ``JSON.parse`` throws on them);
    a value holding one fails loudly as a 500 instead of reaching a client as invalid JSON."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)


def create_app(system: ActorSystem, store: Any = None) -> Flask:
    """Build the app around a started ``ActorSystem`` (and the ``store.Store``, when features need it)."""
    from .api import admin, debug, live_sync, notifications, rooms, status
    from .cors import install_cors
    from .dashboard import pages as dashboard
    from .streams import sse, ws

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = system.settings.max_body_bytes
    app.json = _StrictJSON(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["realtime.system"] = system
    app.extensions["realtime.store"] = store
    for blueprint in (ws.bp, sse.bp, status.bp, live_sync.bp, rooms.bp, debug.bp, notifications.bp, dashboard.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(admin.bp)
    from .api import claims, deliveries, presence
    for blueprint in (presence.bp, claims.bp, deliveries.bp):  # docs/presence.md
        app.register_blueprint(blueprint)
    install_cors(app, system.settings)
    from .rate_limits import install_rate_limits
    install_rate_limits(app, system.settings)  # 429 RATE_LIMITED per token, before any view runs
    from .api import openapi
    app.register_blueprint(openapi.bp)  # GET /api/openapi.json and the page at /api/docs
    from . import refusals
    from .api import metrics as metrics_api
    app.register_blueprint(metrics_api.bp)  # GET /metrics (and the METRICS_PORT listener: web/server.py)
    app.register_blueprint(refusals.bp)  # an INFO line for every refused request

    @app.errorhandler(RealtimeError)
    def realtime_error(exc: RealtimeError) -> Any:
        return jsonify({"error": exc.to_dict()}), exc.http_status

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> Any:
        return realtime_error(PayloadTooLarge(f"request body over {system.settings.max_body_bytes} bytes"))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = (exc.name or "error").upper().replace(" ", "_")
        return jsonify({"error": {"code": code, "message": exc.description}}), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error")
        return jsonify({"error": {"code": "INTERNAL", "message": "internal error"}}), 500

    return app
