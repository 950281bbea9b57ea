"""Choosing the broker by URL (``REDIS_URL``, else ``BROKER_URL``), as ``store`` chooses its database by URL."""

from __future__ import annotations

from urllib.parse import urlparse

from ..config import Settings
from ..errors import ConfigError
from .broker import Broker
from .memory_broker import MemoryBroker

SCHEMES = ("memory", "redis", "rediss", "unix")


def open_broker(settings: Settings) -> Broker:
    """The broker named by ``settings.effective_broker_url``; ConfigError for a URL no broker here understands.

    The Redis broker is imported only when asked for, so a server without the ``redis`` extra runs as
    before and one that asks for Redis without it is told what to install.
    """
    url = settings.effective_broker_url
    scheme = urlparse(url).scheme
    if scheme == "memory":
        return MemoryBroker(settings.history_size, settings.history_seconds)
    if scheme in ("redis", "rediss", "unix"):
        from .redis_broker import RedisBroker

        return RedisBroker(url, prefix=settings.redis_prefix, history_size=settings.history_size,
                           history_seconds=settings.history_seconds, meta_ttl=settings.redis_meta_ttl,
                           timeout=settings.redis_timeout, max_connections=settings.redis_max_connections,
                           probe_interval=settings.redis_probe_interval,
                           reconnect_max=settings.redis_reconnect_max)
    name = "REDIS_URL" if settings.redis_url else "BROKER_URL"
    raise ConfigError(f"{name} {url!r}: expected one of {', '.join(s + '://' for s in SCHEMES)}")
