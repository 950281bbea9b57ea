"""Benchmark peer "raw": the cheapest fan-out the gevent + gevent-websocket stack allows.

Not part of the product. It marks the stack's ceiling: a publish builds one WebSocket frame and
writes those same bytes to every connected socket in a plain loop, with no per-connection actor,
queue or JSON work.

    python raw_gevent.py --port 8101 --jwt-secret S

- ``GET /ws?token=<JWT>``: HS256 JWT checked before the upgrade (401 otherwise), like our server.
  The server then sends ``{"type":"CONNECTED"}``; every connection is in the single room.
- ``POST /publish`` with a JSON event body: the body bytes become one text frame, written to every
  client; answers 202 ``{"delivered": n}`` after the loop.
- ``GET /health``: 200 ``{"connections": n}``.

Writes never block the loop: each socket gets one non-blocking ``send``; whatever the kernel does
not take (a client that does not read) is queued for that client and flushed by a greenlet of its
own, and a client whose queue passes ``--max-pending`` bytes is disconnected (without this a single
non-reading client blocks every publish forever in gevent-websocket's sendall).
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

import gevent  # noqa: E402
import jwt  # noqa: E402
from gevent import pywsgi  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402

MAX_BODY = 64 * 1024


def text_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x81, n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + payload


class Client:
    __slots__ = ("sock", "ws", "pending", "pending_bytes", "dead")

    def __init__(self, sock, ws):
        self.sock = sock
        self.ws = ws
        self.pending = None  # list of bytes while a flusher greenlet owns the socket
        self.pending_bytes = 0
        self.dead = False


class Hub:
    def __init__(self, max_pending: int):
        self.clients: dict[int, Client] = {}
        self.max_pending = max_pending
        self.dropped_slow = 0

    def add(self, client: Client) -> None:
        self.clients[id(client)] = client

    def remove(self, client: Client) -> None:
        client.dead = True
        self.clients.pop(id(client), None)

    def _kill(self, client: Client) -> None:
        self.remove(client)
        try:
            client.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _flush(self, client: Client) -> None:
        try:
            while client.pending and not client.dead:
                data = b"".join(client.pending)
                client.pending.clear()
                client.pending_bytes = 0
                client.sock.sendall(data)  # cooperative: only this greenlet writes now
        except OSError:
            self._kill(client)
        finally:
            client.pending = None
            client.pending_bytes = 0

    def fanout(self, frame: bytes) -> int:
        delivered = 0
        size = len(frame)
        for client in list(self.clients.values()):
            if client.pending is not None:
                client.pending.append(frame)
                client.pending_bytes += size
                if client.pending_bytes > self.max_pending:
                    self.dropped_slow += 1
                    self._kill(client)
                    continue
                delivered += 1
                continue
            try:
                sent = client.sock.send(frame, 0, 0.0)  # timeout 0.0: never wait
            except BlockingIOError:
                sent = 0
            except OSError:
                self._kill(client)
                continue
            if sent < size:
                client.pending = [frame[sent:]]
                client.pending_bytes = size - sent
                gevent.spawn(self._flush, client)
            delivered += 1
        return delivered


def make_app(hub: Hub, secret: str):
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        ws = environ.get("wsgi.websocket")
        if path == "/ws" and ws is not None:
            handler = ws.handler
            client = Client(handler.socket, ws)
            ws.send('{"type":"CONNECTED"}')
            hub.add(client)
            try:
                while not client.dead:
                    if ws.receive() is None:
                        break
            finally:
                hub.remove(client)
            return []
        if path == "/publish" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length <= 0 or length > MAX_BODY:
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error":"bad body"}']
            body = environ["wsgi.input"].read(length)
            try:
                json.loads(body)
            except ValueError:
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error":"not json"}']
            delivered = hub.fanout(text_frame(body))
            out = json.dumps({"delivered": delivered}).encode()
            start_response("202 Accepted", [("Content-Type", "application/json"),
                                            ("Content-Length", str(len(out)))])
            return [out]
        if path == "/health":
            out = json.dumps({"connections": len(hub.clients),
                              "droppedSlow": hub.dropped_slow}).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(out)))])
            return [out]
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]

    return app


def make_handler(secret: str):
    class AuthWebSocketHandler(WebSocketHandler):
        def upgrade_websocket(self):
            if self.environ.get("PATH_INFO") == "/ws" and \
                    self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
                token = parse_qs(self.environ.get("QUERY_STRING", "")).get("token", [""])[0]
                try:
                    jwt.decode(token, secret, algorithms=["HS256"],
                               options={"require": ["exp", "iat", "sub"]})
                except jwt.PyJWTError:
                    self.start_response("401 Unauthorized", [("Content-Length", "0")])
                    return [b""]
            return super().upgrade_websocket()

    return AuthWebSocketHandler


class NoDelayServer(pywsgi.WSGIServer):
    def handle(self, sock, address):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else Nagle + delayed ACK: ~40 ms per response
        except OSError:
            pass
        return super().handle(sock, address)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--jwt-secret", required=True)
    ap.add_argument("--backlog", type=int, default=4096)
    ap.add_argument("--max-pending", type=int, default=1 << 20,
                    help="bytes queued for one non-reading client before it is dropped")
    args = ap.parse_args(argv)
    hub = Hub(args.max_pending)
    server = NoDelayServer((args.host, args.port), make_app(hub, args.jwt_secret),
                           handler_class=make_handler(args.jwt_secret),
                           backlog=args.backlog, log=None)
    print(f"raw_gevent listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
