"""Benchmark peer "socketio": python-socketio 5.x in gevent mode (gevent-websocket transport).

Not part of the product: the off-the-shelf alternative our server is compared with.

    python socketio_gevent.py --port 8102 --jwt-secret S

- Socket.IO endpoint ``/socket.io/`` (clients use the WebSocket transport directly). The HS256 JWT
  comes in the CONNECT packet's auth payload (``{"token": ...}``) or as ``?token=``; a bad token
  refuses the connection. Every accepted client joins the room ``bench``.
- ``POST /publish`` with a JSON event body ``{"type": ..., "data": {...}}``: ``emit(type, body,
  room="bench")``; answers 202 ``{"delivered": <room size>}`` once python-socketio has queued it.
- ``GET /health``: 200 ``{"connections": n}``.
- The cluster case: ``--redis-url URL --workers N`` runs N processes on the port (SO_REUSEPORT) sharing
  rooms through python-socketio's ``RedisManager``, the setup its documentation gives for several
  servers; the first process is their parent and forwards SIGTERM.

Requires ``pip install -r scripts/benchmarks/requirements.txt``.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from importlib.metadata import version  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

import jwt  # noqa: E402
import socketio  # noqa: E402
from gevent import pywsgi  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402

ROOM = "bench"
MAX_BODY = 64 * 1024


class NoDelayServer(pywsgi.WSGIServer):
    def handle(self, sock, address):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else Nagle + delayed ACK: ~40 ms per response
        except OSError:
            pass
        return super().handle(sock, address)


def build(secret: str, redis_url: str = ""):
    manager = socketio.RedisManager(redis_url) if redis_url else None
    sio = socketio.Server(async_mode="gevent", cors_allowed_origins="*", client_manager=manager,
                          logger=False, engineio_logger=False)
    state = {"connections": 0}

    @sio.event
    def connect(sid, environ, auth=None):
        token = (auth or {}).get("token") if isinstance(auth, dict) else None
        if not token:
            token = parse_qs(environ.get("QUERY_STRING", "")).get("token", [""])[0]
        try:
            jwt.decode(token, secret, algorithms=["HS256"],
                       options={"require": ["exp", "iat", "sub"]})
        except jwt.PyJWTError:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized") from None
        sio.enter_room(sid, ROOM)
        state["connections"] += 1
        return True

    @sio.event
    def disconnect(sid, *args):
        state["connections"] -= 1

    def rest(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/publish" and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length <= 0 or length > MAX_BODY:
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error":"bad body"}']
            try:
                body = json.loads(environ["wsgi.input"].read(length))
            except ValueError:
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error":"not json"}']
            sio.emit(str(body.get("type", "event")), body, room=ROOM)
            out = json.dumps({"delivered": state["connections"]}).encode()
            start_response("202 Accepted", [("Content-Type", "application/json"),
                                            ("Content-Length", str(len(out)))])
            return [out]
        if path == "/health":
            out = json.dumps({"connections": state["connections"]}).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(out)))])
            return [out]
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]

    return socketio.WSGIApp(sio, rest)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--jwt-secret", required=True)
    ap.add_argument("--backlog", type=int, default=4096)
    ap.add_argument("--redis-url", default="", help="share rooms through python-socketio's RedisManager")
    ap.add_argument("--workers", type=int, default=1, help="processes on the port (needs --redis-url)")
    ap.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.workers > 1:
        return _parent(args, argv if argv is not None else sys.argv[1:])
    listener = (args.host, args.port)
    backlog = args.backlog
    if args.reuse_port:
        from gevent import socket as gsocket

        listener = gsocket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((args.host, args.port))
        listener.listen(args.backlog)
        backlog = None
    server = NoDelayServer(listener, build(args.jwt_secret, args.redis_url),
                           handler_class=WebSocketHandler, backlog=backlog, log=None)
    print(f"socketio_gevent (python-socketio {version('python-socketio')}) listening on "
          f"{args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _parent(args, argv) -> int:
    """N workers on one port; SIGTERM/SIGINT is forwarded to each, and the parent waits for them."""
    command = [sys.executable, __file__, *argv, "--workers", "1", "--reuse-port"]
    children = [subprocess.Popen(command) for _ in range(args.workers)]

    def forward(signum, _frame):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
