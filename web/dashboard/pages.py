"""The built-in dashboard: ``/`` and ``/admin`` (static pages using /static/realtime.js), its public
config, and in dev mode tokens for a few sample users so a fresh ``serve --dev`` can be tried at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, send_from_directory

from actors.errors import Forbidden, NotFound
from actors.tokens import issue_token

from ..auth import system
from ..dev_mode import from_this_machine

bp = Blueprint("dashboard", __name__)

PAGES = Path(__file__).parents[1] / "static" / "dashboard"  # web/static/dashboard, beside the client
DEV_TOKEN_TTL = 12 * 3600
SAMPLE_USERS = (
    {"sub": "1", "role": "ADMIN", "name": "Ada (admin)"},
    {"sub": "2", "role": "EMPLOYEE", "name": "Ben (sales)"},
    {"sub": "3", "role": "EMPLOYEE", "name": "Chloe (support)"},
)


def _page(name: str) -> Response:
    response = send_from_directory(PAGES, name)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/")
def index() -> Response:
    return _page("index.html")


@bp.get("/admin")
def admin() -> Response:
    return _page("admin.html")


@bp.get("/api/dashboard/config")
def config() -> Any:
    """What the sign-in page needs before it has a token: dev mode, and the rooms the demo feeds."""
    demo = current_app.extensions.get("realtime.demo")
    return jsonify({"dev": system().settings.dev, "demo": demo is not None,
                    "rooms": list(demo.rooms) if demo is not None else []})


@bp.get("/api/dev/tokens")
def dev_tokens() -> Any:
    """Dev mode only (404 otherwise): signed tokens for the sample users."""
    settings = system().settings
    if not settings.dev or not settings.algorithm.startswith("HS"):
        raise NotFound("sample tokens exist only in --dev mode")
    if not from_this_machine(request.environ):  # an ADMIN token for anyone on the network otherwise
        raise Forbidden("sample tokens are given only to browsers on the server's machine (127.0.0.1, ::1); "
                        "elsewhere run: realtime-server token --dev --sub 1 --role ADMIN")
    users = [{**user, "token": issue_token(settings, user["sub"], user["role"], ttl=DEV_TOKEN_TTL)}
             for user in SAMPLE_USERS]
    return jsonify({"users": users, "ttl": DEV_TOKEN_TTL})
