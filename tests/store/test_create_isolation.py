"""One bad request in a notification batch fails alone, on a real SQLite file and the real PostgreSQL.

The drafts here skip ``parse_draft`` on purpose: it refuses such text at the door, and these tests are
about what the store does with whatever still gets through (text one database cannot keep).
"""

from __future__ import annotations

import datetime as dt

import pytest

from actors.errors import NotFound, RealtimeError
from actors.notifications.outcomes import CreateRequest
from actors.notifications.rules import Draft
from store import Store, migrate
from store import notifications as nt

ROLES = ("ADMIN", "EMPLOYEE")
LONG_AGO = dt.datetime(2000, 1, 1)


@pytest.fixture
def store(database_url):
    s = Store(database_url)
    migrate(s)
    yield s
    s.close()


def request(user: str, title: str = "t", key: str | None = None) -> CreateRequest:
    return CreateRequest("1", Draft((user,), None, title, "m", "X", "NORMAL"), key)


def count(store: Store) -> int:
    return store.run(lambda: nt.Notification.select().count())


@pytest.mark.parametrize("bad_title", ["\udc80", "a\udfffb"])
@pytest.mark.parametrize("bad_at", [0, 5, 11])
def test_text_that_cannot_be_encoded_fails_only_its_own_request(store, bad_title, bad_at):
    requests = [request(f"u{i}", key=f"k{i}") for i in range(12)]
    requests[bad_at] = request(f"u{bad_at}", bad_title, key=f"k{bad_at}")
    outcomes, _ = store.run(nt.create_batch, requests, {}, ROLES, LONG_AGO, LONG_AGO)
    failed = [i for i, o in enumerate(outcomes) if o.error is not None]
    assert failed == [bad_at]
    assert isinstance(outcomes[bad_at].error, RealtimeError)
    assert all(o.created for i, o in enumerate(outcomes) if i != bad_at)
    assert count(store) == 11
    # the good requests' keys were stored: a retry replays, and creates nothing
    retry, _ = store.run(nt.create_batch, [request("u1" if bad_at != 1 else "u2", key="k1")], {}, ROLES,
                         LONG_AGO, LONG_AGO)
    assert retry[0].replayed and count(store) == 11


def test_nul_in_text_fails_alone_where_the_database_refuses_it(store):
    """PostgreSQL's text type refuses NUL, SQLite keeps it: either way the other eleven are stored."""
    requests = [request(f"u{i}") for i in range(12)]
    requests[3] = request("u3", "a\x00b")
    outcomes, _ = store.run(nt.create_batch, requests, {}, ROLES, LONG_AGO, LONG_AGO)
    assert all(o.created for i, o in enumerate(outcomes) if i != 3)
    assert count(store) == 11 + (outcomes[3].error is None)


def test_an_error_in_the_worker_is_raised_in_the_caller_with_its_type_and_no_print(store, capfd):
    def missing():
        raise NotFound("no notification 5")

    capfd.readouterr()
    with pytest.raises(NotFound, match="no notification 5") as raised:
        store.run(missing)
    assert "missing" in "".join(str(entry.name) for entry in raised.traceback)  # the worker's frames are kept
    assert "Traceback" not in capfd.readouterr().err
    assert store.run(lambda: 7) == 7  # the worker lives on
