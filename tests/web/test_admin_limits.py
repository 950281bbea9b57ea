"""The admin API's and CORS's limits are settings, and each one holds where it is set."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from actors.errors import ConfigError
from tests.conftest import make_settings, token


def test_admin_page_size_follows_admin_page_max(start_server: Any) -> None:
    server = start_server(admin_page_max=5)
    headers = {"Authorization": f"Bearer {token('1', 'ADMIN')}"}
    base = f"http://127.0.0.1:{server.port}/api/admin/connections"
    assert requests.get(base, params={"limit": 5}, headers=headers, timeout=5).status_code == 200
    refused = requests.get(base, params={"limit": 6}, headers=headers, timeout=5)
    assert refused.status_code == 400
    assert "from 1 to 5" in refused.json()["error"]["fields"]["limit"]


def test_admin_actions_and_graph_window_follow_their_settings(start_server: Any) -> None:
    server = start_server(admin_actions_kept=2, admin_series_minutes=1.0, admin_series_step=0.5)
    headers = {"Authorization": f"Bearer {token('1', 'ADMIN')}"}
    base = f"http://127.0.0.1:{server.port}/api/admin"
    for _ in range(3):
        answer = requests.post(f"{base}/rooms/lead:7/publish", headers=headers, json={}, timeout=5)
        assert answer.status_code in (200, 202), answer.text
    actions = requests.get(f"{base}/actions", headers=headers, timeout=5).json()["actions"]
    assert len(actions) == 2  # the oldest of three was let go
    series = requests.get(f"{base}/series", headers=headers, timeout=5).json()
    assert series["step"] == 0.5 and series["minutes"] == 1.0


def test_preflight_cache_follows_cors_max_age(start_server: Any) -> None:
    server = start_server(allowed_origins=("http://app.example",), cors_max_age=42)
    answer = requests.options(f"http://127.0.0.1:{server.port}/api/notifications", timeout=5, headers={
        "Origin": "http://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert answer.headers.get("Access-Control-Max-Age") == "42"


@pytest.mark.parametrize("overrides", [{"admin_page_max": 0}, {"admin_actions_kept": 0},
                                       {"admin_series_step": 0.0}, {"cors_max_age": -1}])
def test_nonsense_admin_and_cors_limits_are_refused_at_start(tmp_path: Any, overrides: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        make_settings(tmp_path, **overrides)
