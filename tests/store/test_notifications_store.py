"""The notification tables and queries on a real SQLite file and the real PostgreSQL."""

import datetime as dt
import json
import sqlite3

import gevent
import pytest

from actors.errors import Conflict, NotFound
from actors.notifications.outcomes import CreateRequest, assign_counts
from actors.notifications.rules import parse_draft, parse_preferences
from store import Store, migrate
from store import notifications as nt
from web.api.notifications import http_status

ROLES = ("ADMIN", "EMPLOYEE")
LONG_AGO = dt.datetime(2000, 1, 1)
ALL = frozenset()


@pytest.fixture
def store(database_url):
    s = Store(database_url)
    migrate(s)
    yield s
    s.close()


def draft(**fields):
    body = {"title": "t", "message": "m", "type": "X", **fields}
    if not any(k in body for k in ("userId", "userIds", "role")):
        body["userId"] = "a"
    return parse_draft(body, ROLES)


def create(store, *requests, connected=None, idempotency_cutoff=LONG_AGO):
    """What the service does: store a batch, then finish the counts with the roles it knows."""
    outcomes, parts = store.run(nt.create_batch, list(requests), connected or {}, ROLES, LONG_AGO,
                                idempotency_cutoff)
    assign_counts(outcomes, parts, connected or {})
    return outcomes


def listing(store, user, role="EMPLOYEE", **kw):
    args = dict(hidden=ALL, cutoff=LONG_AGO, unread_only=False, limit=100, before=None)
    args.update(kw)
    return store.run(nt.list_for, user, role, args["hidden"], args["cutoff"], args["unread_only"], args["limit"],
                     args["before"])


def ids(page):
    return [n["id"] for n in page["notifications"]]


def test_a_role_notification_is_one_row_with_read_and_deleted_state_per_user(store):
    [outcome] = create(store, CreateRequest("admin", draft(role="EMPLOYEE")))
    nid = int(outcome.body["notifications"][0]["id"])
    assert store.run(lambda: nt.Notification.select().count()) == 1
    for user in ("ann", "bob"):
        assert listing(store, user)["unreadCount"] == 1
    assert listing(store, "ceo", role="ADMIN")["notifications"] == []

    _, changed, count = store.run(nt.mark_read, nid, "ann", "EMPLOYEE", ALL, LONG_AGO, True)
    assert changed and count == 0
    assert listing(store, "bob")["unreadCount"] == 1
    assert store.run(nt.delete_for, nid, "bob", "EMPLOYEE", ALL, LONG_AGO) == 0
    assert listing(store, "bob")["notifications"] == []
    assert ids(listing(store, "ann")) == [str(nid)] and listing(store, "ann")["notifications"][0]["read"]
    assert store.run(lambda: nt.Notification.select().count()) == 1  # still there for the others
    with pytest.raises(NotFound):
        store.run(nt.mark_read, nid, "ceo", "ADMIN", ALL, LONG_AGO, True)
    with pytest.raises(NotFound):
        store.run(nt.delete_for, nid, "bob", "EMPLOYEE", ALL, LONG_AGO)  # already deleted for bob


def test_pages_are_newest_first_and_complete(store):
    outcomes = create(store, *[CreateRequest("admin", draft(userId="a", title=f"n{i}", data={"i": i}))
                               for i in range(7)])
    stored = {n["id"]: (n["title"], n["data"]) for n in listing(store, "a")["notifications"]}
    answered = {n["id"]: (n["title"], n["data"]) for o in outcomes for n in o.body["notifications"]}
    assert answered == stored and len(stored) == 7  # every answer names its own row (ids from one multi-row insert)
    create(store, CreateRequest("admin", draft(userIds=["a", "b"])))
    seen, before = [], None
    while True:
        page = listing(store, "a", limit=3, before=before)
        seen += ids(page)
        before = page["nextCursor"]
        if before is None:
            break
        before = int(before)
    assert len(seen) == 8 and seen == sorted(seen, key=int, reverse=True)
    assert ids(listing(store, "b")) == [str(int(seen[0]) + 1)]  # userIds: one row per user, in order
    store.run(nt.mark_read, int(seen[1]), "a", "EMPLOYEE", ALL, LONG_AGO, True)
    unread = listing(store, "a", unread_only=True)
    assert seen[1] not in ids(unread) and unread["unreadCount"] == 7 == len(ids(unread))


