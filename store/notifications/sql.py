"""Small helpers the notification queries share: chunking, raw SQL on the hot paths, naive UTC.

The create path and the unread counts build SQL by hand: with peewee's query builder most of a
create's cost was Python (about 0.8 ms each), and Python on the database worker thread holds the GIL
the event loop needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import peewee

from ..database import database_proxy

CHUNK = 500
"""Ids per ``IN (...)`` list and rows per delete: well under SQLite's variable limit, short transactions."""

T = TypeVar("T")


def utc_now() -> dt.datetime:
    """Naive UTC: the same value on SQLite (text) and PostgreSQL (timestamp without time zone)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def placeholders(count: int) -> str:
    """``?, ?, ?`` (or ``%s, ...``) for an ``IN`` list of ``count`` values."""
    return ", ".join([database_proxy.param] * count)


def insert_sql(table: str, columns: tuple[str, ...], rows: int, returning: str = "") -> str:
    """One multi-row ``INSERT`` of ``rows`` rows (``RETURNING`` one column if asked)."""
    one = "(" + ", ".join([database_proxy.param] * len(columns)) + ")"
    names = ", ".join(f'"{c}"' for c in columns)
    tail = f' RETURNING "{returning}"' if returning else ""
    return f'INSERT INTO "{table}" ({names}) VALUES {", ".join([one] * rows)}{tail}'


def rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Raw SQL on the hot paths: building queries with peewee costs Python time that holds the GIL."""
    return list(database_proxy.execute_sql(sql, list(params)).fetchall())


def tuples(query: peewee.BaseQuery) -> list[tuple[Any, ...]]:
    """Rows as plain tuples (peewee's stubs type a model query's rows as model instances)."""
    return list(query.tuples())


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
