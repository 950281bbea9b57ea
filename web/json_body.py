"""Reading a REST body as a JSON object, with the errors docs/protocol.md promises."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from actors.errors import BadRequest
from actors.protocol.frames import dumps


def json_object() -> dict[str, Any]:
    """The body as a dict, or 400 that says why (413 is raised by Flask on MAX_CONTENT_LENGTH)."""
    raw = request.get_data(cache=True)
    if not raw:
        raise BadRequest("the body must be a JSON object")
    body = request.get_json(silent=True, force=True)
    if body is None:
        raise BadRequest("the body is not valid JSON")
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response without ``jsonify``'s provider machinery: the publish path's answer, per request."""
    return Response(dumps(body), status=status, mimetype="application/json")
