"""A schema-driven fuzz of every REST route over real HTTP: no 500, and every error has the documented shape.

Each route is described by its request shape (method, path parameters, query, JSON body fields with a
valid value each); hypothesis then sends valid requests, near-valid ones (a field dropped or given any
JSON value, any path or query text), arbitrary JSON, arbitrary bytes and the hostile bodies an attacker
used (deep nesting, NaN, lone surrogates), as the admin, an employee, a service, a bad token or none.
Every answer must be below 500 and every error ``{"error": {"code": str, "message": str, "fields"?: {...}}}``
(docs/protocol.md, REST API); nothing may be logged as an unhandled error. A second test fails when a
route is added to the app without a shape here (a shape for a route the app does not have yet is
harmless: it is answered 404). Bounded by ``FUZZ_EXAMPLES`` (default 1,500 requests, about 15 s here).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import Settings
from tests.conftest import token

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1500"))

NOT_REST = {"/ws", "/sse", "/echo", "/static/<path:filename>", "/api/debug/trace"}
"""Streams and static files: the WebSocket and SSE handshakes, and the live trace stream, have tests of their own."""

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
"""``st.floats()`` includes NaN and infinities, which ``json.dumps`` writes as ``NaN``/``Infinity``; ``st.text()``
includes lone surrogates, which it writes as ``\\udc80`` escapes: both must be refused at the door."""
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
user_ids = st.sampled_from(["7", "42", "u-1"]) | st.text(max_size=70)
rooms = st.sampled_from(["lead:1", "user:42", "stats:dashboard", "role:ADMIN", "contact:9", "nope:1", "lead:"]) \
    | st.text(max_size=80)
ids = st.sampled_from(["1", "2", "999999", "0", "-1", "99999999999999999999", "abc"]) | st.text(max_size=30)
priorities = st.sampled_from(["LOW", "NORMAL", "HIGH", "URGENT"])
types = st.sampled_from(["LEAD_CREATED", "LEAD_ASSIGNED", "STATS_UPDATE", "CAMPAIGN_PROGRESS", "NOTIFICATION",
                         "billing.invoice", "PING"])

HOSTILE = [
    b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5_000 + b"1" + b"}" * 5_000, b'{"v":NaN}', b'{"v":Infinity}',
    b'{"v":1e999}', b'{"title":"\\udc80"}', b'{"\\ud800":1}', b'\xed\xb2\x80', b"\xff\xfe", b"", b"null", b"[]",
    b'"x"', b"{", b'{"a":1} x',
]


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    path: dict[str, st.SearchStrategy[Any]] = field(default_factory=dict)
    query: dict[str, st.SearchStrategy[Any]] = field(default_factory=dict)
    body: dict[str, st.SearchStrategy[Any]] | None = None


LIVE_SYNC = {"type": types, "room": rooms, "data": st.fixed_dictionaries(
    {}, optional={"leadId": ids, "assignedTo": user_ids, "progress": st.integers(), "title": st.text()})}
NOTIFICATION = {"userId": user_ids, "userIds": st.lists(user_ids, max_size=3), "role": st.sampled_from(["ADMIN", "X"]),
                "title": st.text(max_size=50), "message": st.text(max_size=50), "type": types,
                "priority": priorities, "data": json_values, "link": st.text(max_size=30)}
PREFERENCES = {"channels": st.fixed_dictionaries({}, optional={"inApp": st.booleans(), "toast": st.booleans()}),
               "types": st.dictionaries(types, st.booleans() | json_values, max_size=3),
               "minPriority": st.fixed_dictionaries({}, optional={"toast": priorities, "browser": priorities}),
               "quietHours": st.none() | st.fixed_dictionaries(
                   {"start": st.sampled_from(["22:00", "25:00", "x"]), "end": st.sampled_from(["07:00", "22:00"]),
                    "timezone": st.sampled_from(["Europe/Berlin", "Nowhere/City", "../etc", "UTC"])})}
PAGE = {"q": st.text(max_size=20), "offset": ids, "limit": ids}

ROUTES = [
    Route("GET", "/"), Route("GET", "/admin"), Route("GET", "/healthz"), Route("GET", "/readyz"),
    Route("GET", "/metrics"), Route("GET", "/api/ws"), Route("GET", "/api/dashboard/config"),
    Route("GET", "/api/dev/tokens"), Route("GET", "/api/openapi.json"), Route("GET", "/api/docs"),
    Route("GET", "/api/live-sync"),
    Route("POST", "/api/live-sync", body=LIVE_SYNC),
    Route("POST", "/api/live-sync/stats", body={"stats": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
                                                "room": rooms, "recompute": st.booleans()}),
    Route("GET", "/api/rooms/<path:room>/history", path={"room": rooms},
          query={"since": ids, "epoch": st.text(max_size=14)}),
    Route("GET", "/api/notifications", query={"unread": st.sampled_from(["true", "false", "x"]), "limit": ids,
                                              "before": ids}),
    Route("POST", "/api/notifications", body=NOTIFICATION),
    Route("PATCH", "/api/notifications/<notification_id>", path={"notification_id": ids},
          body={"read": st.booleans() | json_values}),
    Route("DELETE", "/api/notifications/<notification_id>", path={"notification_id": ids}),
    Route("GET", "/api/notifications/<notification_id>/deliveries", path={"notification_id": ids}),
    Route("GET", "/api/rooms/<path:room>/presence", path={"room": rooms}),
    Route("GET", "/api/rooms/<path:room>/claim", path={"room": rooms}),
    Route("POST", "/api/rooms/<path:room>/claim", path={"room": rooms},
          body={"ttl": st.integers() | st.floats(), "force": st.booleans()}),
    Route("DELETE", "/api/rooms/<path:room>/claim", path={"room": rooms}),
    Route("POST", "/api/notifications/mark-all-read"),
    Route("GET", "/api/notifications/preferences"),
    Route("PUT", "/api/notifications/preferences", body=PREFERENCES),
    Route("GET", "/api/debug/actors"),
    Route("GET", "/api/debug/actors/<path:actor_id>", path={"actor_id": ids}),
    Route("GET", "/api/debug/tracing"), Route("DELETE", "/api/debug/tracing"),
    Route("PUT", "/api/debug/tracing", body={"users": st.lists(user_ids, max_size=3),
                                             "rooms": st.lists(rooms, max_size=3), "actors": st.lists(ids, max_size=2),
                                             "all": st.booleans(), "minutes": st.floats() | st.integers()}),
    Route("GET", "/api/debug/users/<user_id>", path={"user_id": user_ids}),
    Route("GET", "/api/debug/rooms/<path:room>", path={"room": rooms}),
    Route("GET", "/api/debug/events/<trace_id>", path={"trace_id": ids}),
    Route("GET", "/api/admin/node"), Route("GET", "/api/admin/series"), Route("GET", "/api/admin/actions"),
    Route("GET", "/api/admin/<any(connections, users, rooms):what>",
          path={"what": st.sampled_from(["connections", "users", "rooms"])}, query=PAGE),
    Route("GET", "/api/admin/rooms/<path:room>", path={"room": rooms}),
    Route("POST", "/api/admin/rooms/<path:room>/publish", path={"room": rooms},
          body={"type": types, "data": json_values}),
    Route("POST", "/api/admin/connections/<connection_id>/disconnect", path={"connection_id": ids}),
]

CALLERS = {"admin": token("1", "ADMIN"), "employee": token("7", "EMPLOYEE"), "service": token("s", "SERVICE"),
           "bad": "not.a.jwt", "none": None}
CALLER_WEIGHTS = ["admin"] * 4 + ["employee", "service", "bad", "none"]
"""Mostly the admin: most routes read their input only once the caller is allowed."""


def _url_path(route: Route, values: dict[str, str]) -> str:
    path = route.rule
    for name, value in values.items():
        start = path.index("<")
        end = path.index(">", start)
        assert name in path[start:end]
        path = path[:start] + quote(value, safe="") + path[end + 1:]
    return path


@st.composite
def requests_for(draw: st.DrawFn, route: Route) -> dict[str, Any]:
    path_values = {name: str(draw(strategy)) for name, strategy in route.path.items()}
    query = {name: str(draw(strategy)) for name, strategy in route.query.items() if draw(st.booleans())}
    headers = {}
    caller = CALLERS[draw(st.sampled_from(CALLER_WEIGHTS))]
    if caller is not None:
        headers["Authorization"] = f"Bearer {caller}"
    if draw(st.booleans()):
        headers["Idempotency-Key"] = draw(st.sampled_from(["k1", "k2", "", "a b", "x" * 300, "\u00e9"]))
    data: bytes | None = None
    if route.body is not None or route.method in ("POST", "PUT", "PATCH"):
        kind = draw(st.sampled_from(["shaped", "shaped", "any json", "bytes", "hostile", "hostile", "none"]))
        if kind == "shaped" and route.body:
            body = {name: draw(strategy if draw(st.integers(0, 3)) else json_values)
                    for name, strategy in route.body.items() if draw(st.booleans())}
            data = json.dumps(body).encode()
        elif kind == "any json":
            data = json.dumps(draw(json_values)).encode()
        elif kind == "bytes":
            data = draw(st.binary(max_size=64))
        elif kind == "hostile":
            data = draw(st.sampled_from(HOSTILE))
        headers["Content-Type"] = "application/json"
    return {"method": route.method, "path": _url_path(route, path_values), "params": query, "headers": headers,
            "data": data}


def _short(request: dict[str, Any]) -> str:
    """The request, cut to a readable length for an assertion message (some bodies are 200 KB)."""
    text = repr({**request, "headers": {k: v[:20] for k, v in request["headers"].items()}})
    return text if len(text) <= 400 else text[:400] + f"... ({len(text)} characters)"


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def check_answer(response: requests.Response, request: dict[str, Any]) -> None:
    sent = _short(request)
    assert response.status_code < 500, (response.status_code, response.text, sent)
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, (body, sent)
        error = body["error"]
        assert isinstance(error.get("code"), str) and error["code"], (body, sent)
        assert isinstance(error.get("message"), str), (body, sent)
        assert set(error) <= {"code", "message", "fields"}, (body, sent)
        if "fields" in error:
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in error["fields"].items()), (body, sent)


@pytest.fixture
def fuzz_server(start_server):
    """Without a per-token REST rate limit, where the server has one: one token sends all these requests,
    and 429s would hide the paths the fuzz is for (setting it to 0 switches it off)."""
    return start_server(**{name: 0 for name in ("rest_rate_limit_per_second",) if hasattr(Settings(), name)})


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_no_route_answers_500_or_an_undocumented_error(fuzz_server, data):
    route = data.draw(st.sampled_from(ROUTES), label="route")
    sent = data.draw(requests_for(route), label="request")
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    try:
        response = requests.request(sent["method"], f"http://127.0.0.1:{fuzz_server.port}{sent['path']}",
                                    params=sent["params"], headers=sent["headers"], data=sent["data"], timeout=10)
    finally:
        logging.getLogger().removeHandler(errors)
    check_answer(response, sent)
    unhandled = [r.getMessage() for r in errors.records if r.name.startswith("realtime")]
    assert not unhandled, (unhandled, _short(sent))


def test_every_rest_route_has_a_shape_here(fuzz_server):
    described = {(route.method, route.rule) for route in ROUTES}
    missing = []
    for rule in fuzz_server.app.url_map.iter_rules():
        if rule.rule in NOT_REST:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (method, rule.rule) not in described:
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"routes the REST fuzz does not know: {missing}; add their request shape to ROUTES"
