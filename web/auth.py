"""Who is calling: bearer tokens for REST, query tokens for browsers, and origin checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlparse

from flask import current_app, g, request

from actors import ActorSystem, Identity
from actors.errors import Forbidden, Unavailable


def system() -> ActorSystem:
    return current_app.extensions["realtime.system"]  # type: ignore[no-any-return]


def token_from(environ: Mapping[str, Any], allow_query: bool) -> str | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_query:
        values = parse_qs(environ.get("QUERY_STRING", "")).get("token")
        if values:
            return values[0]
    return None


def current_identity() -> Identity:
    """The verified caller of this REST request (401 otherwise); cached for the request."""
    identity = g.get("identity")
    if identity is None:
        identity = system().verifier.verify(token_from(request.environ, allow_query=False))
        g.identity = identity
    return identity  # type: ignore[no-any-return]


def require_role(*roles: str) -> Identity:
    identity = current_identity()
    if identity.role not in roles:
        raise Forbidden(f"this needs one of the roles {', '.join(roles)}; the token has {identity.role}")
    return identity


def check_origin(environ: Mapping[str, Any], allowed: tuple[str, ...], dev: bool) -> None:
    """Browsers send Origin; other clients do not and are judged by their token alone.

    Allowed: no Origin, an Origin on the list, ``*`` on the list, the server's own origin (same
    host), or in dev mode any localhost origin.
    """
    origin = environ.get("HTTP_ORIGIN")
    if not origin or "*" in allowed or origin in allowed:
        return
    parsed = urlparse(origin)
    if parsed.netloc and parsed.netloc == environ.get("HTTP_HOST"):
        return
    if dev and parsed.hostname in ("localhost", "127.0.0.1", "::1"):
        return
    raise Forbidden(f"origin {origin[:100]} is not allowed; add it to ALLOWED_ORIGINS")


def admit_stream(system_: ActorSystem, environ: Mapping[str, Any]) -> Identity:
    """Who may open a /ws socket or an /sse stream: running, allowed Origin, valid token, room left.

    Raises the RealtimeError to answer with (503, 403, 401) before any upgrade or stream starts.
    """
    if not system_.running:
        raise Unavailable("the server is shutting down")
    check_origin(environ, system_.settings.allowed_origins, system_.settings.dev)
    identity = system_.verifier.verify(token_from(environ, allow_query=True))
    if system_.at_capacity():
        raise Unavailable(f"connection limit reached ({system_.settings.max_connections})")
    return identity
