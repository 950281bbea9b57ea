"""Rooms: the hub (registry, heartbeat), one RoomActor per live room (members, fan-out), and the Broker
that numbers events and keeps their history (MemoryBroker by default)."""

from __future__ import annotations

from .broker import Broker, HistoryAnswer, Publication
from .brokers import open_broker
from .hub import Hub
from .memory_broker import MemoryBroker
from .room_actor import RoomActor

__all__ = [
    "Broker", "HistoryAnswer", "Hub", "MemoryBroker", "Publication", "RoomActor", "open_broker",
]
