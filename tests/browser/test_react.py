"""clients/react with React 18 and with React 19 (from the npm registry, installed at test time),
bundled by esbuild and run in Chromium against the real server.

The bundle is served by a reverse proxy in front of the server (tests/browser/proxy.py), so the page
is same-origin with /ws and /api like an app deployed beside the server. (A page fulfilled by
Playwright's request routing never gets its WebSocket to the network, so that is not used.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import token

from .conftest import _unavailable, node_or_skip
from .test_dashboard import notify, publish

REACT_TESTS = Path(__file__).resolve().parent.parent / "react"
PAGE = "<!doctype html><meta charset=utf-8><div id=root></div><script type=module src=/react-test/app.js></script>"


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: Any) -> dict[str, bytes]:
    node = node_or_skip()
    missing = [name for name in ("node_modules/esbuild", "react18/node_modules/react", "react19/node_modules/react")
               if not (REACT_TESTS / name).exists()]
    if missing:
        _unavailable(f"tests/react is not installed ({', '.join(missing)} missing): run scripts/install-test-deps")
    out = tmp_path_factory.mktemp("react")
    built = {}
    for major in ("18", "19"):
        target = out / f"app{major}.js"
        subprocess.run([node, str(REACT_TESTS / "build.mjs"), major, str(target)], check=True, timeout=120)
        built[major] = target.read_bytes()
    return built


def open_app(page: Any, proxy: Any, bundle: bytes) -> None:
    proxy.files["/react-test/"] = ("text/html", PAGE.encode())
    proxy.files["/react-test/app.js"] = ("text/javascript", bundle)
    page.goto(f"http://127.0.0.1:{proxy.port}/react-test/?token={token('2')}")


@pytest.mark.parametrize("major", ["18", "19"])
def test_hooks_and_components(server, proxy, page, bundles, major):
    open_app(page, proxy, bundles[major])
    assert page.evaluate("window.realtimeClient.transport") in (None, "websocket")
    assert page.inner_text("#react-version").split(".")[0] == major
    page.wait_for_selector("#status:text-is('connected')")
    page.wait_for_function("window.realtimeClient.positions.since('campaign:3') !== undefined")

    publish(server.port, "STATS_UPDATE", {"openLeads": 87})
    page.wait_for_selector("#stats:text-is('open leads 87')")  # useLiveStats

    publish(server.port, "MESSAGE_RECEIVED", {"contactId": "7", "messageId": "m1", "content": "Hello"})
    publish(server.port, "MESSAGE_STATUS_UPDATE", {"contactId": "7", "messageId": "m1", "status": "READ"})
    page.wait_for_selector("#messages li[data-status=READ]:text-is('Hello')")  # useLiveMessages
    page.click("#type")  # useWebSocket().send: TYPING_START comes back through contact:7
    page.wait_for_selector("#typing:text-is('2')")

    publish(server.port, "LEAD_UPDATED", {"leadId": "9", "status": "QUALIFIED"})
    page.wait_for_selector('#lead:text-is(\'{"LEAD_UPDATED":1}\')')  # useLiveData with a reducer
    publish(server.port, "CAMPAIGN_FAILED", {"campaignId": "3", "error": "quota"})
    page.wait_for_selector("#campaign:text-is('CAMPAIGN_FAILED')")  # useWebSocket().subscribe

    notify(server.port, title="React toast", message="HIGH shows a toast", priority="HIGH")
    page.wait_for_selector(".rt-toast:has-text('React toast')")  # NotificationToast
    assert page.inner_text(".rt-badge") == "1"  # NotificationCenter
    assert page.inner_text("#unread") == "1"  # useNotifications
    page.click(".rt-bell")
    page.wait_for_selector(".rt-item.rt-unread")
    page.click(".rt-mark-all")
    page.wait_for_selector(".rt-badge", state="detached")
    assert page.inner_text("#unread") == "0"
    page.click(".rt-remove")
    page.wait_for_selector("#listed:text-is('0')")
