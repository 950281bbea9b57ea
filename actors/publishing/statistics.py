"""Dashboard statistics: the provider a deployment names (``STATS_PROVIDER``) and the figures kept per stats room.

Statistics are merged per stats room: a push adds or replaces figures in the last known set, and
every ``STATS_UPDATE`` carries the whole merged set. The Coalescer owns the sets and sends them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError


def load_provider(spec: str) -> Callable[[], dict[str, Any]] | None:
    """``module:function`` to the function, or ConfigError naming what is wrong."""
    if not spec:
        return None
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise ConfigError(f"STATS_PROVIDER {spec!r}: expected module:function")
    try:
        provider = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"STATS_PROVIDER {spec!r}: {exc}") from None
    if not callable(provider):
        raise ConfigError(f"STATS_PROVIDER {spec!r} is not callable")
    return provider  # type: ignore[no-any-return]


@dataclass(slots=True)
class StatsState:
    """One stats room's merged figures and when they last changed."""

    figures: dict[str, Any] = field(default_factory=dict)
    updated_at: float | None = None


