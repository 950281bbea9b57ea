"""A small test client over websocket-client: JSON frames in and out, and close codes read exactly."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

import websocket


class WsClient:
    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.connected: dict[str, Any] = {}

    @classmethod
    def open(cls, port: int, token: str | None = None, *, header: list[str] | None = None,
             origin: str | None = None, timeout: float = 5.0, path: str = "/ws",
             sockopt: tuple[tuple[int, int, int], ...] = ()) -> WsClient:
        url = f"ws://127.0.0.1:{port}{path}" + (f"?token={token}" if token else "")
        kwargs: dict[str, Any] = {"timeout": timeout, "header": header or [], "sockopt": sockopt}
        if origin is not None:
            kwargs["origin"] = origin
        else:
            kwargs["suppress_origin"] = True
        return cls(websocket.create_connection(url, **kwargs))

    def send(self, type_: str, data: dict[str, Any] | None = None, id: Any = None) -> None:
        frame: dict[str, Any] = {"type": type_, "data": data or {}}
        if id is not None:
            frame["id"] = id
        self.ws.send(json.dumps(frame))

    def send_raw(self, text: str) -> None:
        self.ws.send(text)

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        self.ws.settimeout(timeout)
        while True:
            opcode, payload = self.ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_TEXT:
                return json.loads(payload)  # type: ignore[no-any-return]
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise ConnectionClosed(_close_code(payload))

    def recv_until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        while True:
            frame = self.recv(timeout)
            if predicate(frame):
                return frame

    def expect_close(self, timeout: float = 5.0) -> int | None:
        """Read until the server's close frame; its status code (None when it sent none)."""
        try:
            while True:
                self.recv(timeout)
        except ConnectionClosed as closed:
            return closed.code

    def close(self) -> None:
        try:
            self.ws.close(timeout=0.2)
        except Exception:  # noqa: BLE001
            pass


class ConnectionClosed(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


def _close_code(payload: bytes) -> int | None:
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


class SseClient:
    """Reads ``/sse`` as a browser's EventSource would: events, ids and comment lines."""

    def __init__(self, port: int, token: str | None, rooms: str = "", *, since: str = "",
                 last_event_id: str | None = None, origin: str | None = None, timeout: float = 5.0) -> None:
        import requests

        params = {"rooms": rooms}
        if token:
            params["token"] = token
        if since:
            params["since"] = since
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        if origin:
            headers["Origin"] = origin
        self.response = requests.get(f"http://127.0.0.1:{port}/sse", params=params, headers=headers, stream=True,
                                     timeout=timeout)
        self.status = self.response.status_code
        self._lines = self.response.iter_lines(chunk_size=1, decode_unicode=True)
        self.comments: list[str] = []

    def next_event(self) -> dict[str, Any]:
        """The next event as ``{event, id?, data}``; comment lines are collected in ``comments``."""
        event: dict[str, Any] = {}
        for line in self._lines:
            if line == "":
                if "event" in event or "data" in event:
                    return event
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                event["data"] = json.loads(value)
            elif name in ("event", "id", "retry"):
                event[name] = value
        raise ConnectionClosed(None)

    def next_of(self, type_: str) -> dict[str, Any]:
        while True:
            event = self.next_event()
            if event.get("event") == type_:
                return event

    def close(self) -> None:
        self.response.close()
