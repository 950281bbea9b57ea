"""The sign-in page (dev sample users) and the admin page (server status; actors in debug mode)."""

from __future__ import annotations

from tests.conftest import token


def test_dev_mode_signs_in_as_a_sample_user(start_server, page):
    server = start_server(dev=True)
    page.goto(f"http://127.0.0.1:{server.port}/")
    page.get_by_role("button", name="Chloe (support)").click()
    page.wait_for_selector("#connection-status[data-state=open]")
    assert page.inner_text("#user-name") == "Chloe · EMPLOYEE"
    page.reload()  # the token is remembered
    page.wait_for_selector("#connection-status[data-state=open]")
    page.click("#sign-out")
    page.wait_for_selector("#signin:not([hidden])")


def test_without_dev_mode_there_are_no_sample_users(server, page):
    page.goto(f"http://127.0.0.1:{server.port}/")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.is_hidden("#dev-users")
    page.fill("#token-input", "not-a-token")
    page.click("#token-submit")
    page.wait_for_selector("#signin-error:not([hidden])")


def test_admin_page_shows_status_and_in_debug_mode_actors_and_traces(start_server, context, page):
    server = start_server(websocket_debug=True)
    employee = context.new_page()
    employee.goto(f"http://127.0.0.1:{server.port}/?token={token('2')}")
    employee.wait_for_selector("#connection-status[data-state=open]")

    server.system.events.lead_updated("9")
    page.goto(f"http://127.0.0.1:{server.port}/admin?token={token('1', 'ADMIN')}")
    page.wait_for_selector("[data-figure=connections] .value:text-is('1')")
    page.wait_for_selector("#delivery tbody tr td:text-is('LEAD_UPDATED')")
    page.wait_for_selector("#actors tr[data-actor=hub]")
    assert page.locator("#actors tr[data-actor='room:lead:9']").count() == 1
    connection = employee.evaluate("window.dashboard.client.connection.connectionId")
    row = f"#actors tr[data-actor='{connection}']"
    page.wait_for_selector(row)
    assert "user 2" in page.inner_text(row)
    page.dispatch_event(row, "click")  # the table is redrawn every poll, so it never counts as "stable"
    page.wait_for_selector(f"#trace-title:text-is('Recent trace: {connection}')")
    assert page.locator("#trace tbody tr").count() > 0


def test_admin_page_without_debug_mode_says_how_to_turn_it_on(server, page):
    page.goto(f"http://127.0.0.1:{server.port}/admin?token={token('1', 'ADMIN')}")
    page.wait_for_selector("#debug-off:not([hidden])")
    assert page.is_hidden("#debug")


def test_admin_page_refuses_an_employee_token(server, page):
    page.goto(f"http://127.0.0.1:{server.port}/admin?token={token('2')}")
    page.wait_for_selector("#signin-error:text-is('The admin page needs an ADMIN token.')")
