"""realtime-client: publish events and manage notifications on a realtime-server from backend services.

``Client`` (sync) and ``AsyncClient`` (asyncio) have the same calls: ``publish(type, data, room=None,
idempotency_key=None)``, one typed method per event type (``lead_assigned``, ``campaign_progress``, ...),
``push_stats``, ``history``, ``status`` and ``notifications`` (create, list, mark_read, mark_all_read,
delete, preferences). Connection errors, 429 and 503 are retried with backoff and jitter, every retry
with the same ``Idempotency-Key``.
"""

from ._async import AsyncClient
from ._client import Client
from ._core import Id, Notifications, Priority, Published, RoomResult
from ._errors import ApiError, ConnectionFailed, RealtimeClientError, Unavailable
from ._events import EVENT_TYPES
from ._retry import NO_RETRY, RetryPolicy

__all__ = [
    "EVENT_TYPES", "NO_RETRY", "ApiError", "AsyncClient", "Client", "ConnectionFailed", "Id", "Notifications",
    "Priority", "Published", "RealtimeClientError", "RetryPolicy", "RoomResult", "Unavailable",
]
__version__ = "0.1.0"
