"""Schema creation and migration: an ordered list of numbered steps, each applied once.

Each later feature appends its step to ``MIGRATIONS``; ``migrate`` applies the missing ones in
order inside a transaction and records them in ``schema_version``. Several server processes may
start at once (scale-out): PostgreSQL serializes them with an advisory lock, SQLite with
``BEGIN IMMEDIATE``. Steps are written with peewee's schema API so one step serves both databases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import peewee

from .database import BaseModel, Store

_ADVISORY_LOCK_KEY = 0x5EA1_7153


class SchemaVersion(BaseModel):
    """One row per applied migration step."""

    version = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=200)
    applied_at = peewee.DateTimeField(default=lambda: dt.datetime.now(dt.UTC))

    class Meta:
        table_name = "schema_version"


@dataclass(frozen=True, slots=True)
class Migration:
    """A numbered schema step; ``apply`` receives the open database inside the migration's transaction."""

    version: int
    name: str
    apply: Callable[[peewee.Database], None]


MIGRATIONS: list[Migration] = []
"""The project's steps, in version order; features register theirs with ``register``."""


Step = Callable[[peewee.Database], None]


def register(version: int, name: str) -> Callable[[Step], Step]:
    def decorator(fn: Step) -> Step:
        if any(m.version == version for m in MIGRATIONS):
            raise ValueError(f"migration {version} registered twice")
        MIGRATIONS.append(Migration(version, name, fn))
        MIGRATIONS.sort(key=lambda m: m.version)
        return fn
    return decorator


def migrate(store: Store, migrations: list[Migration] | None = None) -> list[int]:
    """Apply every step not yet recorded; returns the versions applied now."""
    steps = sorted(MIGRATIONS if migrations is None else migrations, key=lambda m: m.version)

    def apply_missing() -> list[int]:
        db = store.db
        if not store.is_sqlite:  # SQLite is already serialized by Store.run's BEGIN IMMEDIATE
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_KEY,))
        db.create_tables([SchemaVersion], safe=True)
        done = {row.version for row in SchemaVersion.select(SchemaVersion.version)}
        applied = []
        for step in steps:
            if step.version in done:
                continue
            step.apply(db)
            SchemaVersion.create(version=step.version, name=step.name)
            applied.append(step.version)
        return applied

    return store.run(apply_missing)
