"""``GET /api/openapi.json`` (OpenAPI 3.1) and ``GET /api/docs`` (a page that renders it, served from the package).

The schemas come from the models that validate requests (``actors/protocol/schemas.py`` for event
payloads, ``actors/notifications/rules.py`` for notifications and preferences) and from the frame models
(``actors/protocol/schemas_frames.py``), so the document cannot drift from what the server checks. The
paths, parameters and answers are written here, next to the routes they describe; ``tests/web/test_openapi.py``
fails when a route of the app is missing from the document, when the document is not valid OpenAPI 3.1,
and when a live server answers anything the document does not say (schemathesis).

The document is built on first request and kept: the event catalogue, including a deployment's own types
(``EVENT_TYPES_FILE``), is complete once the server has started.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, send_from_directory
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from actors.notifications.rules import NotificationRequest, PreferencesRequest
from actors.protocol.events import CATALOGUE
from actors.protocol.frames import dumps
from actors.protocol.schemas import json_schema, model_name
from actors.protocol.schemas_frames import CLIENT_FRAMES, SERVER_FRAMES

bp = Blueprint("openapi", __name__)

DOCS_PAGE = Path(__file__).resolve().parent / "docs"
REF = "#/components/schemas/{model}"
JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _version() -> str:
    try:
        return metadata.version("realtime-server")
    except metadata.PackageNotFoundError:
        return "0"


# --- components ---------------------------------------------------------------------------------------

ERROR_BODY = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "description": "Every refusal: a code from docs/protocol.md, a message for people, and for a 400 the bad fields.",
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "examples": ["BAD_REQUEST", "UNKNOWN_TYPE", "INVALID_ROOM", "UNAUTHORIZED",
                                                     "FORBIDDEN", "NOT_FOUND", "CONFLICT", "PAYLOAD_TOO_LARGE",
                                                     "RATE_LIMITED", "UNAVAILABLE"]},
            "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "dotted path of each bad field -> what is wrong", "examples": [
                           {"data.leadId": "required"}]},
            "retryAfter": {"type": "integer", "description": "RATE_LIMITED: seconds until a request is allowed"},
        }}},
}

PUBLISH_ANSWER = {
    "type": "object", "required": ["room", "offset", "delivered"],
    "properties": {
        "room": {"type": "string"},
        "epoch": {"type": ["string", "null"]},
        "offset": {"type": ["integer", "null"], "description": "null when a coalesced update was held"},
        "delivered": {"type": "integer", "description": "sockets the event was handed to"},
        "coalesced": {"type": "boolean"},
        "rooms": {"type": "array", "items": {"type": "object"},
                  "description": "one answer per room, when the type's defaults name several"},
        "traceId": {"type": "string", "description": "the X-Trace-Id of the publish"},
    },
}

NOTIFICATION = {
    "type": "object", "required": ["id", "title", "message", "type", "priority", "createdAt", "read"],
    "properties": {
        "id": {"type": "string"}, "userId": {"type": ["string", "null"]}, "role": {"type": ["string", "null"]},
        "title": {"type": "string"}, "message": {"type": "string"}, "type": {"type": "string"},
        "priority": {"enum": ["LOW", "NORMAL", "HIGH", "URGENT"]}, "data": {"type": ["object", "null"]},
        "link": {"type": ["string", "null"]}, "createdAt": {"type": "string"}, "read": {"type": "boolean"},
        "readAt": {"type": ["string", "null"]},
    },
}

PREFERENCES = {
    "type": "object", "required": ["channels", "types", "minPriority", "quietHours"],
    "properties": {
        "channels": ref("ChannelSwitches"),
        "types": {"type": "object", "additionalProperties": ref("ChannelSwitches")},
        "minPriority": ref("MinPriority"),
        "quietHours": {"anyOf": [ref("QuietHoursRequest"), {"type": "null"}]},
    },
}

OBJECT = {"type": "object"}


def _model_components(models: list[type[BaseModel]]) -> dict[str, Any]:
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    return dict(top.get("$defs", {}))


def _event_components() -> tuple[dict[str, Any], dict[str, Any]]:
    """Each type's payload schema, and the publish body: one alternative per type, told apart by ``type``."""
    schemas: dict[str, Any] = {}
    alternatives: list[dict[str, Any]] = []
    mapping: dict[str, str] = {}
    for type_, spec in sorted(CATALOGUE.items()):
        name = model_name(type_)
        schemas[name] = json_schema(spec.model)
        body_name = f"Publish{name[:-4]}"
        schemas[body_name] = {
            "type": "object", "required": ["type", "data"], "title": body_name,
            "description": f"{type_}: {spec.summary}. Default rooms: {spec.default_rooms()}",
            "properties": {"type": {"const": type_}, "room": {"type": "string", "description": "prefix:id; "
                                                                "without it, the type's default rooms"},
                           "data": ref(name)}}
        alternatives.append(ref(body_name))
        mapping[type_] = f"#/components/schemas/{body_name}"
    schemas["PublishRequest"] = {"oneOf": alternatives, "discriminator": {"propertyName": "type", "mapping": mapping},
                                 "description": "POST /api/live-sync: an event of the catalogue (docs/events.md)"}
    room_event = {
        "type": "object", "required": ["type", "room", "epoch", "offset", "data", "timestamp"],
        "description": "A room event as a subscriber receives it (WebSocket frame, or SSE data)",
        "properties": {"type": {"enum": sorted(CATALOGUE)}, "room": {"type": "string"}, "epoch": {"type": "string"},
                       "offset": {"type": "integer"}, "data": OBJECT, "timestamp": {"type": "string"}},
    }
    return schemas, {"RoomEvent": room_event}


