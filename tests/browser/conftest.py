"""Browser tests: the real server (in this process), headless Chromium from Debian, Playwright for Python.

Playwright's own browser download does not work here; we launch ``/usr/bin/chromium`` (or
``CHROMIUM_PATH``) with ``executable_path``. ``scripts/install-test-deps`` installs it. Without it,
or without Playwright, these tests skip and say why; in CI (``CI=true``) they fail instead.
Playwright launches every browser with a fresh temporary ``--user-data-dir``; each test gets a new
context (no cookies, storage or permissions carried over).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import IN_CI, token

from .proxy import ChaosProxy

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed: pip install -e '.[test]'")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM}: run scripts/install-test-deps (apt-get install chromium) "
                     "or set CHROMIUM_PATH")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        launched.close()


class Console:
    """What the page logged; a test fails on uncaught page errors."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.errors: list[str] = []


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    page = context.new_page()
    console = Console()
    page.on("console", lambda message: console.lines.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.errors.append(str(error)))
    page.console = console
    yield page
    assert not console.errors, f"uncaught errors in the page: {console.errors}"


@pytest.fixture
def proxy(server: Any) -> Iterator[ChaosProxy]:
    chaos = ChaosProxy(server.port).start()
    yield chaos
    chaos.stop()


@pytest.fixture
def open_dashboard(page: Any) -> Callable[..., Any]:
    """``open_dashboard(port, sub, role)``: sign in with a token and wait until it is live."""

    def open_(port: int, sub: str = "2", role: str = "EMPLOYEE", path: str = "/", wait_open: bool = True) -> Any:
        page.goto(f"http://127.0.0.1:{port}{path}?token={token(sub, role, ttl=3600)}")
        if wait_open:
            page.wait_for_selector("#connection-status[data-state=open]")
        return page

    return open_


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        _unavailable("Node.js is not installed (needed for the JavaScript tests)")
    return str(node)
