"""Where claims live: ``Claim``, the ``ClaimStore`` seam, and ``MemoryClaims`` (one process).

A claim has two times. ``until`` is its hard end (``CLAIM_TTL`` at most, or the ``ttl`` the claimant
asked for; the holder's CLAIM again moves it). ``due`` is when it ends unless renewed: the nodes renew
the claims of holders they have a connection of, to ``CLAIM_GRACE`` from now, so a claim outlives its
holder's last connection by the grace period (a node that dies stops renewing, which ends its holders'
claims the same way). ``expire_due`` hands each claim past its time to exactly one caller, which tells
the room: with Redis that is one atomic script, so however many nodes sweep, a room is told once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Claim:
    """Who handles a room, since when and until when (seconds since the epoch)."""

    room: str
    by: str
    role: str
    since: float
    until: float

    def to_json(self) -> dict[str, Any]:
        return {"room": self.room, "by": self.by, "role": self.role, "since": self.since, "until": self.until}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Claim:
        return cls(str(value["room"]), str(value["by"]), str(value["role"]), float(value["since"]),
                   float(value["until"]))


@dataclass(frozen=True, slots=True)
class Taken:
    """The answer to a claim: ``won``, and the claim held now (``current``) and before (``previous``)."""

    won: bool
    current: Claim
    previous: Claim | None


class ClaimStore(Protocol):
    """The claims of the cluster (or of one process)."""

    def take(self, claim: Claim, due: float, now: float, force: bool) -> Taken:
        """Hold ``claim`` unless another user holds the room and it is not past its time (``force``: anyway)."""
        ...

    def release(self, room: str, user: str | None) -> tuple[bool, Claim | None]:
        """End the room's claim if ``user`` holds it (None: whoever does); (ended, the claim held before)."""
        ...

    def get(self, room: str, now: float) -> Claim | None:
        """The room's claim, unless it is past its time."""
        ...

    def holders(self) -> dict[str, str]:
        """Every claim's room and holder."""
        ...

    def renew(self, held: list[tuple[str, str]], due: float) -> None:
        """Push back to ``due`` (never past ``until``) the claims of these (room, holder) pairs."""
        ...

    def expire_due(self, now: float) -> list[Claim]:
        """Remove and return the claims past their time, each to exactly one caller."""
        ...


class MemoryClaims:
    """Claims in this process's memory, for the memory broker: one process, one ClaimsActor, no races."""

    def __init__(self) -> None:
        self._claims: dict[str, Claim] = {}
        self._due: dict[str, float] = {}

    def take(self, claim: Claim, due: float, now: float, force: bool) -> Taken:
        held = self._claims.get(claim.room)
        if held is not None and held.by != claim.by and not force and self._due[claim.room] > now:
            return Taken(False, held, held)
        self._claims[claim.room] = claim
        self._due[claim.room] = min(due, claim.until)
        return Taken(True, claim, held)

    def release(self, room: str, user: str | None) -> tuple[bool, Claim | None]:
        held = self._claims.get(room)
        if held is None:
            return False, None
        if user is not None and held.by != user:
            return False, held
        del self._claims[room]
        del self._due[room]
        return True, held

    def get(self, room: str, now: float) -> Claim | None:
        held = self._claims.get(room)
        return held if held is not None and self._due[room] > now else None

    def holders(self) -> dict[str, str]:
        return {room: claim.by for room, claim in self._claims.items()}

    def renew(self, held: list[tuple[str, str]], due: float) -> None:
        for room, user in held:
            claim = self._claims.get(room)
            if claim is not None and claim.by == user:
                self._due[room] = max(self._due[room], min(due, claim.until))

    def expire_due(self, now: float) -> list[Claim]:
        ended = [room for room, due in self._due.items() if due <= now]
        gone = []
        for room in ended:
            gone.append(self._claims.pop(room))
            del self._due[room]
        return gone