def components() -> dict[str, Any]:
    schemas = _model_components([NotificationRequest, PreferencesRequest, *CLIENT_FRAMES, *SERVER_FRAMES])
    events, frames = _event_components()
    schemas.update(events)
    schemas.update(frames)
    schemas["ClientFrame"] = {"oneOf": [ref(m.__name__) for m in CLIENT_FRAMES],
                              "description": "What a client sends on /ws (docs/protocol.md, Client -> server)"}
    schemas["ServerFrame"] = {"oneOf": [ref(m.__name__) for m in SERVER_FRAMES] + [ref("RoomEvent")],
                              "description": "What the server sends on /ws (and as SSE data)"}
    schemas.update({"Error": ERROR_BODY, "PublishAnswer": PUBLISH_ANSWER, "Notification": NOTIFICATION,
                    "Preferences": PREFERENCES})
    retry = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
    trace = {"X-Trace-Id": {"description": "the publish's trace id", "schema": {"type": "string"}}}
    responses = {
        name: {"description": text, "content": {JSON: {"schema": ref("Error")}}}
        for name, text in (
            ("BadRequest", "BAD_REQUEST (with fields), UNKNOWN_TYPE or INVALID_ROOM"),
            ("Unauthorized", "UNAUTHORIZED: no token, or one that does not verify"),
            ("Forbidden", "FORBIDDEN: the token's role may not do this"),
            ("NotFound", "NOT_FOUND"),
            ("MethodNotAllowed", "METHOD_NOT_ALLOWED"),
            ("Conflict", "CONFLICT"),
            ("PayloadTooLarge", "PAYLOAD_TOO_LARGE: a body over MAX_BODY_BYTES"),
        )}
    responses["RateLimited"] = {"description": "RATE_LIMITED: this token's budget is spent (REST_RATE_LIMIT_*)",
                                "headers": retry, "content": {JSON: {"schema": ref("Error")}}}
    responses["Unavailable"] = {"description": "UNAVAILABLE: stopping, an actor did not answer in time, or the "
                                "broker is down (then with Retry-After; the event was not stored)",
                                "headers": retry, "content": {JSON: {"schema": ref("Error")}}}
    return {"schemas": schemas, "responses": responses, "headers": {**retry, **trace},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "a JWT signed with JWT_SECRET or JWT_PUBLIC_KEY's key (docs/protocol.md)"},
                "metricsToken": {"type": "http", "scheme": "bearer", "description": "METRICS_TOKEN"}}}


# --- paths --------------------------------------------------------------------------------------------

def _json(schema: dict[str, Any], description: str = "OK", headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _errors(*statuses: int) -> dict[str, Any]:
    names = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
             409: "Conflict", 413: "PayloadTooLarge", 429: "RateLimited", 503: "Unavailable"}
    return {str(status): {"$ref": f"#/components/responses/{names[status]}"} for status in statuses}


