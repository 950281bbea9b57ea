"""One client stream: the ConnectionActor (frames, limits, lifecycle) and how a WebSocket or SSE stream is served."""

from __future__ import annotations

from .connection_actor import ConnectionActor
from .serving import SseStream, open_sse_stream, serve_websocket

__all__ = [
    "ConnectionActor", "SseStream", "open_sse_stream", "serve_websocket",
]
