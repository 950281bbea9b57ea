"""The notification center's tables and every query on them; each function runs inside ``Store.run``.

One row per notification: per user for ``userId``/``userIds``, once per role for ``role``. Read
and deleted state is per user in ``notification_receipt`` (created lazily, so creating stays one
insert). JSON is stored as text so SQLite and PostgreSQL behave the same. Idempotency rests on the
primary key (caller, key) of ``idempotency_key``: whichever concurrent retry inserts second gets an
IntegrityError, rolls back its savepoint and answers with the stored original.

Visibility, in one place (``_visible``): the recipient is the user or the user's role, the row is
younger than the retention age, the user has not deleted it and has not switched its type off.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import peewee

from actors.errors import Conflict, NotFound, Unavailable
from actors.notifications.rules import Draft, Preferences, preferences_from_json

from .database import BaseModel, database_proxy
from .migrations import register

CHUNK = 500
"""Ids per ``IN (...)`` list and rows per delete: well under SQLite's variable limit, short transactions."""


def _utc_now() -> dt.datetime:
    """Naive UTC: the same value on SQLite (text) and PostgreSQL (timestamp without time zone)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Notification(BaseModel):
    """One notification; exactly one of ``recipient_user`` and ``recipient_role`` is set."""

    id = peewee.BigAutoField()
    recipient_user = peewee.CharField(max_length=64, null=True)
    recipient_role = peewee.CharField(max_length=64, null=True)
    title = peewee.CharField(max_length=200)
    message = peewee.TextField()
    type = peewee.CharField(max_length=64)
    priority = peewee.CharField(max_length=8)
    data = peewee.TextField(null=True)
    link = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(index=True)
    created_by = peewee.CharField(max_length=64)

    class Meta:
        table_name = "notification"
        indexes = ((("recipient_user", "id"), False), (("recipient_role", "id"), False))


class Receipt(BaseModel):
    """One user's read or deleted state of one notification; absent means unread."""

    notification = peewee.ForeignKeyField(Notification, on_delete="CASCADE", column_name="notification_id")
    user_id = peewee.CharField(max_length=64)
    read_at = peewee.DateTimeField(null=True)
    deleted_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "notification_receipt"
        primary_key = peewee.CompositeKey("notification", "user_id")
        indexes = ((("user_id", "notification"), False),)


class Preference(BaseModel):
    """One user's saved preferences, as the JSON of ``Preferences.to_dict``."""

    user_id = peewee.CharField(max_length=64, primary_key=True)
    data = peewee.TextField()
    updated_at = peewee.DateTimeField()

    class Meta:
        table_name = "notification_preference"


class IdempotencyKey(BaseModel):
    """The answer given to (caller, key), replayed to retries within the TTL."""

    caller = peewee.CharField(max_length=64)
    key = peewee.CharField(max_length=255)
    fingerprint = peewee.CharField(max_length=64)
    status = peewee.IntegerField()
    response = peewee.TextField()
    created_at = peewee.DateTimeField(index=True)

    class Meta:
        table_name = "idempotency_key"
        primary_key = peewee.CompositeKey("caller", "key")


MODELS = (Notification, Receipt, Preference, IdempotencyKey)


@register(1, "notifications")
def _create_tables(db: peewee.Database) -> None:
    db.create_tables(MODELS, safe=True)


# --- wire form -------------------------------------------------------------------------------------

def to_wire(row: Notification, read_at: dt.datetime | None = None) -> dict[str, Any]:
    return {
        "id": str(row.id), "userId": row.recipient_user, "role": row.recipient_role, "title": row.title,
        "message": row.message, "type": row.type, "priority": row.priority,
        "data": json.loads(row.data) if row.data is not None else None, "link": row.link,
        "createdAt": iso(row.created_at), "read": read_at is not None, "readAt": iso(read_at),
    }


# --- creating --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CreateRequest:
    """One ``POST /api/notifications`` as the store sees it."""

    caller: str
    draft: Draft
    key: str | None = None