def test_batch_counts_are_as_of_each_notification(store):
    outcomes = create(store, *[CreateRequest("admin", draft(userId="a")) for _ in range(3)],
                      CreateRequest("admin", draft(role="EMPLOYEE")), connected={"a": "EMPLOYEE", "z": "ADMIN"})
    counts = [r.unread_count for o in outcomes for r in o.recipients]
    assert counts == [1, 2, 3, 4]  # the role notification reaches a (connected EMPLOYEE), not z (ADMIN)
    assert [r.user_id for r in outcomes[3].recipients] == ["a"]


def test_the_same_key_gives_one_row_and_the_original_answer(store):
    first = CreateRequest("admin", draft(userId="a"), key="k1")
    outcomes = create(store, first, first)
    assert [o.replayed for o in outcomes] == [False, True]
    assert outcomes[1].body == outcomes[0].body and http_status(outcomes[1]) == 201 and not outcomes[1].recipients
    [later] = create(store, first)
    assert later.replayed and later.body == outcomes[0].body
    [other] = create(store, CreateRequest("admin", draft(userId="a", title="changed"), key="k1"))
    assert isinstance(other.error, Conflict)
    [someone_else] = create(store, CreateRequest("admin2", draft(userId="a"), key="k1"))
    assert not someone_else.replayed
    assert store.run(lambda: nt.Notification.select().count()) == 2
    mixed = create(store, CreateRequest("admin", draft(userId="a"), key="k2"),
                   CreateRequest("admin", draft(userId="b"), key="k2"),  # same key, other body, same batch
                   CreateRequest("admin", draft(userId="a", title="changed"), key="k1"),
                   CreateRequest("admin", draft(userId="c")))
    assert [http_status(o) for o in mixed] == [201, 409, 409, 201]
    assert isinstance(mixed[1].error, Conflict) and isinstance(mixed[2].error, Conflict)
    assert store.run(lambda: nt.Notification.select().count()) == 4


def test_an_expired_key_creates_again(store):
    request = CreateRequest("admin", draft(userId="a"), key="k1")
    create(store, request)
    [again] = create(store, request, idempotency_cutoff=dt.datetime.now(dt.UTC).replace(tzinfo=None)
                     + dt.timedelta(seconds=1))
    assert not again.replayed and store.run(lambda: nt.Notification.select().count()) == 2


def _hold_key_uncommitted(database_url, request, body):
    """Another connection (another server process, say) inserts the same key and has not committed yet."""
    row = ("admin", request.key, request.draft.fingerprint(), 201, json.dumps(body))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url[len("sqlite:///"):], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO idempotency_key (caller, key, fingerprint, status, response, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (*row, str(now)))
        return conn
    import psycopg2

    conn = psycopg2.connect(database_url.replace("postgresql://", "postgres://"))
    conn.cursor().execute("INSERT INTO idempotency_key (caller, key, fingerprint, status, response, created_at) "
                          "VALUES (%s, %s, %s, %s, %s, %s)", (*row, now))
    return conn


def test_a_concurrent_retry_on_another_connection_wins_and_this_one_creates_nothing(store, database_url):
    request = CreateRequest("admin", draft(userId="a"), key="race")
    original = {"notifications": [{"id": "999"}], "skipped": []}
    other = _hold_key_uncommitted(database_url, request, original)
    try:
        ours = gevent.spawn(create, store, request)
        gevent.sleep(0.5)
        assert not ours.ready()  # waiting for the other transaction's lock, not failing
        other.commit()
        [outcome] = ours.get(timeout=10)
    finally:
        other.close()
    assert outcome.replayed and outcome.body == original and not outcome.recipients
    assert store.run(lambda: nt.Notification.select().count()) == 0


def test_hidden_types_are_neither_listed_nor_counted(store):
    create(store, CreateRequest("admin", draft(userId="a", type="NOISY")),
           CreateRequest("admin", draft(role="EMPLOYEE", type="NOISY")),
           CreateRequest("admin", draft(userId="a", type="QUIET")))
    page = listing(store, "a", hidden=frozenset({"NOISY"}))
    assert [n["type"] for n in page["notifications"]] == ["QUIET"] and page["unreadCount"] == 1
    nothing = listing(store, "a", hidden=None)  # in-app channel off
    assert nothing["notifications"] == [] and nothing["unreadCount"] == 0


