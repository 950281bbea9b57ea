"""A position in a room's numbering, as a client names it to resume (``since``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest


@dataclass(frozen=True, slots=True)
class Since:
    """The last position a client saw in a room."""

    epoch: str
    offset: int


def parse_since(value: Any) -> Since | None:
    """A SUBSCRIBE frame's ``since`` (``{epoch, offset}`` or absent); BadRequest naming the field when malformed."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("'since' must be an object {epoch, offset}", fields={"since": "must be an object"})
    epoch, offset = value.get("epoch"), value.get("offset")
    if not isinstance(epoch, str) or not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise BadRequest("'since' needs a string 'epoch' and a non-negative integer 'offset'",
                         fields={"since": "expected {epoch: string, offset: integer >= 0}"})
    return Since(epoch, offset)


def parse_event_id(text: str) -> tuple[str, Since]:
    """An SSE event id ``lead:9@3f0c…:17`` -> ("lead:9", Since("3f0c…", 17)); BadRequest when malformed."""
    room, at, position = text.strip().rpartition("@")
    epoch, colon, offset = position.rpartition(":")
    if not at or not colon or not room or not epoch or not offset.isdigit() or len(offset) > 18:
        raise BadRequest(f"bad event id {text[:100]!r}: expected room@epoch:offset",
                         fields={"since": "room@epoch:offset"})
    return room, Since(epoch, int(offset))
