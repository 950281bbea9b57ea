"""Choosing the broker by URL (``BROKER_URL``), as ``store`` chooses its database by ``DATABASE_URL``."""

from __future__ import annotations

from urllib.parse import urlparse

from ..config import Settings
from ..errors import ConfigError
from .broker import Broker
from .memory_broker import MemoryBroker

SCHEMES = ("memory",)


def open_broker(settings: Settings) -> Broker:
    """The broker named by ``settings.broker_url``; ConfigError for a URL no broker here understands."""
    scheme = urlparse(settings.broker_url).scheme
    if scheme == "memory":
        return MemoryBroker(settings.history_size, settings.history_seconds)
    raise ConfigError(f"BROKER_URL {settings.broker_url!r}: expected one of "
                      f"{', '.join(s + '://' for s in SCHEMES)}")
