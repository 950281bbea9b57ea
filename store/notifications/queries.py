"""Reading, marking, deleting, counting and purging notifications; each function runs inside ``Store.run``.

Visibility, in one place (``_visible``): the recipient is the user or the user's role, the row is
younger than the retention age, the user has not deleted it and has not switched its type off.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

import peewee

from actors.errors import NotFound
from actors.notifications.outcomes import MarkedAllRead, MarkedRead, NotificationPage, PurgeCounts, UnreadParts
from actors.notifications.rules import Preferences, preferences_from_json

from ..database import database_proxy
from .sql import CHUNK, chunks, placeholders, rows, tuples, utc_now
from .tables import IdempotencyKey, Notification, Preference, Receipt
from .wire import to_wire

# --- preferences -----------------------------------------------------------------------------------


def load_preferences(user_ids: Iterable[str]) -> dict[str, Preferences]:
    found: dict[str, Preferences] = {}
    for chunk in chunks(sorted(set(user_ids))):
        sql = f'SELECT "user_id", "data" FROM "notification_preference" WHERE "user_id" IN ({placeholders(len(chunk))})'
        for user_id, data in rows(sql, chunk):
            found[user_id] = preferences_from_json(json.loads(data))
    return found


def get_preferences(user_id: str) -> Preferences:
    return load_preferences([user_id]).get(user_id, Preferences())


def put_preferences(user_id: str, preferences: Preferences) -> Preferences:
    text = json.dumps(preferences.to_dict(), ensure_ascii=False)
    now = utc_now()
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
             limit: int, before: int | None) -> NotificationPage:
    """One page, newest first: ``{notifications, unreadCount, nextCursor}``."""
    condition = _visible(user_id, role, hidden, cutoff)
    if unread_only:
        condition &= Receipt.read_at.is_null()
    if before is not None:
        condition &= Notification.id < before
    query = (Notification.select(Notification, Receipt.read_at.alias("receipt_read_at"))
             .join(Receipt, peewee.JOIN.LEFT_OUTER, on=_receipt_join(user_id))
             .where(condition).order_by(Notification.id.desc()).limit(limit + 1).objects())
    found = list(query)
    page = found[:limit]
    return {
        "notifications": [to_wire(row, getattr(row, "receipt_read_at", None)) for row in page],
        "unreadCount": unread_counts({user_id: role}, {user_id: hidden}, cutoff)[user_id],
        "nextCursor": str(page[-1].id) if len(found) > limit else None,
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
              read: bool) -> MarkedRead:
    """Set or clear the read time; returns (notification, changed, unreadCount)."""
    row, receipt = _find(notification_id, user_id, role, hidden, cutoff)
    now = utc_now()
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
    return MarkedRead(to_wire(row, read_at), changed, count)


def delete_for(notification_id: int, user_id: str, role: str, hidden: frozenset[str] | None,
               cutoff: dt.datetime) -> int:
    """Delete a user's own row, or hide a role row for this user only; returns the new unreadCount."""
    row, receipt = _find(notification_id, user_id, role, hidden, cutoff)
    if row.recipient_user == user_id:
        _delete_ids([notification_id])
    elif receipt is None:
        Receipt.insert(notification=notification_id, user_id=user_id, deleted_at=utc_now()).execute()
    else:
        (Receipt.update(deleted_at=utc_now())
         .where((Receipt.notification == notification_id) & (Receipt.user_id == user_id)).execute())
    return unread_counts({user_id: role}, {user_id: hidden}, cutoff)[user_id]


def mark_all_read(user_id: str, role: str, hidden: frozenset[str] | None, cutoff: dt.datetime) -> MarkedAllRead:
    """Mark every visible unread notification read; returns (ids changed, unreadCount)."""
    ids = [row.id for row in (Notification.select(Notification.id)
                              .join(Receipt, peewee.JOIN.LEFT_OUTER, on=_receipt_join(user_id))
                              .where(_visible(user_id, role, hidden, cutoff) & Receipt.read_at.is_null())
                              .order_by(Notification.id.desc()))]
    now = utc_now()
    for chunk in chunks(ids):
        have = {nid for (nid,) in tuples(Receipt.select(Receipt.notification)
                                         .where((Receipt.user_id == user_id) & Receipt.notification.in_(chunk)))}
        if have:
            (Receipt.update(read_at=now)
             .where((Receipt.user_id == user_id) & Receipt.notification.in_(sorted(have))).execute())
        missing = [{"notification": nid, "user_id": user_id, "read_at": now} for nid in chunk if nid not in have]
        if missing:
            Receipt.insert_many(missing).execute()
    return MarkedAllRead(ids, unread_counts({user_id: role}, {user_id: hidden}, cutoff)[user_id])


