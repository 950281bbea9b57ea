"""``@realtime-server/react`` as an app developer gets it: ``npm pack`` of ``clients/react``, installed
with React 18 and with React 19 into a fresh app in a temporary folder outside this repository,
type-checked against the package's ``.d.ts`` by ``tsc`` (strict), bundled by esbuild, served from its own
origin and run in Chromium against the server on another origin, under ``<StrictMode>``.

npm installs from the registry (``--prefer-offline``: ``scripts/install-test-deps`` warmed the cache
with the same versions in ``tests/react/react18`` and ``react19``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import token

from .conftest import _unavailable, node_or_skip
from .sites import StaticSite
from .test_dashboard import notify, publish

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "react"
TOOLS = ROOT / "tests" / "react"
PAGE = b"<!doctype html><meta charset=utf-8><title>app</title><div id=root></div><script type=module src=/app.js></script>"


def _run(args: list[str], cwd: Path, timeout: float = 240) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} failed in {cwd}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="session")
def tarball(tmp_path_factory: Any) -> Path:
    node_or_skip()
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed (needed to pack and install the React package)")
    out = tmp_path_factory.mktemp("pack")
    _run([str(npm), "pack", "--silent", "--pack-destination", str(out)], PACKAGE)
    (packed,) = out.glob("realtime-server-react-*.tgz")
    return packed


@pytest.fixture(scope="session")
def bundles(tarball: Path, tmp_path_factory: Any) -> dict[str, bytes]:
    """One fresh app per React major: npm install, tsc --noEmit, esbuild. Returns the bundles."""
    node = node_or_skip()
    npm = shutil.which("npm")
    missing = [name for name in ("node_modules/esbuild", "node_modules/typescript") if not (TOOLS / name).exists()]
    if missing or npm is None:
        _unavailable(f"tests/react is not installed ({', '.join(missing) or 'npm'} missing): run scripts/install-test-deps")
    built = {}
    for major in ("18", "19"):
        app = tmp_path_factory.mktemp(f"app{major}")
        assert ROOT not in app.parents, "the app must live outside the repository"
        versions = json.loads((TOOLS / f"react{major}" / "package.json").read_text())["dependencies"]
        manifest = {"name": f"fresh-app-{major}", "private": True, "type": "module",
                    "dependencies": {**versions, "@realtime-server/react": f"file:{tarball}"}}
        (app / "package.json").write_text(json.dumps(manifest, indent=2))
        shutil.copy(TOOLS / "app.tsx", app / "app.tsx")
        shutil.copy(TOOLS / "tsconfig.json", app / "tsconfig.json")
        _run([str(npm), "install", "--prefer-offline", "--no-audit", "--no-fund", "--no-package-lock",
              "--loglevel=error"], app)
        installed = app / "node_modules" / "@realtime-server" / "react"
        assert not installed.is_symlink(), "installed from the tarball, not linked to the repository"
        assert (installed / "src" / "index.d.ts").exists() and (installed / "src" / "events.d.ts").exists()
        _run([node, str(TOOLS / "node_modules" / "typescript" / "bin" / "tsc"), "-p", str(app)], app)
        _run([node, str(TOOLS / "build.mjs"), str(app), str(app / "app.js")], app)
        built[major] = (app / "app.js").read_bytes()
    return built


@pytest.fixture
def site() -> Iterator[StaticSite]:
    served = StaticSite({"/": ("text/html", PAGE)}).start()
    yield served
    served.stop()


def open_app(page: Any, site: StaticSite, server: Any, bundle: bytes, other: Any = None) -> None:
    site.files["/app.js"] = ("text/javascript", bundle)
    tokens = ",".join((token("2", ttl=3600), token("3", ttl=3600)))
    second = f"&server2=http://127.0.0.1:{other.port}" if other is not None else ""
    page.goto(f"{site.origin}/?server=http://127.0.0.1:{server.port}&tokens={tokens}{second}")


def test_the_package_ships_esm_types_and_use_client(tarball):
    listing = subprocess.run(["tar", "-tzf", str(tarball)], capture_output=True, text=True, check=True).stdout.split()
    for name in ("index.js", "index.d.ts", "events.d.ts", "realtime.js", "notifications.js", "NotificationCenter.js"):
        assert f"package/src/{name}" in listing
    manifest = json.loads(subprocess.run(["tar", "-xzOf", str(tarball), "package/package.json"],
                                         capture_output=True, text=True, check=True).stdout)
    assert manifest["exports"]["."]["types"] == "./src/index.d.ts" and manifest["type"] == "module"
    for name in ("index.js", "context.js", "NotificationCenter.js", "NotificationToast.js", "useLiveData.js",
                 "useNotifications.js"):
        assert (PACKAGE / "src" / name).read_text().startswith('"use client";'), name
    sources = "".join(path.read_text() for path in (PACKAGE / "src").glob("*.js"))
    assert "../" not in sources, "nothing outside the package is imported"


@pytest.mark.parametrize("major", ["18", "19"])
def test_installed_app_on_another_origin(start_server, site, page, bundles, major, tmp_path):
    server = start_server(allowed_origins=(site.origin,))
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = start_server(allowed_origins=(site.origin,), database_url=f"sqlite:///{other_dir}/realtime.db",
                         data_dir=str(other_dir))  # a server of its own: its own database
    open_app(page, site, server, bundles[major], other)
    assert page.inner_text("#react-version").split(".")[0] == major
    page.wait_for_selector("#status:text-is('connected')")
    page.wait_for_selector("#user:text-is('2')")
    page.wait_for_selector("#standalone:text-matches('^connected')")
    assert page.inner_text("#standalone").endswith("shared"), "hooks given the same options share a client"
    page.wait_for_function("window.realtimeClient.positions.since('campaign:3') !== undefined")
    assert page.inner_text("#event-types") == "18"

    publish(server.port, "STATS_UPDATE", {"openLeads": 87})
    page.wait_for_selector("#stats:text-is('open leads 87')")  # useLiveStats under the Provider
    page.wait_for_selector("#standalone:text-is('connected 87 shared')")  # and without one

    publish(server.port, "MESSAGE_RECEIVED", {"contactId": "7", "messageId": "m1", "content": "Hello"})
    publish(server.port, "MESSAGE_STATUS_UPDATE", {"contactId": "7", "messageId": "m1", "status": "READ"})
    page.wait_for_selector("#messages li[data-status=READ]:text-is('Hello')")  # useLiveMessages
    page.click("#type")  # useWebSocket().send: TYPING_START comes back through contact:7
    page.wait_for_selector("#typing:text-is('2')")

    publish(server.port, "LEAD_UPDATED", {"leadId": "9", "status": "QUALIFIED"})
    page.wait_for_selector('#lead:text-is(\'{"LEAD_UPDATED":1}\')')  # useLiveData with a reducer
    assert page.evaluate("window.lastLeadStatus") == "QUALIFIED"
    publish(server.port, "CAMPAIGN_FAILED", {"campaignId": "3", "error": "quota"})
    page.wait_for_selector("#campaign:text-is('CAMPAIGN_FAILED:quota')")  # one subscription despite StrictMode

    # the notification center over REST from another origin (CORS), with a link, classes and clicks
    linked = notify(server.port, title="React toast", message="HIGH shows a toast", priority="HIGH",
                    link="/leads/9")
    page.wait_for_selector(".rt-toast .app-toast:text-is('REACT TOAST')")  # NotificationToast with renderToast
    assert page.inner_text(".rt-badge") == "1"
    assert page.eval_on_selector(".rt-badge", "b => getComputedStyle(b).backgroundColor") == "rgb(0, 128, 0)", \
        "the app's class overrides the default look"
    assert page.inner_text("#unread") == "1"  # useNotifications
    page.click(".rt-toast")
    page.wait_for_function(f"window.toastClicked === '{linked['id']}'")
    page.wait_for_selector(".rt-toast", state="detached")
    page.wait_for_selector(".rt-badge", state="detached")  # clicking the toast marked it read

    notify(server.port, title="Second", message="-", priority="LOW")
    page.wait_for_selector(".rt-badge:text-is('1')")
    page.click(".rt-bell")
    panel = page.wait_for_selector(".rt-panel")
    assert page.get_attribute(f".rt-item[data-id='{linked['id']}'] a.rt-link", "href") == "/leads/9"
    assert page.locator(".rt-item.app-item").count() == 2
    box = panel.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 1280, f"panel off screen: {box}"
    page.click(".rt-item.rt-unread .rt-message")
    page.wait_for_selector(".rt-badge", state="detached")
    assert page.evaluate("window.itemClicked") is not None
    page.click(".rt-remove >> nth=0")
    page.wait_for_selector("#listed:text-is('1')")

    # a new token for the Provider: a new connection as the other user
    page.click("#switch-user")
    page.wait_for_selector("#user:text-is('3')")
    page.wait_for_selector("#unread:text-is('0')")
    page.wait_for_selector("#listed:text-is('0')")

    # a new url for the Provider: a new connection to the other server
    page.click("#switch-server")
    page.wait_for_function(f"window.realtimeClient.baseUrl === 'http://127.0.0.1:{other.port}'")
    page.wait_for_selector("#status:text-is('connected')")
    publish(other.port, "STATS_UPDATE", {"openLeads": 5})
    page.wait_for_selector("#stats:text-is('open leads 5')")


def test_panel_stays_within_a_360px_viewport_when_the_bell_is_on_the_left(start_server, site, page, bundles):
    server = start_server(allowed_origins=(site.origin,))
    page.set_viewport_size({"width": 360, "height": 700})
    open_app(page, site, server, bundles["19"])
    page.wait_for_selector("#status:text-is('connected')")
    page.click(".rt-bell")
    box = page.wait_for_selector(".rt-panel[style*=visible]").bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360, f"panel off screen: {box}"
    assert box["y"] + box["height"] <= 700