@dataclass(slots=True)
class Recipient:
    """A user to push a freshly stored notification to, with what the push needs to say."""

    user_id: str
    notification: dict[str, Any]
    preferences: Preferences
    unread_count: int = 0


@dataclass(slots=True)
class CreateOutcome:
    """The answer to one create request, and the pushes it owes once the batch has committed."""

    status: int
    body: dict[str, Any]
    replayed: bool = False
    recipients: list[Recipient] = field(default_factory=list)
    error: Exception | None = None


def create_batch(requests: Sequence[CreateRequest], connected: Mapping[str, str], roles: Sequence[str],
                 cutoff: dt.datetime, idempotency_cutoff: dt.datetime) -> tuple[list[CreateOutcome], UnreadParts]:
    """Store several create requests in the caller's one transaction.

    ``connected`` maps users with an open socket to their role: role notifications are pushed to
    those holding the role. Returns the outcomes and the parts of every recipient's unread count over
    all ``roles``, so the caller can finish the counts once it knows each user's role (``assign_counts``)
    without waiting for that before the database work.

    Fast path: a handful of statements for the whole batch (one key lookup, one multi-row insert of
    notifications, one of keys), because building SQL is most of the cost (peewee spends ~0.8 ms of
    Python per create otherwise). If another transaction inserted one of the keys meanwhile (a retry
    at another process), the fast path's savepoint is rolled back and each request is redone in a
    savepoint of its own, so the losers answer with the winner's response and the others still commit.
    """
    members: dict[str, list[str]] = defaultdict(list)
    for user_id, role in connected.items():
        members[role].append(user_id)
    users = {uid for r in requests for uid in r.draft.user_ids}
    users.update(uid for r in requests if r.draft.role for uid in members.get(r.draft.role, ()))
    preferences = load_preferences(users)
    now = _utc_now()
    try:
        with database_proxy.atomic():
            outcomes = _create_together(requests, preferences, members, now, idempotency_cutoff)
    except peewee.IntegrityError:
        outcomes = [_create_alone(request, preferences, members, now, idempotency_cutoff) for request in requests]
    fresh = {r.user_id for o in outcomes if o.error is None for r in o.recipients}
    return outcomes, unread_parts(fresh, roles if fresh else (), cutoff)


_NOTIFICATION_COLUMNS = ("recipient_user", "recipient_role", "title", "message", "type", "priority", "data", "link",
                         "created_at", "created_by")
_KEY_COLUMNS = ("caller", "key", "fingerprint", "status", "response", "created_at")


def _insert_sql(table: str, columns: tuple[str, ...], rows: int, returning: str = "") -> str:
    param = database_proxy.param
    one = "(" + ", ".join([param] * len(columns)) + ")"
    names = ", ".join(f'"{c}"' for c in columns)
    tail = f' RETURNING "{returning}"' if returning else ""
    return f'INSERT INTO "{table}" ({names}) VALUES {", ".join([one] * rows)}{tail}'


