"""Bytes on sockets: RFC 6455 framing, the socket reader, the bounded outlet and its flusher, the SSE outlet."""

from __future__ import annotations

from .framing import FrameError, FrameParser
from .outlet import Flusher, Outlet
from .socket_reader import SocketReader
from .sse_outlet import SseOutlet

__all__ = [
    "Flusher", "FrameError", "FrameParser", "Outlet", "SocketReader", "SseOutlet",
]
