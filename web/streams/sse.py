"""``GET /sse``: the Server-Sent Events fallback for networks that block WebSockets.

Same token, same Origin rule, same room policy and connection limit as ``/ws``; every check happens
before the first byte of the stream, so a refused request is a plain JSON error. Recovery: the
browser's ``Last-Event-ID`` (``room@epoch:offset``) names one room's position; ``since`` (the same
form, comma-separated) names several, for clients that reconnect by hand (ours does).
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, request

from actors.protocol.positions import Since, parse_event_id

from ..auth import admit_stream, system

bp = Blueprint("sse", __name__)

POLL_SECONDS = 5.0


@bp.get("/sse")
def sse() -> Response:
    system_ = system()
    environ = request.environ
    identity = admit_stream(system_, environ)

    rooms = [r for r in request.args.get("rooms", "").split(",") if r.strip()]
    positions: dict[str, Since] = {}
    last_event_id = request.headers.get("Last-Event-ID")
    if last_event_id:
        room, since = parse_event_id(last_event_id)
        positions[room] = since
    for item in filter(None, request.args.get("since", "").split(",")):
        room, since = parse_event_id(item)
        positions[room] = since
    events = system_.open_stream(identity, environ["realtime.socket"], rooms, positions)

    def stream() -> Iterator[bytes]:
        try:
            yield b"retry: 2000\n\n"
            while True:
                chunk = events.next_chunk(POLL_SECONDS)
                if chunk is None:
                    return
                if chunk:
                    yield chunk
        finally:
            events.close()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    origin = environ.get("HTTP_ORIGIN")
    if origin:
        headers["Access-Control-Allow-Origin"] = origin  # check_origin has accepted it
        headers["Vary"] = "Origin"
    return Response(stream(), mimetype="text/event-stream", headers=headers)
