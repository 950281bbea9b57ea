"""``GET /api/openapi.json`` and ``/api/docs``: the document is valid OpenAPI 3.1, names every route, agrees with
the validation, and a live server answers as it says (schemathesis, bounded by ``SCHEMATHESIS_EXAMPLES``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import checks

from actors.errors import BadRequest
from actors.protocol.events import CATALOGUE, EXAMPLES
from actors.protocol.events import validate as validate_event
from tests.conftest import SECRET, token
from web.api.openapi import app_routes

EXE = str(Path(sys.executable).with_name("realtime-server"))
EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
NOT_API = {"/", "/admin", "/static/{filename}", "/echo"}
"""Routes that are pages or test modes, not API: the document leaves them out on purpose."""
STREAMS = ("/sse", "/api/debug/trace", "/ws")
"""Not fuzzed: never-ending responses (schemathesis would wait for their end) and the WebSocket upgrade, which
tests/web/test_sse.py and test_ws_*.py cover over real sockets."""
CHECKS = [checks.status_code_conformance, checks.content_type_conformance, checks.response_headers_conformance,
          checks.response_schema_conformance]
"""Responses match the document. Not ``positive_data_acceptance``: a schema cannot say everything a 400 is
for (a well-formed room id naming a room the caller may not join, a prefix the server does not have), and
those 400s are documented answers."""


def fetch_document(port: int) -> dict[str, Any]:
    response = requests.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


def test_the_document_is_valid_openapi_3_1(server):
    document = fetch_document(server.port)
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema, dangling $ref included
    assert document["openapi"] == "3.1.0"
    schemas = document["components"]["schemas"]
    assert {"ClientFrame", "ServerFrame", "SubscribeFrame", "ConnectedFrame", "ErrorFrame", "RoomEvent"} <= set(schemas)
    assert {f"{name}" for name in ("NotificationRequest", "PreferencesRequest", "Error", "PublishAnswer")} <= set(schemas)
    assert set(schemas["PublishRequest"]["discriminator"]["mapping"]) == set(CATALOGUE)


def test_every_route_of_the_app_is_in_the_document(server):
    documented = {(path, method) for path, item in fetch_document(server.port)["paths"].items() for method in item}
    routes = {(path, method) for path, method in app_routes(server.app.url_map) if path not in NOT_API}
    assert sorted(routes - documented) == [], "document these routes in web/api/openapi.py"
    assert documented - routes == set(), "the document names routes the app does not have"


def test_event_schemas_and_the_validation_agree():
    """Each type's JSON Schema takes its example; a payload the validation refuses, the schema refuses too."""
    schemas = {type_: spec.model.model_json_schema(by_alias=True) for type_, spec in CATALOGUE.items()}
    bad_values = [True, None, [], {"x": 1}, "", "x" * 65, 1.5, "text", 7]
    for type_, spec in CATALOGUE.items():
        jsonschema.validate(EXAMPLES[type_], schemas[type_])
        for name in {**spec.required, **spec.optional}:
            for value in bad_values:
                payload = {**EXAMPLES[type_], name: value}
                try:
                    validate_event(type_, payload)
                    accepted = True
                except BadRequest:
                    accepted = False
                schema_accepts = jsonschema.Draft202012Validator(schemas[type_]).is_valid(payload)
                assert accepted == schema_accepts, (type_, name, value)


def test_the_docs_page_is_served_from_the_package_and_fetches_nothing_else(server):
    page = requests.get(f"http://127.0.0.1:{server.port}/api/docs", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'fetch("/api/openapi.json")' in page.text
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text), "no CDN: the page must work offline"


def test_a_custom_event_type_is_in_the_document(tmp_path):
    """A deployment's own type (EVENT_TYPES_FILE) is published, validated and documented like a built-in one."""
    from tests.web.test_custom_events import ORDERS, running_server

    with running_server(tmp_path, ORDERS) as port:
        document = fetch_document(port)
        validate(document)
        assert "OrderShippedData" in document["components"]["schemas"]
        assert "ORDER_SHIPPED" in document["components"]["schemas"]["PublishRequest"]["discriminator"]["mapping"]


# --- schemathesis against a live server ---------------------------------------------------------------

@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real ``realtime-server serve`` process of this module's own (limits wide open: the fuzzer is one token)."""
    import socket

    tmp = tmp_path_factory.mktemp("schemathesis")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BROKER_URL")}
    env.update({"JWT_SECRET": SECRET, "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "WARNING",
                "DATABASE_URL": f"sqlite:///{tmp}/api.db", "REST_RATE_LIMIT_PER_SECOND": "0",
                "PUBLISH_RATE_LIMIT_PER_SECOND": "0", "CLOSE_TIMEOUT": "1"})
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen([EXE, "serve"], env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).ok:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, (tmp / "server.log").read_text()
            import time

            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
        text = (tmp / "server.log").read_text(errors="replace")
        assert "unhandled error" not in text and "Traceback" not in text, text[-3000:]


ADMIN = {"Authorization": f"Bearer {token('1', 'ADMIN')}"}


def test_the_live_server_answers_as_the_document_says(live_server: int) -> None:
    """Every documented operation, fuzzed from its own schemas (EXAMPLES_PER_OPERATION cases each, an admin token):
    no 5xx but the documented 503s, every status documented, every body matching its schema, every header too.

    schemathesis drives hypothesis directly here (its pytest plugin does not run under pytest 9).
    """
    base = f"http://127.0.0.1:{live_server}"
    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    tried: list[str] = []
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in STREAMS:
            continue
        tried.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def answers_as_documented(case: Any) -> None:
            response = case.call(base_url=base, headers=ADMIN, timeout=10)
            statuses[response.status_code] += 1
            assert response.status_code < 500 or response.status_code == 503, (case.path, response.text)
            case.validate_response(response, checks=CHECKS)

        answers_as_documented()
    assert len(tried) >= 25, tried  # the whole API, not a part of it
    assert statuses[200] and statuses[202] and statuses[400], statuses  # it got through, and it was refused
    print(f"schemathesis: {len(tried)} operations, {sum(statuses.values())} requests, statuses {dict(statuses)}")
