"""Who may join which room: the default policy of the issue, plus the token's own ``rooms`` patterns."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

from ..errors import BadRequest, Forbidden, InvalidRoom
from ..identity import Identity

ROOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


def parse_room(room: object, prefixes: tuple[str, ...]) -> tuple[str, str]:
    """Split ``prefix:id`` or raise InvalidRoom; the only place room names are judged."""
    if not isinstance(room, str):
        raise BadRequest("room must be a string", fields={"room": "must be a string"})
    prefix, sep, ident = room.partition(":")
    if not sep or prefix not in prefixes or not ROOM_ID.match(ident):
        raise InvalidRoom(
            f"invalid room {room[:80]!r}: expected prefix:id with prefix one of {', '.join(prefixes)} "
            "and an id of 1-64 characters from A-Z a-z 0-9 _ -"
        )
    return prefix, ident


OPEN_TO_EMPLOYEES = frozenset({"contact", "campaign", "lead", "stats"})

PINNED_PREFIXES = frozenset({"stats"})
"""Rooms that never retire when idle, so their latest value waits for the next subscriber."""


class RoomPolicy:
    """ADMIN joins anything; others their own user room, their role room, the CRM rooms and their patterns."""

    def __init__(self, prefixes: tuple[str, ...], admin_role: str = "ADMIN") -> None:
        self.prefixes = prefixes
        self._admin_role = admin_role

    def check(self, identity: Identity, room: object) -> str:
        """Return the room if allowed; raise InvalidRoom or Forbidden with the reason."""
        prefix, ident = parse_room(room, self.prefixes)
        assert isinstance(room, str)  # parse_room has checked it
        if identity.role == self._admin_role:
            return room
        if prefix == "user" and ident == identity.user_id:
            return room
        if prefix == "role" and ident == identity.role:
            return room
        if prefix in OPEN_TO_EMPLOYEES and identity.role == "EMPLOYEE":
            return room
        if any(fnmatchcase(room, pattern) for pattern in identity.room_patterns):
            return room
        raise Forbidden(f"user {identity.user_id} ({identity.role}) may not join {room}")