def _create_together(requests: Sequence[CreateRequest], preferences: dict[str, Preferences],
                     members: Mapping[str, Sequence[str]], now: dt.datetime,
                     idempotency_cutoff: dt.datetime) -> list[CreateOutcome]:
    stored = _stored_keys([r for r in requests if r.key is not None], idempotency_cutoff)
    outcomes: list[CreateOutcome] = []
    first_with_key: dict[tuple[str, str], int] = {}
    plans: list[tuple[int, str | None, str | None, Preferences | None]] = []  # request, user, role, prefs
    for index, request in enumerate(requests):
        draft = request.draft
        pair = (request.caller, request.key) if request.key is not None else None
        if pair is not None and pair in stored:
            outcomes.append(_replayed(stored[pair], draft))
            continue
        if pair is not None and pair in first_with_key:
            outcomes.append(CreateOutcome(0, {}, replayed=True))  # answered below from the first one
            continue
        if pair is not None:
            first_with_key[pair] = index
        skipped: list[dict[str, str]] = []
        if draft.role is not None:
            plans.append((index, None, draft.role, None))
        for user_id in draft.user_ids:
            prefs = preferences.get(user_id, Preferences())
            reason = prefs.skip_reason(draft.type)
            if reason is not None:
                skipped.append({"userId": user_id, "reason": reason})
            else:
                plans.append((index, user_id, None, prefs))
        outcomes.append(CreateOutcome(0, {"notifications": [], "skipped": skipped}))

    data_text = [json.dumps(r.draft.data, ensure_ascii=False, separators=(",", ":")) if r.draft.data is not None
                 else None for r in requests]
    for chunk in _chunks(plans):
        values: list[Any] = []
        for index, user_id, role, _ in chunk:
            d = requests[index].draft
            values += [user_id, role, d.title, d.message, d.type, d.priority, data_text[index], d.link, now,
                       requests[index].caller]
        cursor = database_proxy.execute_sql(_insert_sql("notification", _NOTIFICATION_COLUMNS, len(chunk), "id"),
                                            values)
        ids = sorted(row[0] for row in cursor.fetchall())  # assigned in VALUES order; RETURNING's order is not
        for (index, user_id, role, prefs), nid in zip(chunk, ids, strict=True):
            wire = _new_wire(nid, user_id, role, requests[index].draft, now)
            outcome = outcomes[index]
            outcome.body["notifications"].append(wire)
            if user_id is not None:
                outcome.recipients.append(Recipient(user_id, wire, prefs or Preferences()))
            else:
                for member in members.get(str(role), ()):
                    member_prefs = preferences.get(member, Preferences())
                    if member_prefs.skip_reason(requests[index].draft.type) is None:
                        outcome.recipients.append(Recipient(member, wire, member_prefs))

    keys: list[Any] = []
    for index, (request, outcome) in enumerate(zip(requests, outcomes, strict=True)):
        if outcome.error is not None:
            continue
        if outcome.replayed:
            if outcome.status == 0:  # a retry of a request earlier in this batch: answer as it was answered
                first_index = first_with_key[(request.caller, str(request.key))]
                first = outcomes[first_index]
                same = requests[first_index].draft.fingerprint() == request.draft.fingerprint()
                outcomes[index] = CreateOutcome(first.status, first.body, replayed=True) if same else _conflict()
            continue
        outcome.status = 201 if outcome.body["notifications"] else 200
        if request.key is not None:
            keys.append([request.caller, request.key, request.draft.fingerprint(), outcome.status,
                         json.dumps(outcome.body, ensure_ascii=False), now])
    for key_chunk in _chunks(keys):
        database_proxy.execute_sql(_insert_sql("idempotency_key", _KEY_COLUMNS, len(key_chunk)),
                                   [v for row in key_chunk for v in row])
    return outcomes


def _new_wire(nid: int, user_id: str | None, role: str | None, draft: Draft, created_at: dt.datetime) -> dict[str, Any]:
    return {"id": str(nid), "userId": user_id, "role": role, "title": draft.title, "message": draft.message,
            "type": draft.type, "priority": draft.priority, "data": draft.data, "link": draft.link,
            "createdAt": iso(created_at), "read": False, "readAt": None}


def _stored_keys(requests: Sequence[CreateRequest], idempotency_cutoff: dt.datetime
                 ) -> dict[tuple[str, str], tuple[str, int, str]]:
    """The unexpired stored answers (fingerprint, status, response) for these requests' keys.

    Expired ones are deleted first: their key is new again.
    """
    found: dict[tuple[str, str], tuple[str, int, str]] = {}
    wanted = {(r.caller, str(r.key)) for r in requests}
    for chunk in _chunks(sorted(wanted)):
        callers = sorted({caller for caller, _ in chunk})
        keys = [key for _, key in chunk]
        where = f'"caller" IN ({_in(len(callers))}) AND "key" IN ({_in(len(keys))})'
        database_proxy.execute_sql(f'DELETE FROM "idempotency_key" WHERE {where} AND "created_at" < '
                                   f'{database_proxy.param}', [*callers, *keys, idempotency_cutoff])
        sql = f'SELECT "caller", "key", "fingerprint", "status", "response" FROM "idempotency_key" WHERE {where}'
        for caller, key, fingerprint, status, response in _rows(sql, [*callers, *keys]):
            if (caller, key) in wanted:
                found[(caller, key)] = (fingerprint, int(status), response)
    return found


