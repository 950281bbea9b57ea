"""The dashboard's HTTP side: pages, static client, public config, dev-mode sample tokens."""

import requests

from actors import Settings, TokenVerifier
from tests.conftest import SECRET


def get(server, path, **kwargs):
    return requests.get(f"http://127.0.0.1:{server.port}{path}", timeout=5, **kwargs)


def test_pages_and_client_are_served(server):
    index = get(server, "/")
    assert index.status_code == 200 and index.headers["Content-Type"].startswith("text/html")
    assert "/static/dashboard/app.js" in index.text
    assert "/static/dashboard/admin.js" in get(server, "/admin").text
    for path in ("/static/realtime.js", "/static/realtime.d.ts", "/static/notifications.js",
                 "/static/dashboard/app.js", "/static/dashboard/style.css"):
        assert get(server, path).status_code == 200, path
    assert get(server, "/static/realtime.js").headers["Content-Type"].startswith("text/javascript")


def test_config_without_dev_or_demo(server):
    assert get(server, "/api/dashboard/config").json() == {"dev": False, "demo": False, "rooms": []}


def test_sample_tokens_only_in_dev_mode(server, start_server):
    assert get(server, "/api/dev/tokens").status_code == 404
    dev = start_server(dev=True)
    users = get(dev, "/api/dev/tokens").json()["users"]
    verifier = TokenVerifier(Settings(jwt_secret=SECRET))
    assert [(u["sub"], u["role"]) for u in users] == [("1", "ADMIN"), ("2", "EMPLOYEE"), ("3", "EMPLOYEE")]
    for user in users:
        identity = verifier.verify(user["token"])
        assert (identity.user_id, identity.role) == (user["sub"], user["role"])