def _op(summary: str, responses: dict[str, Any], *, tag: str, auth: bool = True, body: dict[str, Any] | None = None,
        parameters: list[dict[str, Any]] | None = None, description: str = "") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if description:
        op["description"] = description
    if auth:
        op["security"] = [{"bearer": []}]
        op["responses"] = {**op["responses"], **_errors(401, 429)}
    else:
        op["security"] = []
    if body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
        op["responses"] = {**op["responses"], **_errors(400, 413)}
    if parameters:
        op["parameters"] = parameters
    return op


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema}


ROOM_PATH = _param("room", "path", {"type": "string", "pattern": "^[A-Za-z0-9_-]+:[A-Za-z0-9_-]{1,64}$"},
                   "prefix:id, e.g. lead:9")
NOTIFICATION_ID = _param("id", "path", {"type": "string"}, "a notification id (digits)")
PAGE = [_param("q", "query", {"type": "string", "maxLength": 100}, "search text"),
        _param("offset", "query", {"type": "integer", "minimum": 0}, "items to skip"),
        _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200}, "page size (default 50)")]


def paths() -> dict[str, Any]:
    publish_headers = [
        _param("Idempotency-Key", "header", {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
               "a retry with the same key within PUBLISH_IDEMPOTENCY_SECONDS answers the first result and "
               "publishes nothing"),
        _param("X-Trace-Id", "header", {"type": "string"}, "your own trace id (8-64 of A-Z a-z 0-9 . _ : -); "
               "anything else is replaced by a new one"),
    ]
    answer_headers = {"X-Trace-Id": {"$ref": "#/components/headers/X-Trace-Id"},
                      "Idempotent-Replayed": {"description": "true when this answers a retry (with Idempotency-Key)",
                                              "schema": {"enum": ["true", "false"]}}}
    stats_body = {"oneOf": [
        {"type": "object", "required": ["stats"], "properties": {"stats": OBJECT, "room": {"type": "string"}}},
        {"type": "object", "required": ["recompute"], "properties": {"recompute": {"const": True}}}]}
    sse = {"description": "the event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}
    page_of = {"type": "object", "properties": {"total": {"type": "integer"}, "items": {"type": "array"}}}
    return {
        "/healthz": {"get": _op("liveness: the process runs", {
            "200": _json({"type": "object", "properties": {"ok": {"const": True}}}),
            "503": _json({"type": "object", "properties": {"ok": {"const": False}}}, "stopped")}, tag="probes",
            auth=False)},
        "/readyz": {"get": _op("readiness: take traffic?", {
            "200": _json(ref("Readiness")), "503": _json(ref("Readiness"), "not ready: draining, database or broker "
                                                                          "down")}, tag="probes", auth=False,
            description="503 while draining after SIGTERM (SHUTDOWN_GRACE), or when the database or the broker "
                        "does not answer; the sockets stay open meanwhile.")},
        "/metrics": {"get": {"summary": "Prometheus metrics (METRICS_TOKEN or METRICS_PORT)", "tags": ["probes"],
                             "security": [{"metricsToken": []}], "responses": {
                                 "200": {"description": "text exposition format",
                                         "content": {"text/plain": {"schema": {"type": "string"}}}},
                                 **_errors(401, 404)}}},
        "/ws": {"get": {"summary": "WebSocket: frames are ClientFrame and ServerFrame", "tags": ["streams"],
                        "security": [{"bearer": []}], "parameters": [
                            _param("token", "query", {"type": "string"}, "the JWT (browsers cannot set headers)")],
                        "responses": {"101": {"description": "upgraded; see components ClientFrame, ServerFrame"},
                                      **_errors(400, 401, 403, 503)}}},
        "/sse": {"get": _op("Server-Sent Events: the same frames as event/data lines", {
            "200": sse, **_errors(400, 403, 503)}, tag="streams", parameters=[
                _param("token", "query", {"type": "string"}, "the JWT"),
                _param("rooms", "query", {"type": "string"}, "rooms to join, comma-separated"),
                _param("since", "query", {"type": "string"}, "room@epoch:offset,... to recover")])},
        "/api/ws": {"get": _op("server status: connections, rooms, traffic, delivery, broker", {"200": _json(OBJECT)},
                               tag="status", parameters=[])},
        "/api/live-sync": {
            "post": _op("publish an event", {
                "202": _json(ref("PublishAnswer"), "published (or held by coalescing)", answer_headers),
                **_errors(403, 409, 503)}, tag="publishing", body=ref("PublishRequest"), parameters=publish_headers,
                description="ADMIN or SERVICE (PUBLISHER_ROLES). 409: the Idempotency-Key came with another "
                            "request, or its first request is still running (Retry-After)."),
            "get": _op("the sync service: coalescing, statistics, delivery", {"200": _json(OBJECT), **_errors(403)},
                       tag="publishing")},
        "/api/live-sync/stats": {"post": _op("push or recompute dashboard statistics", {
            "200": _json({"type": "object", "properties": {"room": {"type": "string"}, "stats": OBJECT}},
                         "recomputed"),
            "202": _json(ref("PublishAnswer"), "pushed"), **_errors(403, 409, 503)}, tag="publishing",
            body=stats_body)},
        "/api/rooms/{room}/history": {"get": _op("a room's held events after since", {
            "200": _json({"type": "object", "required": ["room", "events"], "properties": {
                "room": {"type": "string"}, "epoch": {"type": ["string", "null"]},
                "offset": {"type": ["integer", "null"]}, "recovered": {"type": "boolean"},
                "events": {"type": "array", "items": ref("RoomEvent")}}}),
            **_errors(400, 403, 503)}, tag="rooms", parameters=[
                ROOM_PATH, _param("since", "query", {"type": "integer", "minimum": 0}, "last offset seen"),
                _param("epoch", "query", {"type": "string"}, "the epoch of since")])},
        "/api/rooms/{room}/presence": {"get": _op("who is viewing a room: {room, presence: [user ids]}", {
            "200": _json({"type": "object", "properties": {
                "room": {"type": "string"}, "presence": {"type": "array", "items": {"type": "string"}}}}),
            **_errors(400, 403, 404, 503)}, tag="rooms", parameters=[ROOM_PATH])},
        "/api/rooms/{room}/claim": {
            "get": _op("who handles a lead or contact: {room, claim}", {"200": _json(ref("ClaimAnswer")),
                                                                      **_errors(400, 403, 404, 503)},
                       tag="rooms", parameters=[ROOM_PATH]),
            "post": _op("claim a room; body (optional) {ttl, force}", {"200": _json(ref("ClaimAnswer")),
                                                                       **_errors(400, 403, 404, 409, 413, 503)},
                        tag="rooms", parameters=[ROOM_PATH]),
            "delete": _op("release a claim (the holder, or ADMIN)", {"200": _json(ref("ClaimAnswer")),
                                                                     **_errors(400, 403, 404, 409, 503)},
                          tag="rooms", parameters=[ROOM_PATH])},
        "/api/notifications/{id}/deliveries": {"get": _op("which devices got and showed a notification", {
            "200": _json(OBJECT), **_errors(404, 503)}, tag="notifications", parameters=[NOTIFICATION_ID])},
        "/api/notifications": {
            "get": _op("the caller's notifications, newest first", {
                "200": _json({"type": "object", "required": ["notifications", "unreadCount"], "properties": {
                    "notifications": {"type": "array", "items": ref("Notification")},
                    "unreadCount": {"type": "integer"}, "nextCursor": {"type": ["string", "null"]}}}),
                **_errors(400, 503)}, tag="notifications", parameters=[
                    _param("unread", "query", {"enum": ["true", "false", "1", "0"]}, "only unread ones"),
                    _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100}, "page size"),
                    _param("before", "query", {"type": "string"}, "nextCursor of the previous page")]),
            "post": _op("create notifications (ADMIN); 201 only after the commit", {
                "201": _json(ref("CreateAnswer"), "created"),
                "200": _json(ref("CreateAnswer"), "every recipient skipped by their preferences"),
                **_errors(403, 409, 503)}, tag="notifications", body=ref("NotificationRequest"), parameters=[
                    _param("Idempotency-Key", "header", {"type": "string"}, "a retry answers the first result")])},
        "/api/notifications/mark-all-read": {"post": _op("mark every notification read", {
            "200": _json({"type": "object", "properties": {"updated": {"type": "integer"},
                                                           "unreadCount": {"type": "integer"}}}),
            **_errors(503)}, tag="notifications")},
        "/api/notifications/preferences": {
            "get": _op("the caller's preferences", {"200": _json(ref("Preferences")), **_errors(503)},
                       tag="notifications"),
            "put": _op("replace the caller's preferences", {"200": _json(ref("Preferences")), **_errors(503)},
                       tag="notifications", body=ref("PreferencesRequest"))},
        "/api/notifications/{id}": {
            "patch": _op("mark one read or unread", {"200": _json(OBJECT), **_errors(404, 503)}, tag="notifications",
                         body={"type": "object", "required": ["read"], "properties": {"read": {"type": "boolean"}}},
                         parameters=[NOTIFICATION_ID]),
            "delete": _op("delete one", {"204": {"description": "deleted"}, **_errors(404, 503)},
                          tag="notifications", parameters=[NOTIFICATION_ID])},
        "/api/admin/node": {"get": _op("this node and the cluster (ADMIN)", {"200": _json(OBJECT), **_errors(403)},
                                       tag="admin")},
        "/api/admin/series": {"get": _op("15 minutes of counter samples (ADMIN)", {"200": _json(OBJECT),
                                                                                  **_errors(403)}, tag="admin")},
        "/api/admin/actions": {"get": _op("recent administrator actions (ADMIN)", {"200": _json(OBJECT),
                                                                                  **_errors(403)}, tag="admin")},
        "/api/admin/{what}": {"get": _op("browse connections, users or rooms (ADMIN)", {
            "200": _json(page_of), **_errors(400, 403, 404, 503)}, tag="admin", parameters=[
                _param("what", "path", {"enum": ["connections", "users", "rooms"]}, "what to list"), *PAGE])},
        "/api/admin/rooms/{room}": {"get": _op("a room's members and recent events (ADMIN)", {
            "200": _json(OBJECT), **_errors(400, 403, 503)}, tag="admin", parameters=[ROOM_PATH])},
        "/api/admin/rooms/{room}/publish": {"post": _op("publish a test event to a room (ADMIN)", {
            "202": _json(OBJECT), **_errors(400, 403, 413, 503)}, tag="admin", parameters=[ROOM_PATH],
            description="body {type?, data?}; empty: a SYSTEM_ALERT saying it is a test")},
        "/api/admin/connections/{connectionId}/disconnect": {"post": _op("disconnect a connection (ADMIN)", {
            "200": _json({"type": "object", "properties": {"disconnected": {"type": "string"}}}),
            **_errors(403, 404, 503)}, tag="admin", parameters=[
                _param("connectionId", "path", {"type": "string"}, "from the connections list")])},
        "/api/debug/actors": {"get": _op("live actors (ADMIN, debug mode; 404 otherwise)", {
            "200": _json(OBJECT), **_errors(403, 404)}, tag="debug")},
        "/api/debug/actors/{actorId}": {"get": _op("one actor's trace (ADMIN, debug mode)", {
            "200": _json(OBJECT), **_errors(403, 404)}, tag="debug", parameters=[
                _param("actorId", "path", {"type": "string"}, "an actor id")])},
        "/api/debug/trace": {"get": _op("the trace as it happens (ADMIN, debug mode)", {
            "200": sse, **_errors(403, 404)}, tag="debug")},
        "/api/debug/tracing": {
            "get": _op("the tracing rules in force, this node, the rings against their bounds (ADMIN)", {
                "200": _json(OBJECT), **_errors(403)}, tag="debug"),
            "put": _op("replace the tracing rules: {users, rooms, actors, all, minutes} (ADMIN)", {
                "200": _json(OBJECT), **_errors(403)}, tag="debug", body=OBJECT),
            "delete": _op("tracing off (ADMIN)", {"200": _json(OBJECT), **_errors(403)}, tag="debug")},
        "/api/debug/users/{userId}": {"get": _op("a user's connections, refusals, deliveries and misses (ADMIN)", {
            "200": _json(OBJECT), **_errors(400, 403, 503)}, tag="debug", parameters=[
                _param("userId", "path", {"type": "string"}, "a user id")])},
        "/api/debug/events/{traceId}": {"get": _op("one traced event by its trace id, on every node (ADMIN)", {
            "200": _json(OBJECT), **_errors(400, 403, 404, 503)}, tag="debug", parameters=[
                _param("traceId", "path", {"type": "string"}, "the X-Trace-Id of a publish")])},
        "/api/debug/rooms/{room}": {"get": _op("a room: epoch, offset, members, recent publishes (ADMIN)", {
            "200": _json(OBJECT), **_errors(400, 403, 503)}, tag="debug", parameters=[ROOM_PATH])},
        "/api/dashboard/config": {"get": _op("what the built-in dashboard's sign-in page needs", {
            "200": _json({"type": "object", "properties": {"dev": {"type": "boolean"}, "demo": {"type": "boolean"},
                                                           "rooms": {"type": "array", "items": {"type": "string"}}}})},
            tag="dashboard", auth=False)},
        "/api/dev/tokens": {"get": _op("sample tokens (--dev only, from this machine only)", {
            "200": _json(OBJECT), **_errors(403, 404)}, tag="dashboard", auth=False)},
        "/api/openapi.json": {"get": _op("this document", {"200": _json(OBJECT)}, tag="docs", auth=False)},
        "/api/docs": {"get": {"summary": "a page that renders this document", "tags": ["docs"], "security": [],
                              "responses": {"200": {"description": "HTML",
                                                    "content": {"text/html": {"schema": {"type": "string"}}}}}}},
    }


