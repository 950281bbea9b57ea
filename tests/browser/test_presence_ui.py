"""Presence avatars and claims in the dashboard (docs/presence.md), in Chromium against the real server:
two browser contexts are two people on the same lead; each sees the other's avatar, one claims, the other
sees who is handling it and a CONFLICT when claiming too; release clears it; an ADMIN takes over; the
panel holds at 360 px. Every wait is for a condition on the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.conftest import token

DOCS = Path(__file__).resolve().parents[2] / "docs"
ROOM = "lead:9"


def open_lead(browser: Any, port: int, sub: str, role: str = "EMPLOYEE", width: int = 1280) -> Any:
    """A new context (a person of their own) on the dashboard with lead:9 opened."""
    context = browser.new_context(viewport={"width": width, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"http://127.0.0.1:{port}/?token={token(sub, role, ttl=3600)}#room={ROOM}")
    page.wait_for_selector("#connection-status[data-state=open]")
    page.wait_for_selector(f"#room-panel[data-room='{ROOM}']:not([hidden])")
    return page


def viewers(page: Any) -> list[tuple[str, str, str]]:
    """(user id, initials, name shown) of each avatar, in the order shown (you first)."""
    return [tuple(row) for row in page.locator("#viewers .viewer").evaluate_all(
        "items => items.map(i => [i.dataset.user, i.querySelector('.avatar').textContent,"
        " i.querySelector('.name').textContent])")]


def wait_viewers(page: Any, users: list[str]) -> None:
    page.wait_for_function(
        "users => JSON.stringify([...document.querySelectorAll('#viewers .viewer')].map(v => v.dataset.user).sort())"
        " === JSON.stringify(users)", arg=sorted(users))


def claim_on_server(port: int) -> Any:
    response = requests.get(f"http://127.0.0.1:{port}/api/rooms/{ROOM}/claim",
                            headers={"Authorization": f"Bearer {token('1', 'ADMIN')}"}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["claim"]


def test_two_people_on_a_lead_see_each_other_and_one_claims(start_server, browser):
    # dev: the sample users have names (Ada 1 ADMIN, Ben 2, Chloe 3); a short interval keeps it quick
    server = start_server(dev=True, presence_interval=0.2)
    pages: list[Any] = []
    closed_errors: list[str] = []
    try:
        ben = open_lead(browser, server.port, "2")
        pages.append(ben)
        chloe = open_lead(browser, server.port, "3")
        pages.append(chloe)

        # each sees the other's avatar, and themselves as "you"
        wait_viewers(ben, ["2", "3"])
        wait_viewers(chloe, ["2", "3"])
        assert viewers(ben) == [("2", "B", "you"), ("3", "C", "Chloe")]
        assert viewers(chloe) == [("3", "C", "you"), ("2", "B", "Ben")]
        assert ben.inner_text("#claim-line") == "Nobody is handling this"
        assert ben.inner_text("#claim-button") == "Claim"

        # Ben claims: both see it, from the room's CLAIMED
        ben.click("#claim-button")
        ben.wait_for_selector("#claim-line[data-state=mine]:text-is('You are handling this')")
        chloe.wait_for_selector("#claim-line[data-state=other]:text-is('Ben is handling this')")
        assert ben.inner_text("#claim-button") == "Release"
        assert claim_on_server(server.port)["by"] == "2"

        # Chloe claims too: CONFLICT naming Ben, and Ben still holds it
        assert chloe.inner_text("#claim-button") == "Claim"
        chloe.click("#claim-button")
        chloe.wait_for_selector("#claim-error[data-code=CONFLICT]:not([hidden])")
        assert chloe.inner_text("#claim-error") == "Not claimed: Ben is handling this."
        assert claim_on_server(server.port)["by"] == "2"
        assert ben.inner_text("#claim-line") == "You are handling this"

        # a page opened now reads the claim (REST) and the viewers (SUBSCRIBED): Ada, an ADMIN, may take over
        ada = open_lead(browser, server.port, "1", "ADMIN", width=360)
        pages.append(ada)
        ada.wait_for_selector("#claim-line:text-is('Ben is handling this')")
        wait_viewers(ada, ["1", "2", "3"])
        wait_viewers(ben, ["1", "2", "3"])
        assert ada.inner_text("#claim-button") == "Take over"
        # 360 px: nothing wider than the screen, the panel and its button within it
        assert ada.evaluate("document.documentElement.scrollWidth") <= 360
        for selector in ("#room-panel", "#claim-button", "#viewers"):
            box = ada.locator(selector).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360, (selector, box)
        (DOCS / "presence-mobile.png").write_bytes(ada.screenshot())

        # Ben releases: cleared for everyone
        ben.click("#claim-button")
        for page in (ben, chloe, ada):
            page.wait_for_selector("#claim-line[data-state=free]:text-is('Nobody is handling this')")
        assert claim_on_server(server.port) is None

        # Chloe claims now, and Ada takes over: the room is told
        chloe.click("#claim-button")
        ada.wait_for_selector("#claim-line:text-is('Chloe is handling this')")
        ada.click("#claim-button")
        for page, text in ((ada, "You are handling this"), (ben, "Ada is handling this"), (chloe, "Ada is handling this")):
            page.wait_for_selector(f"#claim-line:text-is('{text}')")
        assert claim_on_server(server.port)["by"] == "1"
        # the feed says it in words: who claimed, who took over from whom, who released
        ben.wait_for_function("document.querySelectorAll('#feed li[data-type=CLAIMED]').length === 3")
        assert ben.locator("#feed li[data-type=CLAIMED] .what").all_inner_texts() == \
            ["Ada took lead:9 over from Chloe", "Chloe claimed lead:9", "You claimed lead:9"]
        assert ben.locator("#feed li[data-type=RELEASED] .what").all_inner_texts() == ["lead:9 released by you"]
        (DOCS / "presence.png").write_bytes(ben.screenshot())

        # Chloe closes her page: the others see her avatar go
        closed_errors = list(chloe.errors)
        chloe.context.close()
        pages.remove(chloe)
        wait_viewers(ben, ["1", "2"])
        wait_viewers(ada, ["1", "2"])
    finally:
        errors = closed_errors + [error for page in pages for error in page.errors]
        for page in pages:
            page.context.close()
    assert not errors, f"uncaught errors in the pages: {errors}"
