"""Event service, default rooms, statistics, coalescing and delivery tracking, over real sockets."""

import time

import gevent
import requests

from actors.protocol.events import EXAMPLES
from tests import stats_provider_example
from tests.client import WsClient
from tests.conftest import token, wait_until


def post(server, headers, path, body):
    return requests.post(f"http://127.0.0.1:{server.port}{path}", headers=headers, json=body, timeout=10)


def subscribed(server, sub, role, room):
    client = WsClient.open(server.port, token(sub, role))
    assert client.recv()["type"] == "CONNECTED"
    client.send("SUBSCRIBE", {"room": room})
    answer = client.recv()
    assert answer["type"] == "SUBSCRIBED", answer
    return client


def test_default_rooms_over_rest_reach_lead_watchers_and_the_assignee(server, admin_headers):
    watcher = subscribed(server, "7", "EMPLOYEE", "lead:9")
    assignee = WsClient.open(server.port, token("42", "EMPLOYEE"))
    assignee.recv()
    answer = post(server, admin_headers, "/api/live-sync", {"type": "LEAD_ASSIGNED", "data": EXAMPLES["LEAD_ASSIGNED"]})
    assert answer.status_code == 202
    body = answer.json()
    assert body["room"] == "lead:9" and [r["room"] for r in body["rooms"]] == ["lead:9", "user:42"]
    assert watcher.recv()["type"] == "LEAD_ASSIGNED"
    event = assignee.recv()
    assert event["type"] == "LEAD_ASSIGNED" and event["room"] == "user:42"
    watcher.close()
    assignee.close()


def test_payload_errors_are_400_with_fields_and_publish_nothing(server, admin_headers):
    watcher = subscribed(server, "1", "ADMIN", "campaign:7")
    bad = post(server, admin_headers, "/api/live-sync", {"type": "CAMPAIGN_STARTED", "data": {"total": "lots"}})
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {"data.campaignId": "required", "data.total": "must be a number"}
    good = post(server, admin_headers, "/api/live-sync", {"type": "CAMPAIGN_STARTED", "data": EXAMPLES["CAMPAIGN_STARTED"]})
    assert good.json()["offset"] == 1
    assert watcher.recv()["offset"] == 1
    watcher.close()


def test_the_in_process_event_service_shares_the_validated_path(server):
    admin = subscribed(server, "1", "ADMIN", "lead:5")
    events = server.system.events
    answer = events.lead_assigned("5", "1", assigned_by="2", name="Acme")
    assert [r["room"] for r in answer["rooms"]] == ["lead:5", "user:1"]
    first, second = admin.recv(), admin.recv()
    assert {first["room"], second["room"]} == {"lead:5", "user:1"}
    assert first["data"] == {"leadId": "5", "assignedTo": "1", "assignedBy": "2", "name": "Acme"}
    alert = events.system_alert("critical", "disk full", title="Storage")
    assert alert["room"] == "role:ADMIN"
    assert admin.recv()["data"]["level"] == "critical"
    import pytest

    from actors.errors import BadRequest
    with pytest.raises(BadRequest):
        events.campaign_progress("7", sent="half")
    admin.close()


def test_stats_are_merged_pushed_and_given_to_new_subscribers_at_once(start_server, admin_headers):
    server = start_server(coalesce_interval=0.05)
    first = post(server, admin_headers, "/api/live-sync/stats", {"stats": {"totalContacts": 10, "openLeads": 2}})
    assert first.status_code == 202 and first.json()["room"] == "stats:dashboard"
    gevent.sleep(0.1)
    post(server, admin_headers, "/api/live-sync/stats", {"stats": {"openLeads": 3}})
    gevent.sleep(0.1)
    late = WsClient.open(server.port, token("42", "EMPLOYEE"))
    late.recv()
    late.send("SUBSCRIBE", {"room": "stats:dashboard"})
    assert late.recv()["type"] == "SUBSCRIBED"
    latest = late.recv()
    assert latest["type"] == "STATS_UPDATE" and latest["data"] == {"totalContacts": 10, "openLeads": 3}
    status = requests.get(f"http://127.0.0.1:{server.port}/api/live-sync", headers=admin_headers, timeout=5).json()
    assert status["stats"]["stats:dashboard"]["figures"] == {"totalContacts": 10, "openLeads": 3}
    assert status["delivery"]["STATS_UPDATE"]["published"] == 2
    late.close()


