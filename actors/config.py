"""Settings: one place that reads environment variables and command-line flags.

Every setting is an environment variable (``JWT_SECRET``) with a matching flag (``--jwt-secret``);
a flag wins over the environment. Defaults are the secure choice; ``--dev`` relaxes only what a
developer on a laptop needs, and says so loudly at start-up.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

DEFAULT_ROLES = ("ADMIN", "EMPLOYEE", "SERVICE")
DEFAULT_ROOM_PREFIXES = ("user", "role", "contact", "campaign", "lead", "stats")
MIN_HMAC_KEY_BYTES = 32
MIN_METRICS_TOKEN_CHARS = 16
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
DEV_HOST = "127.0.0.1"


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server can be told; read once at start-up and passed down, never global."""

    host: str = field(default="0.0.0.0", metadata={"help": "address to listen on (127.0.0.1 with --dev, unless set)"})
    port: int = field(default=8000, metadata={"help": "TCP port to listen on"})
    database_url: str = field(
        default="sqlite:///data/realtime.db",
        metadata={"help": "sqlite:///path (relative to the working directory) or postgresql://user@host/db; "
                          "or DATABASE_URL_FILE: a file holding it"},
    )
    broker_url: str = field(
        default="memory://",
        metadata={"help": "who numbers room events and keeps their history: memory:// (one process) or "
                          "redis://host:port/db (several processes; REDIS_URL wins when both are set)"},
    )
    redis_url: str = field(
        default="", metadata={"help": "redis://host:port/db: scale out through Redis (selects the Redis broker)"}
    )
    redis_prefix: str = field(default="rt:", metadata={"help": "prefix of every Redis key and channel"})
    redis_timeout: float = field(
        default=1.0, metadata={"help": "seconds a Redis connect or command may take before a publish answers 503"}
    )
    redis_max_connections: int = field(
        default=64, metadata={"help": "Redis command connections per process at most (publishes wait for one)"}
    )
    redis_probe_interval: float = field(
        default=2.0, metadata={"help": "seconds between liveness pings on the PUB/SUB connection; twice this "
                                       "without an answer reconnects it"}
    )
    redis_reconnect_max: float = field(
        default=5.0, metadata={"help": "longest wait between PUB/SUB reconnect attempts (backoff with jitter)"}
    )
    redis_echo_wait: float = field(
        default=1.0, metadata={"help": "seconds a room waits for its own event to come back through PUB/SUB (where "
                                       "it is fanned out, in the room's one order) before reading it from the stream"}
    )
    redis_meta_ttl: float = field(
        default=86_400.0, metadata={"help": "seconds a room's numbering (epoch, offset, latest values) outlives "
                                            "its last event in Redis"}
    )
    node_heartbeat: float = field(
        default=2.0, metadata={"help": "seconds between a node's heartbeats in Redis; three missed drop it"}
    )
    cluster_query_timeout: float = field(
        default=0.5, metadata={"help": "seconds GET /api/ws?room= waits for the other nodes' member counts"}
    )
    retry_after: int = field(
        default=2, metadata={"help": "Retry-After seconds of a 503 when the broker is unavailable"}
    )
    workers: int = field(
        default=1, metadata={"help": "server processes sharing the port (SO_REUSEPORT); more than 1 needs REDIS_URL"}
    )
    reuse_port: bool = field(
        default=False, metadata={"help": "listen with SO_REUSEPORT (set for each worker by --workers)"}
    )
    data_dir: str = field(
        default="", metadata={"help": "folder of the dev-mode signing key; empty: $XDG_DATA_HOME/realtime-server "
                                      "(~/.local/share/realtime-server), the same from every working directory"}
    )
    jwt_secret: str = field(
        default="", metadata={"help": "HS256 key, at least 32 bytes; or JWT_SECRET_FILE: a file holding it",
                              "secret": True}
    )
    jwt_public_key: str = field(
        default="", metadata={"help": "PEM public key, or a path to one (or JWT_PUBLIC_KEY_FILE), for RS256/ES256"}
    )
    jwt_algorithm: str = field(default="", metadata={"help": "HS256 (default with a secret), RS256 or ES256"})
    jwt_audience: str = field(default="", metadata={"help": "required 'aud' claim, when set"})
    jwt_issuer: str = field(default="", metadata={"help": "required 'iss' claim, when set"})
    jwt_leeway: float = field(default=10.0, metadata={"help": "seconds of clock skew allowed on exp/iat"})
    roles: tuple[str, ...] = field(default=DEFAULT_ROLES, metadata={"help": "roles a token may carry"})
    publisher_roles: tuple[str, ...] = field(
        default=("ADMIN", "SERVICE"), metadata={"help": "roles that may publish over REST"}
    )
    room_prefixes: tuple[str, ...] = field(
        default=(), metadata={"help": "room prefixes in addition to user, role, contact, campaign, lead, stats"}
    )
    allowed_origins: tuple[str, ...] = field(
        default=(),
        metadata={"help": "browser origins allowed to open /ws; empty means same-origin only; * allows any"},
    )
    max_frame_bytes: int = field(default=64 * 1024, metadata={"help": "largest inbound WebSocket message"})
    max_body_bytes: int = field(default=1024 * 1024, metadata={"help": "largest REST request body"})
    max_json_depth: int = field(
        default=64, metadata={"help": "deepest nesting of arrays and objects in a REST body or a client frame"}
    )
    max_connections: int = field(default=10_000, metadata={"help": "open WebSocket connections at most"})
    http_header_timeout: float = field(
        default=10.0, metadata={"help": "seconds from connecting (or from the first byte of a kept-alive "
                                        "connection's next request) to the end of the request's headers"}
    )
    http_idle_timeout: float = field(
        default=15.0, metadata={"help": "seconds a kept-alive HTTP connection may wait for its next request"}
    )
    max_pending_connections: int = field(
        default=1_000, metadata={"help": "HTTP connections still sending a request or idle between requests, at "
                                         "most; past it the longest waiting is closed"}
    )
    max_rooms_per_connection: int = field(default=200, metadata={"help": "subscriptions one socket may hold"})
    rate_limit_per_second: float = field(default=20.0, metadata={"help": "client frames per second, sustained"})
    rate_limit_burst: int = field(default=40, metadata={"help": "client frames allowed in a burst"})
    rate_limit_strikes: int = field(
        default=20, metadata={"help": "rate-limited frames in a row before the socket is closed with 1008"}
    )
    max_message_fragments: int = field(
        default=32, metadata={"help": "frames one inbound WebSocket message may be split into (more: close 1008)"}
    )
    message_timeout: float = field(
        default=10.0, metadata={"help": "seconds a client may take to send one whole WebSocket message, from its "
                                        "first byte (longer: close 1008)"}
    )
    outbox_max_frames: int = field(default=2_000, metadata={"help": "frames queued for one slow socket"})
    outbox_max_bytes: int = field(default=4 * 1024 * 1024, metadata={"help": "bytes queued for one slow socket"})
    socket_send_buffer: int = field(
        default=0, metadata={"help": "SO_SNDBUF per socket in bytes; 0 keeps the kernel's autotuning"}
    )
    write_timeout: float = field(default=10.0, metadata={"help": "seconds a blocked socket write may take"})
    heartbeat_interval: float = field(default=25.0, metadata={"help": "seconds between protocol pings"})
    heartbeat_timeout: float = field(default=60.0, metadata={"help": "seconds of silence before a peer is dropped"})
    close_timeout: float = field(default=2.0, metadata={"help": "seconds to wait for the peer's close frame"})
    room_idle_seconds: float = field(default=300.0, metadata={"help": "an empty room lives this long"})
    history_size: int = field(default=1_000, metadata={"help": "events a room keeps for recovery"})
    history_seconds: float = field(default=300.0, metadata={"help": "age of the oldest event a room keeps"})
    coalesce_interval: float = field(
        default=0.25, metadata={"help": "seconds between CAMPAIGN_PROGRESS (per campaign) and STATS_UPDATE sends"}
    )
    stats_provider: str = field(
        default="", metadata={"help": "module:function returning dashboard statistics (a dict) on recompute"}
    )
    stats_refresh_seconds: float = field(
        default=0.0, metadata={"help": "recompute statistics with STATS_PROVIDER this often; 0 = only on request"}
    )
    gc_young_threshold: int = field(
        default=20_000, metadata={"help": "allocations between young-generation garbage collections (Python's is 700)"}
    )
    gc_pause_warn_ms: float = field(
        default=200.0, metadata={"help": "log a garbage collection that stops the server this long (ms); 0 = never"}
    )
    ask_timeout: float = field(default=5.0, metadata={"help": "seconds a REST call waits for an actor"})
    listen_backlog: int = field(default=2048, metadata={"help": "TCP listen backlog"})
    trace_ring_size: int = field(default=200, metadata={"help": "trace entries kept per actor"})
    trace_ring_bytes: int = field(
        default=64 * 1024, metadata={"help": "bytes of trace entries kept per actor (about: a fixed part per entry "
                                             "plus its summary)"}
    )
    trace_total_bytes: int = field(
        default=32 * 1024 * 1024, metadata={"help": "bytes of trace entries kept for all actors together, stopped "
                                                    "ones included; the oldest entries go first"}
    )
    trace_stopped_actors: int = field(default=256, metadata={"help": "stopped actors kept with their trace"})
    trace_records: int = field(
        default=1_000, metadata={"help": "closed connections kept (close code and reason), and as many refusals "
                                         "and as many deliveries to traced users"}
    )
    trace_keep_seconds: float = field(
        default=900.0, metadata={"help": "seconds closed connections, refusals, deliveries, traced events and "
                                         "stopped actors are kept"}
    )
    trace_events: int = field(default=1_000, metadata={"help": "traced events kept with their steps and outcomes"})
    trace_event_connections: int = field(
        default=200, metadata={"help": "connections listed per traced event (a traced user's are always listed; "
                                       "the others are counted)"}
    )
    trace_preview_chars: int = field(default=120, metadata={"help": "longest payload preview in a trace entry"})
    trace_max_minutes: float = field(
        default=1_440.0, metadata={"help": "longest a tracing rule set at runtime may last, in minutes"}
    )
    websocket_debug: bool = field(
        default=False, metadata={"help": "trace everything from the start (rules can also be switched at runtime: "
                                         "PUT /api/debug/tracing)", "flag": "debug"}
    )
    dev: bool = field(default=False, metadata={"help": "development mode: generated key, relaxed origins"})
    conformance_echo: bool = field(
        default=False, metadata={"help": "test mode for scripts/conformance: /echo echoes every WebSocket message, "
                                         "no token needed; refused unless HOST is a loopback address"}
    )
    notification_max_per_user: int = field(
        default=1_000, metadata={"help": "notifications kept per recipient (user, or role for role notifications)"}
    )
    notification_max_age_days: float = field(default=90.0, metadata={"help": "days a notification is kept"})
    notification_purge_interval: float = field(
        default=3_600.0, metadata={"help": "seconds between retention purges of notifications"}
    )
    notification_batch_size: int = field(
        default=500, metadata={"help": "queued notification creates committed in one transaction at most"}
    )
    idempotency_ttl_hours: float = field(
        default=24.0, metadata={"help": "hours an Idempotency-Key answer is replayed to retries"}
    )
    log_level: str = field(default="INFO", metadata={"help": "DEBUG, INFO, WARNING or ERROR"})
    log_format: str = field(
        default="text", metadata={"help": "text (one line per record, context as key=value) or json (one object "
                                          "per line: time, level, logger, message and context fields)"}
    )
    metrics_token: str = field(
        default="", metadata={"help": "bearer token Prometheus sends for GET /metrics on the main port (16+ "
                                      "characters); empty: /metrics is not served there", "secret": True}
    )
    metrics_port: int = field(
        default=0, metadata={"help": "also serve GET /metrics, without a token, on this port (0: no such listener); "
                                     "with --workers N, worker listeners take this port and the next N-1"}
    )
    metrics_host: str = field(
        default="127.0.0.1", metadata={"help": "address of the METRICS_PORT listener (loopback by default)"}
    )
    node_name: str = field(
        default="", metadata={"help": "this process's name, the node label of its metrics; empty: the broker's "
                                      "node id (Redis), else host:pid"}
    )
    no_migrate: bool = field(
        default=False, metadata={"help": "do not migrate the database at start; refuse to start unless it is "
                                         "current (run realtime-server migrate first)"}
    )
    presence_prefixes: tuple[str, ...] = field(
        default=("contact", "lead", "campaign"),
        metadata={"help": "room prefixes with presence: their subscribers are viewers, and SUBSCRIBE with "
                          "presence: true gets them and their PRESENCE diffs (never user or role)"},
    )
    presence_interval: float = field(
        default=1.0, metadata={"help": "seconds between PRESENCE frames of one room at most (joins and leaves "
                                       "batched)"}
    )
    presence_ttl: float = field(
        default=120.0, metadata={"help": "seconds a node's presence entries of a room outlive its last write in "
                                         "Redis (refreshed at a third of it); dead nodes leave through their "
                                         "heartbeat, not this"}
    )
    typing_timeout: float = field(
        default=6.0, metadata={"help": "seconds after a user's last TYPING_START before the room gets TYPING_STOP"}
    )
    claim_prefixes: tuple[str, ...] = field(
        default=("lead", "contact"), metadata={"help": "room prefixes whose rooms may be claimed (CLAIM)"}
    )
    claim_ttl: float = field(
        default=1800.0, metadata={"help": "seconds a claim lasts at most (its until); a CLAIM may ask for less "
                                          "with ttl, and the holder's CLAIM again extends it"}
    )
    claim_grace: float = field(
        default=30.0, metadata={"help": "seconds a claim outlives its holder's last connection"}
    )
    ack_max_ids: int = field(
        default=100, metadata={"help": "notification ids one ACK frame may carry"}
    )
    admin_page_max: int = field(
        default=200, metadata={"help": "connections, users or rooms one admin page (GET /api/admin/...) lists at most"}
    )
    admin_actions_kept: int = field(
        default=200, metadata={"help": "admin actions (test publishes, disconnects) kept for the admin page"}
    )
    admin_series_minutes: float = field(
        default=15.0, metadata={"help": "minutes of counter samples the admin page's graphs show"}
    )
    admin_series_step: float = field(
        default=5.0, metadata={"help": "seconds between two counter samples of the admin page's graphs"}
    )
    cors_max_age: int = field(
        default=600, metadata={"help": "seconds a browser may cache a CORS preflight answer"}
    )
    rest_rate_limit_per_second: float = field(
        default=100.0, metadata={"help": "REST requests per second per token (its user), sustained, except "
                                         "publishes; past the burst: 429 RATE_LIMITED with Retry-After; 0 = no limit"}
    )
    rest_rate_limit_burst: int = field(
        default=200, metadata={"help": "REST requests one token may send at once before REST_RATE_LIMIT_PER_SECOND "
                                       "applies"}
    )
    publish_rate_limit_per_second: float = field(
        default=10_000.0, metadata={"help": "POST /api/live-sync and /api/live-sync/stats per second per token, "
                                            "sustained; 0 = no limit"}
    )
    publish_rate_limit_burst: int = field(
        default=10_000, metadata={"help": "publishes one token may send at once before PUBLISH_RATE_LIMIT_PER_SECOND "
                                          "applies"}
    )
    publish_idempotency_seconds: float = field(
        default=300.0, metadata={"help": "seconds a POST /api/live-sync Idempotency-Key answers its first result "
                                         "to retries (in Redis with REDIS_URL, else in this process)"}
    )
    publish_idempotency_max_keys: int = field(
        default=100_000, metadata={"help": "Idempotency-Keys of publishes kept in memory at most (without Redis); "
                                           "past it the oldest are forgotten"}
    )
    shutdown_grace: float = field(
        default=0.0, metadata={"help": "seconds between SIGTERM and closing the sockets, while GET /readyz answers "
                                       "503 and requests are still served (give the load balancer time to notice)"}
    )
    event_types_file: str = field(
        default="", metadata={"help": "a TOML or JSON file declaring the deployment's own event types (fields, "
                                      "default rooms); see docs/operations.md"}
    )

    @property
    def all_room_prefixes(self) -> tuple[str, ...]:
        return DEFAULT_ROOM_PREFIXES + tuple(p for p in self.room_prefixes if p not in DEFAULT_ROOM_PREFIXES)

    @property
    def algorithm(self) -> str:
        if self.jwt_algorithm:
            return self.jwt_algorithm
        return "RS256" if self.jwt_public_key else "HS256"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        """Refuse settings that would run insecurely or not at all, with a message that says the fix."""
        if self.algorithm.upper() == "NONE":
            raise ConfigError("JWT_ALGORITHM=none is never accepted")
        if self.algorithm.startswith("HS"):
            if not self.jwt_secret:
                raise ConfigError("JWT_SECRET is required (or run with --dev to generate one for development)")
            if len(self.jwt_secret.encode()) < MIN_HMAC_KEY_BYTES:
                raise ConfigError(f"JWT_SECRET must be at least {MIN_HMAC_KEY_BYTES} bytes long")
        elif not self.jwt_public_key:
            raise ConfigError(f"JWT_PUBLIC_KEY is required for {self.algorithm}")
        for name in ("max_frame_bytes", "max_body_bytes", "max_json_depth", "max_connections",
                     "max_pending_connections", "outbox_max_frames",
                     "outbox_max_bytes", "rate_limit_burst", "rate_limit_strikes", "history_size",
                     "admin_page_max", "admin_actions_kept"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.upper()} must be at least 1")
        for name in ("admin_series_minutes", "admin_series_step"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name.upper()} must be positive")
        if self.cors_max_age < 0:
            raise ConfigError("CORS_MAX_AGE must be 0 or more")
        for name in ("heartbeat_interval", "heartbeat_timeout", "write_timeout", "rate_limit_per_second",
                     "ask_timeout", "close_timeout", "http_header_timeout", "http_idle_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name.upper()} must be positive")
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ConfigError("HEARTBEAT_TIMEOUT must be longer than HEARTBEAT_INTERVAL")
        for name in ("notification_max_per_user", "notification_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.upper()} must be at least 1")
        for name in ("notification_max_age_days", "notification_purge_interval", "idempotency_ttl_hours"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name.upper()} must be positive")
        for name in ("trace_ring_size", "trace_ring_bytes", "trace_total_bytes", "trace_stopped_actors",
                     "trace_records", "trace_events", "trace_event_connections", "trace_preview_chars"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.upper()} must be at least 1")
        for name in ("trace_keep_seconds", "trace_max_minutes"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name.upper()} must be positive")
        if self.gc_pause_warn_ms < 0:
            raise ConfigError("GC_PAUSE_WARN_MS must be 0 (never) or positive")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
        if self.metrics_token and len(self.metrics_token) < MIN_METRICS_TOKEN_CHARS:
            raise ConfigError(f"METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_CHARS} characters long")
        if not 0 <= self.metrics_port <= 65535:
            raise ConfigError("METRICS_PORT must be a TCP port (0: none)")
        for name in ("redis_timeout", "redis_probe_interval", "redis_reconnect_max", "redis_echo_wait",
                     "node_heartbeat", "cluster_query_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name.upper()} must be positive")
        for name in ("redis_max_connections", "retry_after", "workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.upper()} must be at least 1")
        for name in ("rest_rate_limit_per_second", "publish_rate_limit_per_second", "shutdown_grace"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name.upper()} must be 0 or positive")
        for name in ("rest_rate_limit_burst", "publish_rate_limit_burst", "publish_idempotency_max_keys"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.upper()} must be at least 1")
        if self.publish_idempotency_seconds <= 0:
            raise ConfigError("PUBLISH_IDEMPOTENCY_SECONDS must be positive")
        if self.max_message_fragments < 1:
            raise ConfigError("MAX_MESSAGE_FRAGMENTS must be at least 1")
        if self.message_timeout <= 0:
            raise ConfigError("MESSAGE_TIMEOUT must be positive")
        if self.conformance_echo and not is_loopback(self.host):
            raise ConfigError(f"--conformance-echo serves /echo without a token: it needs a loopback --host "
                              f"(127.0.0.1 or ::1), not {self.host!r}")
        if self.redis_meta_ttl < self.history_seconds:
            raise ConfigError("REDIS_META_TTL must be at least HISTORY_SECONDS "
                              "(a room's numbering outlives its history)")
        self._validate_presence()
        if self.workers > 1 and not self.effective_broker_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"--workers {self.workers} needs REDIS_URL: each worker is a whole server process, and "
                              "without a shared broker they would number every room apart and lose each other's "
                              "events (set REDIS_URL=redis://host:6379/0, or run one process)")

    @property
    def effective_broker_url(self) -> str:
        """The broker the server opens: REDIS_URL when set (it wins over BROKER_URL), else BROKER_URL."""
        return self.redis_url or self.broker_url

    def _validate_presence(self) -> None:
        """Presence, typing, claims and ACK limits (docs/presence.md)."""
        known = self.all_room_prefixes
        for name in ("presence_prefixes", "claim_prefixes"):
            unknown = [p for p in getattr(self, name) if p not in known]
            if unknown:
                raise ConfigError(f"{name.upper()}: {', '.join(unknown)} is not a room prefix (ROOM_PREFIXES adds one)")
        if {"user", "role"} & set(self.presence_prefixes):
            raise ConfigError("PRESENCE_PREFIXES may not name user or role: every socket is in its own user and role "
                              "rooms, which are not places anyone looks at")
        for name in ("presence_interval", "presence_ttl", "typing_timeout", "claim_ttl", "claim_grace"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name.upper()} must be positive")
        if self.ack_max_ids < 1:
            raise ConfigError("ACK_MAX_IDS must be at least 1")


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parser_for(f: dataclasses.Field[Any]) -> Callable[[str], Any]:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if kind == "bool":
        return _bool
    if kind == "int":
        return int
    if kind == "float":
        return float
    if kind.startswith("tuple"):
        return _csv
    return str


