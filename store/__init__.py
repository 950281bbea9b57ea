"""Storage: peewee models on SQLite (default) or PostgreSQL (``DATABASE_URL``), run off the event loop."""

from __future__ import annotations

from . import notifications  # noqa: E402,F401  (registers its migration)
from .database import BaseModel, Store, database_proxy, open_database
from .migrations import MIGRATIONS, Migration, migrate, register

__all__ = [
    "BaseModel", "MIGRATIONS", "Migration", "Store", "database_proxy", "migrate", "notifications", "open_database",
    "register",
]