def _replayed(stored: tuple[str, int, str], draft: Draft) -> CreateOutcome:
    fingerprint, status, response = stored
    if fingerprint != draft.fingerprint():
        return _conflict()
    return CreateOutcome(status, json.loads(response), replayed=True)


def _conflict() -> CreateOutcome:
    return CreateOutcome(409, {}, error=Conflict("this Idempotency-Key was used for a different request"))


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
                return _replay(request, idempotency_cutoff) or CreateOutcome(
                    503, {}, error=Unavailable("the idempotency key is held by a request in flight; retry"))
        except Exception as exc:  # noqa: BLE001  (this request fails alone)
            return CreateOutcome(500, {}, error=exc)
    except Exception as exc:  # noqa: BLE001
        return CreateOutcome(500, {}, error=exc)


def assign_counts(outcomes: Sequence[CreateOutcome], parts: UnreadParts, role_of: Mapping[str, str]) -> None:
    """Set each recipient's unreadCount, as of its own notification: a user's later rows in the batch are not in it.

    ``role_of`` gives the role of the users known to hold one; for the others only their own rows count.
    """
    recipients = [r for o in outcomes if o.error is None and not o.replayed for r in o.recipients]
    totals = {r.user_id: parts.count(r.user_id, role_of.get(r.user_id), r.preferences.hidden_types())
              for r in recipients}
    later: dict[str, int] = defaultdict(int)
    for recipient in reversed(recipients):
        recipient.unread_count = max(0, totals[recipient.user_id] - later[recipient.user_id])
        later[recipient.user_id] += 1


def _replay(request: CreateRequest, idempotency_cutoff: dt.datetime) -> CreateOutcome | None:
    if request.key is None:
        return None
    stored = IdempotencyKey.get_or_none((IdempotencyKey.caller == request.caller)
                                        & (IdempotencyKey.key == request.key))
    if stored is None:
        return None
    if stored.created_at < idempotency_cutoff:
        stored.delete_instance()
        return None
    return _replayed((stored.fingerprint, stored.status, stored.response), request.draft)


def _create_one(request: CreateRequest, preferences: dict[str, Preferences], members: Mapping[str, Sequence[str]],
                now: dt.datetime, idempotency_cutoff: dt.datetime) -> CreateOutcome:
    replay = _replay(request, idempotency_cutoff)
    if replay is not None:
        return replay
    draft = request.draft
    data = json.dumps(draft.data, ensure_ascii=False, separators=(",", ":")) if draft.data is not None else None
    common = dict(title=draft.title, message=draft.message, type=draft.type, priority=draft.priority, data=data,
                  link=draft.link, created_at=now, created_by=request.caller)
    stored: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    recipients: list[Recipient] = []
    if draft.role is not None:
        row = Notification.create(recipient_role=draft.role, **common)
        wire = to_wire(row)
        stored.append(wire)
        for user_id in members.get(draft.role, ()):
            prefs = preferences.get(user_id, Preferences())
            if prefs.skip_reason(draft.type) is None:
                recipients.append(Recipient(user_id, wire, prefs))
    else:
        for user_id in draft.user_ids:
            prefs = preferences.get(user_id, Preferences())
            reason = prefs.skip_reason(draft.type)
            if reason is not None:
                skipped.append({"userId": user_id, "reason": reason})
                continue
            wire = to_wire(Notification.create(recipient_user=user_id, **common))
            stored.append(wire)
            recipients.append(Recipient(user_id, wire, prefs))
    status = 201 if stored else 200
    body = {"notifications": stored, "skipped": skipped}
    if request.key is not None:
        IdempotencyKey.insert(caller=request.caller, key=request.key, fingerprint=draft.fingerprint(),
                              status=status, response=json.dumps(body, ensure_ascii=False), created_at=now).execute()
    return CreateOutcome(status, body, recipients=recipients)


