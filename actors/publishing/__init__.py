"""Publishing: the router (validation and routes), the Coalescer (superseding updates, statistics), EventService."""

from __future__ import annotations

from .coalescer import Coalescer
from .event_service import EventService
from .router import Router

__all__ = [
    "Coalescer", "EventService", "Router",
]
