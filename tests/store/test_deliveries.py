"""Delivery records on a real SQLite file and the real PostgreSQL: ACKs per device, first times kept, only what a user
receives, listing for ADMIN and for the recipient, and rows gone with their notification."""

import datetime as dt

import pytest

from actors.deliveries.repository import Ack
from actors.errors import NotFound
from actors.notifications.outcomes import CreateRequest
from actors.notifications.rules import parse_draft
from store import Store, migrate
from store import notifications as nt
from store.notifications.deliveries import Delivery, list_deliveries, record_acks
from store.notifications.repository import StoredNotifications

ROLES = ("ADMIN", "EMPLOYEE")
LONG_AGO = dt.datetime(2000, 1, 1)
T0 = dt.datetime(2030, 1, 1, 12, 0, 0)


@pytest.fixture
def store(database_url):
    s = Store(database_url)
    migrate(s)
    yield s
    s.close()


def create(store, **fields):
    body = {"title": "t", "message": "m", "type": "X", **fields}
    outcomes, _ = store.run(nt.create_batch, [CreateRequest("admin", parse_draft(body, ROLES), None)], {}, ROLES,
                            LONG_AGO, LONG_AGO)
    return int(outcomes[0].body["notifications"][0]["id"])


def ack(user, device, ids, seen, at, role="EMPLOYEE"):
    return Ack(user, role, device, tuple(ids), seen, at)


def test_the_first_ack_of_a_device_is_its_delivery_and_the_first_seen_its_seen_time(store):
    mine = create(store, userId="ann")
    later = T0 + dt.timedelta(seconds=5)
    repository = StoredNotifications(store)
    repository.record_acks([ack("ann", "laptop", [mine], False, T0), ack("ann", "phone", [mine], True, T0)], LONG_AGO)
    repository.record_acks([ack("ann", "laptop", [mine], True, later), ack("ann", "phone", [mine], True, later)],
                           LONG_AGO)  # seen later on the laptop; the phone's times stay
    rows = repository.list_deliveries(mine, "ann", "EMPLOYEE", False, LONG_AGO)
    assert rows == [
        {"userId": "ann", "device": "laptop", "deliveredAt": "2030-01-01T12:00:00.000Z",
         "seenAt": "2030-01-01T12:00:05.000Z"},
        {"userId": "ann", "device": "phone", "deliveredAt": "2030-01-01T12:00:00.000Z",
         "seenAt": "2030-01-01T12:00:00.000Z"},
    ]


def test_acks_of_notifications_the_user_does_not_receive_are_skipped(store):
    anns = create(store, userId="ann")
    role = create(store, role="EMPLOYEE")
    admins = create(store, role="ADMIN")
    written = store.run(record_acks, [ack("bob", "pc", [anns, role, admins, 999_999], True, T0)], LONG_AGO)
    assert written == 1  # only the EMPLOYEE role's notification reaches bob
    assert store.run(lambda: [(d.notification_id, d.user_id) for d in Delivery.select()]) == [(role, "bob")]
    too_old = store.run(record_acks, [ack("ann", "pc", [anns], True, T0)], T0 + dt.timedelta(days=1))
    assert too_old == 0  # past the retention age: as if it did not exist


def test_admin_lists_every_recipients_devices_a_recipient_only_their_own(store):
    role = create(store, role="EMPLOYEE")
    store.run(record_acks, [ack("ann", "a1", [role], True, T0), ack("bob", "b1", [role], False, T0),
                            ack("ann", "a2", [role], False, T0 + dt.timedelta(seconds=1))], LONG_AGO)
    everyone = store.run(list_deliveries, role, "1", "ADMIN", True, LONG_AGO)
    assert [(r["userId"], r["device"]) for r in everyone] == [("ann", "a1"), ("bob", "b1"), ("ann", "a2")]
    assert [r["device"] for r in store.run(list_deliveries, role, "ann", "EMPLOYEE", False, LONG_AGO)] == ["a1", "a2"]
    assert store.run(list_deliveries, role, "cat", "EMPLOYEE", False, LONG_AGO) == []  # a recipient with no device yet
    with pytest.raises(NotFound):
        store.run(list_deliveries, role, "dan", "SERVICE", False, LONG_AGO)  # not a recipient: not found
    with pytest.raises(NotFound):
        store.run(list_deliveries, 999_999, "1", "ADMIN", True, LONG_AGO)


def test_records_go_with_their_notification(store):
    mine = create(store, userId="ann")
    store.run(record_acks, [ack("ann", "pc", [mine], True, T0)], LONG_AGO)
    store.run(nt.delete_for, mine, "ann", "EMPLOYEE", frozenset(), LONG_AGO)
    assert store.run(lambda: Delivery.select().count()) == 0


def test_the_migration_is_numbered_and_recorded(store):
    from store.migrations import SchemaVersion

    assert store.run(lambda: {row.version: row.name for row in SchemaVersion.select()})[2] == "notification deliveries"
