"""Who is calling: bearer tokens for REST, query tokens for browsers, and origin checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus, urlparse

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
        return query_token(environ.get("QUERY_STRING", ""))
    return None


def query_token(query: str) -> str | None:
    """The first ``token=`` of a query string, its key taken literally.

    A key that only decodes to ``token`` (``%74oken=``) is not accepted: what we accept must be what the
    access log redacts, and the log sees the query as sent. The value is percent-decoded as usual.
    """
    for part in query.split("&"):
        key, sep, value = part.partition("=")
        if sep and key == "token" and value:
            return unquote_plus(value)
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
    try:
        parsed = urlparse(origin)
        netloc, hostname = parsed.netloc, parsed.hostname
    except ValueError:  # "http://[::1" and the like: not an origin a browser sends
        raise Forbidden(f"origin {origin[:100]!r} is not a valid origin") from None
    if netloc and netloc == environ.get("HTTP_HOST"):
        return
    if dev and hostname in ("localhost", "127.0.0.1", "::1"):
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
