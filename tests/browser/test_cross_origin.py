"""CORS: an app on another origin calls the REST API, /sse and /healthz (web/cors.py).

First over plain HTTP (every REST route answers a preflight with Authorization and a JSON body for an
allowed origin, never for another), then in Chromium: an app served from its own origin, with the
browser client bundled into it, runs the notification center and an SSE stream against the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import token

from .sites import StaticSite
from .test_dashboard import notify, publish

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"
APP = "http://app.example:3000"
PAGE = b"""<!doctype html><meta charset=utf-8><title>another origin</title>
<script type=module>
import { RealtimeClient } from "./realtime.js";
import { NotificationStore } from "./notifications.js";
const params = new URLSearchParams(location.search);
const client = new RealtimeClient({ url: params.get("server"), token: params.get("token"),
  transports: params.get("sse") ? ["sse"] : ["websocket", "sse"] });
const store = new NotificationStore(client, { pageSize: 2 });
store.start();
window.app = { client, store, events: [] };
client.on("event", (frame) => window.app.events.push(frame.type));
</script>"""


def preflight(port: int, path: str, origin: str, method: str = "POST") -> requests.Response:
    return requests.options(f"http://127.0.0.1:{port}{path}", timeout=5, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})


def test_every_rest_route_answers_a_preflight_for_allowed_origins_only(start_server):
    server = start_server(allowed_origins=(APP,))
    app = server.app
    paths = sorted({rule.rule.replace("<path:room>", "lead:9").replace("<path:actor_id>", "hub")
                    .replace("<notification_id>", "1") for rule in app.url_map.iter_rules()
                    if rule.rule.startswith(("/api/", "/sse", "/healthz"))})
    assert "/api/notifications" in paths and "/api/live-sync" in paths
    for path in paths:
        allowed = preflight(server.port, path, APP)
        assert allowed.status_code == 204, path
        assert allowed.headers["Access-Control-Allow-Origin"] == APP, path
        assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
        assert allowed.headers["Access-Control-Allow-Headers"] == "authorization, content-type, idempotency-key"
        assert "Origin" in allowed.headers["Vary"]
        refused = preflight(server.port, path, "http://evil.example")
        assert "Access-Control-Allow-Origin" not in refused.headers, path
        assert "Origin" in refused.headers["Vary"]


def test_answers_carry_the_origin_and_vary_and_other_origins_get_nothing(start_server):
    server = start_server(allowed_origins=(APP,))
    base = f"http://127.0.0.1:{server.port}"
    auth = {"Authorization": f"Bearer {token('1', 'ADMIN')}"}
    ok = requests.get(f"{base}/api/ws", headers={**auth, "Origin": APP}, timeout=5)
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == APP
    assert "Idempotent-Replayed" in ok.headers["Access-Control-Expose-Headers"]
    assert "Origin" in ok.headers["Vary"]
    error = requests.get(f"{base}/api/ws", headers={"Origin": APP}, timeout=5)  # errors are readable too
    assert error.status_code == 401 and error.headers["Access-Control-Allow-Origin"] == APP
    other = requests.get(f"{base}/api/ws", headers={**auth, "Origin": "http://evil.example"}, timeout=5)
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]
    page = requests.get(f"{base}/", headers={"Origin": APP}, timeout=5)  # the dashboard's pages are not an API
    assert "Access-Control-Allow-Origin" not in page.headers


def test_star_and_dev_localhost(start_server):
    star = start_server(allowed_origins=("*",))
    assert preflight(star.port, "/api/notifications", APP).headers["Access-Control-Allow-Origin"] == APP
    dev = start_server(dev=True)
    local = "http://localhost:5173"
    assert preflight(dev.port, "/api/notifications", local).headers["Access-Control-Allow-Origin"] == local
    assert "Access-Control-Allow-Origin" not in preflight(dev.port, "/api/notifications", APP).headers


@pytest.fixture
def site() -> Iterator[StaticSite]:
    files = {"/": ("text/html", PAGE)}
    for name in ("realtime.js", "notifications.js"):  # bundled into the app, as an app's build would
        files[f"/{name}"] = ("text/javascript", (STATIC / name).read_bytes())
    served = StaticSite(files).start()
    yield served
    served.stop()


def open_app(page: Any, site: StaticSite, server: Any, sse: bool = False) -> None:
    query = f"server=http://127.0.0.1:{server.port}&token={token('2', ttl=3600)}" + ("&sse=1" if sse else "")
    page.goto(f"{site.origin}/?{query}")


def test_notification_center_from_another_origin(start_server, site, page):
    server = start_server(allowed_origins=(site.origin,))
    first = notify(server.port, title="one", message="-", priority="LOW")
    for n in range(2):
        notify(server.port, title=f"more {n}", message="-", priority="LOW")
    open_app(page, site, server)
    page.wait_for_function("window.app && window.app.client.state === 'open'")
    page.wait_for_function("window.app.store.getSnapshot().unreadCount === 3")
    assert page.evaluate("window.app.store.getSnapshot().notifications.length") == 2
    assert page.evaluate("window.app.store.loadMore()") is True  # GET with Authorization: preflighted
    assert page.evaluate("window.app.store.getSnapshot().notifications.map(n => n.title)") == ["more 1", "more 0", "one"]
    page.evaluate(f"window.app.store.markRead('{first['id']}')")  # PATCH with a JSON body
    page.wait_for_function("window.app.store.getSnapshot().unreadCount === 2")
    saved = page.evaluate("""window.app.store.savePreferences({channels: {inApp: true, toast: false, browser: false},
        types: {}, minPriority: {toast: 'HIGH', browser: 'URGENT'},
        quietHours: {start: '22:00', end: '07:00', timezone: 'Europe/Berlin'}})""")  # PUT
    assert saved["quietHours"]["timezone"] == "Europe/Berlin"
    notify(server.port, title="pushed", message="-", priority="HIGH")
    page.wait_for_function("window.app.store.getSnapshot().unreadCount === 3")


def test_sse_from_another_origin(start_server, site, page):
    server = start_server(allowed_origins=(site.origin,))
    open_app(page, site, server, sse=True)
    page.wait_for_function("window.app && window.app.client.state === 'open' && window.app.client.transport === 'sse'")
    publish(server.port, "LEAD_ASSIGNED", {"leadId": "9", "assignedTo": "2"})
    page.wait_for_function("window.app.events.includes('LEAD_ASSIGNED')")


def test_an_origin_not_allowed_gets_nothing(start_server, site, page):
    server = start_server()  # same-origin only
    open_app(page, site, server)
    page.wait_for_function("window.app && window.app.store.getSnapshot().error !== null")
    assert page.evaluate("window.app.client.state") != "open"
    assert page.evaluate("window.app.store.getSnapshot().notifications") == []
