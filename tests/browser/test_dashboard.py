"""The built-in dashboard in headless Chromium against the real server: events, notifications,
toasts, reconnects with recovery, and the SSE fallback."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from tests.conftest import token, wait_until

ADMIN = {"Authorization": f"Bearer {token('1', 'ADMIN')}"}


def publish(port: int, type_: str, data: dict[str, Any], room: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_, "data": data}
    if room:
        body["room"] = room
    answer = requests.post(f"http://127.0.0.1:{port}/api/live-sync", headers=ADMIN, json=body, timeout=5)
    assert answer.status_code == 202, answer.text
    return answer.json()  # type: ignore[no-any-return]


def notify(port: int, **body: Any) -> dict[str, Any]:
    body.setdefault("userId", "2")
    body.setdefault("type", "LEAD_ASSIGNED")
    answer = requests.post(f"http://127.0.0.1:{port}/api/notifications", headers=ADMIN, json=body, timeout=5)
    assert answer.status_code == 201, answer.text
    return answer.json()["notifications"][0]  # type: ignore[no-any-return]


def unread_on_server(port: int, sub: str = "2") -> int:
    headers = {"Authorization": f"Bearer {token(sub)}"}
    return requests.get(f"http://127.0.0.1:{port}/api/notifications", headers=headers, timeout=5).json()["unreadCount"]


def follow(page: Any, room: str) -> None:
    page.fill("#room-input", room)
    page.click("#rooms-form button")
    page.wait_for_function("room => window.dashboard.client.positions.since(room) !== undefined", arg=room)


def feed_texts(page: Any, type_: str) -> list[str]:
    return page.locator(f"#feed li[data-type={type_}] .what").all_inner_texts()  # type: ignore[no-any-return]


def test_dashboard_connects_and_shows_published_events(server, open_dashboard):
    page = open_dashboard(server.port)
    assert page.inner_text("#connection-status") == "Live"
    assert page.get_attribute("#connection-status", "data-transport") == "websocket"
    assert page.inner_text("#user-name") == "user 2 · EMPLOYEE"

    publish(server.port, "LEAD_ASSIGNED", {"leadId": "9", "assignedTo": "2", "name": "Acme Corp"})  # to user:2
    page.wait_for_selector("#feed li[data-type=LEAD_ASSIGNED]")
    assert feed_texts(page, "LEAD_ASSIGNED") == ["Lead Acme Corp assigned to you"]

    follow(page, "contact:7")
    publish(server.port, "MESSAGE_RECEIVED", {"contactId": "7", "messageId": "m1", "content": "Where is my order?"})
    page.wait_for_selector("#feed li[data-type=MESSAGE_RECEIVED]")
    assert "Where is my order?" in feed_texts(page, "MESSAGE_RECEIVED")[0]

    publish(server.port, "STATS_UPDATE", {"openLeads": 87, "messagesToday": 412})
    page.wait_for_selector("[data-stat=openLeads] .value")
    assert page.inner_text("[data-stat=openLeads] .value") == "87"

    follow(page, "campaign:3")
    publish(server.port, "CAMPAIGN_PROGRESS", {"campaignId": "3", "sent": 250, "total": 1000, "name": "Spring"})
    page.wait_for_selector("[data-campaign='3'][data-percent='25']")


def test_notification_badge_list_and_mark_all_read(server, open_dashboard):
    page = open_dashboard(server.port)
    assert page.is_hidden("#unread-badge")
    first = notify(server.port, title="Lead assigned", message="Acme is yours", priority="NORMAL")
    page.wait_for_selector("#unread-badge:not([hidden])")
    assert page.inner_text("#unread-badge") == "1"
    notify(server.port, title="Invoice overdue", message="Globex is 30 days late", priority="LOW")
    page.wait_for_function("document.querySelector('#unread-badge').textContent === '2'")

    page.click("#bell")
    items = page.locator("#notification-list li")
    assert items.count() == 2
    assert items.nth(0).locator(".title").inner_text() == "Invoice overdue"  # newest first
    page.click(f"#notification-list li[data-id='{first['id']}'] .mark-read")
    page.wait_for_function("document.querySelector('#unread-badge').textContent === '1'")
    assert wait_until(lambda: unread_on_server(server.port) == 1)

    page.click("#mark-all-read")
    page.wait_for_selector("#unread-badge", state="hidden")
    assert page.locator("#notification-list li.unread").count() == 0
    assert wait_until(lambda: unread_on_server(server.port) == 0)


def test_toast_for_high_priority_not_for_normal_and_silent_in_quiet_hours(server, open_dashboard):
    page = open_dashboard(server.port)
    notify(server.port, title="Just so you know", message="low key", priority="NORMAL")
    page.wait_for_selector("#notification-list li", state="attached")
    notify(server.port, title="Customer waiting", message="Umbrella waits 10 minutes", priority="HIGH")
    toast = page.wait_for_selector(".toast")
    assert "Customer waiting" in toast.inner_text()
    assert page.locator(".toast").count() == 1, "NORMAL gets no toast"
    page.click(".toast .dismiss")
    page.wait_for_selector(".toast", state="detached")

    now = dt.datetime.now(dt.UTC)
    quiet = {"quietHours": {"start": (now - dt.timedelta(hours=1)).strftime("%H:%M"),
                            "end": (now + dt.timedelta(hours=1)).strftime("%H:%M"), "timezone": "UTC"}}
    headers = {"Authorization": f"Bearer {token('2')}"}
    assert requests.put(f"http://127.0.0.1:{server.port}/api/notifications/preferences", headers=headers,
                        json=quiet, timeout=5).status_code == 200
    notify(server.port, title="Quiet please", message="during quiet hours", priority="HIGH")
    page.wait_for_function("document.querySelector('#unread-badge').textContent === '3'")
    notify(server.port, title="Server on fire", message="URGENT breaks through", priority="URGENT")
    page.wait_for_selector(".toast.URGENT")
    assert page.locator(".toast").all_inner_texts()[0].startswith("Server on fire"), "no toast for the quiet HIGH one"


def test_browser_notification_only_after_permission(server, context, page, open_dashboard):
    page.add_init_script("""
        window.__shown = [];
        const Real = window.Notification;
        window.Notification = class extends Real {
            constructor(title, options) { super(title, options); window.__shown.push(title); }
        };
    """)
    open_dashboard(server.port)
    page.click("#bell")
    assert page.is_visible("#browser-permission"), "permission not asked yet: the button is offered"
    notify(server.port, title="Before permission", message="-", priority="HIGH")
    page.wait_for_selector("#notification-list li[data-priority=HIGH]")
    assert page.evaluate("window.__shown") == []

    context.grant_permissions(["notifications"])
    page.evaluate("window.dashboard.store.requestBrowserPermission()")
    page.wait_for_selector("#browser-permission", state="hidden")
    notify(server.port, title="After permission", message="-", priority="HIGH")
    page.wait_for_function("window.__shown.length === 1")
    assert page.evaluate("window.__shown") == ["After permission"]


def test_reconnects_after_a_dropped_connection_and_replays_missed_events(server, proxy, open_dashboard):
    page = open_dashboard(proxy.port)
    follow(page, "contact:7")
    publish(server.port, "MESSAGE_RECEIVED", {"contactId": "7", "messageId": "m0", "content": "before"})
    page.wait_for_selector("#feed li[data-type=MESSAGE_RECEIVED]")

    proxy.paused = True
    proxy.cut()
    page.wait_for_selector("#connection-status[data-state=reconnecting]")
    for n in range(1, 4):
        publish(server.port, "MESSAGE_RECEIVED", {"contactId": "7", "messageId": f"m{n}", "content": f"missed {n}"})
    proxy.paused = False
    page.wait_for_selector("#connection-status[data-state=open]", timeout=20_000)
    page.wait_for_function("document.querySelectorAll('#feed li[data-type=MESSAGE_RECEIVED]').length >= 4")
    texts = [t.split("“")[1].rstrip("”") for t in feed_texts(page, "MESSAGE_RECEIVED")]
    assert texts == ["missed 3", "missed 2", "missed 1", "before"], "replayed in order, once each"
    lost = page.eval_on_selector_all("#feed li[data-kind=notice][data-lost]",
                                     "items => items.map(i => i.dataset.lost)")
    assert lost == [], f"a short drop loses nothing, home and stats rooms included: {lost}"


def test_reconnects_after_a_server_restart_and_reloads_what_was_missed(start_server, server, proxy, open_dashboard):
    page = open_dashboard(proxy.port)
    notify(server.port, title="Before restart", message="-", priority="LOW")
    page.wait_for_function("document.querySelector('#unread-badge').textContent === '1'")

    proxy.paused = True  # the browser cannot reach the new server until we say so
    proxy.cut()  # a stopped process takes its connections with it (keep-alive ones included)
    server.stop()
    page.wait_for_selector("#connection-status[data-state=reconnecting]")
    restarted = start_server()  # same database file, new process state: every room's history is gone
    proxy.target_port = restarted.port
    notify(restarted.port, title="While you were away", message="missed push", priority="LOW")
    proxy.paused = False

    page.wait_for_selector("#connection-status[data-state=open]", timeout=20_000)
    page.wait_for_function("document.querySelector('#unread-badge').textContent === '2'")
    page.click("#bell")
    titles = page.locator("#notification-list li .title").all_inner_texts()
    assert titles == ["While you were away", "Before restart"]
    notice = page.wait_for_selector("#feed li[data-kind=notice][data-lost]")
    assert "user:2" in (notice.get_attribute("data-lost") or ""), "the lost room is reported, not hidden"

    publish(restarted.port, "LEAD_ASSIGNED", {"leadId": "4", "assignedTo": "2"})
    page.wait_for_selector("#feed li[data-type=LEAD_ASSIGNED]")


def test_falls_back_to_sse_when_websockets_are_refused(server, proxy, open_dashboard):
    proxy.block_websocket = True
    page = open_dashboard(proxy.port)
    assert page.get_attribute("#connection-status", "data-transport") == "sse"
    assert page.inner_text("#connection-status") == "Live (SSE fallback)"
    assert proxy.websocket_refused >= 1

    publish(server.port, "LEAD_ASSIGNED", {"leadId": "9", "assignedTo": "2", "name": "Acme Corp"})
    page.wait_for_selector("#feed li[data-type=LEAD_ASSIGNED]")
    follow(page, "contact:7")  # a new room on SSE: the stream is reopened with every position
    publish(server.port, "MESSAGE_RECEIVED", {"contactId": "7", "messageId": "m1", "content": "over SSE"})
    page.wait_for_selector("#feed li[data-type=MESSAGE_RECEIVED]")
    notify(server.port, title="Via SSE", message="-", priority="HIGH")
    page.wait_for_selector(".toast")
    assert page.inner_text("#unread-badge") == "1"
    assert page.locator("#feed li[data-type=LEAD_ASSIGNED]").count() == 1, "no duplicate after the stream restart"