def app_routes(url_map: Any) -> set[tuple[str, str]]:
    """``(path, method)`` of every route of a Flask app, in the document's spelling (``{room}``)."""
    routes: set[tuple[str, str]] = set()
    for rule in url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        path = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path).replace("{notificationId}", "{id}")
        routes.update((path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"})
    return routes


def document(routes: set[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document of this server (its catalogue, including custom event types).

    With ``routes``, operations the app does not have are left out (a route another part of the server
    registers only in some modes, or not yet).
    """
    parts = components()
    parts["schemas"]["Readiness"] = {"type": "object", "required": ["ready"], "properties": {
        "ready": {"type": "boolean"}, "draining": {"type": "boolean"},
        "database": {"type": ["boolean", "null"], "description": "null when the server has no database"},
        "broker": {"type": ["object", "null"]}}}
    parts["schemas"]["ClaimAnswer"] = {"type": "object", "properties": {
        "room": {"type": "string"}, "claim": {"type": ["object", "null"], "description": "{by, role, since, until}"}}}
    parts["schemas"]["CreateAnswer"] = {"type": "object", "required": ["notifications"], "properties": {
        "notifications": {"type": "array", "items": ref("Notification")},
        "skipped": {"type": "array", "items": {"type": "object", "properties": {
            "userId": {"type": "string"}, "reason": {"type": "string"}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "realtime-server", "version": _version(),
                 "description": "REST API of the real-time update server, and the frames of its WebSocket "
                                "(components ClientFrame, ServerFrame). Errors are always "
                                "{\"error\": {code, message, fields?}}; docs/protocol.md is the full contract."},
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "tags": [{"name": name} for name in ("publishing", "notifications", "rooms", "status", "probes", "streams",
                                             "admin", "debug", "dashboard", "docs")],
        "paths": _only(paths(), routes),
        "components": parts,
    }


def _only(described: dict[str, Any], routes: set[tuple[str, str]] | None) -> dict[str, Any]:
    if routes is None:
        return described
    kept: dict[str, Any] = {}
    for path, item in described.items():
        operations = {method: op for method, op in item.items() if (path, method) in routes}
        if operations:
            kept[path] = operations
    return kept


@bp.get("/api/openapi.json")
def openapi() -> Response:
    text = current_app.extensions.get("realtime.openapi")
    if text is None:
        text = current_app.extensions["realtime.openapi"] = dumps(document(app_routes(current_app.url_map)))
    response = Response(text, mimetype=JSON)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/api/docs")
def docs() -> Response:
    """The document rendered by a small page of our own (no CDN: it works offline and behind a firewall)."""
    response = send_from_directory(DOCS_PAGE, "index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response
