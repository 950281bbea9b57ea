"""The dashboard as people use it (issue: icons, names, feed, notification center, preferences, toasts,
360 px), in Chromium against the real server; the screenshots in docs/ are taken here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.client import WsClient
from tests.conftest import token, wait_until
from web.demo import Demo

from .test_dashboard import follow, notify, publish

DOCS = Path(__file__).resolve().parents[2] / "docs"
NO_EMOJI = r"!/[\p{Extended_Pictographic}\u2600-\u27BF]/u.test(document.body.innerText)"


def screenshot(page: Any, name: str, full_page: bool = False) -> None:
    # bytes, not path=: Playwright writes a path on an asyncio executor thread that outlives the test
    (DOCS / name).write_bytes(page.screenshot(full_page=full_page))


def preferences_on_server(port: int, sub: str = "2") -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token(sub)}"}
    return requests.get(f"http://127.0.0.1:{port}/api/notifications/preferences", headers=headers, timeout=5).json()


def test_names_you_typing_and_svg_icons(start_server, open_dashboard):
    server = start_server(dev=True)  # the sample users have names: Ada (1), Ben (2), Chloe (3)
    page = open_dashboard(server.port, sub="2")
    follow(page, "contact:104")
    publish(server.port, "MESSAGE_RECEIVED", {"contactId": "104", "messageId": "m1", "content": "Hi",
                                              "contactName": "Umbrella Corp"})
    publish(server.port, "LEAD_ASSIGNED", {"leadId": "9", "assignedTo": "3", "assignedBy": "2", "name": "Acme"},
            room="contact:104")
    publish(server.port, "LEAD_ASSIGNED", {"leadId": "7", "assignedTo": "2", "name": "Globex"})
    page.wait_for_function("document.querySelectorAll('#feed li').length === 3")
    texts = page.locator("#feed li .what").all_inner_texts()
    assert texts[0] == "Lead Globex assigned to you"
    assert texts[1] == "Lead Acme assigned to Chloe by you"
    assert texts[2].startswith("Umbrella Corp wrote")

    chloe = WsClient.open(server.port, token("3"))
    try:
        page.evaluate("window.dashboard.client.send('TYPING_START', {contactId: '104'})")  # Ben types himself
        chloe.recv()
        chloe.send("TYPING_START", {"contactId": "104"})
        page.wait_for_selector("#typing:has-text('Chloe is typing to Umbrella Corp…')")
        assert "Ben" not in page.inner_text("#typing") and "you" not in page.inner_text("#typing")
    finally:
        chloe.close()

    assert page.locator("#feed li .feed-icon svg").count() == 3
    assert page.locator("#bell svg").count() == 1
    assert page.evaluate(NO_EMOJI), "no emoji left: they show as empty boxes without an emoji font"


def test_feed_filters_by_kind_and_room_links_and_dates(server, open_dashboard):
    page = open_dashboard(server.port)
    follow(page, "lead:9")
    follow(page, "campaign:3")
    publish(server.port, "LEAD_CREATED", {"leadId": "9", "name": "Acme"})
    publish(server.port, "CAMPAIGN_STARTED", {"campaignId": "3", "name": "Spring", "total": 10})
    publish(server.port, "LEAD_UPDATED", {"leadId": "9", "status": "QUALIFIED", "name": "Acme"})
    page.wait_for_function("document.querySelectorAll('#feed li').length === 3")

    page.click("#feed-filters [data-kind=campaign]")
    assert page.locator("#feed li:visible").count() == 1
    assert page.locator("#feed li:visible").get_attribute("data-type") == "CAMPAIGN_STARTED"
    page.click("#feed-filters [data-kind=all]")
    assert page.locator("#feed li:visible").count() == 3

    page.click("#feed li[data-type=LEAD_CREATED] .what a")  # a feed item links to its room's events
    page.wait_for_selector("#room-filter:not([hidden]) #room-filter-name:text-is('lead:9')")
    assert page.evaluate("location.hash") == "#room=lead%3A9"
    assert sorted(page.locator("#feed li:visible").evaluate_all("items => items.map(i => i.dataset.type)")) == \
        ["LEAD_CREATED", "LEAD_UPDATED"]
    page.click("#room-filter-clear")
    page.wait_for_selector("#room-filter", state="hidden")
    assert page.locator("#feed li:visible").count() == 3

    stamp = page.locator("#feed li time").first
    assert stamp.get_attribute("datetime") and stamp.get_attribute("title"), "every item has its date and time"


def test_notifications_links_load_more_preferences_and_clickable_toasts(server, open_dashboard):
    for n in range(22):
        notify(server.port, title=f"old {n}", message="-", priority="LOW")
    page = open_dashboard(server.port)
    page.wait_for_function("document.querySelector('#unread-badge').textContent === '22'")
    page.click("#bell")
    assert page.locator("#notification-list li").count() == 20
    page.click("#load-more")
    page.wait_for_function("document.querySelectorAll('#notification-list li').length === 22")
    page.wait_for_selector("#load-more", state="hidden")

    linked = notify(server.port, title="Look at lead 9", message="click me", priority="HIGH", link="#room=lead:9")
    page.wait_for_selector(f"#notification-list li[data-id='{linked['id']}'] a.title[href='#room=lead:9']")
    page.keyboard.press("Escape")
    page.wait_for_selector("#notification-panel", state="hidden")
    page.click(f".toast[data-id='{linked['id']}']")  # the toast itself: marks it read and follows the link
    page.wait_for_selector("#room-filter-name:text-is('lead:9')")
    page.wait_for_selector(".toast", state="detached")
    headers = {"Authorization": f"Bearer {token('2')}"}
    assert wait_until(lambda: requests.get(f"http://127.0.0.1:{server.port}/api/notifications?unread=true",
                                           headers=headers, timeout=5).json()["unreadCount"] == 22)

    page.click("#bell")
    page.click("#open-preferences")
    page.wait_for_selector("#preferences:not([hidden]) select[name='quiet:timezone']")
    page.uncheck("input[name='channel:browser']")
    page.select_option("select[name='min:toast']", "URGENT")
    page.check("input[name='quiet:on']")
    page.fill("input[name='quiet:start']", "21:30")
    page.fill("input[name='quiet:end']", "06:45")
    page.select_option("select[name='quiet:timezone']", "Asia/Tokyo")
    page.fill("input[name='new-type']", "LEAD_ASSIGNED")
    page.click("#preferences-form .row button")
    page.uncheck("input[name='type:LEAD_ASSIGNED:toast']")
    page.click("#preferences-save")
    page.wait_for_selector("#preferences-status:text-is('Saved.')")
    saved = preferences_on_server(server.port)
    assert saved["channels"] == {"inApp": True, "toast": True, "browser": False}
    assert saved["minPriority"]["toast"] == "URGENT"
    assert saved["quietHours"] == {"start": "21:30", "end": "06:45", "timezone": "Asia/Tokyo"}
    assert saved["types"]["LEAD_ASSIGNED"] == {"inApp": True, "toast": False, "browser": True}


def test_layout_holds_at_360px(server, page):
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"http://127.0.0.1:{server.port}/?token={token('2', ttl=3600)}")
    page.wait_for_selector("#connection-status[data-state=open]")
    notify(server.port, title="A fairly long notification title that has to wrap", message="-", priority="HIGH")
    page.wait_for_selector(".toast")
    page.locator(".toast").evaluate("t => Promise.all(t.getAnimations().map(a => a.finished))")  # slid in
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "nothing wider than the screen"
    for selector in ("#sign-out", "#bell", "#connection-status", ".toast"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360, (selector, box)
    page.click("#bell")
    box = page.locator("#notification-panel").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["y"] >= 0


def test_screenshots_for_the_docs(start_server, context, page):
    """docs/dashboard.png (wide) and docs/dashboard-mobile.png (360 px) with demo traffic."""
    server = start_server(dev=True)
    demo = Demo(server.system, seed=7, pace=0.3)  # pace scales its pauses: quicker than live
    server.app.extensions["realtime.demo"] = demo  # the dashboard follows the demo's rooms
    demo.start()
    try:
        page.goto(f"http://127.0.0.1:{server.port}/?token={token('2', ttl=3600)}")
        page.wait_for_selector("#connection-status[data-state=open]")
        notify(server.port, title="Acme Corp is yours", message="Call them today", priority="HIGH", link="#room=lead:9")
        page.wait_for_function("document.querySelectorAll('#feed li').length >= 8", timeout=30_000)
        page.wait_for_selector("[data-stat=openLeads] .value")
        screenshot(page, "dashboard.png")
        mobile = context.new_page()
        mobile.set_viewport_size({"width": 360, "height": 780})
        mobile.goto(f"http://127.0.0.1:{server.port}/?token={token('3', ttl=3600)}")
        mobile.wait_for_function("document.querySelectorAll('#feed li').length >= 3", timeout=30_000)
        screenshot(mobile, "dashboard-mobile.png")
        mobile.close()
    finally:
        demo.stop()
