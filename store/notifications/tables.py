"""The notification center's tables and the migration step that creates them.

One row per notification: per user for ``userId``/``userIds``, once per role for ``role``. Read
and deleted state is per user in ``notification_receipt`` (created lazily, so creating stays one
insert). JSON is stored as text so SQLite and PostgreSQL behave the same. Idempotency rests on the
primary key (caller, key) of ``idempotency_key``.
"""

from __future__ import annotations

import peewee

from ..database import BaseModel
from ..migrations import register


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
    """The answer given to (caller, key), replayed to retries within the TTL.

    ``status`` is 201 when the first answer created notifications and 200 when it created none: the
    HTTP status that answer had when the column was introduced. Rows already written use it, so it
    stays; ``idempotency`` translates it to and from ``CreateOutcome.created``.
    """

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
