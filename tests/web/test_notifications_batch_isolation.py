"""Nothing one caller sends can fail another caller's notification, over real HTTP and through the service.

Concurrent creates are committed together (one transaction per batch); one bad request used to fail
its whole batch with 503, and the others were not stored.
"""

from __future__ import annotations

import time

import gevent
import pytest
import requests

from actors.identity import Identity
from actors.notifications.rules import Draft
from tests.conftest import token

ADMIN = Identity("1", "ADMIN", exp=int(time.time()) + 3600)


@pytest.fixture
def srv(start_server, database_url):
    return start_server(database_url=database_url)


def _listing(srv, user: str) -> list[dict]:
    response = requests.get(f"http://127.0.0.1:{srv.port}/api/notifications?limit=100",
                            headers={"Authorization": f"Bearer {token(user)}"}, timeout=10)
    assert response.status_code == 200
    return response.json()["notifications"]


def test_twelve_concurrent_creates_with_one_bad_title(srv):
    headers = {"Authorization": f"Bearer {token('1', 'ADMIN')}", "Content-Type": "application/json"}
    url = f"http://127.0.0.1:{srv.port}/api/notifications"

    def post(user: str, title: str) -> requests.Response:
        body = f'{{"userId":"{user}","title":"{title}","message":"m","type":"LEAD_ASSIGNED"}}'
        return requests.post(url, data=body.encode(), headers=headers, timeout=10)

    for round_ in range(5):
        jobs = [gevent.spawn(post, f"r{round_}u{i}", "\\udc80" if i == 6 else f"hello {i}") for i in range(12)]
        gevent.joinall(jobs, raise_error=True)
        answers = [job.value for job in jobs]
        bad = answers.pop(6)
        assert bad.status_code == 400, bad.text
        assert bad.json()["error"]["code"] == "BAD_REQUEST" and "title" in bad.json()["error"]["fields"]
        assert [a.status_code for a in answers] == [201] * 11, [a.text for a in answers if a.status_code != 201]
    for round_ in range(5):
        for i in range(12):
            assert len(_listing(srv, f"r{round_}u{i}")) == (0 if i == 6 else 1)


def test_a_request_the_database_cannot_store_fails_alone_in_its_batch(srv):
    """A draft that skipped the door (the service's callers are trusted code) still fails only itself."""
    def create(user: str, title: str):
        return srv.system.create_notifications(ADMIN, Draft((user,), None, title, "m", "X", "NORMAL"), None)

    jobs = [gevent.spawn(create, f"s{i}", "\udc80" if i == 4 else "fine") for i in range(12)]
    gevent.joinall(jobs)
    assert [i for i, job in enumerate(jobs) if not job.successful()] == [4]
    assert jobs[4].exception.http_status == 503
    assert all(job.value.created for i, job in enumerate(jobs) if i != 4)
    for i in range(12):
        assert len(_listing(srv, f"s{i}")) == (0 if i == 4 else 1)
