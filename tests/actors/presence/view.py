"""A client's view of presence, kept as a browser keeps it: SUBSCRIBED.presence, then every PRESENCE diff applied."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from websocket import WebSocketTimeoutException

from tests.client import WsClient


class Viewer:
    """Wraps a ``WsClient``: every frame read through it is logged, and PRESENCE frames update ``viewers``."""

    def __init__(self, client: WsClient) -> None:
        self.client = client
        self.viewers: dict[str, set[str]] = {}
        self.frames: list[dict[str, Any]] = []
        self.presence_frames: list[tuple[float, dict[str, Any]]] = []

    def subscribe(self, room: str, presence: bool = True, timeout: float = 5.0) -> dict[str, Any]:
        self.client.send("SUBSCRIBE", {"room": room, "presence": presence}, id=f"sub-{room}")
        frame = self.wait(lambda f: f["type"] in ("SUBSCRIBED", "ERROR") and f["data"].get("ref") == f"sub-{room}",
                          timeout)
        assert frame is not None and frame["type"] == "SUBSCRIBED", frame
        return frame["data"]  # type: ignore[no-any-return]

    def read(self, timeout: float) -> dict[str, Any] | None:
        try:
            frame = self.client.recv(timeout)
        except WebSocketTimeoutException:
            return None
        self.frames.append(frame)
        data = frame.get("data", {})
        if frame["type"] == "SUBSCRIBED" and "presence" in data:
            self.viewers[data["room"]] = set(data["presence"])
        elif frame["type"] == "PRESENCE":
            self.presence_frames.append((time.monotonic(), frame))
            view = self.viewers.setdefault(data["room"], set())
            assert not set(data["joins"]) & set(data["leaves"]), frame  # a user comes or goes, not both
            view.update(data["joins"])
            view.difference_update(data["leaves"])
        return frame

    def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any] | None:
        """Read until a frame satisfies ``predicate`` (returned), or None when ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            frame = self.read(left)
            if frame is not None and predicate(frame):
                return frame

    def settle(self, room: str, expected: set[str], timeout: float = 5.0) -> set[str]:
        """Read until this client's view of ``room`` equals ``expected`` (or the time is up); the view."""
        deadline = time.monotonic() + timeout
        while self.viewers.get(room, set()) != expected and time.monotonic() < deadline:
            self.read(min(0.2, max(0.01, deadline - time.monotonic())))
        return self.viewers.get(room, set())

    def drain(self, seconds: float) -> list[dict[str, Any]]:
        """Everything that arrives within ``seconds``."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            frame = self.read(left)
            if frame is not None:
                got.append(frame)
        return got

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame["type"] == type_]