# --- preferences -----------------------------------------------------------------------------------

def load_preferences(user_ids: Iterable[str]) -> dict[str, Preferences]:
    found: dict[str, Preferences] = {}
    for chunk in _chunks(sorted(set(user_ids))):
        sql = f'SELECT "user_id", "data" FROM "notification_preference" WHERE "user_id" IN ({_in(len(chunk))})'
        for user_id, data in _rows(sql, chunk):
            found[user_id] = preferences_from_json(json.loads(data))
    return found


def get_preferences(user_id: str) -> Preferences:
    return load_preferences([user_id]).get(user_id, Preferences())


def put_preferences(user_id: str, preferences: Preferences) -> Preferences:
    text = json.dumps(preferences.to_dict(), ensure_ascii=False)
    now = _utc_now()
    (Preference.insert(user_id=user_id, data=text, updated_at=now)
     .on_conflict(conflict_target=[Preference.user_id], update={Preference.data: text, Preference.updated_at: now})
     .execute())
    return preferences


# --- reading ---------------------------------------------------------------------------------------

def _receipt_join(user_id: str) -> Any:
    return (Receipt.notification == Notification.id) & (Receipt.user_id == user_id)


def _visible(user_id: str, role: str, hidden: frozenset[str] | None, cutoff: dt.datetime) -> Any:
    """The rows this user's center shows (with the receipt LEFT JOINed); None for ``hidden`` means none."""
    condition = (((Notification.recipient_user == user_id) | (Notification.recipient_role == role))
                 & (Notification.created_at >= cutoff) & Receipt.deleted_at.is_null())
    if hidden is None:
        return condition & (Notification.id < 0)
    if hidden:
        condition &= Notification.type.not_in(sorted(hidden))
    return condition


def list_for(user_id: str, role: str, hidden: frozenset[str] | None, cutoff: dt.datetime, unread_only: bool,
             limit: int, before: int | None) -> dict[str, Any]:
    """One page, newest first: ``{notifications, unreadCount, nextCursor}``."""
    condition = _visible(user_id, role, hidden, cutoff)
    if unread_only:
        condition &= Receipt.read_at.is_null()
    if before is not None:
        condition &= Notification.id < before
    query = (Notification.select(Notification, Receipt.read_at.alias("receipt_read_at"))
             .join(Receipt, peewee.JOIN.LEFT_OUTER, on=_receipt_join(user_id))
             .where(condition).order_by(Notification.id.desc()).limit(limit + 1).objects())
    rows = list(query)
    page = rows[:limit]
    return {
        "notifications": [to_wire(row, getattr(row, "receipt_read_at", None)) for row in page],
        "unreadCount": unread_counts({user_id: role}, {user_id: hidden}, cutoff)[user_id],
        "nextCursor": str(page[-1].id) if len(rows) > limit else None,
    }


def _find(notification_id: int, user_id: str, role: str, hidden: frozenset[str] | None,
          cutoff: dt.datetime) -> tuple[Notification, Receipt | None]:
    """The notification if this user sees it, else NotFound: someone else's looks exactly like a missing one."""
    row = (Notification.select(Notification, Receipt.read_at.alias("receipt_read_at"))
           .join(Receipt, peewee.JOIN.LEFT_OUTER, on=_receipt_join(user_id))
           .where(_visible(user_id, role, hidden, cutoff) & (Notification.id == notification_id))
           .objects().first())
    if row is None:
        raise NotFound(f"no notification {notification_id}")
    receipt = Receipt.get_or_none((Receipt.notification == notification_id) & (Receipt.user_id == user_id))
    return row, receipt


def mark_read(notification_id: int, user_id: str, role: str, hidden: frozenset[str] | None, cutoff: dt.datetime,
              read: bool) -> tuple[dict[str, Any], bool, int]:
    """Set or clear the read time; returns (notification, changed, unreadCount)."""
    row, receipt = _find(notification_id, user_id, role, hidden, cutoff)
    now = _utc_now()
    read_at = receipt.read_at if receipt is not None else None
    changed = (read_at is None) == read
    if changed:
        read_at = now if read else None
        if receipt is None:
            Receipt.insert(notification=notification_id, user_id=user_id, read_at=read_at).execute()
        else:
            (Receipt.update(read_at=read_at)
             .where((Receipt.notification == notification_id) & (Receipt.user_id == user_id)).execute())
    count = unread_counts({user_id: role}, {user_id: hidden}, cutoff)[user_id]
    return to_wire(row, read_at), changed, count


