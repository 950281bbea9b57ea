"""Messages the Coalescer takes: superseding updates, statistics, its own timers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:

    from ..runtime.reply import Reply


@dataclass(frozen=True, slots=True)
class Coalesce:
    """A superseding update (CAMPAIGN_PROGRESS, STATS_UPDATE) to send now or with the next window."""

    room: str
    type: str
    data: dict[str, Any]
    reply: Reply | None = None
    trace_id: str | None = None
    """The update's trace id: a held update that a newer one replaces is traced as coalesced into it."""


@dataclass(frozen=True, slots=True)
class FlushCoalesced:
    """The Coalescer's own timer: a coalescing window for (type, room) is over."""

    type: str
    room: str


@dataclass(frozen=True, slots=True)
class PushStats:
    """Merge figures into a stats room's last known set and send the whole set (coalesced)."""

    room: str
    figures: dict[str, Any]
    reply: Reply | None = None
    trace_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecomputeStats:
    """Ask STATS_PROVIDER for fresh figures; ``reply`` gets them (or the failure)."""

    reply: Reply | None = None


@dataclass(frozen=True, slots=True)
class StatsComputed:
    """The provider's worker thread finished, with figures or an error."""

    figures: Any
    error: str | None


@dataclass(frozen=True, slots=True)
class GetSyncStatus:
    """Ask the Coalescer for its state (GET /api/live-sync)."""

