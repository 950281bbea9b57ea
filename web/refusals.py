"""An INFO line for every refused HTTP request, and the count of refused /ws and /sse handshakes.

A refused browser connection is the first thing an operator looks for ("why does nobody get live
updates since the key rotation?"), so every 4xx answer is logged with its status, code and message
(a 404 or 405 only at DEBUG: scanners probe paths all day). A refused ``/ws`` or ``/sse`` handshake
(401, 403, or 503 at the connection limit) also counts in ``realtime_client_refusals_total`` by
code, as a refused frame does. Successful requests cost one comparison here; the access log (every
request) stays at DEBUG.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from .auth import system

bp = Blueprint("refusals", __name__)
log = logging.getLogger("realtime.http")

_STREAMS = {"/ws": "websocket", "/sse": "sse"}
_QUIET = (404, 405)


@bp.after_app_request
def log_refusal(response: Response) -> Response:
    status = response.status_code
    transport = _STREAMS.get(request.path)
    if status < 400 or (status >= 500 and transport is None):  # a REST 5xx is logged where it happened
        return response
    body = response.get_json(silent=True) if response.is_json else None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code", "") if isinstance(error, dict) else ""
    message = error.get("message", "") if isinstance(error, dict) else ""
    if transport is not None and code:
        system().metrics.refused(code)
    log.log(logging.DEBUG if status in _QUIET else logging.INFO, "refused %s %s: %d %s",
            request.method, request.path, status, message,
            extra={"code": code or status, "transport": transport})
    return response