def delete_for(notification_id: int, user_id: str, role: str, hidden: frozenset[str] | None,
               cutoff: dt.datetime) -> int:
    """Delete a user's own row, or hide a role row for this user only; returns the new unreadCount."""
    row, receipt = _find(notification_id, user_id, role, hidden, cutoff)
    if row.recipient_user == user_id:
        _delete_ids([notification_id])
    elif receipt is None:
        Receipt.insert(notification=notification_id, user_id=user_id, deleted_at=_utc_now()).execute()
    else:
        (Receipt.update(deleted_at=_utc_now())
         .where((Receipt.notification == notification_id) & (Receipt.user_id == user_id)).execute())
    return unread_counts({user_id: role}, {user_id: hidden}, cutoff)[user_id]


def mark_all_read(user_id: str, role: str, hidden: frozenset[str] | None, cutoff: dt.datetime) -> tuple[list[int], int]:
    """Mark every visible unread notification read; returns (ids changed, unreadCount)."""
    ids = [row.id for row in (Notification.select(Notification.id)
                              .join(Receipt, peewee.JOIN.LEFT_OUTER, on=_receipt_join(user_id))
                              .where(_visible(user_id, role, hidden, cutoff) & Receipt.read_at.is_null())
                              .order_by(Notification.id.desc()))]
    now = _utc_now()
    for chunk in _chunks(ids):
        have = {nid for (nid,) in _tuples(Receipt.select(Receipt.notification)
                                          .where((Receipt.user_id == user_id) & Receipt.notification.in_(chunk)))}
        if have:
            (Receipt.update(read_at=now)
             .where((Receipt.user_id == user_id) & Receipt.notification.in_(sorted(have))).execute())
        missing = [{"notification": nid, "user_id": user_id, "read_at": now} for nid in chunk if nid not in have]
        if missing:
            Receipt.insert_many(missing).execute()
    return ids, unread_counts({user_id: role}, {user_id: hidden}, cutoff)[user_id]


@dataclass(slots=True)
class UnreadParts:
    """What unread counts are made of, per type, before the users' roles are applied.

    unread = own unread rows + the role's rows - the role's rows this user has read or deleted,
    each summed over the types the user has not hidden.
    """

    own: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    role_total: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    seen: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))

    def count(self, user_id: str, role: str | None, hidden: frozenset[str] | None) -> int:
        if hidden is None:
            return 0
        total = sum(n for (uid, t), n in self.own.items() if uid == user_id and t not in hidden)
        if role:
            total += sum(n for (r, t), n in self.role_total.items() if r == role and t not in hidden)
            total -= sum(n for (uid, r, t), n in self.seen.items() if uid == user_id and r == role and t not in hidden)
        return total


