"""``GET /ws``: authenticate before the upgrade, then pump frames from the socket into the actor.

gevent-websocket sends ``101 Switching Protocols`` before the WSGI application runs, so the token
and Origin are checked in its ``pre_start_hook`` (``handshake_gate``): a refused request never
upgrades and Flask answers it with 401/403/503 JSON. After the upgrade this module only reads:
frames become ``ClientFrame`` messages; writing belongs to the connection's outlet.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from actors import ActorSystem
from actors.errors import BadRequest, RealtimeError

from .auth import admit_stream

bp = Blueprint("ws", __name__)

_REJECTED = "realtime.rejected"
_IDENTITY = "realtime.identity"


def handshake_gate(system_: ActorSystem, environ: dict[str, Any]) -> bool:
    """gevent-websocket's pre-start hook: True means "do not upgrade, serve as plain HTTP"."""
    if environ.get("PATH_INFO") != "/ws" or environ.get("HTTP_UPGRADE", "").lower() != "websocket":
        return True
    try:
        identity = admit_stream(system_, environ)
    except RealtimeError as exc:
        environ[_REJECTED] = exc
        return True
    environ[_IDENTITY] = identity
    return False


@bp.route("/ws", websocket=True)
def websocket() -> Response:
    """The refusals: an accepted upgrade never reaches Flask (``with_sockets`` takes it first)."""
    rejected = request.environ.get(_REJECTED)
    if rejected is not None:
        raise rejected
    raise BadRequest("this endpoint needs a WebSocket upgrade (Sec-WebSocket-Version 13)")


def with_sockets(system_: ActorSystem, app: Any) -> Any:
    """The WSGI application: an upgraded, admitted /ws socket goes to the actor system; the rest to Flask.

    A socket lives for hours; inside a Flask view it would hold a request and an app context (and
    their objects) for all that time. Refused and plain requests to /ws still get Flask's JSON answers.
    """
    def application(environ: dict[str, Any], start_response: Any) -> Any:
        ws = environ.get("wsgi.websocket")
        identity = environ.get(_IDENTITY)
        if ws is None or identity is None:
            return app(environ, start_response)
        try:
            pump(system_, ws, identity)
        finally:
            ws.closed = True  # keep gevent-websocket from writing its own, malformed close frame (trap 14)
        return []

    return application


def take_over(handler: Any) -> bytes:
    """Take what pywsgi's reader buffered past the handshake, then close that reader.

    pywsgi keeps an 8 KiB buffered reader per connection; closed, it frees that buffer, which was a
    fifth of a connection's memory. From here the connection's reader reads the socket itself.
    """
    sock, rfile = handler.socket, handler.rfile
    timeout = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        pending: bytes = rfile.read1(65536) or b""  # only what is already buffered: never blocks
    finally:
        sock.settimeout(timeout)
    rfile.close()  # frees its buffer; pywsgi then ends the connection after this request, as it must
    return pending


def pump(system_: ActorSystem, ws: Any, identity: Any) -> None:
    """Hand the upgraded socket to the actor system; returns when the connection has ended."""
    handler = ws.handler
    system_.serve_connection(identity, handler.socket, take_over(handler))
