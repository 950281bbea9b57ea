"""What a trace entry says a message carried: a small dict of the fields a reader asks about, never a secret.

An entry that only names a message class (``in ClientFrame``) cannot answer "why did user 42 not get
event X": the reader needs the room, the event type, the offset, the frame type and its ``ref``, the
refusal or close code. ``summarize`` reads those off any message dataclass by its fields, so a new
message is summarized without a line here; a message that knows better defines ``summary()``.

Never a token: fields whose name says secret (``token``, ``secret``, ``password``, ``authorization``)
are written as ``***``, so is any string that looks like a JWT, and a client frame's text is never
copied: only its type, room and ``id`` are read from its first bytes by narrow patterns (the same
reading the refusal log lines use). Payloads (``data``) appear only as a bounded preview.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from ..observability.log_context import frame_fields

SECRET_NAMES = re.compile(r"token|secret|password|passwd|authorization|cookie|api_?key", re.IGNORECASE)
JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*")
"""A JSON Web Token (or its first part) anywhere in a string: base64url of ``{"`` then more."""
_FRAME_ID = re.compile(r'"id"\s*:\s*("([A-Za-z0-9_.:-]{1,64})"|(-?\d{1,18}))')
_HEAD = 2048

SKIPPED_FIELDS = frozenset({"reply", "ref", "outlet", "ack_to", "frame", "trace_id", "payload"})
"""References, futures, sockets and raw bytes: nothing a reader can use, and some are large."""
RENAMED = {"connection_id": "connection", "frame_id": "ref", "user_id": "user", "user_ids": "users", "slice_": "slice"}
LIST_ITEMS = 10
CONTAINER_ITEMS = 20
DEPTH = 4

_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    names = _FIELDS.get(cls, ())
    if names == ():
        names = tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else None
        _FIELDS[cls] = names
    return names


def mask(text: str) -> str:
    """``text`` with anything that looks like a JWT replaced by ``***``."""
    return JWT_LIKE.sub("***", text) if "eyJ" in text else text


def bounded(text: str, limit: int) -> str:
    text = mask(text)
    return text if len(text) <= limit else text[:limit] + "…"


def redacted(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON-like value with secret-named keys masked, JWT-like strings masked, and every container
    cut to its first items (a trace entry is about what a message was, not a copy of it)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        if depth >= DEPTH:
            return "{…}"
        out: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= CONTAINER_ITEMS:
                out["…"] = f"{len(value) - CONTAINER_ITEMS} more"
                break
            name = str(key)
            out[name] = "***" if SECRET_NAMES.search(name) else redacted(item, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        if depth >= DEPTH:
            return "[…]"
        items = [redacted(item, depth + 1) for item in value[:CONTAINER_ITEMS]]
        if len(value) > CONTAINER_ITEMS:
            items.append(f"… {len(value) - CONTAINER_ITEMS} more")
        return items
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return mask(str(value))


def preview(value: Any, limit: int) -> str:
    """A JSON preview of a payload, redacted and at most ``limit`` characters."""
    try:
        text = json.dumps(redacted(value), ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):
        text = "(unprintable)"
    return text if len(text) <= limit else text[:limit] + "…"


def client_frame(text: str | None) -> dict[str, Any]:
    """A client frame's type, room and ``id`` (as ``ref``) and its size, read from its first bytes only."""
    if text is None:
        return {"frame": "binary"}
    fields = frame_fields(text)
    match = _FRAME_ID.search(text[:_HEAD])
    if match:
        fields["ref"] = match.group(2) if match.group(2) is not None else int(match.group(3))
    fields["bytes"] = len(text)
    return fields


def summarize(message: Any, preview_chars: int = 120, depth: int = 0) -> dict[str, Any] | None:
    """What ``message`` carried, for a trace entry; None for a message with nothing to say."""
    custom = getattr(message, "summary", None)
    if callable(custom):
        try:
            result = custom()
        except Exception:  # noqa: BLE001 (a summary must never break the traced actor)
            return None
        return result if isinstance(result, dict) else None
    names = _field_names(type(message))
    if names is None:
        return None
    out: dict[str, Any] = {}
    for name in names:
        if name in SKIPPED_FIELDS:
            continue
        value = getattr(message, name, None)
        if value is None:
            continue
        key = RENAMED.get(name, name)
        if SECRET_NAMES.search(name):
            out[key] = "***"
        elif name == "text" and (value is None or isinstance(value, str)):
            out.update(client_frame(value))
        elif isinstance(value, bool):
            if value:  # a flag that is off says nothing
                out[key] = True
        elif isinstance(value, (int, float)):
            out[key] = value
        elif isinstance(value, str):
            out[key] = bounded(value, preview_chars)
        elif isinstance(value, (tuple, list, set, frozenset)):
            if not value:
                continue
            items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
            shown = [bounded(str(item), 64) for item in items[:LIST_ITEMS]]
            if len(items) > LIST_ITEMS:
                shown.append(f"… {len(items) - LIST_ITEMS} more")
            out[key] = shown
        elif isinstance(value, dict):
            out[key] = preview(value, preview_chars)
        else:
            known = _object_fields(key, value)
            if not known and depth == 0 and dataclasses.is_dataclass(value) and not isinstance(value, type):
                known = summarize(value, preview_chars, depth=1) or {}  # a message wrapping another (an Enter)
            out.update({k: v for k, v in known.items() if k not in out})
    return out or None


def _object_fields(key: str, value: Any) -> dict[str, Any]:
    """The parts of a nested object a reader needs: who (an identity), where (a position or publication)."""
    user_id = getattr(value, "user_id", None)
    if isinstance(user_id, str) and isinstance(getattr(value, "role", None), str):
        return {"user": user_id, "role": value.role}
    epoch, offset = getattr(value, "epoch", None), getattr(value, "offset", None)
    if isinstance(epoch, str) and isinstance(offset, int):
        fields: dict[str, Any] = {"epoch": epoch, "offset": offset}
        for name in ("room", "type"):
            part = getattr(value, name, None)
            if isinstance(part, str):
                fields[name] = part
        return fields if key in ("publication", "position") else {key: fields}
    return {}


def entry_bytes(summary: dict[str, Any] | None) -> int:
    """About what an entry holds in memory: a fixed part and its summary's text (the bound of a ring in bytes)."""
    size = 200
    if summary:
        for key, value in summary.items():
            if isinstance(value, str):
                size += len(key) + len(value)
            elif isinstance(value, list):
                size += len(key) + sum(len(str(item)) + 8 for item in value)
            else:
                size += len(key) + 16
    return size