def test_switched_off_types_are_skipped_with_the_reason(store):
    store.run(nt.put_preferences, "b", parse_preferences({"types": {"X": False}}))
    store.run(nt.put_preferences, "c", parse_preferences({"channels": {"inApp": False}}))
    [outcome] = create(store, CreateRequest("admin", draft(userIds=["a", "b", "c"])))
    assert [n["userId"] for n in outcome.body["notifications"]] == ["a"]
    assert outcome.body["skipped"] == [{"userId": "b", "reason": "TYPE_DISABLED"},
                                       {"userId": "c", "reason": "IN_APP_DISABLED"}]
    assert store.run(nt.get_preferences, "b").skip_reason("X") == "TYPE_DISABLED"


def test_unread_counts_for_many_users_match_their_listings(store):
    users = {f"u{i}": ("EMPLOYEE" if i % 2 else "ADMIN") for i in range(6)}
    create(store, *[CreateRequest("admin", draft(userIds=list(users)[: i + 1], type=f"T{i % 3}"))
                    for i in range(6)],
           CreateRequest("admin", draft(role="EMPLOYEE", type="T0")),
           CreateRequest("admin", draft(role="ADMIN", type="T1")),
           CreateRequest("admin", draft(role="EMPLOYEE", type="T2")))
    for user, role in list(users.items())[::2]:
        first = ids(listing(store, user, role=role))[0]
        store.run(nt.mark_read, int(first), user, role, ALL, LONG_AGO, True)
    store.run(nt.mark_all_read, "u5", "EMPLOYEE", frozenset({"T2"}), LONG_AGO)
    hidden = {u: frozenset({"T1"}) if u == "u3" else ALL for u in users}
    counts = store.run(nt.unread_counts, users, hidden, LONG_AGO)
    for user, role in users.items():
        page = listing(store, user, role=role, hidden=hidden[user], unread_only=True)
        assert counts[user] == len(page["notifications"]) == page["unreadCount"], user


def test_retention_drops_old_rows_surplus_rows_and_stale_keys(store):
    create(store, *[CreateRequest("admin", draft(userId="a"), key=f"k{i}") for i in range(6)],
           *[CreateRequest("admin", draft(role="EMPLOYEE")) for _ in range(4)],
           CreateRequest("admin", draft(userId="b")))
    newest_a = ids(listing(store, "a", role="NONE"))
    old = dt.datetime(2001, 1, 1)
    store.run(lambda: nt.Notification.update(created_at=old).where(nt.Notification.recipient_user == "b").execute())
    store.run(nt.mark_read, int(newest_a[-1]), "a", "NONE", ALL, LONG_AGO, True)  # a receipt to cascade
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    totals = {"aged": 0, "surplus": 0, "idempotencyKeys": 0}
    while True:
        step = store.run(nt.purge_step, dt.datetime(2002, 1, 1), 3, now + dt.timedelta(seconds=1))
        if not any(step.values()):
            break
        totals = {k: totals[k] + step[k] for k in totals}
    assert totals == {"aged": 1, "surplus": 3 + 1, "idempotencyKeys": 6}
    assert ids(listing(store, "a", role="NONE")) == newest_a[:3]
    assert len(ids(listing(store, "x", role="EMPLOYEE"))) == 3
    assert ids(listing(store, "b", role="NONE")) == []
    assert store.run(lambda: nt.Receipt.select().count()) == 0
    assert store.run(lambda: nt.IdempotencyKey.select().count()) == 0


def test_rows_past_the_age_limit_are_invisible_before_the_purge_runs(store):
    create(store, CreateRequest("admin", draft(userId="a")))
    nid = int(ids(listing(store, "a"))[0])
    future = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=1)
    page = listing(store, "a", cutoff=future)
    assert page["notifications"] == [] and page["unreadCount"] == 0
    with pytest.raises(NotFound):
        store.run(nt.mark_read, nid, "a", "EMPLOYEE", ALL, future, True)
