"""The actor system: Hub, RoomActor, ConnectionActor and what they share.

Nothing here imports Flask; the web layer talks to the actors only through ``ActorSystem``.
"""

from __future__ import annotations

from .config import Settings, load_settings
from .errors import RealtimeError
from .identity import Identity
from .publishing.event_service import EventService
from .system import ActorSystem
from .tokens import TokenVerifier, issue_token

__all__ = [
    "ActorSystem", "EventService", "Identity", "RealtimeError", "Settings", "TokenVerifier", "issue_token",
    "load_settings",
]
