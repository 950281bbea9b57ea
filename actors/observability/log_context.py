"""Context fields for log lines about one connection: who, which room, why it ended.

A log line is read by someone who was not there: "disconnected" alone says nothing, "disconnected
connection_id=… user_id=42 code=4008 reason=slow consumer" says what happened to whom. The fields
travel as the record's ``extra`` attributes, so the text formatter can append them and the JSON
formatter can make them keys (``web/logging_setup.py``). Never a token: the fields are ids, codes
and room names, chosen here, not copied from what a client sent.
"""

from __future__ import annotations

import re
from typing import Any

from ..identity import Identity
from .metrics import NO_CLOSE_FRAME

CONTEXT_FIELDS = ("connection_id", "user_id", "role", "transport", "room", "frame", "code", "reason", "trace_id")
"""Record attributes that are context, in the order a text line shows them."""

CLOSE_REASONS = {
    1000: "normal close",
    1001: "going away (server shutdown or browser left the page)",
    1002: "protocol error",
    1003: "unsupported data",
    1005: "no status code",
    1006: "connection dropped without a close frame",
    1007: "invalid UTF-8",
    1008: "policy violation (rate limit)",
    1009: "message too big",
    1011: "server error",
    4001: "token expired",
    4008: "slow consumer",
    4010: "insufficient state",
}

_HEAD = 2048
_TYPE = re.compile(r'"type"\s*:\s*"([A-Za-z_]{1,40})"')
_ROOM = re.compile(r'"room"\s*:\s*"([A-Za-z0-9_:*?-]{1,100})"')


def connection_fields(connection_id: str, identity: Identity, **more: Any) -> dict[str, Any]:
    """``extra`` for a connection's log line: its id, its user and role, and whatever ``more`` says."""
    return {"connection_id": connection_id, "user_id": identity.user_id, "role": identity.role, **more}


def close_fields(code: int | None) -> dict[str, Any]:
    """The close code of an ended connection (``NO_CLOSE_FRAME`` when none) and what it means."""
    code = NO_CLOSE_FRAME if code is None else code
    return {"code": code, "reason": CLOSE_REASONS.get(code, "application close" if code >= 3000 else "other")}


def frame_fields(text: str | None) -> dict[str, Any]:
    """The type and room of a refused client frame, when its first bytes name them.

    Read with two bounded patterns, not by parsing the frame again: a refused frame may be the very
    one that is too deep or too large to parse. Only these two, from a narrow alphabet: an ``AUTH``
    frame's token, or anything else a client sent, never reaches a log, and neither can a newline.
    """
    if text is None:
        return {"frame": "binary"}
    head = text[:_HEAD]
    fields: dict[str, Any] = {}
    match = _TYPE.search(head)
    if match:
        fields["frame"] = match.group(1)
    match = _ROOM.search(head)
    if match:
        fields["room"] = match.group(1)
    return fields
