"""The JSON envelope of every frame: client frame types, server frames, timestamps.

Kept free of sockets and actors so the web layer, the actors and the tests share one definition of
the wire contract (docs/protocol.md). Room names are ``rooms.py``'s, event types ``events.py``'s.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..errors import BadRequest

CLIENT_TYPES = frozenset({"PING", "SUBSCRIBE", "UNSUBSCRIBE", "TYPING_START", "TYPING_STOP", "AUTH", "CLAIM",
                          "RELEASE", "ACK"})
"""Frame types the server takes from clients."""

FrameId = str | int | float | None
"""The ``id`` a client put on its frame, echoed as ``ref`` in the answer (never an actor's ref)."""

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
"""``allow_nan=False``: NaN and Infinity are not JSON, and browsers' ``JSON.parse`` refuses a frame holding them.
What we emit raises ``ValueError`` instead (nothing a client sends can get there: ``loads_strict``)."""


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
    """Standard JSON (RFC 8259), or ValueError for NaN and Infinity. A lone surrogate passes here and fails where
    the text is encoded to UTF-8 (``text_frame``), before anything is numbered or sent."""
    return _DUMPS(value)


# --- strict JSON in: what cannot be sent back out as standard JSON is refused at the door -------------

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""A ``\\uD800``-``\\uDFFF`` escape: the only way a lone surrogate gets into text decoded strictly from UTF-8."""


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"{name} is not JSON: numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999 parses as infinity, which no standard JSON can carry back out
        raise BadRequest(f"the number {text[:40]} is too large: numbers must fit a 64-bit float")
    return value


_DECODE = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float).decode


def loads_strict(text: str | bytes, max_depth: int) -> Any:
    """Parse standard JSON only, or raise BadRequest: never RecursionError, NaN, Infinity or lone surrogates.

    ``bytes`` must be UTF-8 (RFC 8259 8.1). A ``str`` must come from a strict UTF-8 decode (a WebSocket
    text message), so a lone surrogate can only arrive escaped. Containers nested deeper than
    ``max_depth`` are refused: deep input costs every later walk over it (encoding, validation,
    fingerprints) a level of recursion, and Python's parser itself gives up past about a thousand
    levels with RecursionError, which is not a ValueError and was a 500. The checks beyond the
    parse itself run only when the text could fail them (more brackets than ``max_depth``, a
    surrogate escape), so an ordinary frame pays two ``str.count`` calls.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the body is not valid UTF-8") from None
    try:
        value = _DECODE(text)
    except RecursionError:
        raise BadRequest(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError:  # JSONDecodeError, or an integer past Python's 4,300 digits
        raise BadRequest("not valid JSON") from None
    if text.count("[") + text.count("{") > max_depth and _depth(value) > max_depth:
        raise BadRequest(f"JSON nested deeper than {max_depth} levels")
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None:
        try:
            _DUMPS(value).encode("utf-8")
        except UnicodeEncodeError:
            path = surrogate_path(value) or "(body)"
            raise BadRequest("text must be valid Unicode: a lone surrogate (\\ud800-\\udfff) cannot be encoded",
                             fields={path: "not valid Unicode text (a lone surrogate)"}) from None
    return value


def _depth(value: Any) -> int:
    """How deep containers nest (a scalar 0, ``[]`` 1), level by level: no recursion, whatever the input."""
    depth = 0
    level = [value] if isinstance(value, (dict, list)) else []
    while level:
        depth += 1
        children: list[Any] = []
        for item in level:
            items = item.values() if isinstance(item, dict) else item
            children.extend(child for child in items if isinstance(child, (dict, list)))
        level = children
    return depth


def encodable(text: str) -> bool:
    """False for a str holding a lone surrogate: UTF-8 (and so the wire, and the database) cannot carry it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def surrogate_path(value: Any) -> str | None:
    """The dotted path (``data.items.3``) of the first key or string holding a lone surrogate; "" for the top."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if not encodable(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                name = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and not encodable(key):
                    return name.encode("utf-8", "backslashreplace").decode("utf-8")  # the surrogate as \udc80
                stack.append((child, name))
        elif isinstance(item, list):
            stack.extend((child, f"{path}.{index}" if path else str(index)) for index, child in enumerate(item))
    return None


def parse_client_frame(text: str, max_depth: int) -> tuple[str, dict[str, Any], FrameId]:
    """A client's text frame as ``(type, data, id)``, or BadRequest saying what is wrong (docs/protocol.md).

    ``id`` is a string or a number (finite: ``loads_strict``), never a boolean, which JSON keeps apart
    from numbers even though Python's ``bool`` is an ``int``.
    """
    frame = loads_strict(text, max_depth)
    if not isinstance(frame, dict):
        raise BadRequest("frame must be a JSON object")
    type_ = frame.get("type")
    if not isinstance(type_, str):
        raise BadRequest("'type' must be a string", fields={"type": "required string"})
    data = frame.get("data")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        raise BadRequest("'data' must be an object", fields={"data": "must be an object"})
    frame_id = frame.get("id")
    if frame_id is not None and (isinstance(frame_id, bool) or not isinstance(frame_id, (str, int, float))):
        raise BadRequest("'id' must be a string or a number", fields={"id": "must be a string or number"})
    return type_, data, frame_id


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


def subscribed_frame(room: str, epoch: str, offset: int, recovered: bool | None, frame_id: FrameId,
                     presence: tuple[str, ...] | None = None) -> str:
    """SUBSCRIBED: ``recovered`` only when the client asked to recover (None otherwise); ``presence`` (the
    room's viewers) only when it asked for presence in a presence room."""
    data: dict[str, Any] = {"room": room, "epoch": epoch, "offset": offset}
    if recovered is not None:
        data["recovered"] = recovered
    if presence is not None:
        data["presence"] = list(presence)
    if frame_id is not None:
        data["ref"] = frame_id
    return server_frame("SUBSCRIBED", data)


def unsubscribed_frame(room: str, frame_id: FrameId) -> str:
    data: dict[str, Any] = {"room": room}
    if frame_id is not None:
        data["ref"] = frame_id
    return server_frame("UNSUBSCRIBED", data)
