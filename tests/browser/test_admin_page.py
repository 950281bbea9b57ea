"""The admin page and its API (``/api/admin/...``, web/api/admin.py): nodes, graphs, a paginated and
searchable browser of connections, users and rooms without --debug, a room's members and history, and the
ADMIN-only actions (publish a test event, disconnect a connection), each logged with who did it. The API
is checked over HTTP with real WebSocket clients; the page in Chromium, which also takes docs/admin.png."""

from __future__ import annotations

import logging
from pathlib import Path

import requests

from tests.conftest import token, wait_until

from .test_dashboard import publish

DOCS = Path(__file__).resolve().parents[2] / "docs"
ADMIN = {"Authorization": f"Bearer {token('1', 'ADMIN')}"}


def get(port: int, path: str, headers: dict[str, str] = ADMIN) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=5)


def test_browse_connections_users_and_rooms_paginated_and_searched(server, connect):
    for sub in ("ben", "ben", "chloe"):
        connect(sub)
    page = get(server.port, "/api/admin/connections").json()
    assert page["total"] == 3 and [c["userId"] for c in page["items"]] == ["ben", "ben", "chloe"]
    assert all(c["transport"] == "websocket" and c["rooms"] == 2 for c in page["items"])
    assert get(server.port, "/api/admin/connections?q=CHLOE").json()["total"] == 1, "case-insensitive"
    first = get(server.port, "/api/admin/connections?limit=2").json()
    rest = get(server.port, "/api/admin/connections?limit=2&offset=2").json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1
    assert {c["id"] for c in first["items"] + rest["items"]} == {c["id"] for c in page["items"]}

    users = get(server.port, "/api/admin/users").json()["items"]
    assert [(u["userId"], u["connections"]) for u in users] == [("ben", 2), ("chloe", 1)]
    rooms = {r["room"]: r for r in get(server.port, "/api/admin/rooms").json()["items"]}
    assert rooms["user:ben"]["members"] == 2 and rooms["role:EMPLOYEE"]["members"] == 3
    assert get(server.port, "/api/admin/rooms?q=user:chloe").json()["total"] == 1

    refused = get(server.port, "/api/admin/connections", {"Authorization": f"Bearer {token('2')}"})
    assert refused.status_code == 403
    bad = get(server.port, "/api/admin/connections?limit=0&offset=x")
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"limit", "offset"}


def test_room_view_publish_and_disconnect_are_logged_with_who_did_them(server, connect, caplog):
    ws = connect("2")
    ws.send("SUBSCRIBE", {"room": "lead:9"}, id=1)
    ws.recv_until(lambda f: f["type"] == "SUBSCRIBED")
    publish(server.port, "LEAD_UPDATED", {"leadId": "9", "status": "QUALIFIED"})
    view = get(server.port, "/api/admin/rooms/lead:9").json()
    assert [m["userId"] for m in view["members"]] == ["2"] and view["live"] is True
    assert [e["type"] for e in view["events"]] == ["LEAD_UPDATED"]
    dormant = get(server.port, "/api/admin/rooms/user:2").json()
    assert [m["userId"] for m in dormant["members"]] == ["2"] and dormant["events"] == []

    caplog.set_level(logging.INFO, logger="realtime.admin")
    sent = requests.post(f"http://127.0.0.1:{server.port}/api/admin/rooms/lead:9/publish", headers=ADMIN, timeout=5)
    assert sent.status_code == 202 and sent.json()["delivered"] == 1
    alert = ws.recv_until(lambda f: f["type"] == "SYSTEM_ALERT")
    assert alert["room"] == "lead:9" and alert["data"]["title"] == "Test event"
    employee = {"Authorization": f"Bearer {token('2')}"}
    assert requests.post(f"http://127.0.0.1:{server.port}/api/admin/rooms/lead:9/publish", headers=employee,
                         timeout=5).status_code == 403

    connection = ws.connected["data"]["connectionId"]
    kicked = requests.post(f"http://127.0.0.1:{server.port}/api/admin/connections/{connection}/disconnect",
                           headers=ADMIN, timeout=5)
    assert kicked.status_code == 200
    assert ws.expect_close() == 1000
    assert wait_until(lambda: get(server.port, "/api/admin/connections").json()["total"] == 0)
    again = requests.post(f"http://127.0.0.1:{server.port}/api/admin/connections/{connection}/disconnect",
                          headers=ADMIN, timeout=5)
    assert again.status_code == 404

    actions = get(server.port, "/api/admin/actions").json()["actions"]
    assert [(a["action"], a["by"]) for a in actions] == [("disconnect", "1"), ("publish", "1")]
    logged = [r.getMessage() for r in caplog.records if r.name == "realtime.admin"]
    assert any("publish by user 1" in line for line in logged) and any("disconnect by user 1" in line for line in logged)


