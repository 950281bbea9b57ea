"""The web layer: Flask on gevent. Turns requests and frames into calls on ``actors.ActorSystem``.

``app.py`` builds the Flask app from the blueprints in ``streams/`` (``/ws``, ``/sse``), ``api/`` (one
module per REST resource) and ``dashboard/`` (``/``, ``/admin``); ``server.py`` is the gevent server,
``cli.py`` the command line, ``auth.py`` who is calling, ``static/`` the browser client and dashboard.

This package's ``__init__`` imports nothing heavy on purpose: ``web.cli`` must run
``gevent.monkey.patch_all()`` before Flask, pykka or PyJWT are imported (docs/architecture.md, "Traps we measured").
"""

from __future__ import annotations

from typing import Any

__all__ = ["RealtimeServer", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app
        return create_app
    if name == "RealtimeServer":
        from .server import RealtimeServer
        return RealtimeServer
    raise AttributeError(name)
