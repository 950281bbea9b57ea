"""Debug mode: list live actors with mailbox depths, show one actor's recent trace, stream the trace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, stream_with_context

from actors.errors import NotFound

from ..auth import require_role, system

bp = Blueprint("debug", __name__)


def _debug_tracer() -> Any:
    require_role("ADMIN")
    tracer = system().tracer
    if not tracer.enabled:
        raise NotFound("debug mode is off: start the server with --debug or WEBSOCKET_DEBUG=true")
    return tracer


@bp.get("/api/debug/actors")
def actors() -> Any:
    tracer = _debug_tracer()
    listed = tracer.actors()
    return jsonify({"count": len(listed), "actors": listed})


@bp.get("/api/debug/actors/<path:actor_id>")
def actor(actor_id: str) -> Any:
    found = _debug_tracer().actor(actor_id)
    if found is None:
        raise NotFound(f"no actor {actor_id!r}, live or recently stopped")
    return jsonify(found)


@bp.get("/api/debug/trace")
def trace() -> Response:
    """Every trace event as it happens, as Server-Sent Events, until the client goes away."""
    tracer = _debug_tracer()

    def events() -> Iterator[str]:
        yield ": trace stream\n\n"
        for event in tracer.watch():
            yield f"data: {json.dumps(event.to_dict())}\n\n"

    return Response(stream_with_context(events()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
