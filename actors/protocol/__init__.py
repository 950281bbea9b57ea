"""The wire contract in code: the JSON envelope, room names and who may join them, positions, the event catalogue."""

from __future__ import annotations

from .events import CATALOGUE, EVENT_TYPES, EventSpec, prepare
from .frames import CLIENT_TYPES, FrameId
from .positions import Since
from .rooms import RoomPolicy, parse_room

__all__ = [
    "CATALOGUE", "CLIENT_TYPES", "EVENT_TYPES", "EventSpec", "FrameId", "RoomPolicy", "Since", "parse_room",
    "prepare",
]
