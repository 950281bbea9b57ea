"""What operators read: process-wide counters and garbage-collector pauses."""

from __future__ import annotations

from .gc_pauses import PAUSES, GcPauses
from .metrics import Metrics

__all__ = [
    "GcPauses", "Metrics", "PAUSES",
]
