"""A TCP proxy between the browser and the server, to make the network misbehave on purpose.

``paused``: new connections are accepted and closed at once (the server looks down); ``cut()``
drops every open connection (a network failure, not a close handshake); ``block_websocket``:
a WebSocket upgrade gets ``403`` from the "proxy", the way some corporate proxies refuse them,
while plain HTTP passes. ``files`` maps paths to ``(content type, body)`` answered by the proxy
itself, the way a reverse proxy serves an app beside the server it fronts.
"""

from __future__ import annotations

import gevent
from gevent.server import StreamServer
from gevent.socket import create_connection


class ChaosProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.paused = False
        self.block_websocket = False
        self.websocket_refused = 0
        self.files: dict[str, tuple[str, bytes]] = {}
        self._pipes: set[gevent.Greenlet] = set()
        self._sockets: set[object] = set()
        self._server = StreamServer(("127.0.0.1", 0), self._handle)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> ChaosProxy:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(timeout=1)
        self.cut()

    def cut(self) -> None:
        for sock in list(self._sockets):
            try:
                sock.close()  # type: ignore[attr-defined]
            except OSError:
                pass
        gevent.killall(list(self._pipes), block=True, timeout=2)

    def _handle(self, client: object, _address: object) -> None:
        if self.paused:
            client.close()  # type: ignore[attr-defined]
            return
        first = client.recv(65536)  # type: ignore[attr-defined]
        if not first:
            return
        head = first.split(b"\r\n\r\n", 1)[0].lower()
        path = head.split(b" ", 2)[1].split(b"?", 1)[0].decode("latin-1") if head.count(b" ") >= 2 else ""
        if path in self.files:
            content_type, body = self.files[path]
            client.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"  # type: ignore[attr-defined]
                           "Connection: close\r\n\r\n".encode() + body)
            client.close()  # type: ignore[attr-defined]
            return
        if self.block_websocket and b"\r\nupgrade: websocket" in head:
            self.websocket_refused += 1
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")  # type: ignore[attr-defined]
            client.close()  # type: ignore[attr-defined]
            return
        try:
            upstream = create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()  # type: ignore[attr-defined]
            return
        upstream.settimeout(None)
        upstream.sendall(first)
        self._sockets.update((client, upstream))
        pipes = [gevent.spawn(self._pipe, client, upstream), gevent.spawn(self._pipe, upstream, client)]
        self._pipes.update(pipes)
        gevent.joinall(pipes, count=1)
        for sock in (client, upstream):
            try:
                sock.close()  # type: ignore[attr-defined]
            except OSError:
                pass
            self._sockets.discard(sock)
        gevent.killall(pipes)
        self._pipes.difference_update(pipes)

    @staticmethod
    def _pipe(source: object, sink: object) -> None:
        try:
            while True:
                data = source.recv(65536)  # type: ignore[attr-defined]
                if not data:
                    return
                sink.sendall(data)  # type: ignore[attr-defined]
        except OSError:
            return
