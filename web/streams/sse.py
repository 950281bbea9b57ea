"""``GET /sse``: the Server-Sent Events fallback for networks that block WebSockets.

Same token, same Origin rule, same room policy and connection limit as ``/ws``; every check happens
before the first byte of the stream, so a refused request is a plain JSON error. Recovery: the
browser's ``Last-Event-ID`` (``room@epoch:offset``) names one room's position; ``since`` (the same
form, comma-separated) names several, for clients that reconnect by hand (ours does).
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, request

from actors.errors import BadRequest
from actors.protocol.positions import Since

from ..auth import admit_stream, system

bp = Blueprint("sse", __name__)

POLL_SECONDS = 5.0


def parse_position(text: str) -> tuple[str, Since]:
    """``lead:9@3f0c…:17`` -> ("lead:9", Since("3f0c…", 17)); BadRequest when malformed."""
    room, at, position = text.strip().rpartition("@")
    epoch, colon, offset = position.rpartition(":")
    if not at or not colon or not room or not epoch or not offset.isdigit() or len(offset) > 18:
        raise BadRequest(f"bad event id {text[:100]!r}: expected room@epoch:offset",
                         fields={"since": "room@epoch:offset"})
    return room, Since(epoch, int(offset))


@bp.get("/sse")
def sse() -> Response:
    system_ = system()
    environ = request.environ
    identity = admit_stream(system_, environ)

    rooms = [r for r in request.args.get("rooms", "").split(",") if r.strip()]
    for room in rooms:
        system_.policy.check(identity, room.strip())
    if len(rooms) + 2 > system_.settings.max_rooms_per_connection:
        raise BadRequest(f"at most {system_.settings.max_rooms_per_connection - 2} rooms per stream")
    positions: dict[str, Since] = {}
    last_event_id = request.headers.get("Last-Event-ID")
    if last_event_id:
        room, since = parse_position(last_event_id)
        positions[room] = since
    for item in filter(None, request.args.get("since", "").split(",")):
        room, since = parse_position(item)
        positions[room] = since
    wanted = [room.strip() for room in rooms]
    for room in positions:  # a position for a room not asked for: subscribe it too (if allowed)
        if room not in wanted:
            system_.policy.check(identity, room)
            wanted.append(room)
    subscriptions = tuple((room, positions.get(room)) for room in dict.fromkeys(wanted))

    ref, outlet = system_.open_stream(identity, environ["realtime.socket"], subscriptions)

    def stream() -> Iterator[bytes]:
        try:
            yield b"retry: 2000\n\n"
            while True:
                chunk = outlet.next_chunk(POLL_SECONDS)
                if chunk is None:
                    return
                if chunk:
                    yield chunk
        finally:
            outlet.dispose()
            system_.client_gone(ref, None)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    origin = environ.get("HTTP_ORIGIN")
    if origin:
        headers["Access-Control-Allow-Origin"] = origin  # check_origin has accepted it
        headers["Vary"] = "Origin"
    return Response(stream(), mimetype="text/event-stream", headers=headers)
