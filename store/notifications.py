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
from actors.notification_rules import Draft, Preferences, preferences_from_json

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


def create_batch(requests: Sequence[CreateRequest], connected: Mapping[str, str], known_roles: Mapping[str, str],
                 cutoff: dt.datetime, idempotency_cutoff: dt.datetime) -> list[CreateOutcome]:
    """Store several create requests in the caller's one transaction, each in its own savepoint.

    ``connected`` maps the users with an open socket to their role (role notifications are pushed to
    those holding the role); ``known_roles`` adds the last role seen for others, so the unreadCount a
    push carries includes the user's role notifications. A request that fails (a key reused for
    another body) changes nothing and gets ``error``; the others still commit.
    """
    members: dict[str, list[str]] = defaultdict(list)
    for user_id, role in connected.items():
        members[role].append(user_id)
    users = {uid for r in requests for uid in r.draft.user_ids}
    users.update(uid for r in requests if r.draft.role for uid in members.get(r.draft.role, ()))
    preferences = load_preferences(users)
    now = _utc_now()
    outcomes: list[CreateOutcome] = []
    for request in requests:
        try:
            with database_proxy.atomic():
                outcomes.append(_create_one(request, preferences, members, now, idempotency_cutoff))
        except peewee.IntegrityError:
            # a concurrent retry with the same key committed first (another process or worker)
            try:
                with database_proxy.atomic():
                    outcomes.append(_replay(request, idempotency_cutoff) or CreateOutcome(
                        503, {}, error=Unavailable("the idempotency key is held by a request in flight; retry")))
            except Exception as exc:  # noqa: BLE001  (this request fails alone)
                outcomes.append(CreateOutcome(500, {}, error=exc))
        except Exception as exc:  # noqa: BLE001
            outcomes.append(CreateOutcome(500, {}, error=exc))
    fresh = [r for o in outcomes if not o.replayed and o.error is None for r in o.recipients]
    if fresh:
        roles = {r.user_id: connected.get(r.user_id) or known_roles.get(r.user_id) for r in fresh}
        hidden = {r.user_id: r.preferences.hidden_types() for r in fresh}
        _assign_counts(fresh, unread_counts(roles, hidden, cutoff))
    return outcomes


def _assign_counts(recipients: list[Recipient], counts: dict[str, int]) -> None:
    """Each push carries the count as of its own notification: a user's later rows in the batch are not in it yet."""
    later: dict[str, int] = defaultdict(int)
    for recipient in reversed(recipients):
        recipient.unread_count = max(0, counts.get(recipient.user_id, 0) - later[recipient.user_id])
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
    if stored.fingerprint != request.draft.fingerprint():
        return CreateOutcome(409, {}, error=Conflict("this Idempotency-Key was used for a different request"))
    return CreateOutcome(stored.status, json.loads(stored.response), replayed=True)


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
        for row in Preference.select().where(Preference.user_id.in_(chunk)):
            found[row.user_id] = preferences_from_json(json.loads(row.data))
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
        "notifications": [to_wire(row, row.receipt_read_at) for row in page],
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
        have = {r.notification_id for r in Receipt.select(Receipt.notification)
                .where((Receipt.user_id == user_id) & Receipt.notification.in_(chunk))}
        if have:
            (Receipt.update(read_at=now)
             .where((Receipt.user_id == user_id) & Receipt.notification.in_(sorted(have))).execute())
        missing = [{"notification": nid, "user_id": user_id, "read_at": now} for nid in chunk if nid not in have]
        if missing:
            Receipt.insert_many(missing).execute()
    return ids, unread_counts({user_id: role}, {user_id: hidden}, cutoff)[user_id]