def test_node_and_series(server, connect):
    connect("2")
    node = get(server.port, "/api/admin/node").json()
    assert node["self"]["version"] and node["self"]["host"] and node["self"]["connections"] == 1
    assert node["cluster"] is None  # one process: the in-memory broker
    series = get(server.port, "/api/admin/series").json()
    assert series["minutes"] == 15 and series["samples"] and "connections" in series["samples"][0]


def test_admin_page_browses_acts_and_draws(start_server, context, page):
    server = start_server(dev=True)  # dev: people's names instead of ids
    employee = context.new_page()
    employee.goto(f"http://127.0.0.1:{server.port}/?token={token('2', ttl=3600)}")
    employee.wait_for_selector("#connection-status[data-state=open]")
    employee.fill("#room-input", "lead:9")
    employee.click("#rooms-form button")
    employee.wait_for_function("window.dashboard.client.positions.since('lead:9') !== undefined")
    for n in range(3):
        publish(server.port, "LEAD_UPDATED", {"leadId": "9", "status": f"STEP{n}", "name": "Acme Corp"})

    page.goto(f"http://127.0.0.1:{server.port}/admin?token={token('1', 'ADMIN', ttl=3600)}")
    page.wait_for_selector("[data-figure=connections] .value:text-is('1')")
    page.wait_for_selector("#nodes tbody tr")
    assert "0." in page.inner_text("#nodes tbody tr") or "unknown" in page.inner_text("#nodes tbody tr")
    assert page.is_visible("#debug-off"), "the browser works without --debug"
    page.wait_for_selector("#browse-table tr[data-user='2']:has-text('Ben')")
    assert "s" in page.inner_text("[data-figure=uptime] .value")  # "12 s", not 12.345
    page.wait_for_selector("#chart-connections svg path[data-series=connections]")

    page.click("[role=tab][data-what=rooms]")
    page.fill("#browse-search", "lead")
    page.wait_for_selector("#browse-table[data-what=rooms][data-query=lead] tr[data-room='lead:9']")
    assert page.locator("#browse-table tbody tr").count() == 1
    page.click("#browse-table tr[data-room='lead:9'] a")
    page.wait_for_selector("#room-view[data-room='lead:9'] #room-members li:has-text('Ben')")
    assert page.locator("#room-history tbody tr").count() == 3

    page.click("#room-publish")
    employee.wait_for_selector("#feed li[data-type=SYSTEM_ALERT]")
    page.wait_for_selector("#room-history tbody tr[data-offset='4']")
    page.wait_for_selector("#actions li[data-action=publish]:has-text('Ada')")

    page.click("[role=tab][data-what=connections]")
    page.fill("#browse-search", "")
    page.click("#browse-table tr[data-user='2'] .disconnect")  # asks first, in the button
    page.click("#browse-table tr[data-user='2'] .disconnect[data-confirming]")
    employee.wait_for_selector("#feed li[data-kind=notice]:has-text('Reconnected')", timeout=15_000)
    page.wait_for_selector("#actions li[data-action=disconnect]:has-text('Ada')")
    page.wait_for_function("document.querySelectorAll('#delivery tbody tr').length >= 2")
    page.evaluate("document.getElementById('toasts').replaceChildren()")  # a passing toast is no part of the picture
    # bytes, not path=: Playwright writes a path on an asyncio executor thread that outlives the test
    (DOCS / "admin.png").write_bytes(page.screenshot(full_page=True))


def test_admin_page_in_debug_mode_searches_every_actor(start_server, context, page):
    server = start_server(websocket_debug=True)
    employee = context.new_page()
    employee.goto(f"http://127.0.0.1:{server.port}/?token={token('2')}")
    employee.wait_for_selector("#connection-status[data-state=open]")
    page.goto(f"http://127.0.0.1:{server.port}/admin?token={token('1', 'ADMIN')}")
    page.wait_for_selector("#actors tr[data-actor=hub]")
    page.fill("#actor-search", "hub")
    page.wait_for_function("document.querySelectorAll('#actors tbody tr').length === 1")
    page.dispatch_event("#actors tr[data-actor=hub]", "click")
    page.wait_for_selector("#trace-title:text-is('Recent trace: hub')")


