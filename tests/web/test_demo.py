"""``serve --demo``: the simulator publishes varied, valid traffic at a bounded rate and stops cleanly."""

import time

import gevent
import requests

from tests.conftest import token, wait_until
from web.demo import MAX_EVENTS_PER_SECOND, Demo


def test_demo_publishes_every_kind_of_traffic_and_stops(server, connect):
    client = connect("1", "ADMIN")
    demo = Demo(server.system, seed=7, pace=0.05).start()
    for room in demo.rooms:
        client.send("SUBSCRIBE", {"room": room})
    seen: set[str] = set()
    started = time.monotonic()
    wanted = {"MESSAGE_RECEIVED", "MESSAGE_SENT", "MESSAGE_STATUS_UPDATE", "TYPING_START", "CAMPAIGN_STARTED",
              "CAMPAIGN_PROGRESS", "LEAD_CREATED", "LEAD_UPDATED", "LEAD_ASSIGNED", "STATS_UPDATE"}
    while not wanted <= seen and time.monotonic() - started < 20:
        frame = client.recv(timeout=5)
        if "room" in frame:
            seen.add(frame["type"])
    demo.stop()
    assert wanted <= seen, f"missing {wanted - seen}"
    elapsed = time.monotonic() - started
    assert demo.published <= MAX_EVENTS_PER_SECOND * (elapsed + 1)
    published = demo.published
    gevent.sleep(0.3)
    assert demo.published == published, "stopped means stopped"


def test_demo_creates_stored_notifications(server):
    demo = Demo(server.system, seed=3, pace=0.05)
    for _ in range(6):
        demo._notify()
    demo.stop()
    for sub in ("2", "3"):
        headers = {"Authorization": f"Bearer {token(sub)}"}
        url = f"http://127.0.0.1:{server.port}/api/notifications"
        assert wait_until(lambda h=headers, u=url: requests.get(u, headers=h, timeout=5).json()["notifications"])


def test_dashboard_config_names_the_demo_rooms(server):
    demo = Demo(server.system)
    server.app.extensions["realtime.demo"] = demo
    config = requests.get(f"http://127.0.0.1:{server.port}/api/dashboard/config", timeout=5).json()
    assert config["demo"] is True and "stats:dashboard" in config["rooms"] and "lead:501" in config["rooms"]


def test_serve_demo_runs_the_simulator_and_stops_on_sigterm(tmp_path):
    import signal
    import subprocess

    from tests.client import WsClient
    from tests.web.test_cli import EXE, env, free_port, wait_for_health

    port = free_port()
    proc = subprocess.Popen([EXE, "serve", "--dev", "--demo", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_health(port, proc)
        config = requests.get(f"http://127.0.0.1:{port}/api/dashboard/config", timeout=5).json()
        assert config["dev"] is True and config["demo"] is True
        users = requests.get(f"http://127.0.0.1:{port}/api/dev/tokens", timeout=5).json()["users"]
        client = WsClient.open(port, users[1]["token"])
        assert client.recv()["type"] == "CONNECTED"
        client.send("SUBSCRIBE", {"room": "stats:dashboard"})
        stats = client.recv_until(lambda f: f["type"] == "STATS_UPDATE", timeout=5)
        assert "openLeads" in stats["data"]
        proc.send_signal(signal.SIGTERM)
        assert client.expect_close() == 1001
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