def unread_counts(users: Mapping[str, str | None], hidden: Mapping[str, frozenset[str] | None],
                  cutoff: dt.datetime) -> dict[str, int]:
    """Unread counts for many users in three grouped queries, whatever their number.

    unread = own unread rows + the role's rows - the role's rows this user has read or deleted,
    each summed over the types the user has not hidden.
    """
    own: dict[tuple[str, str], int] = defaultdict(int)
    seen: dict[tuple[str, str, str], int] = defaultdict(int)
    role_total: dict[tuple[str, str], int] = defaultdict(int)
    user_ids = sorted(users)
    for chunk in _chunks(user_ids):
        query = (Notification.select(Notification.recipient_user, Notification.type, peewee.fn.COUNT(Notification.id))
                 .join(Receipt, peewee.JOIN.LEFT_OUTER, on=((Receipt.notification == Notification.id)
                                                            & (Receipt.user_id == Notification.recipient_user)))
                 .where(Notification.recipient_user.in_(chunk) & (Notification.created_at >= cutoff)
                        & Receipt.read_at.is_null() & Receipt.deleted_at.is_null())
                 .group_by(Notification.recipient_user, Notification.type).tuples())
        for user_id, type_, count in query:
            own[(user_id, type_)] += count
        query = (Receipt.select(Receipt.user_id, Notification.recipient_role, Notification.type,
                                peewee.fn.COUNT(Receipt.user_id))
                 .join(Notification, on=(Receipt.notification == Notification.id))
                 .where(Receipt.user_id.in_(chunk) & Notification.recipient_role.is_null(False)
                        & (Notification.created_at >= cutoff)
                        & (Receipt.read_at.is_null(False) | Receipt.deleted_at.is_null(False)))
                 .group_by(Receipt.user_id, Notification.recipient_role, Notification.type).tuples())
        for user_id, role, type_, count in query:
            seen[(user_id, role, type_)] += count
    roles = sorted({role for role in users.values() if role})
    if roles:
        query = (Notification.select(Notification.recipient_role, Notification.type, peewee.fn.COUNT(Notification.id))
                 .where(Notification.recipient_role.in_(roles) & (Notification.created_at >= cutoff))
                 .group_by(Notification.recipient_role, Notification.type).tuples())
        for role, type_, count in query:
            role_total[(role, type_)] += count
    counts: dict[str, int] = {}
    for user_id, role in users.items():
        hide = hidden.get(user_id, frozenset())
        if hide is None:
            counts[user_id] = 0
            continue
        total = sum(n for (uid, t), n in own.items() if uid == user_id and t not in hide)
        if role:
            total += sum(n for (r, t), n in role_total.items() if r == role and t not in hide)
            total -= sum(n for (uid, r, t), n in seen.items() if uid == user_id and r == role and t not in hide)
        counts[user_id] = total
    return counts


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
                   .having(peewee.fn.COUNT(Notification.id) > keep_per_recipient).limit(CHUNK).tuples())
        for (recipient,) in list(crowded):
            if surplus >= CHUNK:
                break
            oldest_kept = (Notification.select(Notification.id).where(column == recipient)
                           .order_by(Notification.id.desc()).offset(keep_per_recipient - 1).limit(1).scalar())
            surplus += _delete_ids([row.id for row in Notification.select(Notification.id)
                                    .where((column == recipient) & (Notification.id < oldest_kept))
                                    .limit(CHUNK - surplus)])
    keys = 0
    stale = list(IdempotencyKey.select(IdempotencyKey.caller, IdempotencyKey.key)
                 .where(IdempotencyKey.created_at < idempotency_older_than).limit(CHUNK).tuples())
    for caller, key in stale:
        keys += IdempotencyKey.delete().where((IdempotencyKey.caller == caller) & (IdempotencyKey.key == key)).execute()
    return {"aged": aged, "surplus": surplus, "idempotencyKeys": keys}


def _delete_ids(ids: list[int]) -> int:
    if not ids:
        return 0
    Receipt.delete().where(Receipt.notification.in_(ids)).execute()  # also where foreign keys are not enforced
    return int(Notification.delete().where(Notification.id.in_(ids)).execute())


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
