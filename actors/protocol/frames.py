"""The JSON envelope of every frame: client frame types, server frames, timestamps.

Kept free of sockets and actors so the web layer, the actors and the tests share one definition of
the wire contract (docs/protocol.md). Room names are ``rooms.py``'s, event types ``events.py``'s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

CLIENT_TYPES = frozenset({"PING", "SUBSCRIBE", "UNSUBSCRIBE", "TYPING_START", "TYPING_STOP", "AUTH"})
"""Frame types the server takes from clients."""

FrameId = str | int | float | None
"""The ``id`` a client put on its frame, echoed as ``ref`` in the answer (never an actor's ref)."""

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


_stamp: tuple[int, str] = (-1, "")


def utc_now_iso() -> str:
    """ISO-8601 with milliseconds and a Z, as browsers' ``Date`` parses it.

    Formatted once per millisecond: a connect storm or an event burst stamps many frames within one,
    and the datetime formatting was 1 % of the server's CPU while 10,000 browsers connected.
    """
    global _stamp
    ms = time.time_ns() // 1_000_000
    if ms != _stamp[0]:
        seconds, millis = divmod(ms, 1000)
        text = datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000)
        _stamp = (ms, text.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    return _stamp[1]


def dumps(value: Any) -> str:
    return _DUMPS(value)




def server_frame(type_: str, data: Mapping[str, Any] | None = None) -> str:
    """A frame that is not a room event (CONNECTED, PONG, ERROR, SUBSCRIBED, ...)."""
    return dumps({"type": type_, "data": dict(data or {}), "timestamp": utc_now_iso()})


def event_frame(type_: str, room: str, epoch: str, offset: int, data: Mapping[str, Any], timestamp: str) -> str:
    """A room event: serialized once per event, shared by every member."""
    return dumps({"type": type_, "room": room, "epoch": epoch, "offset": offset, "data": data,
                  "timestamp": timestamp})


def error_frame(code: str, message: str, frame_id: FrameId = None) -> str:
    data: dict[str, Any] = {"code": code, "message": message}
    if frame_id is not None:
        data["ref"] = frame_id
    return server_frame("ERROR", data)


def subscribed_frame(room: str, epoch: str, offset: int, recovered: bool | None, frame_id: FrameId) -> str:
    """SUBSCRIBED: ``recovered`` only when the client asked to recover (None otherwise)."""
    data: dict[str, Any] = {"room": room, "epoch": epoch, "offset": offset}
    if recovered is not None:
        data["recovered"] = recovered
    if frame_id is not None:
        data["ref"] = frame_id
    return server_frame("SUBSCRIBED", data)


def unsubscribed_frame(room: str, frame_id: FrameId) -> str:
    data: dict[str, Any] = {"room": room}
    if frame_id is not None:
        data["ref"] = frame_id
    return server_frame("UNSUBSCRIBED", data)
