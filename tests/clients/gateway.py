"""A misbehaving gateway between the Python client and the real server, the way a load balancer in a
deploy or a broken network behaves: it answers 503 or 429 itself, drops a connection without an answer,
or forwards a request to the server and then loses the answer on the way back.

``script`` is a list of actions, one per request, taken in order; when it runs out every request is
forwarded. Every request is recorded (method, path, headers) so a test can see what the client sent.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass, field

from gevent.server import StreamServer

FORWARD = "forward"
DROP = "drop"  # close the connection without answering
LOSE_ANSWER = "lose-answer"  # the server does the work; its answer never reaches the client


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


class Gateway:
    def __init__(self, target_port: int, script: list[str] | None = None) -> None:
        self.target_port = target_port
        self.script = list(script or [])
        self.seen: list[Seen] = []
        self._server = StreamServer(("127.0.0.1", 0), self._handle)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> Gateway:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(timeout=1)

    def keys(self) -> list[str | None]:
        return [seen.headers.get("idempotency-key") for seen in self.seen]

    def _handle(self, client: object, _address: object) -> None:
        try:
            request = self._read(client)
            if request is None:
                return
            method, path, headers, body = request
            self.seen.append(Seen(method, path, headers))
            action = self.script.pop(0) if self.script else FORWARD
            if action == DROP:
                return
            if action.isdigit():
                self._send(client, int(action), {"Retry-After": "0", "Content-Type": "application/json"},
                           b'{"error":{"code":"UNAVAILABLE","message":"the gateway says later"}}')
                return
            upstream = http.client.HTTPConnection("127.0.0.1", self.target_port, timeout=10)
            forwarded = {k: v for k, v in headers.items() if k not in ("host", "connection")}
            upstream.request(method, path, body=body or None, headers=forwarded)
            response = upstream.getresponse()
            payload = response.read()
            upstream.close()
            if action == LOSE_ANSWER:
                return
            kept = {k: v for k, v in response.getheaders() if k.lower() not in ("connection", "content-length",
                                                                                  "transfer-encoding")}
            self._send(client, response.status, kept, payload)
        except OSError:
            pass
        finally:
            client.close()  # type: ignore[attr-defined]

    @staticmethod
    def _read(client: object) -> tuple[str, str, dict[str, str], bytes] | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)  # type: ignore[attr-defined]
            if not chunk:
                return None
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = client.recv(65536)  # type: ignore[attr-defined]
            if not chunk:
                return None
            body += chunk
        return method, path, headers, body

    @staticmethod
    def _send(client: object, status: int, headers: dict[str, str], body: bytes) -> None:
        lines = [f"HTTP/1.1 {status} {http.client.responses.get(status, 'Status')}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += [f"Content-Length: {len(body)}", "Connection: close"]
        client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)  # type: ignore[attr-defined]
