"""``GET /metrics``: scraped over real HTTP after real socket traffic, parsed as Prometheus parses it."""

from __future__ import annotations

import os
import socket

import pytest
import requests
import websocket
from prometheus_client.parser import text_string_to_metric_families

from tests.client import SseClient, WsClient
from tests.conftest import token, wait_until

METRICS_TOKEN = "scrape-token-0123456789"
AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def scrape(port: int, headers: dict[str, str] | None = AUTH) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one scrape: (name, sorted labels without node) -> value; all carry the same node."""
    response = requests.get(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = {}
    nodes = set()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = dict(sample.labels)
            nodes.add(labels.pop("node", None))
            samples[(sample.name, tuple(sorted(labels.items())))] = sample.value
    assert len(nodes) == 1 and None not in nodes, f"every sample carries one node label: {nodes}"
    samples[("node", ())] = nodes.pop()
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def post(server, path, body, sub="1", role="ADMIN", headers=None):
    return requests.post(f"http://127.0.0.1:{server.port}{path}", json=body, timeout=5,
                         headers={"Authorization": f"Bearer {token(sub, role)}", **(headers or {})})


def test_metrics_are_not_served_without_a_token_or_a_port(server):
    response = requests.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "METRICS_TOKEN" in message and "METRICS_PORT" in message


def test_the_main_port_wants_the_metrics_token(start_server):
    server = start_server(metrics_token=METRICS_TOKEN)
    url = f"http://127.0.0.1:{server.port}/metrics"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer wrong-token-0123456789"}, timeout=5).status_code == 401
    # a user's JWT is not the metrics token either, not even an admin's
    assert requests.get(url, headers={"Authorization": f"Bearer {token('1', 'ADMIN')}"}, timeout=5).status_code == 401
    samples = scrape(server.port)
    assert value(samples, "realtime_connections", transport="websocket") == 0
    assert samples[("node", ())] == f"{socket.gethostname()}:{os.getpid()}"  # the default: host:pid
    assert value(samples, "process_cpu_seconds_total") > 0  # prometheus_client's process metrics, labelled too
    assert any(name == "python_gc_collections_total" for name, _ in samples)


def test_the_figures_move_with_real_traffic(start_server):
    server = start_server(metrics_token=METRICS_TOKEN, node_name="node-a")
    before = scrape(server.port)
    assert before[("node", ())] == "node-a"

    # two WebSockets and one SSE stream
    alice = WsClient.open(server.port, token("42", "EMPLOYEE"))
    assert alice.recv()["type"] == "CONNECTED"
    bob = WsClient.open(server.port, token("43", "EMPLOYEE"))
    assert bob.recv()["type"] == "CONNECTED"
    stream = SseClient(server.port, token("44", "EMPLOYEE"), rooms="lead:9")
    assert stream.next_of("SUBSCRIBED")
    # refusals: a SUBSCRIBE to another user's room (FORBIDDEN), a bad room name, a handshake with a bad token
    alice.send("SUBSCRIBE", {"room": "user:99"}, id="f")
    assert alice.recv()["data"]["code"] == "FORBIDDEN"
    alice.send("SUBSCRIBE", {"room": "nope:1"}, id="i")
    assert alice.recv()["data"]["code"] == "INVALID_ROOM"
    with pytest.raises(websocket.WebSocketBadStatusException):
        WsClient.open(server.port, "not-a-token")
    # events published over REST to a room with two members
    alice.send("SUBSCRIBE", {"room": "lead:9"}, id="s")
    subscribed = alice.recv()
    for n in range(3):
        assert post(server, "/api/live-sync", {"type": "LEAD_UPDATED", "room": "lead:9",
                                               "data": {"leadId": "9", "n": n}}).status_code == 202
        assert alice.recv()["type"] == "LEAD_UPDATED"
        assert stream.next_of("LEAD_UPDATED")
    # recoveries: one that can be replayed, one from an epoch the room never had
    bob.send("SUBSCRIBE", {"room": "lead:9", "since": {"epoch": subscribed["data"]["epoch"], "offset": 1}}, id="r")
    assert bob.recv()["data"]["recovered"] is True
    bob.send("SUBSCRIBE", {"room": "lead:10", "since": {"epoch": "000000000000", "offset": 4}}, id="x")
    assert bob.recv_until(lambda f: f["data"].get("ref") == "x")["data"]["recovered"] is False
    # a notification created over REST, committed to the database
    assert post(server, "/api/notifications", {"userId": "42", "title": "t", "message": "m",
                                               "type": "SYSTEM"}).status_code == 201

    during = scrape(server.port)
    assert value(during, "realtime_connections", transport="websocket") == 2
    assert value(during, "realtime_connections", transport="sse") == 1
    assert value(during, "realtime_rooms") >= 6  # user:42, 43, 44, role:EMPLOYEE, lead:9, lead:10
    assert value(during, "realtime_events_published_total", type="LEAD_UPDATED") == 3
    assert value(during, "realtime_messages_sent_total", type="LEAD_UPDATED") == 6  # 3 events x 2 members
    assert value(during, "realtime_publish_duration_seconds_count") == \
        value(before, "realtime_publish_duration_seconds_count") + 3
    assert 0 < value(during, "realtime_publish_duration_seconds_sum") < 5
    assert value(during, "realtime_publish_duration_seconds_bucket", le="+Inf") == \
        value(during, "realtime_publish_duration_seconds_count")
    for code in ("FORBIDDEN", "INVALID_ROOM", "UNAUTHORIZED"):
        assert value(during, "realtime_client_refusals_total", code=code) == \
            value(before, "realtime_client_refusals_total", code=code) + 1, code
    assert value(during, "realtime_recoveries_total", recovered="true") == 1
    assert value(during, "realtime_recoveries_total", recovered="false") == 1
    assert value(during, "realtime_notifications_created_total") == 1
    assert value(during, "realtime_broker_errors_total") == 0
    assert value(during, "realtime_connections_opened_total") == 3

    # disconnects by close code: a client's 1000, a dropped TCP connection (no close frame), the SSE stream
    alice.ws.close(status=1000)
    bob.ws.sock.shutdown(socket.SHUT_RDWR)
    bob.ws.sock.close()
    stream.close()
    wait_until(lambda: server.system.metrics.connections == 0)
    after = scrape(server.port)
    assert value(after, "realtime_connections", transport="websocket") == 0
    assert value(after, "realtime_connections", transport="sse") == 0
    assert value(after, "realtime_disconnects_total", code="1000") == 1
    assert value(after, "realtime_disconnects_total", code="1006") == 2  # bob's dropped socket, the SSE stream


def test_gc_pauses_are_exported(start_server):
    import gc

    server = start_server(metrics_token=METRICS_TOKEN)
    before = scrape(server.port)
    gc.collect()
    after = scrape(server.port)
    assert value(after, "realtime_gc_pause_seconds_count", generation="2") >= \
        value(before, "realtime_gc_pause_seconds_count", generation="2") + 1
    assert value(after, "realtime_gc_pause_seconds_sum", generation="2") > \
        value(before, "realtime_gc_pause_seconds_sum", generation="2")
    assert value(after, "realtime_gc_pause_max_seconds", generation="2") > 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_port_serves_without_a_token_on_loopback_and_closes_with_the_server(start_server):
    port = free_port()
    server = start_server(metrics_port=port)
    assert server.metrics_http is not None and server.metrics_http.address[0] == "127.0.0.1"
    client = WsClient.open(server.port, token("42", "EMPLOYEE"))
    assert client.recv()["type"] == "CONNECTED"
    samples = scrape(port, headers=None)
    assert value(samples, "realtime_connections", transport="websocket") == 1
    assert requests.get(f"http://127.0.0.1:{port}/api/ws", timeout=5).status_code == 404  # /metrics alone
    # the main port still keeps them to itself (no METRICS_TOKEN)
    assert requests.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5).status_code == 404
    client.close()
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_each_server_process_scrapes_under_its_own_node_label(start_server):
    """Two servers (as two workers would be): each scrape shows its own node and only its own figures."""
    first = start_server(metrics_token=METRICS_TOKEN, node_name="worker-1")
    second = start_server(metrics_token=METRICS_TOKEN, node_name="worker-2")
    client = WsClient.open(second.port, token("42", "EMPLOYEE"))
    assert client.recv()["type"] == "CONNECTED"
    one, two = scrape(first.port), scrape(second.port)
    assert (one[("node", ())], two[("node", ())]) == ("worker-1", "worker-2")
    assert value(one, "realtime_connections", transport="websocket") == 0
    assert value(two, "realtime_connections", transport="websocket") == 1
    client.close()


def test_workers_are_scraped_one_by_one_under_their_node_labels(tmp_path, redis_url, redis_prefix):
    """``serve --workers 2`` with METRICS_PORT: each worker answers on a port of its own, under its node id."""
    import signal
    import subprocess

    from tests.conftest import SECRET
    from tests.web.test_cli import EXE, env, wait_for_health

    port = free_port()
    metrics_port = free_port()
    while True:  # two free ports in a row for the two workers' listeners
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", metrics_port + 1))
                break
            except OSError:
                metrics_port = free_port()
    proc = subprocess.Popen([EXE, "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=tmp_path, env=env(JWT_SECRET=SECRET, REDIS_URL=redis_url, REDIS_PREFIX=redis_prefix,
                                                  METRICS_PORT=str(metrics_port),
                                                  DATABASE_URL=f"sqlite:///{tmp_path}/w.db"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_health(port, proc)

        def both_up():
            try:
                return [scrape(p, headers=None) for p in (metrics_port, metrics_port + 1)]
            except requests.ConnectionError:
                return None

        scrapes = wait_until(both_up, timeout=20)
        assert scrapes, "both workers' metrics listeners answer"
        nodes = [s[("node", ())] for s in scrapes]
        assert len(set(nodes)) == 2 and all(len(node) == 12 for node in nodes)  # the broker's node ids
        clients = [WsClient.open(port, token(str(n), "EMPLOYEE")) for n in range(6)]
        for client in clients:
            assert client.recv()["type"] == "CONNECTED"
        counts = [value(scrape(p, headers=None), "realtime_connections", transport="websocket")
                  for p in (metrics_port, metrics_port + 1)]
        assert sum(counts) == 6  # each worker counts its own sockets; the sum over node is the server's
        for client in clients:
            client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_grafana_dashboard_asks_only_for_metrics_the_server_exports(start_server):
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json").read_text())
    asked = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in re.findall(r"\b((?:realtime|process)_[a-z_]+)\b", target["expr"])}
    assert len(asked) >= 15
    server = start_server(metrics_token=METRICS_TOKEN)
    text = requests.get(f"http://127.0.0.1:{server.port}/metrics", headers=AUTH, timeout=5).text
    exported = set()
    for family in text_string_to_metric_families(text):
        exported.add(family.name)
        exported.update(sample.name for sample in family.samples)
    exported.update(f"{name}_total" for name in list(exported))  # counters: the family name lacks _total
    for suffix in ("_bucket", "_sum", "_count"):
        exported.update(f"{name}{suffix}" for name in list(exported))
    assert asked <= exported, f"the dashboard asks for what no scrape has: {sorted(asked - exported)}"
    node_variable = dashboard["templating"]["list"][1]
    assert node_variable["name"] == "node" and "realtime_connections, node" in node_variable["query"]["query"]
