"""Idempotency-Key: the stored answer of (caller, key), replayed to a retry of the same request.

Rests on the primary key (caller, key) of ``idempotency_key``: whichever of two concurrent retries
inserts second gets an IntegrityError, rolls back its savepoint and answers with the stored
original (``creating`` does that). A key reused within the TTL for a different body is a
``Conflict``; an expired key is deleted when met, so it is new again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import NamedTuple

from actors.errors import Conflict
from actors.notifications.outcomes import CreatedBody, CreateOutcome, CreateRequest

from ..database import database_proxy
from .sql import chunks, insert_sql, placeholders, rows
from .tables import IdempotencyKey

_CREATED = 201
_NOTHING_CREATED = 200
"""What ``idempotency_key.status`` holds for ``CreateOutcome.created`` True and False (see ``IdempotencyKey``)."""

KEY_COLUMNS = ("caller", "key", "fingerprint", "status", "response", "created_at")

KeyRow = tuple[str, str, str, int, str, dt.datetime]
"""One ``idempotency_key`` row, in ``KEY_COLUMNS`` order."""


class StoredAnswer(NamedTuple):
    fingerprint: str
    created: bool
    response: str


def _stored_status(created: bool) -> int:
    return _CREATED if created else _NOTHING_CREATED


def _answer(fingerprint: str, status: int, response: str) -> StoredAnswer:
    return StoredAnswer(fingerprint, int(status) == _CREATED, response)


def stored_answers(requests: Sequence[CreateRequest], idempotency_cutoff: dt.datetime
                   ) -> dict[tuple[str, str], StoredAnswer]:
    """The unexpired stored answers for these requests' keys, by (caller, key).

    Expired ones are deleted first: their key is new again.
    """
    found: dict[tuple[str, str], StoredAnswer] = {}
    wanted = {(r.caller, str(r.key)) for r in requests}
    for chunk in chunks(sorted(wanted)):
        callers = sorted({caller for caller, _ in chunk})
        keys = [key for _, key in chunk]
        where = f'"caller" IN ({placeholders(len(callers))}) AND "key" IN ({placeholders(len(keys))})'
        database_proxy.execute_sql(f'DELETE FROM "idempotency_key" WHERE {where} AND "created_at" < '
                                   f'{database_proxy.param}', [*callers, *keys, idempotency_cutoff])
        sql = f'SELECT "caller", "key", "fingerprint", "status", "response" FROM "idempotency_key" WHERE {where}'
        for caller, key, fingerprint, status, response in rows(sql, [*callers, *keys]):
            if (caller, key) in wanted:
                found[(caller, key)] = _answer(fingerprint, status, response)
    return found


def stored_answer(request: CreateRequest, idempotency_cutoff: dt.datetime) -> StoredAnswer | None:
    """The one request's unexpired stored answer, if any (the slow path's ``stored_answers``)."""
    if request.key is None:
        return None
    stored = IdempotencyKey.get_or_none((IdempotencyKey.caller == request.caller)
                                        & (IdempotencyKey.key == request.key))
    if stored is None:
        return None
    if stored.created_at < idempotency_cutoff:
        stored.delete_instance()
        return None
    return _answer(stored.fingerprint, stored.status, stored.response)


def replayed(stored: StoredAnswer, request: CreateRequest) -> CreateOutcome:
    """The stored answer again, or a Conflict when the key came with a different body."""
    if stored.fingerprint != request.draft.fingerprint():
        return conflict()
    return CreateOutcome(stored.created, json.loads(stored.response), replayed=True)


def conflict() -> CreateOutcome:
    return CreateOutcome.failed(Conflict("this Idempotency-Key was used for a different request"))


def key_row(request: CreateRequest, key: str, created: bool, body: CreatedBody, now: dt.datetime) -> KeyRow:
    """The ``idempotency_key`` row that answers later retries of ``request`` (sent with ``key``)."""
    return (request.caller, key, request.draft.fingerprint(), _stored_status(created),
            json.dumps(body, ensure_ascii=False), now)


def insert_keys(key_rows: Sequence[KeyRow]) -> None:
    """Insert answers in few statements; an IntegrityError means a concurrent retry stored its key first."""
    for chunk in chunks(key_rows):
        database_proxy.execute_sql(insert_sql("idempotency_key", KEY_COLUMNS, len(chunk)),
                                   [v for row in chunk for v in row])
