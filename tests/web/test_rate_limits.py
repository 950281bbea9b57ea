"""REST rate limits per token over real HTTP: 429 RATE_LIMITED with Retry-After and the documented body."""

from __future__ import annotations

import requests

from tests.conftest import token
from web.rate_limits import Buckets, retry_after


def get(port: int, path: str, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{port}{path}", headers=headers or {}, timeout=5)


def bearer(sub: str, role: str, **kwargs) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, role, **kwargs)}"}


def test_past_the_burst_a_token_gets_429_with_retry_after(start_server):
    server = start_server(rest_rate_limit_per_second=0.2, rest_rate_limit_burst=3)
    alice = bearer("alice", "EMPLOYEE")
    assert [get(server.port, "/api/ws", alice).status_code for _ in range(3)] == [200, 200, 200]
    refused = get(server.port, "/api/notifications/preferences", alice)  # any REST call spends the same budget
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "RATE_LIMITED" and error["retryAfter"] == int(refused.headers["Retry-After"])
    assert 1 <= int(refused.headers["Retry-After"]) <= 5  # one request back at 0.2/s: 5 s at most
    assert "per second" in error["message"]

    fresh = bearer("alice", "EMPLOYEE", ttl=7200)  # a new token for the same user shares the budget
    assert get(server.port, "/api/ws", fresh).status_code == 429
    assert get(server.port, "/api/ws", bearer("bob", "EMPLOYEE")).status_code == 200  # another user has their own
    assert get(server.port, "/healthz").status_code == 200  # probes are never limited
    assert get(server.port, "/api/ws", {"Authorization": "Bearer forged"}).status_code == 401  # not counted, not 429


def test_publishes_have_a_budget_of_their_own(start_server):
    server = start_server(publish_rate_limit_per_second=0.2, publish_rate_limit_burst=2, rest_rate_limit_burst=50)
    service = bearer("billing", "SERVICE")
    post = lambda: requests.post(f"http://127.0.0.1:{server.port}/api/live-sync", headers=service,  # noqa: E731
                                 json={"type": "LEAD_CREATED", "room": "lead:1", "data": {"leadId": "1"}}, timeout=5)
    answers = [post() for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[2].json()["error"]["code"] == "RATE_LIMITED" and "X-Trace-Id" in answers[2].headers
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert get(server.port, "/api/ws", service).status_code == 200  # reading status is the other budget


def test_zero_turns_a_limit_off(start_server):
    server = start_server(rest_rate_limit_per_second=0, rest_rate_limit_burst=1)
    alice = bearer("alice", "EMPLOYEE")
    assert {get(server.port, "/api/ws", alice).status_code for _ in range(20)} == {200}


def test_buckets_refill_at_their_rate_and_forget_the_least_recent_caller():
    buckets = Buckets(rate=2.0, burst=2, max_keys=2)
    assert buckets.take("a", now=0.0) == 0.0 and buckets.take("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) == 0.5  # empty: one token back in half a second at 2/s
    assert buckets.take("a", now=0.5) == 0.0  # refilled
    assert retry_after(0.01) == 1 and retry_after(1.2) == 2
    buckets.take("b", now=1.0)
    buckets.take("c", now=1.0)  # a third caller: "a", the least recent, is forgotten
    assert len(buckets) == 2 and buckets.take("a", now=1.0) == 0.0 and buckets.refused == 1
