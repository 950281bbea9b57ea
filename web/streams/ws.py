"""``GET /ws``: authenticate before the upgrade, then hand the socket to the actor system.

gevent-websocket sends ``101 Switching Protocols`` before the WSGI application runs, so the token
and Origin are checked in its ``pre_start_hook`` (``handshake_gate``): a refused request never
upgrades and Flask answers it with 401/403/503 JSON. After the upgrade ``run_admitted`` gives the
socket to ``ActorSystem.serve_connection``: its reader turns frames into ``ClientFrame`` messages and
its outlet writes.

``GET /echo`` (only with ``--conformance-echo``, a loopback-only test mode) is the same handshake,
reader, outlet and limits with an echo in place of the connection actor, so that the conformance
suite (``scripts/conformance``) judges the transport /ws runs.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from actors import ActorSystem
from actors.connection.serving import serve_echo
from actors.errors import BadRequest, NotFound, RealtimeError, Unavailable

from ..auth import admit_stream

bp = Blueprint("ws", __name__)

_REJECTED = "realtime.rejected"
_IDENTITY = "realtime.identity"
_ECHO = "realtime.echo"


def handshake_gate(system_: ActorSystem, environ: dict[str, Any]) -> bool:
    """gevent-websocket's pre-start hook: True means "do not upgrade, serve as plain HTTP"."""
    path = environ.get("PATH_INFO")
    if path not in ("/ws", "/echo") or environ.get("HTTP_UPGRADE", "").lower() != "websocket":
        return True
    if path == "/echo":
        return not _admit_echo(system_, environ)
    try:
        identity = admit_stream(system_, environ)
    except RealtimeError as exc:
        environ[_REJECTED] = exc
        return True
    environ[_IDENTITY] = identity
    return False


def _admit_echo(system_: ActorSystem, environ: dict[str, Any]) -> bool:
    """``/echo`` exists only with ``--conformance-echo`` (a loopback-only test mode): no token, but the
    same connection limit and shutdown refusal as /ws."""
    if not system_.settings.conformance_echo:
        return False
    if not system_.running or system_.at_capacity():
        environ[_REJECTED] = Unavailable("the server is shutting down or full")
        return False
    environ[_ECHO] = True
    return True


@bp.route("/echo", websocket=True)
@bp.route("/echo")
def echo() -> Response:
    """Refused /echo upgrades; without ``--conformance-echo`` there is no such endpoint."""
    rejected = request.environ.get(_REJECTED)
    if rejected is not None:
        raise rejected
    raise NotFound("no such endpoint")


@bp.route("/ws", websocket=True)
def websocket() -> Response:
    """The refusals: an accepted upgrade never reaches Flask (``run_admitted`` takes it first)."""
    rejected = request.environ.get(_REJECTED)
    if rejected is not None:
        raise rejected
    raise BadRequest("this endpoint needs a WebSocket upgrade (Sec-WebSocket-Version 13)")


def run_admitted(system_: ActorSystem, handler: Any) -> bool:
    """The handler's ``run_websocket`` for /ws: an admitted socket goes straight to the actor system.

    gevent-websocket would register a ``Client`` per socket and call the WSGI application (a Flask
    view would then hold a request and an app context for the socket's hours of life). Past the
    handshake its ``WebSocket``, stream and UTF-8 validator are not used either: our reader and
    outlet own the socket. Dropping them saves memory and, with 10,000 sockets, collector work.
    Returns False for a socket this module did not admit.
    """
    ws = handler.websocket
    identity = handler.environ.get(_IDENTITY)
    echo_ = handler.environ.get(_ECHO, False)
    if ws is None or (identity is None and not echo_):
        return False
    sock = handler.socket
    pending = take_over(handler)
    ws.closed = True  # gevent-websocket must never write its own, malformed close frame (it drops the code)
    # Its __del__ calls close(), which even when closed builds a throwaway class per call (current_app)
    # before it gives up: 5 % of the CPU of 10,000 connects. Without a handler it gives up at once.
    ws.handler = None
    handler.websocket = None
    handler.environ["wsgi.websocket"] = None
    handler.headers = handler.response_headers = None  # the parsed request and the 101's headers: sent, done
    del ws  # this frame lives as long as the socket: it must not keep the WebSocket alive either
    if echo_:
        if system_.ctx is not None:
            serve_echo(system_.ctx, sock, pending)
        return True
    system_.serve_connection(identity, sock, pending)
    return True


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