def env_name(f: dataclasses.Field[Any]) -> str:
    return f.name.upper()


def flag_name(f: dataclasses.Field[Any]) -> str:
    return "--" + str(f.metadata.get("flag", f.name)).replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per setting; unset flags stay ``None`` so the environment can fill them."""
    for f in dataclasses.fields(Settings):
        parse = _parser_for(f)
        help_text = f"{f.metadata.get('help', '')} (env {env_name(f)})"
        if parse is _bool:
            parser.add_argument(flag_name(f), dest=f.name, action="store_const", const=True, default=None,
                                help=help_text)
        else:
            parser.add_argument(flag_name(f), dest=f.name, type=parse, default=None, help=help_text)


def _from_file(name: str, path: str) -> str:
    """The ``NAME_FILE`` convention (Docker and Kubernetes secrets): the value is the file's content.

    Surrounding whitespace, such as the newline an editor or ``echo`` leaves at the end, is not part of it.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError as exc:
        raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror or exc}") from None


def default_data_dir(environ: Mapping[str, str]) -> str:
    """Where dev-mode secrets live when DATA_DIR is not set: one place for the user, whatever the working directory."""
    base = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "realtime-server")


def load_settings(args: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment (``NAME`` or ``NAME_FILE``), then flags; raise ConfigError naming
    the bad variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        parse = _parser_for(f)
        flag_value = getattr(args, f.name, None) if args is not None else None
        if flag_value is not None:
            values[f.name] = flag_value
            continue
        raw = environ.get(env_name(f))
        file_path = environ.get(env_name(f) + "_FILE")
        if file_path:
            if raw:
                raise ConfigError(f"set {env_name(f)} or {env_name(f)}_FILE, not both")
            raw = _from_file(env_name(f), file_path)
        if raw is None or raw == "":
            continue
        try:
            values[f.name] = parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{env_name(f)}: {exc}") from None
    if values.get("dev") and "host" not in values:
        values["host"] = DEV_HOST  # a laptop's dev server (and its token endpoint) is not for the network
    settings = Settings(**values)
    if settings.jwt_public_key and not settings.jwt_public_key.lstrip().startswith("-----"):
        try:
            with open(settings.jwt_public_key, encoding="utf-8") as fh:
                settings = settings.replace(jwt_public_key=fh.read())
        except OSError as exc:
            raise ConfigError(f"JWT_PUBLIC_KEY: cannot read {settings.jwt_public_key}: {exc}") from None
    return settings