# --- unread counts ---------------------------------------------------------------------------------

def unread_parts(user_ids: Iterable[str], roles: Iterable[str], cutoff: dt.datetime) -> UnreadParts:
    """The parts of many users' unread counts in three grouped queries, whatever their number."""
    parts = UnreadParts()
    param = database_proxy.param
    for chunk in chunks(sorted(set(user_ids))):
        users = placeholders(len(chunk))
        own = ('SELECT n."recipient_user", n."type", COUNT(*) FROM "notification" n '
               'LEFT JOIN "notification_receipt" r '
               'ON r."notification_id" = n."id" AND r."user_id" = n."recipient_user" '
               f'WHERE n."recipient_user" IN ({users}) AND n."created_at" >= {param} '
               'AND r."read_at" IS NULL AND r."deleted_at" IS NULL GROUP BY n."recipient_user", n."type"')
        for user_id, type_, count in rows(own, [*chunk, cutoff]):
            parts.own[(user_id, type_)] += count
        seen = ('SELECT r."user_id", n."recipient_role", n."type", COUNT(*) FROM "notification_receipt" r '
                'JOIN "notification" n ON r."notification_id" = n."id" '
                f'WHERE r."user_id" IN ({users}) AND n."recipient_role" IS NOT NULL '
                f'AND n."created_at" >= {param} '
                'AND (r."read_at" IS NOT NULL OR r."deleted_at" IS NOT NULL) '
                'GROUP BY r."user_id", n."recipient_role", n."type"')
        for user_id, role, type_, count in rows(seen, [*chunk, cutoff]):
            parts.seen[(user_id, role, type_)] += count
    wanted_roles = sorted(set(roles))
    if wanted_roles:
        totals = (f'SELECT "recipient_role", "type", COUNT(*) FROM "notification" WHERE "recipient_role" IN '
                  f'({placeholders(len(wanted_roles))}) AND "created_at" >= {param} '
                  'GROUP BY "recipient_role", "type"')
        for role, type_, count in rows(totals, [*wanted_roles, cutoff]):
            parts.role_total[(role, type_)] += count
    return parts


def unread_counts(users: Mapping[str, str | None], hidden: Mapping[str, frozenset[str] | None],
                  cutoff: dt.datetime) -> dict[str, int]:
    """Unread counts for many users (user id -> role), in three queries."""
    parts = unread_parts(users, [role for role in users.values() if role], cutoff)
    return {user_id: parts.count(user_id, role, hidden.get(user_id, frozenset())) for user_id, role in users.items()}


# --- retention -------------------------------------------------------------------------------------

def purge_step(older_than: dt.datetime, keep_per_recipient: int, idempotency_older_than: dt.datetime) -> PurgeCounts:
    """One bounded slice of retention work (at most ``CHUNK`` rows per kind), so no transaction runs long.

    The caller repeats it until it returns zeros. Receipts go with their notification (ON DELETE CASCADE).
    """
    aged = _delete_ids([row.id for row in Notification.select(Notification.id)
                        .where(Notification.created_at < older_than).limit(CHUNK)])
    surplus = 0
    for column in (Notification.recipient_user, Notification.recipient_role):
        crowded = (Notification.select(column).where(column.is_null(False)).group_by(column)
                   .having(peewee.fn.COUNT(Notification.id) > keep_per_recipient).limit(CHUNK))
        for (recipient,) in tuples(crowded):
            if surplus >= CHUNK:
                break
            oldest_kept = (Notification.select(Notification.id).where(column == recipient)
                           .order_by(Notification.id.desc()).offset(keep_per_recipient - 1).limit(1).scalar())
            surplus += _delete_ids([row.id for row in Notification.select(Notification.id)
                                    .where((column == recipient) & (Notification.id < oldest_kept))
                                    .limit(CHUNK - surplus)])
    keys = 0
    stale = tuples(IdempotencyKey.select(IdempotencyKey.caller, IdempotencyKey.key)
                   .where(IdempotencyKey.created_at < idempotency_older_than).limit(CHUNK))
    for caller, key in stale:
        keys += IdempotencyKey.delete().where((IdempotencyKey.caller == caller) & (IdempotencyKey.key == key)).execute()
    return {"aged": aged, "surplus": surplus, "idempotencyKeys": keys}


def _delete_ids(ids: list[int]) -> int:
    if not ids:
        return 0
    Receipt.delete().where(Receipt.notification.in_(ids)).execute()  # also where foreign keys are not enforced
    return int(Notification.delete().where(Notification.id.in_(ids)).execute())
