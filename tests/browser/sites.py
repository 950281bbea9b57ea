"""A static web site on its own loopback port: a browser app served from another origin than the server.

``StaticSite(files)`` answers ``GET`` for the paths in ``files`` (``{path: (content type, body)}``) and
404 for anything else, one request per connection. Its origin (``http://127.0.0.1:<port>``) differs
from the server's by the port, which is all a browser needs to treat the server as cross-origin.
"""

from __future__ import annotations

from gevent.server import StreamServer


class StaticSite:
    def __init__(self, files: dict[str, tuple[str, bytes]] | None = None) -> None:
        self.files: dict[str, tuple[str, bytes]] = dict(files or {})
        self._server = StreamServer(("127.0.0.1", 0), self._handle)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StaticSite:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(timeout=1)

    def _handle(self, client: object, _address: object) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = client.recv(65536)  # type: ignore[attr-defined]
                if not chunk:
                    return
                head += chunk
            parts = head.split(b" ", 2)
            path = parts[1].split(b"?", 1)[0].decode("latin-1") if len(parts) > 2 else ""
            content_type, body = self.files.get(path, ("text/plain", b""))
            status = "200 OK" if path in self.files else "404 Not Found"
            client.sendall(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"  # type: ignore[attr-defined]
                           "Cache-Control: no-store\r\nConnection: close\r\n\r\n".encode() + body)
        except OSError:
            pass
        finally:
            client.close()  # type: ignore[attr-defined]
