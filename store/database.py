"""Opening the database named by ``DATABASE_URL`` and running work on it without stalling sockets.

Every SQLite call blocks the whole gevent loop (a 1,000-row transaction froze every socket for 65-70 ms
on our 2-core test machine), and so does psycopg2 unless patched. Rather than two mechanisms, all
database work goes through ``Store.run``, which executes it on a dedicated worker OS thread: the
driver releases the GIL while it waits on disk or network, so the loop keeps serving sockets. One
worker thread means one connection and a natural queue of writers, which is what SQLite wants;
PostgreSQL can be given more workers (``workers=``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlparse

import peewee
from gevent import monkey
from gevent.threadpool import ThreadPool

from actors.errors import ConfigError

log = logging.getLogger("realtime.store")

T = TypeVar("T")

_native_sleep = monkey.get_original("time", "sleep")  # we are on a worker OS thread, not in a greenlet

database_proxy = peewee.DatabaseProxy()
"""The models' database; bound by ``Store`` to SQLite or PostgreSQL at start-up."""


class BaseModel(peewee.Model):
    """Base of every model: bound to ``database_proxy``."""

    class Meta:
        database = database_proxy


def open_database(url: str, *, synchronous: str = "FULL") -> peewee.Database:
    """``sqlite:///relative/path``, ``sqlite:////absolute/path`` or ``postgresql://user@host:port/db``."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path:
            raise ConfigError(f"DATABASE_URL {url!r}: expected sqlite:///path/to/file.db")
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return peewee.SqliteDatabase(path, check_same_thread=False, pragmas={
            "busy_timeout": 10_000, "journal_mode": "wal", "synchronous": synchronous, "foreign_keys": 1,
        })
    if parsed.scheme in ("postgres", "postgresql"):
        try:
            import psycopg2  # noqa: F401  (imported here: optional dependency)
        except ImportError:
            raise ConfigError("DATABASE_URL names PostgreSQL but psycopg2 is not installed: "
                              "pip install 'realtime-server[postgres]'") from None
        options: dict[str, Any] = dict(parse_qsl(parsed.query))
        return peewee.PostgresqlDatabase(
            (parsed.path or "/").lstrip("/") or "postgres", user=unquote(parsed.username or "") or None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or "127.0.0.1", port=parsed.port or 5432, **options,
        )
    raise ConfigError(f"DATABASE_URL {url!r}: expected a sqlite:/// or postgresql:// URL")


class _Raised:
    """An exception raised on a worker thread, carried back to the greenlet that asked."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class Store:
    """The database plus the worker thread(s) that every query runs on.

    One per process: it binds the models' ``database_proxy``, so a second Store would rebind the
    first one's models. Several processes (scale-out) each have their own.
    """

    def __init__(self, url: str, *, workers: int | None = None, synchronous: str = "FULL") -> None:
        self.url = url
        self.db = open_database(url, synchronous=synchronous)
        self.is_sqlite = isinstance(self.db, peewee.SqliteDatabase)
        database_proxy.initialize(self.db)
        self._pool = ThreadPool(workers or (1 if self.is_sqlite else 4))

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in one transaction on a worker thread; the calling greenlet waits, the loop does not.

        Keep ``fn`` lean in Python and heavy in SQL: set-based statements (``insert_many``, one
        ``UPDATE ... WHERE``), rows prepared by the caller. A worker that runs much Python per row
        starves the loop through the GIL: each SQLite call releases and retakes the GIL, which
        resets the loop thread's claim on it (measured here: 2,000 ``create()`` calls froze the loop
        59-97 ms through this method, no better than 73 ms inline; one 30,000-row ``insert_many``
        froze it 25-30 ms, against 207-222 ms inline).
        """
        outcome = self._pool.apply(self._in_transaction, (fn, *args))
        if isinstance(outcome, _Raised):
            raise outcome.error
        return outcome  # type: ignore[no-any-return]

    def _in_transaction(self, fn: Callable[..., T], *args: Any) -> T | _Raised:
        """On the worker: an exception is handed back as a value, to be raised in the caller.

        gevent's thread pool prints a full traceback to stderr for every exception that leaves a
        worker (its hub's ``handle_error``), before the caller re-raises it; an ordinary 404 from a
        query would print one per request, and any user could flood the log with them.
        """
        try:
            if self.db.is_closed():
                self._connect()
            # IMMEDIATE takes SQLite's write lock up front: two processes never deadlock upgrading a read lock
            with (self.db.atomic("IMMEDIATE") if self.is_sqlite else self.db.atomic()):
                return fn(*args)
        except Exception as exc:  # noqa: BLE001 (raised again in the caller, with its traceback)
            return _Raised(exc)

    def _connect(self, attempts: int = 50) -> None:
        """Connect, retrying while another process holds SQLite's lock.

        Switching a new file to WAL (a connect-time pragma) answers "database is locked" at once,
        without waiting on the busy timeout, when another process is writing the file.
        """
        for attempt in range(attempts):
            try:
                self.db.connect()
                return
            except peewee.OperationalError as exc:
                if not self.is_sqlite or "locked" not in str(exc) or attempt == attempts - 1:
                    raise
                if not self.db.is_closed():
                    self.db.close()
                _native_sleep(0.02 * (attempt + 1))

    def close(self) -> None:
        """Close the workers' connections and stop the workers."""
        def close_connection() -> None:
            if not self.db.is_closed():
                self.db.close()

        for _ in range(self._pool.maxsize):
            try:
                self._pool.apply(close_connection)
            except Exception:  # noqa: BLE001 (best effort on the way out)
                log.exception("closing a database connection failed")
        self._pool.kill()