def test_recompute_asks_the_provider_and_refreshes_periodically(start_server, admin_headers):
    server = start_server(stats_provider="tests.stats_provider_example:figures", stats_refresh_seconds=0.2,
                          coalesce_interval=0.01)
    watcher = subscribed(server, "1", "ADMIN", "stats:dashboard")
    before = stats_provider_example.calls
    answer = post(server, admin_headers, "/api/live-sync/stats", {"recompute": True})
    assert answer.status_code == 200 and answer.json()["stats"]["recomputed"] > before
    assert watcher.recv_until(lambda f: f["type"] == "STATS_UPDATE")["data"]["totalContacts"] > 1000
    assert wait_until(lambda: stats_provider_example.calls >= before + 3, timeout=3)  # the periodic refresh
    watcher.close()


def test_recompute_without_or_with_a_failing_provider(start_server, admin_headers):
    server = start_server()
    answer = post(server, admin_headers, "/api/live-sync/stats", {"recompute": True})
    assert answer.status_code == 409 and "STATS_PROVIDER" in answer.json()["error"]["message"]
    assert post(server, admin_headers, "/api/live-sync/stats", {"stats": 5}).status_code == 400
    broken = start_server(stats_provider="tests.stats_provider_example:broken")
    answer = post(broken, admin_headers, "/api/live-sync/stats", {"recompute": True})
    assert answer.status_code == 409 and "database unreachable" in answer.json()["error"]["message"]


def test_an_unknown_provider_is_refused_at_start(start_server):
    import pytest

    from actors.errors import ConfigError
    with pytest.raises(ConfigError):
        start_server(stats_provider="tests.nowhere:figures")


def test_employees_cannot_push_stats_or_read_sync_status(server):
    headers = {"Authorization": f"Bearer {token()}"}
    assert post(server, headers, "/api/live-sync/stats", {"stats": {"a": 1}}).status_code == 403
    assert requests.get(f"http://127.0.0.1:{server.port}/api/live-sync", headers=headers, timeout=5).status_code == 403


def test_coalescing_sends_at_most_one_per_interval_and_always_the_last(start_server, admin_headers):
    server = start_server(coalesce_interval=0.1)
    watcher = subscribed(server, "1", "ADMIN", "campaign:7")
    started = time.monotonic()
    for sent in range(1, 301):
        server.system.events.campaign_progress("7", sent, 300)
        if sent % 30 == 0:
            gevent.sleep(0.02)
    elapsed = time.monotonic() - started
    received = []
    while not received or received[-1]["data"]["sent"] != 300:
        received.append(watcher.recv(timeout=2))
    assert received[-1]["data"]["sent"] == 300, "the last value of the burst went out"
    assert len(received) <= elapsed / 0.1 + 3, (len(received), elapsed)
    assert [e["offset"] for e in received] == list(range(1, len(received) + 1)), "held updates take no offset"
    assert [e["data"]["sent"] for e in received] == sorted(e["data"]["sent"] for e in received)
    counts = server.system.metrics.delivery()["CAMPAIGN_PROGRESS"]
    assert counts["published"] == len(received) and counts["coalesced"] == 300 - len(received)
    watcher.close()


def test_coalescing_is_per_campaign(start_server, admin_headers):
    server = start_server(coalesce_interval=5)
    watcher = subscribed(server, "1", "ADMIN", "campaign:a")
    watcher.send("SUBSCRIBE", {"room": "campaign:b"})
    watcher.recv()
    first_a = post(server, admin_headers, "/api/live-sync", {"type": "CAMPAIGN_PROGRESS",
                                                             "data": {"campaignId": "a", "sent": 1}}).json()
    first_b = post(server, admin_headers, "/api/live-sync", {"type": "CAMPAIGN_PROGRESS",
                                                             "data": {"campaignId": "b", "sent": 1}}).json()
    held = post(server, admin_headers, "/api/live-sync", {"type": "CAMPAIGN_PROGRESS",
                                                          "data": {"campaignId": "a", "sent": 2}}).json()
    assert first_a["offset"] == 1 and first_b["offset"] == 1
    assert held.pop("traceId") and held == {"room": "campaign:a", "coalesced": True, "offset": None, "delivered": 0}
    assert {watcher.recv()["room"], watcher.recv()["room"]} == {"campaign:a", "campaign:b"}
    watcher.close()


def test_delivery_tracking_in_status(server, admin_headers):
    watchers = [subscribed(server, str(n), "EMPLOYEE", "lead:1") for n in range(3)]
    for _ in range(2):
        post(server, admin_headers, "/api/live-sync", {"type": "LEAD_UPDATED", "data": {"leadId": "1"}})
    for watcher in watchers:
        watcher.recv()
        watcher.recv()
    status = requests.get(f"http://127.0.0.1:{server.port}/api/ws", headers=admin_headers, timeout=5).json()
    assert status["delivery"]["LEAD_UPDATED"] == {"published": 2, "delivered": 6, "coalesced": 0, "dropped": 0}
    for watcher in watchers:
        watcher.close()
