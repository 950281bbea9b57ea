"""Is the database's schema current? For ``realtime-server migrate --check`` and ``serve --no-migrate``.

``store.migrate`` applies what is missing; deployments that migrate as a separate step (one job
before the rollout, with its own credentials) need the other half: a yes/no answer that does not
change anything, and a server that refuses to start on an old schema instead of failing at its
first query.
"""

from __future__ import annotations

from actors.errors import ConfigError
from store import MIGRATIONS, Migration, Store
from store.migrations import SchemaVersion


def applied_versions(store: Store) -> set[int]:
    """The versions recorded in ``schema_version`` (none when the table does not exist yet). Reads only."""

    def read() -> set[int]:
        if not store.db.table_exists(SchemaVersion._meta.table_name):
            return set()
        return {row.version for row in SchemaVersion.select(SchemaVersion.version)}

    return store.run(read)


def pending_migrations(store: Store) -> list[Migration]:
    """The steps this code has that the database has not applied, in order."""
    done = applied_versions(store)
    return [step for step in MIGRATIONS if step.version not in done]


def require_current(store: Store) -> None:
    """Raise ConfigError (the server does not start) when a step is missing."""
    missing = pending_migrations(store)
    if missing:
        names = ", ".join(f"{step.version} {step.name}" for step in missing)
        raise ConfigError(f"the database is not current (missing migrations: {names}); run "
                          "`realtime-server migrate` first, or start without --no-migrate")
