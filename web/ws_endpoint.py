"""``GET /ws``: authenticate before the upgrade, then pump frames from the socket into the actor.

gevent-websocket sends ``101 Switching Protocols`` before the WSGI application runs, so the token
and Origin are checked in its ``pre_start_hook`` (``handshake_gate``): a refused request never
upgrades and Flask answers it with 401/403/503 JSON. After the upgrade this module only reads:
frames become ``ClientFrame`` messages; writing belongs to the connection's outlet.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from flask import Blueprint, Response, request

from actors import ActorSystem
from actors.errors import BadRequest, RealtimeError, Unavailable
from actors.wire import (
    CLOSE_INVALID_DATA,
    CLOSE_NORMAL,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameReader,
    encode_frame,
    parse_close,
)

from .auth import check_origin, system, token_from

log = logging.getLogger("realtime.ws")

bp = Blueprint("ws", __name__)

MAILBOX_HIGH_WATER = 64
"""Stop reading a socket while its actor has this many frames unhandled: TCP pushes back on a flood."""

_REJECTED = "realtime.rejected"
_IDENTITY = "realtime.identity"


def handshake_gate(system_: ActorSystem, environ: dict[str, Any]) -> bool:
    """gevent-websocket's pre-start hook: True means "do not upgrade, serve as plain HTTP"."""
    if environ.get("PATH_INFO") != "/ws" or environ.get("HTTP_UPGRADE", "").lower() != "websocket":
        return True
    try:
        if not system_.running:
            raise Unavailable("the server is shutting down")
        check_origin(environ, system_.settings.allowed_origins, system_.settings.dev)
        identity = system_.verifier.verify(token_from(environ, allow_query=True))
        if system_.at_capacity():
            raise Unavailable(f"connection limit reached ({system_.settings.max_connections})")
    except RealtimeError as exc:
        environ[_REJECTED] = exc
        return True
    environ[_IDENTITY] = identity
    return False


@bp.route("/ws", websocket=True)
def websocket() -> Response:
    rejected = request.environ.get(_REJECTED)
    if rejected is not None:
        raise rejected
    ws = request.environ.get("wsgi.websocket")
    if ws is None:
        raise BadRequest("this endpoint needs a WebSocket upgrade (Sec-WebSocket-Version 13)")
    try:
        pump(system(), ws, request.environ[_IDENTITY])
    finally:
        ws.closed = True  # keep gevent-websocket from writing its own, malformed close frame (trap 14)
    return Response(status=204)


def pump(system_: ActorSystem, ws: Any, identity: Any) -> None:
    """Read frames until the socket ends; the connection actor does everything else."""
    handler = ws.handler
    ref, outlet = system_.open_connection(identity, handler.socket)
    reader = FrameReader(handler.rfile.read, system_.settings.max_frame_bytes)
    inbox: Any = ref.actor_inbox  # a queue.Queue for ThreadingActor: its depth is our back-pressure signal
    code: int | None = None
    try:
        while True:
            message = reader.read_message()
            outlet.last_heard = time.monotonic()
            opcode = message.opcode
            if opcode == OP_TEXT:
                try:
                    text = message.payload.decode("utf-8")
                except UnicodeDecodeError:
                    code = CLOSE_INVALID_DATA
                    outlet.close(CLOSE_INVALID_DATA, "text frame is not valid UTF-8")
                    break
                system_.client_frame(ref, text)
                while inbox.qsize() > MAILBOX_HIGH_WATER and not outlet.closed:
                    gevent.sleep(0.001)
            elif opcode == OP_BINARY:
                system_.client_frame(ref, None)
            elif opcode == OP_PING:
                outlet.offer(encode_frame(message.payload, OP_PONG))
            elif opcode == OP_CLOSE:
                code, _ = parse_close(message.payload)
                outlet.close(code if code is not None and _echoable(code) else CLOSE_NORMAL)
                break
    except FrameError as exc:
        code = exc.close_code
        outlet.close(exc.close_code, exc.reason, discard=True)
    except (EOFError, OSError):
        pass
    finally:
        outlet.drain(system_.settings.close_timeout)
        if code is not None and outlet.closing:
            _linger(handler.rfile.read, system_.settings.close_timeout)
        outlet.dispose()
        system_.client_gone(ref, code)


def _linger(read: Any, timeout: float) -> None:
    """After our close frame, discard what the peer still sends until it closes (bounded).

    Closing a socket with unread bytes in it sends RST, which can destroy our close frame before
    the peer reads it; a peer that sent an oversize frame would then see 1006 instead of 1009.
    """
    with gevent.Timeout(timeout, False):
        try:
            while read(65536):
                pass
        except OSError:
            pass


def _echoable(code: int) -> bool:
    return 1000 <= code <= 1003 or 1007 <= code <= 1011 or 3000 <= code <= 4999
