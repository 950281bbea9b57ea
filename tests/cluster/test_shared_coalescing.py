"""Coalescing and statistics for the cluster, with two real server processes sharing the test Redis: updates of
one campaign published through both go out at most once per COALESCE_INTERVAL in all (the last value always
sent), and statistics pushed to A and to B are one merged set."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from websocket import WebSocketTimeoutException

from tests.cluster.conftest import ADMIN, subscribe

pytestmark = pytest.mark.redis
INTERVAL = 0.25


def frames_until_quiet(client, quiet: float) -> list[dict]:
    got = []
    while True:
        try:
            got.append(client.recv(timeout=quiet))
        except WebSocketTimeoutException:
            return got


def test_a_campaign_updated_through_two_processes_goes_out_once_per_interval_for_the_cluster(cluster):
    cluster.settings.update(COALESCE_INTERVAL=INTERVAL)
    a, b = cluster.start(2)
    campaign = uuid.uuid4().hex[:10]
    room = f"campaign:{campaign}"
    watchers = [a.connect("1"), b.connect("2")]
    for client in watchers:
        subscribe(client, room)
    sessions = {a.port: requests.Session(), b.port: requests.Session()}
    answers = []
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < INTERVAL * 8:  # a steady stream, alternating between the processes
        n += 1
        node = a if n % 2 else b
        response = sessions[node.port].post(node.url("/api/live-sync"), headers=ADMIN, timeout=10, json={
            "type": "CAMPAIGN_PROGRESS", "room": room, "data": {"campaignId": campaign, "sent": n}})
        assert response.status_code == 202, response.text
        answers.append(response.json())
    elapsed = time.monotonic() - started
    windows = elapsed / INTERVAL
    sent_now = [answer for answer in answers if not answer.get("coalesced")]
    for client in watchers:
        got = [f for f in frames_until_quiet(client, INTERVAL * 3) if f["type"] == "CAMPAIGN_PROGRESS"]
        values = [f["data"]["sent"] for f in got]
        assert values[-1] == n, values  # the last value always goes out
        assert values == sorted(values) and [f["offset"] for f in got] == list(range(1, len(got) + 1))
        assert len(got) <= windows + 2, (len(got), windows)  # per process it would be about twice that
        assert len(got) >= 3
    print(f"\n{n} updates through two processes in {elapsed:.2f}s ({windows:.1f} intervals): {len(got)} sent, "
          f"{len(sent_now)} of them at once (leading edge)")
    assert len(sent_now) <= windows + 1
    for session in sessions.values():
        session.close()


def test_statistics_pushed_to_two_processes_are_merged_into_one_set(cluster):
    cluster.settings.update(COALESCE_INTERVAL=INTERVAL)
    a, b = cluster.start(2)
    room = f"stats:{uuid.uuid4().hex[:10]}"
    watcher = b.connect("1")
    subscribe(watcher, room)

    def push(node, **figures):
        response = requests.post(node.url("/api/live-sync/stats"), headers=ADMIN, timeout=10,
                                 json={"stats": figures, "room": room})
        assert response.status_code == 202, response.text
        return response.json()

    assert push(a, contacts=10, leads=2)["offset"] == 1
    assert push(b, leads=3)["coalesced"] is True
    got = [f["data"] for f in frames_until_quiet(watcher, INTERVAL * 3) if f["type"] == "STATS_UPDATE"]
    assert got == [{"contacts": 10, "leads": 2}, {"contacts": 10, "leads": 3}]
    time.sleep(INTERVAL * 1.5)
    assert push(b, messages=7)["offset"] == 3  # a quiet interval: B leads, with the set A and B made
    assert watcher.recv_until(lambda f: f["type"] == "STATS_UPDATE")["data"] == {"contacts": 10, "leads": 3,
                                                                                  "messages": 7}
    late = a.connect("2")  # a new subscriber on A gets the merged set as the room's latest value
    subscribe(late, room)
    assert late.recv_until(lambda f: f["type"] == "STATS_UPDATE")["data"] == {"contacts": 10, "leads": 3,
                                                                               "messages": 7}
    status = requests.get(a.url("/api/live-sync"), headers=ADMIN, timeout=5).json()
    assert status["sharedWindows"] is True
