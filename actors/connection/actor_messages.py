"""Messages a ConnectionActor takes from its own socket reader and timers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:

    pass

@dataclass(frozen=True, slots=True)
class ClientFrame:
    """One whole data message from the socket; ``text`` is None for a binary message; ``limited`` when
    the reader's rate limit refused it (answered RATE_LIMITED, not read)."""

    text: str | None
    limited: bool = False


@dataclass(frozen=True, slots=True)
class ClientGone:
    """The socket's reader stopped (close frame, EOF, protocol error): ``code`` and ``reason`` are the close
    frame to answer with, after the answers to every frame before (None: the peer is gone, no close frame)."""

    code: int | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TokenExpired:
    """A connection's own timer: its token's ``exp`` has passed unless AUTH extended it."""

    exp: int

