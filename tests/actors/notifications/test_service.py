"""NotificationService with the store's repository on a real SQLite file and the real PostgreSQL.

The service is driven through ``ActorSystem`` in the server process (no HTTP in between), its pushes
are read by real WebSocket clients, and what was committed is read through a connection of its own,
so "committed" means visible to another process, not just to the service's own connection.
"""

import sqlite3
import time

import gevent
import pytest

from actors.errors import Conflict
from actors.identity import Identity
from actors.notifications.rules import parse_draft, parse_preferences
from tests.client import WsClient
from tests.conftest import token

ADMIN = Identity("1", "ADMIN", exp=int(time.time()) + 3600)
ANN, BOB = ("7", "EMPLOYEE"), ("8", "EMPLOYEE")


@pytest.fixture
def srv(start_server, database_url):
    return start_server(database_url=database_url)


@pytest.fixture
def sockets(srv):
    opened = []

    def open_socket(user):
        client = WsClient.open(srv.port, token(*user))
        opened.append(client)
        assert client.recv()["type"] == "CONNECTED"
        return client

    yield open_socket
    for client in opened:
        client.close()


def draft(srv, **fields):
    body = {"title": "Lead assigned", "message": "Lead 9 is yours", "type": "LEAD_ASSIGNED", **fields}
    return parse_draft(body, srv.settings.roles)


def create(srv, key=None, **fields):
    return srv.system.create_notifications(ADMIN, draft(srv, **fields), key)


def attempt(srv, key=None, **fields):
    """``create``, with a refusal returned instead of raised (a failed greenlet would print it)."""
    try:
        return create(srv, key, **fields)
    except Conflict as refused:
        return refused


def committed(database_url):
    """(id, title) of every notification another connection sees: only committed rows."""
    sql = 'SELECT "id", "title" FROM "notification" ORDER BY "id"'
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url[len("sqlite:///"):])
        try:
            return [(str(nid), title) for nid, title in conn.execute(sql)]
        finally:
            conn.close()
    import psycopg2

    conn = psycopg2.connect(database_url.replace("postgresql://", "postgres://"))
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        return [(str(nid), title) for nid, title in cursor.fetchall()]
    finally:
        conn.close()


def next_push(client):
    return client.recv_until(lambda f: f["type"] == "NOTIFICATION")["data"]


def test_a_create_is_answered_after_its_commit_and_pushed_after_the_answer(srv, sockets, database_url):
    ann, bob = sockets(ANN), sockets(BOB)
    outcome = create(srv, userId="7", title="direct")
    assert outcome.created and not outcome.replayed and outcome.error is None
    [stored] = outcome.body["notifications"]
    assert committed(database_url) == [(stored["id"], "direct")]  # answered: already visible elsewhere

    push = next_push(ann)
    assert push["notification"] == stored and push["unreadCount"] == 1
    role = create(srv, role="EMPLOYEE", title="to the role")
    [shared] = role.body["notifications"]
    for client, unread in ((ann, 2), (bob, 1)):  # connected holders of the role get it, with their own counts
        push = next_push(client)
        assert push["notification"] == shared and push["unreadCount"] == unread
        assert (shared["id"], "to the role") in committed(database_url)  # pushed: it exists


def test_an_idempotent_retry_gets_the_first_answer_and_nothing_is_stored_or_pushed_again(srv, sockets,
                                                                                          database_url):
    ann = sockets(ANN)
    first = create(srv, key="retry-1", userId="7", title="once")
    again = create(srv, key="retry-1", userId="7", title="once")
    together = [gevent.spawn(create, srv, "retry-1", userId="7", title="once") for _ in range(5)]
    gevent.joinall(together, raise_error=True)
    assert first.created and not first.replayed
    for outcome in (again, *(g.value for g in together)):
        assert outcome.replayed and outcome.created and outcome.body == first.body and not outcome.recipients
    assert [title for _, title in committed(database_url)] == ["once"]

    create(srv, userId="7", title="next")
    assert next_push(ann)["notification"]["title"] == "once"
    assert next_push(ann)["notification"]["title"] == "next"  # no push for any of the retries in between


def test_a_failing_request_fails_alone_and_the_rest_of_its_batch_commits_and_pushes(srv, sockets, database_url):
    ann = sockets(ANN)
    create(srv, key="taken", userId="7", title="original")
    assert next_push(ann)["notification"]["title"] == "original"

    # queued together, so the service stores them in one batch (one transaction)
    batch = [gevent.spawn(attempt, srv, key="taken", userId="7", title="another body, same key"),
             gevent.spawn(attempt, srv, userId="7", title="plain"),
             gevent.spawn(attempt, srv, key="fresh", userId="7", title="keyed")]
    refused, plain, keyed = (g.get(timeout=10) for g in batch)
    assert isinstance(refused, Conflict)
    assert plain.created and keyed.created and not keyed.replayed
    assert sorted(title for _, title in committed(database_url)) == ["keyed", "original", "plain"]
    pushed = {next_push(ann)["notification"]["title"] for _ in range(2)}
    assert pushed == {"plain", "keyed"}
    create(srv, userId="7", title="last")
    assert next_push(ann)["notification"]["title"] == "last"  # nothing was pushed for the refused one


def test_every_recipient_skipped_is_not_a_failure_and_creates_nothing(srv, database_url):
    srv.system.set_notification_preferences(Identity("7", "EMPLOYEE", exp=ADMIN.exp),
                                            parse_preferences({"types": {"QUIET": False}}))
    outcome = create(srv, key="skip", userId="7", type="QUIET")
    assert not outcome.created and outcome.error is None
    assert outcome.body == {"notifications": [], "skipped": [{"userId": "7", "reason": "TYPE_DISABLED"}]}
    retried = create(srv, key="skip", userId="7", type="QUIET")  # the stored answer says "nothing created" too
    assert retried.replayed and not retried.created and retried.body == outcome.body
    assert committed(database_url) == []
