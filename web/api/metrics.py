"""``GET /metrics`` for Prometheus: on the main port with ``METRICS_TOKEN``, or open on ``METRICS_PORT``.

Two ways because deployments differ: behind a load balancer the main port is public, so scraping
it needs a token (Prometheus sends ``Authorization: Bearer`` from its ``authorization`` setting);
on a private network a separate listener, bound to loopback unless ``METRICS_HOST`` says
otherwise, needs none. Without either, ``/metrics`` answers 404 and says how to turn it on: the
figures (rooms, users' traffic) are not for anyone who can reach the server.

The collectors (``actors/observability/prometheus.py``) read the server's own counters at scrape
time; this module only decides who may ask and writes the exposition format.
"""

from __future__ import annotations

import errno
import hmac
import logging
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Response, request
from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import choose_encoder

from actors import ActorSystem
from actors.errors import ConfigError, NotFound, Unauthorized
from actors.observability.gc_pauses import PAUSES
from actors.observability.prometheus import build_registry, default_node_name

from ..auth import system, token_from

bp = Blueprint("metrics", __name__)
log = logging.getLogger("realtime.metrics")

MAX_WORKER_PORTS = 64
"""Ports a worker tries from METRICS_PORT on (more workers than cores is no use on any machine we know)."""

_REGISTRIES: weakref.WeakKeyDictionary[ActorSystem, CollectorRegistry] = weakref.WeakKeyDictionary()


def node_name(system_: ActorSystem) -> str:
    """The ``node`` label of this process's samples: ``NODE_NAME``; else the id the broker gave this process
    (with Redis: the id in ``GET /api/ws``'s nodes list); else host:pid."""
    broker = system_.broker.describe() if system_.broker is not None else {}
    return system_.settings.node_name or str(broker.get("node") or "") or default_node_name()


def registry_of(system_: ActorSystem) -> CollectorRegistry:
    """One registry per actor system (and so per server process), built at its first scrape."""
    registry = _REGISTRIES.get(system_)
    if registry is None:
        registry = _REGISTRIES[system_] = build_registry(system_.metrics, PAUSES, system_.status, node_name(system_))
    return registry


@bp.get("/metrics")
def metrics() -> Response:
    system_ = system()
    expected = system_.settings.metrics_token
    if not expected:
        raise NotFound("metrics are not served on this port: set METRICS_TOKEN (and scrape with it as a bearer "
                       "token) or METRICS_PORT (a separate listener); see docs/operations.md")
    given = token_from(request.environ, allow_query=False) or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("GET /metrics needs Authorization: Bearer <METRICS_TOKEN>")
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encoder(registry_of(system_)), content_type=content_type)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _only_metrics(app: WsgiApp) -> WsgiApp:
    """prometheus_client's WSGI app answers every path; this listener answers ``/metrics`` alone."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found: GET /metrics\n"]
        return app(environ, start_response)

    return serve


def start_metrics_listener(system_: ActorSystem) -> WSGIServer | None:
    """The ``METRICS_PORT`` listener, or None when it is not configured.

    With ``--workers N`` every worker is a process of its own with its own figures; each takes the
    first free port from ``METRICS_PORT`` on (``METRICS_PORT`` .. ``METRICS_PORT + N - 1`` while all
    run), so Prometheus scrapes N targets and tells them apart by their ``node`` label. A worker does
    not know N (the supervisor starts each as a plain ``serve --reuse-port``), hence the bounded search.
    """
    settings = system_.settings
    if not settings.metrics_port:
        return None
    app = _only_metrics(make_wsgi_app(registry_of(system_)))
    tries = max(settings.workers, MAX_WORKER_PORTS if settings.reuse_port else 1)
    for port in range(settings.metrics_port, settings.metrics_port + tries):
        listener = WSGIServer((settings.metrics_host, port), app, log=None,
                              error_log=logging.getLogger("realtime.http"))
        try:
            listener.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            continue
        log.info("metrics on http://%s:%d/metrics (no token: keep this port private)", settings.metrics_host,
                 listener.server_port)
        return listener
    raise ConfigError(f"METRICS_PORT: no free port from {settings.metrics_port} to "
                      f"{settings.metrics_port + tries - 1} on {settings.metrics_host}")