def unread_parts(user_ids: Iterable[str], roles: Iterable[str], cutoff: dt.datetime) -> UnreadParts:
    """The parts of many users' unread counts in three grouped queries, whatever their number."""
    parts = UnreadParts()
    for chunk in _chunks(sorted(set(user_ids))):
        users = _in(len(chunk))
        own = ('SELECT n."recipient_user", n."type", COUNT(*) FROM "notification" n '
               'LEFT JOIN "notification_receipt" r '
               'ON r."notification_id" = n."id" AND r."user_id" = n."recipient_user" '
               f'WHERE n."recipient_user" IN ({users}) AND n."created_at" >= {database_proxy.param} '
               'AND r."read_at" IS NULL AND r."deleted_at" IS NULL GROUP BY n."recipient_user", n."type"')
        for user_id, type_, count in _rows(own, [*chunk, cutoff]):
            parts.own[(user_id, type_)] += count
        seen = ('SELECT r."user_id", n."recipient_role", n."type", COUNT(*) FROM "notification_receipt" r '
                'JOIN "notification" n ON r."notification_id" = n."id" '
                f'WHERE r."user_id" IN ({users}) AND n."recipient_role" IS NOT NULL '
                f'AND n."created_at" >= {database_proxy.param} '
                'AND (r."read_at" IS NOT NULL OR r."deleted_at" IS NOT NULL) '
                'GROUP BY r."user_id", n."recipient_role", n."type"')
        for user_id, role, type_, count in _rows(seen, [*chunk, cutoff]):
            parts.seen[(user_id, role, type_)] += count
    wanted_roles = sorted(set(roles))
    if wanted_roles:
        totals = (f'SELECT "recipient_role", "type", COUNT(*) FROM "notification" WHERE "recipient_role" IN '
                  f'({_in(len(wanted_roles))}) AND "created_at" >= {database_proxy.param} '
                  'GROUP BY "recipient_role", "type"')
        for role, type_, count in _rows(totals, [*wanted_roles, cutoff]):
            parts.role_total[(role, type_)] += count
    return parts


def unread_counts(users: Mapping[str, str | None], hidden: Mapping[str, frozenset[str] | None],
                  cutoff: dt.datetime) -> dict[str, int]:
    """Unread counts for many users (user id -> role), in three queries."""
    parts = unread_parts(users, [role for role in users.values() if role], cutoff)
    return {user_id: parts.count(user_id, role, hidden.get(user_id, frozenset())) for user_id, role in users.items()}


# --- retention -------------------------------------------------------------------------------------

def purge_step(older_than: dt.datetime, keep_per_recipient: int, idempotency_older_than: dt.datetime) -> dict[str, int]:
    """One bounded slice of retention work (at most ``CHUNK`` rows per kind), so no transaction runs long.

    The caller repeats it until it returns zeros. Receipts go with their notification (ON DELETE CASCADE).
    """
    aged = _delete_ids([row.id for row in Notification.select(Notification.id)
                        .where(Notification.created_at < older_than).limit(CHUNK)])
    surplus = 0
    for column in (Notification.recipient_user, Notification.recipient_role):
        crowded = (Notification.select(column).where(column.is_null(False)).group_by(column)
                   .having(peewee.fn.COUNT(Notification.id) > keep_per_recipient).limit(CHUNK))
        for (recipient,) in _tuples(crowded):
            if surplus >= CHUNK:
                break
            oldest_kept = (Notification.select(Notification.id).where(column == recipient)
                           .order_by(Notification.id.desc()).offset(keep_per_recipient - 1).limit(1).scalar())
            surplus += _delete_ids([row.id for row in Notification.select(Notification.id)
                                    .where((column == recipient) & (Notification.id < oldest_kept))
                                    .limit(CHUNK - surplus)])
    keys = 0
    stale = _tuples(IdempotencyKey.select(IdempotencyKey.caller, IdempotencyKey.key)
                    .where(IdempotencyKey.created_at < idempotency_older_than).limit(CHUNK))
    for caller, key in stale:
        keys += IdempotencyKey.delete().where((IdempotencyKey.caller == caller) & (IdempotencyKey.key == key)).execute()
    return {"aged": aged, "surplus": surplus, "idempotencyKeys": keys}


def _delete_ids(ids: list[int]) -> int:
    if not ids:
        return 0
    Receipt.delete().where(Receipt.notification.in_(ids)).execute()  # also where foreign keys are not enforced
    return int(Notification.delete().where(Notification.id.in_(ids)).execute())


def _in(count: int) -> str:
    return ", ".join([database_proxy.param] * count)


def _rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Raw SQL on the create path: building queries with peewee costs Python time that holds the GIL."""
    return list(database_proxy.execute_sql(sql, list(params)).fetchall())


def _tuples(query: Any) -> list[tuple[Any, ...]]:
    """Rows as plain tuples (peewee's stubs type a model query's rows as model instances)."""
    return list(query.tuples())


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
