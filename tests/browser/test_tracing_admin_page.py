"""The admin page's tracing section in Chromium, on a server started without --debug: trace a user (tracing
switched on from the page, their refusal, delivery and live entries), a room (dormant and live), one event by
its trace id (a traced user who was not a member, and why), the actors listed while tracing is on, and
tracing switched off again."""

from __future__ import annotations

import requests

from tests.client import WsClient
from tests.conftest import token

ADMIN = {"Authorization": f"Bearer {token('1', 'ADMIN')}"}


def publish(port: int, room: str) -> str:
    response = requests.post(f"http://127.0.0.1:{port}/api/live-sync", headers=ADMIN, timeout=5,
                             json={"type": "LEAD_UPDATED", "room": room, "data": {"leadId": room.split(":")[1]}})
    assert response.status_code == 202
    return str(response.json()["traceId"])


def test_trace_a_user_a_room_and_an_event_from_the_admin_page(start_server, page):
    server = start_server()
    page.goto(f"http://127.0.0.1:{server.port}/admin?token={token('1', 'ADMIN', ttl=3600)}")
    page.wait_for_selector("#tracing-state[data-active=false]")
    assert page.is_visible("#debug-off") and page.is_hidden("#debug")

    page.fill("#trace-user", "42")
    page.click("#trace-user-go")
    page.wait_for_selector("#tracing-state[data-active=true]:has-text('users 42')")
    page.wait_for_selector("#trace-view-title:has-text('42')")
    client = WsClient.open(server.port, token("42", "EMPLOYEE"))
    connection = client.recv()["data"]["connectionId"]
    client.send("SUBSCRIBE", {"room": "lead:9"}, id="s1")
    client.recv()
    client.send("SUBSCRIBE", {"room": "role:ADMIN"}, id="s2")
    client.recv()
    page.wait_for_selector("#trace-live li[data-event=refused]")  # the live stream, filtered to user 42
    publish(server.port, "lead:9")
    missed = publish(server.port, "lead:10")
    client.recv()
    page.wait_for_selector("#trace-live li[data-event=out]:has-text('offset 1')")
    page.wait_for_selector("#trace-refusals tr[data-code=FORBIDDEN]:has-text('role:ADMIN')", timeout=8_000)
    page.wait_for_selector("#trace-deliveries tr[data-room='lead:9'][data-offset='1']")
    page.wait_for_selector(f"#trace-connections tr[data-connection='{connection}']:has-text('lead:9')")

    page.fill("#trace-event", missed)
    page.click("#trace-event-go")
    page.wait_for_selector("#trace-users tr[data-user='42'][data-outcome='not a member']")
    assert "lead:10" in page.inner_text("#trace-event-meta")
    assert "lead:9" in page.inner_text("#trace-users tr[data-user='42']")  # the rooms the connection is in

    page.fill("#trace-room", "user:42")
    page.click("#trace-room-go")
    page.wait_for_selector("#trace-room-meta:has-text('dormant')")
    page.click("#trace-members a")  # a member leads to the user
    page.wait_for_selector("#trace-view-title:has-text('42')")

    page.wait_for_selector("#actors tr[data-actor=hub]")  # tracing on: the actors are shown
    page.fill("#actor-search", connection)
    page.wait_for_function("document.querySelectorAll('#actors tbody tr').length === 1")
    page.dispatch_event(f"#actors tr[data-actor='{connection}']", "click")
    page.wait_for_selector("#trace tbody tr:has-text('FORBIDDEN')")

    client.close()
    page.wait_for_selector("#trace-connections tr[data-code='1000']", timeout=10_000)
    page.click("#tracing-off")
    page.wait_for_selector("#tracing-state[data-active=false]")
    page.wait_for_selector("#actions li[data-action=tracing]:has-text('off')")
    assert server.system.tracer.enabled is False
