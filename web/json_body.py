"""Reading a REST body as a JSON object, with the errors docs/protocol.md promises."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from actors.errors import BadRequest, PayloadTooLarge
from actors.protocol.frames import dumps, loads_strict

from .auth import system


def json_object() -> dict[str, Any]:
    """The body as a dict, or 400 that says why; 413 past ``MAX_BODY_BYTES``, with or without Content-Length.

    Strict JSON only (``loads_strict``): what could not be sent on to a browser as standard JSON
    (NaN, Infinity, a lone surrogate) or nests deeper than ``MAX_JSON_DEPTH`` is refused here, before
    anything is queued, numbered or stored.
    """
    settings = system().settings
    raw = request.get_data(cache=True)
    if request.content_length is None and len(raw) >= settings.max_body_bytes and _more_body():
        raise PayloadTooLarge(f"request body over {settings.max_body_bytes} bytes")
    if not raw:
        raise BadRequest("the body must be a JSON object")
    body = loads_strict(raw, settings.max_json_depth)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _more_body() -> bool:
    """Whether a body without Content-Length (chunked) goes on past what was read.

    Werkzeug stops reading such a body at ``MAX_CONTENT_LENGTH`` without saying so, which left a
    truncated body to fail as "not valid JSON"; one more byte from the server's own stream tells.
    """
    return bool(request.environ["wsgi.input"].read(1))


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response without ``jsonify``'s provider machinery: the publish path's answer, per request."""
    return Response(dumps(body), status=status, mimetype="application/json")
