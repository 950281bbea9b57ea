"""What one socket may send: the read limits, and the token bucket every inbound frame is charged to.

The bucket lives with the reader, not the connection actor, because the reader sees every frame:
fragments, pings and pongs cost the server as much as a data message does (parsing, a callback, a
pong to write), and a client that sent thousands of empty continuation frames used to be charged
nothing at all. The actor only answers the data messages the reader marks as refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..config import Settings


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """The inbound limits of one socket, from ``Settings`` (``from_settings``) or set directly in tests."""

    max_message_bytes: int = 64 * 1024
    max_fragments: int = 32
    """Frames one data message may take (0: no limit)."""
    message_timeout: float = 10.0
    """Seconds from a message's first byte to its last (0: no deadline)."""
    rate_per_second: float = 20.0
    burst: int = 40
    strikes: int = 20
    """Refused frames in a row that close the socket (1008)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadLimits:
        return cls(settings.max_frame_bytes, settings.max_message_fragments, settings.message_timeout,
                   settings.rate_limit_per_second, settings.rate_limit_burst, settings.rate_limit_strikes)


class FrameBudget:
    """Token bucket of one socket's inbound frames: ``burst`` at once, refilled at ``rate_per_second``."""

    __slots__ = ("_rate", "_burst", "_tokens", "_refilled", "strikes")

    def __init__(self, rate_per_second: float, burst: int) -> None:
        self._rate = rate_per_second
        self._burst = float(burst)
        self._tokens = float(burst)
        self._refilled = time.monotonic()
        self.strikes = 0
        """Frames refused since the last one that was let through."""

    def take(self, frames: int) -> int:
        """Charge ``frames`` frames in the order they came; how many of them were refused (the last ones).

        One clock read per call, however many frames a read held: a write of 1,000 empty frames costs
        one charge, not 1,000.
        """
        if frames <= 0:
            return 0
        now = time.monotonic()
        tokens = self._tokens + (now - self._refilled) * self._rate
        self._tokens = tokens if tokens < self._burst else self._burst
        self._refilled = now
        granted = min(frames, int(self._tokens))
        self._tokens -= granted
        refused = frames - granted
        if not refused:
            self.strikes = 0
        else:
            self.strikes = refused if granted else self.strikes + refused
        return refused
