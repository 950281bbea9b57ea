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
