"""Creating notifications: many requests in one transaction, each with its own answer.

Fast path: a handful of statements for the whole batch (one key lookup, one multi-row insert of
notifications, one of keys), because building SQL is most of the cost (peewee spends ~0.8 ms of
Python per create otherwise). If the fast path fails for any reason, its savepoint is rolled back
and each request is redone in a savepoint of its own, so a failure is only its own request's: a
key another transaction inserted meanwhile (a retry at another process) answers the losers with
the winner's response, and text one database cannot store fails that request alone.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import peewee

from actors.errors import RealtimeError, Unavailable
from actors.notifications.outcomes import (
    CreatedBody,
    CreateOutcome,
    CreateRequest,
    Recipient,
    Skipped,
    UnreadParts,
)
from actors.notifications.rules import Preferences

from ..database import database_proxy
from .idempotency import KeyRow, conflict, insert_keys, key_row, replayed, stored_answer, stored_answers
from .queries import load_preferences, unread_parts
from .sql import chunks, insert_sql, utc_now
from .tables import Notification
from .wire import data_text, new_wire, to_wire


def create_batch(requests: Sequence[CreateRequest], connected: Mapping[str, str], roles: Sequence[str],
                 cutoff: dt.datetime, idempotency_cutoff: dt.datetime) -> tuple[list[CreateOutcome], UnreadParts]:
    """Store several create requests in the caller's one transaction.

    ``connected`` maps users with an open socket to their role: role notifications are pushed to
    those holding the role. Returns the outcomes and the parts of every recipient's unread count over
    all ``roles``, so the caller can finish the counts once it knows each user's role (``assign_counts``)
    without waiting for that before the database work.
    """
    members: dict[str, list[str]] = defaultdict(list)
    for user_id, role in connected.items():
        members[role].append(user_id)
    users = {uid for r in requests for uid in r.draft.user_ids}
    users.update(uid for r in requests if r.draft.role for uid in members.get(r.draft.role, ()))
    preferences = load_preferences(users)
    now = utc_now()
    try:
        with database_proxy.atomic():
            outcomes = _create_together(requests, preferences, members, now, idempotency_cutoff)
    except Exception:  # noqa: BLE001 (whatever one request caused, the others still commit)
        outcomes = [_create_alone(request, preferences, members, now, idempotency_cutoff) for request in requests]
    fresh = {r.user_id for o in outcomes if o.error is None for r in o.recipients}
    return outcomes, unread_parts(fresh, roles if fresh else (), cutoff)


_NOTIFICATION_COLUMNS = ("recipient_user", "recipient_role", "title", "message", "type", "priority", "data", "link",
                         "created_at", "created_by")


def _empty() -> CreatedBody:
    return {"notifications": [], "skipped": []}


def _create_together(requests: Sequence[CreateRequest], preferences: dict[str, Preferences],
                     members: Mapping[str, Sequence[str]], now: dt.datetime,
                     idempotency_cutoff: dt.datetime) -> list[CreateOutcome]:
    stored = stored_answers([r for r in requests if r.key is not None], idempotency_cutoff)
    outcomes: list[CreateOutcome] = []
    first_with_key: dict[tuple[str, str], int] = {}
    copies: dict[int, int] = {}  # a retry of a request earlier in this batch -> that request
    plans: list[tuple[int, str | None, str | None, Preferences | None]] = []  # request, user, role, prefs
    for index, request in enumerate(requests):
        draft = request.draft
        pair = (request.caller, request.key) if request.key is not None else None
        if pair is not None and pair in stored:
            outcomes.append(replayed(stored[pair], request))
            continue
        if pair is not None and pair in first_with_key:
            copies[index] = first_with_key[pair]
            outcomes.append(CreateOutcome(False, _empty(), replayed=True))  # answered below from the first one
            continue
        if pair is not None:
            first_with_key[pair] = index
        skipped: list[Skipped] = []
        if draft.role is not None:
            plans.append((index, None, draft.role, None))
        for user_id in draft.user_ids:
            prefs = preferences.get(user_id, Preferences())
            reason = prefs.skip_reason(draft.type)
            if reason is not None:
                skipped.append({"userId": user_id, "reason": reason})
            else:
                plans.append((index, user_id, None, prefs))
        outcomes.append(CreateOutcome(False, {"notifications": [], "skipped": skipped}))

    data = [data_text(r.draft) for r in requests]
    for chunk in chunks(plans):
        values: list[Any] = []
        for index, to_user, to_role, _ in chunk:
            d = requests[index].draft
            values += [to_user, to_role, d.title, d.message, d.type, d.priority, data[index], d.link, now,
                       requests[index].caller]
        cursor = database_proxy.execute_sql(insert_sql("notification", _NOTIFICATION_COLUMNS, len(chunk), "id"),
                                            values)
        ids = sorted(row[0] for row in cursor.fetchall())  # assigned in VALUES order; RETURNING's order is not
        for (index, to_user, to_role, to_prefs), nid in zip(chunk, ids, strict=True):
            wire = new_wire(nid, to_user, to_role, requests[index].draft, now)
            outcome = outcomes[index]
            outcome.body["notifications"].append(wire)
            if to_user is not None:
                outcome.recipients.append(Recipient(to_user, wire, to_prefs or Preferences()))
            else:
                for member in members.get(str(to_role), ()):
                    member_prefs = preferences.get(member, Preferences())
                    if member_prefs.skip_reason(requests[index].draft.type) is None:
                        outcome.recipients.append(Recipient(member, wire, member_prefs))

    keys: list[KeyRow] = []
    for index, (request, outcome) in enumerate(zip(requests, outcomes, strict=True)):
        if outcome.error is not None:
            continue
        if outcome.replayed:
            if index in copies:  # answer as the earlier request was answered (it comes first, so it is final)
                first_index = copies[index]
                first = outcomes[first_index]
                same = requests[first_index].draft.fingerprint() == request.draft.fingerprint()
                outcomes[index] = CreateOutcome(first.created, first.body, replayed=True) if same else conflict()
            continue
        outcome.created = bool(outcome.body["notifications"])
        if request.key is not None:
            keys.append(key_row(request, request.key, outcome.created, outcome.body, now))
    insert_keys(keys)
    return outcomes


def _create_alone(request: CreateRequest, preferences: dict[str, Preferences], members: Mapping[str, Sequence[str]],
                  now: dt.datetime, idempotency_cutoff: dt.datetime) -> CreateOutcome:
    """The slow path: one request in a savepoint of its own, so its failure is its own."""
    try:
        with database_proxy.atomic():
            return _create_one(request, preferences, members, now, idempotency_cutoff)
    except peewee.IntegrityError:
        # a concurrent retry with the same key committed first (another process or worker)
        try:
            with database_proxy.atomic():
                stored = stored_answer(request, idempotency_cutoff)
                if stored is not None:
                    return replayed(stored, request)
                return CreateOutcome.failed(Unavailable("the idempotency key is held by a request in flight; retry"))
        except Exception as exc:  # noqa: BLE001  (this request fails alone)
            return CreateOutcome.failed(_not_stored(exc))
    except Exception as exc:  # noqa: BLE001
        return CreateOutcome.failed(_not_stored(exc))


def _not_stored(exc: Exception) -> RealtimeError:
    """A request's own failure as the domain error its caller gets (the database's error kept as the cause)."""
    if isinstance(exc, RealtimeError):
        return exc
    error = Unavailable(f"the notification could not be stored: {exc!r}")
    error.__cause__ = exc
    return error


def _create_one(request: CreateRequest, preferences: dict[str, Preferences], members: Mapping[str, Sequence[str]],
                now: dt.datetime, idempotency_cutoff: dt.datetime) -> CreateOutcome:
    stored_before = stored_answer(request, idempotency_cutoff)
    if stored_before is not None:
        return replayed(stored_before, request)
    draft = request.draft
    common = dict(title=draft.title, message=draft.message, type=draft.type, priority=draft.priority,
                  data=data_text(draft), link=draft.link, created_at=now, created_by=request.caller)
    body: CreatedBody = _empty()
    recipients: list[Recipient] = []
    if draft.role is not None:
        wire = to_wire(Notification.create(recipient_role=draft.role, **common))
        body["notifications"].append(wire)
        for user_id in members.get(draft.role, ()):
            prefs = preferences.get(user_id, Preferences())
            if prefs.skip_reason(draft.type) is None:
                recipients.append(Recipient(user_id, wire, prefs))
    else:
        for user_id in draft.user_ids:
            prefs = preferences.get(user_id, Preferences())
            reason = prefs.skip_reason(draft.type)
            if reason is not None:
                body["skipped"].append({"userId": user_id, "reason": reason})
                continue
            wire = to_wire(Notification.create(recipient_user=user_id, **common))
            body["notifications"].append(wire)
            recipients.append(Recipient(user_id, wire, prefs))
    created = bool(body["notifications"])
    if request.key is not None:
        insert_keys([key_row(request, request.key, created, body, now)])
    return CreateOutcome(created, body, recipients=recipients)
