"""The gevent WSGI server with gevent-websocket's handshake, and one server's start and stop."""

from __future__ import annotations

import gc
import logging
import re
import socket
from typing import Any
from urllib.parse import unquote_plus

from flask import Flask
from gevent.pool import Pool
from gevent.pywsgi import WSGIServer

from actors import ActorSystem, Settings
from actors.protocol.schemas_custom import install as install_event_types
from actors.protocol.schemas_custom import uninstall as uninstall_event_types
from store import Store, migrate
from store.notifications import StoredNotifications

from .api.metrics import start_metrics_listener
from .app import create_app
from .database_schema import require_current
from .http_deadlines import DeadlineHandler, WaitingConnections
from .http_headers import parse_request_headers
from .streams.ws import handshake_gate, run_admitted

log = logging.getLogger("realtime.server")
access_log = logging.getLogger("realtime.access")
_QUERY_PARAM = re.compile(r"([?&;])([^=&;\s]*)=([^&\s]*)")
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")
"""A JWT's shape: a base64url JSON header (``{"`` encodes as ``eyJ``), a payload and a signature."""


def redact_tokens(line: str) -> str:
    """An access line without the bearer token a browser passes as ``?token=`` (a log is no place for it).

    A parameter is redacted when its key, percent-decoded, names a token (``token``, ``%74oken``,
    ``access_token``), whatever the value; then anything shaped like a JWT, wherever it is. The
    server accepts only a literal ``token=`` key (``web/auth.py`` ``query_token``), a subset of this.
    """
    return _JWT.sub("***", _QUERY_PARAM.sub(_redact_parameter, line))


def _redact_parameter(match: re.Match[str]) -> str:
    if "token" in unquote_plus(match.group(2)).lower():
        return f"{match.group(1)}{match.group(2)}=***"
    return match.group(0)


class _Handler(DeadlineHandler):
    """gevent-websocket's handler with TCP_NODELAY, deadlines until a request is in (``http_deadlines.py``),
    and access lines in our log instead of stderr."""

    send_buffer = 0
    system: ActorSystem | None = None

    def handle(self) -> None:
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # Nagle + delayed ACK: 40 ms a response
            if self.send_buffer:
                self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
        except OSError:
            pass
        super().handle()

    def MessageClass(self, *args: Any) -> Any:  # noqa: N802 (pywsgi's name)
        return parse_request_headers(*args)

    def run_websocket(self) -> None:
        if self.system is None or not run_admitted(self.system, self):
            super().run_websocket()

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ["realtime.socket"] = self.socket  # for /sse: a stalled stream is cut by shutting this down
        return environ  # type: ignore[no-any-return]

    def log_request(self) -> None:
        if access_log.isEnabledFor(logging.DEBUG):
            access_log.debug(redact_tokens(self.format_request()))


class RealtimeServer:
    """Store, actors and HTTP server of one process, started and stopped in the right order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store | None = None
        self.system: ActorSystem | None = None
        self.http: WSGIServer | None = None
        self.app: Flask | None = None
        self.waiting: WaitingConnections | None = None
        self.metrics_http: WSGIServer | None = None
        self.custom_event_types: list[str] = []

    @property
    def port(self) -> int:
        assert self.http is not None
        return int(self.http.server_port)

    def start(self) -> RealtimeServer:
        settings = self.settings
        if settings.event_types_file:  # a deployment's own event types, checked before anything starts
            self.custom_event_types = install_event_types(settings.event_types_file, settings.all_room_prefixes)
        self.store = Store(settings.database_url)
        try:
            if settings.no_migrate:
                require_current(self.store)  # --no-migrate: a separate `realtime-server migrate` step applies them
            else:
                migrate(self.store)
            self.system = ActorSystem(settings, StoredNotifications(self.store)).start()
        except Exception:
            self.store.close()
            self.store = None
            raise
        system = self.system
        self.app = app = create_app(system, self.store)
        self.waiting = WaitingConnections(settings.max_pending_connections)
        app.extensions["realtime.http"] = self.waiting  # GET /api/ws shows it
        handler = type("Handler", (_Handler,), {"send_buffer": settings.socket_send_buffer, "system": system,
                                                "waiting": self.waiting,
                                                "header_timeout": settings.http_header_timeout,
                                                "idle_timeout": settings.http_idle_timeout})
        # a Pool, so that stop() can end keep-alive handlers too (the default spawner keeps no list)
        listener: Any = (settings.host, settings.port)
        if settings.reuse_port:  # --workers: every worker listens on the port, the kernel spreads connections
            listener = reuse_port_listener(settings.host, settings.port, settings.listen_backlog)
        self.http = WSGIServer(listener, app, handler_class=handler,
                               log=None, spawn=Pool(),
                               error_log=logging.getLogger("realtime.http"),
                               backlog=None if settings.reuse_port else settings.listen_backlog)
        self.http.pre_start_hook = lambda handler: handshake_gate(system, handler.environ)  # type: ignore[attr-defined]
        self.http.start()
        self.metrics_http = start_metrics_listener(system)  # METRICS_PORT, when set
        log.info("listening on http://%s:%d (database %s%s)", settings.host, self.port,
                 _safe_url(settings.database_url), ", debug tracing on" if settings.websocket_debug else "")
        return self

    def drain(self) -> None:
        """Readiness off (``GET /readyz`` answers 503, ``draining: true``); everything else is served as before."""
        if self.app is not None:
            self.app.extensions["realtime.draining"] = True

    def stop(self, code: int = 1001) -> None:
        """Stop accepting, close every socket with ``code``, stop the actors, close the database."""
        if self.http is not None:
            self.http.close()
        if self.metrics_http is not None:
            self.metrics_http.stop(timeout=1)
        if self.system is not None:
            self.system.stop(code, timeout=max(2.0, self.settings.close_timeout * 2))
        if self.http is not None:
            self.http.stop(timeout=self.settings.close_timeout)
        if self.store is not None:
            self.store.close()
        uninstall_event_types(self.custom_event_types)
        log.info("stopped")


def reuse_port_listener(host: str, port: int, backlog: int) -> Any:
    """A listening socket with SO_REUSEPORT, so several worker processes accept on one port."""
    from gevent import socket as gsocket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = gsocket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def _tune_gc(young_threshold: int) -> None:
    """Fewer, cheaper collections: a server holding 10,000 sockets' objects otherwise pauses often.

    ``gc.freeze`` moves everything alive after start-up (modules, app, actors) out of the collector's
    sight; a larger young generation threshold makes collections rarer while each stays small.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)


def _safe_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


def serve_forever(server: RealtimeServer, stop_signals: Any) -> None:
    """Start, wait for a stop signal, stop; ``stop_signals`` is an Event set by the signal handlers."""
    server.start()
    _tune_gc(server.settings.gc_young_threshold)  # the process's own entry point only, not embedded servers
    stop_signals.wait()
    grace = server.settings.shutdown_grace
    if grace > 0:  # the load balancer sees 503 on /readyz and stops sending; meanwhile everything is served
        stop_signals.clear()
        server.drain()
        log.info("stop requested; draining for %gs (GET /readyz answers 503; a second signal ends it)", grace)
        stop_signals.wait(grace)
    log.info("stop requested; closing sockets with 1001")
    server.stop(1001)
