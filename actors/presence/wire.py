"""The frames and payloads of presence and claims, and the checks of what clients send for claims.

Kept beside the actors that use them (not in ``protocol/``) because only they build these; the shared
envelope (``server_frame``) is the protocol's.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

from ..errors import BadRequest
from ..protocol.frames import server_frame


def presence_frame(room: str, joins: Iterable[str], leaves: Iterable[str]) -> str:
    """PRESENCE: the users who started and stopped viewing ``room`` since the last frame (users, not sockets)."""
    return server_frame("PRESENCE", {"room": room, "joins": list(joins), "leaves": list(leaves)})


def iso(seconds: float) -> str:
    """Seconds since the epoch as the server's timestamps are written (UTC, milliseconds, a Z)."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_force(value: object) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest("'force' must be true or false", fields={"force": "must be a boolean"})
    return value


def parse_ttl(value: object, most: float) -> float | None:
    """A claim's requested length in seconds: a number from 1 to CLAIM_TTL, or None (CLAIM_TTL)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 1 <= value <= most:
        raise BadRequest(f"'ttl' must be a number of seconds from 1 to {most:g}",
                         fields={"ttl": f"seconds, 1 to {most:g}"})
    return float(value)
