"""The access log (DEBUG) never carries the token a browser passes in the query string."""

import logging

from tests.client import WsClient
from tests.conftest import token, wait_until


def test_query_tokens_are_redacted_from_access_lines(server, caplog):
    secret_token = token("31")
    with caplog.at_level(logging.DEBUG, logger="realtime.access"):
        client = WsClient.open(server.port, secret_token)
        assert client.recv()["type"] == "CONNECTED"
        client.close()
        assert wait_until(lambda: any("/ws?token=" in r.getMessage() for r in caplog.records))
    lines = [r.getMessage() for r in caplog.records if r.name == "realtime.access"]
    assert any('"GET /ws?token=*** HTTP/1.1" 101' in line for line in lines), lines
    assert not any(secret_token in line for line in lines)
