"""CORS for the REST API, ``/sse`` and ``/healthz``: browser apps served from another origin call them.

An app on ``https://app.example`` that talks to the server on ``https://realtime.example`` sends
``Authorization`` and JSON bodies, so the browser asks first (a preflight ``OPTIONS``). We answer the
origins ``/ws`` admits (``ALLOWED_ORIGINS``, ``*``, and localhost in ``--dev``) and nothing else: for any
other origin no ``Access-Control-*`` header is sent, so the browser keeps the answer from the page,
while the request itself is still judged by its token like any other. ``Vary: Origin`` goes on every
answer of these paths, because the same URL answers differently per origin and a cache must not mix
them up. Tokens travel in a header, never in cookies, so credentials are never allowed.
"""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Flask, Response, request

from actors import Settings

CORS_PATHS = ("/api/", "/sse", "/healthz")
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = frozenset({"authorization", "content-type", "idempotency-key", "last-event-id", "accept",
                             "cache-control"})
EXPOSED_HEADERS = "Idempotent-Replayed, Retry-After, X-Trace-Id"
"""Seconds a browser may reuse a preflight answer: short, so a changed ALLOWED_ORIGINS takes hold soon."""


def origin_allowed(origin: str, settings: Settings) -> bool:
    """The same browser origins ``/ws`` admits from another host (``web.auth.check_origin``)."""
    allowed = settings.allowed_origins
    if "*" in allowed or origin in allowed:
        return True
    return settings.dev and urlparse(origin).hostname in ("localhost", "127.0.0.1", "::1")


def _covered(path: str) -> bool:
    return path.startswith(CORS_PATHS)


def install_cors(app: Flask, settings: Settings) -> None:
    """Answer preflights and add the CORS headers to every covered response (one call from ``create_app``)."""

    @app.before_request
    def preflight() -> Response | None:
        if request.method != "OPTIONS" or not _covered(request.path):
            return None
        origin = request.headers.get("Origin")
        wanted = request.headers.get("Access-Control-Request-Method")
        if not origin or not wanted:
            return None  # not a preflight: Flask's own OPTIONS answer
        response = Response(status=204)
        response.headers["Vary"] = "Origin"
        if not origin_allowed(origin, settings):
            return response  # no CORS headers: the browser refuses the real request
        asked = [name.strip().lower() for name in request.headers.get("Access-Control-Request-Headers", "").split(",")
                 if name.strip()]
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ", ".join(h for h in asked if h in ALLOWED_HEADERS)
        response.headers["Access-Control-Max-Age"] = str(settings.cors_max_age)
        return response

    @app.after_request
    def headers(response: Response) -> Response:
        if not _covered(request.path) or (request.method == "OPTIONS" and response.status_code == 204):
            return response
        response.vary.add("Origin")
        origin = request.headers.get("Origin")
        if origin and origin_allowed(origin, settings):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        return response
