"""``realtime-server``: the single entry point. Patches gevent first, then imports everything else."""

from gevent import monkey

monkey.patch_all()  # must run before pykka, flask, jwt, redis or psycopg2 are imported, so they get the patched ones

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402

from actors.config import Settings, add_arguments, default_data_dir, load_settings  # noqa: E402
from actors.errors import ConfigError  # noqa: E402
from actors.tokens import issue_token  # noqa: E402
from web.logging_setup import configure_logging, log_start  # noqa: E402

log = logging.getLogger("realtime")

DEV_SECRET_FILE = "dev-jwt-secret"


def dev_key_path(settings: Settings) -> str:
    """Where the dev signing key lives: DATA_DIR (absolute), by default the user's data folder, never the
    working directory, so ``token --dev`` run anywhere signs with the key ``serve --dev`` verifies."""
    return os.path.join(os.path.abspath(settings.data_dir or default_data_dir(os.environ)), DEV_SECRET_FILE)


def _dev_secret(settings: Settings) -> Settings:
    """In dev mode without JWT_SECRET: reuse or create the dev key, so tokens survive restarts; say where it is."""
    if settings.jwt_secret or not settings.dev:
        return settings
    path = dev_key_path(settings)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:  # O_EXCL: two commands started at once agree on one key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, encoding="utf-8") as fh:
            secret = fh.read().strip()
        print(f"realtime-server: dev key {path}", file=sys.stderr)
    else:
        secret = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secret)
        print(f"realtime-server: created the dev key {path} (serve --dev and token --dev use it from any "
              "folder; DATA_DIR moves it)", file=sys.stderr)
    return settings.replace(jwt_secret=secret)


def _serve(settings: Settings, demo: bool = False) -> int:
    from web.server import RealtimeServer, serve_forever

    if settings.dev:
        _dev_banner(settings)
    if settings.conformance_echo:  # Settings.validate has refused it on any host but a loopback one
        banner = "=" * 78
        log.warning("\n%s\n CONFORMANCE TEST MODE (--conformance-echo): not for production.\n /echo echoes every "
                    "WebSocket message to anyone, with no token, on %s.\n%s", banner, settings.host, banner)
    stop = Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    server = RealtimeServer(settings)
    if not demo:
        serve_forever(server, stop)
        return 0
    from web.demo import Demo

    server.start()
    assert server.system is not None and server.app is not None
    simulator = Demo(server.system).start()
    server.app.extensions["realtime.demo"] = simulator  # the dashboard follows its rooms
    stop.wait()
    simulator.stop()
    server.stop(1001)
    return 0


def _dev_banner(settings: Settings) -> None:
    """Say loudly that this is dev mode, where the key is and how to get a token; the tokens go to stdout.

    Not to the log: a log is shipped and kept, and a token in it is a credential anyone reading it can use.
    """
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    url = f"http://{host}:{settings.port}/"
    exposed = ("listening on 127.0.0.1 only (--host 0.0.0.0 opens it to the network)"
               if settings.host in ("127.0.0.1", "::1", "localhost")
               else f"listening on {settings.host}: reachable from the network")
    banner = "=" * 78
    log.warning("\n%s\n DEVELOPMENT MODE: not for production.\n %s\n JWT key kept in %s\n"
                " Origins from localhost are allowed.\n Sign in at %s (sample users), or get a token with:\n"
                "   realtime-server token --dev --sub 1 --role ADMIN\n%s", banner, exposed,
                dev_key_path(settings), url, banner)
    admin = issue_token(settings, "1", "ADMIN", ttl=7 * 24 * 3600)
    employee = issue_token(settings, "2", "EMPLOYEE", ttl=7 * 24 * 3600)
    print(f"Admin token (sub 1):    {admin}\nEmployee token (sub 2): {employee}", flush=True)


def _migrate(settings: Settings, check: bool) -> int:
    """``migrate``: apply the missing steps; ``migrate --check``: exit 1 when any is missing, changing nothing."""
    from store import MIGRATIONS, Store, migrate
    from web.database_schema import pending_migrations
    from web.logging_setup import mask_url

    store = Store(settings.database_url)
    where = mask_url(settings.database_url)
    try:
        try:
            missing = pending_migrations(store)
        except Exception as exc:  # noqa: BLE001  (unreachable, refused, wrong schema: not "pending", which is 1)
            print(f"realtime-server: cannot read the database {where}: {str(exc).strip().splitlines()[0]}",
                  file=sys.stderr)
            return 2
        if check:
            for step in missing:
                print(f"pending: {step.version} {step.name}")
            print(f"{where}: {'not current' if missing else 'current'} ({len(MIGRATIONS) - len(missing)} of "
                  f"{len(MIGRATIONS)} migrations applied)")
            return 1 if missing else 0
        applied = migrate(store)
        for step in MIGRATIONS:
            if step.version in applied:
                print(f"applied: {step.version} {step.name}")
        print(f"{where}: current ({len(MIGRATIONS)} migrations; {len(applied)} applied now)")
        return 0
    finally:
        store.close()


def _token(settings: Settings, args: argparse.Namespace) -> int:
    rooms = [r for r in (args.rooms or "").split(",") if r]
    if args.role not in settings.roles:
        raise ConfigError(f"--role must be one of {', '.join(settings.roles)}")
    private_key = None
    if args.private_key:
        with open(args.private_key, encoding="utf-8") as fh:
            private_key = fh.read()
    elif not settings.algorithm.startswith("HS"):
        raise ConfigError(f"{settings.algorithm} tokens are signed with a private key: pass --private-key FILE")
    print(issue_token(settings, args.sub, args.role, ttl=args.ttl, rooms=rooms, private_key=private_key))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realtime-server",
                                     description="Real-time update server for admin dashboards.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server", description="Run the server. Every flag can "
                                "also be given as the environment variable named in its help.")
    add_arguments(serve)
    serve.add_argument("--demo", action="store_true", help="publish simulated CRM traffic (messages, campaigns, "
                       "leads, alerts, statistics, notifications) so the dashboard at / shows life")
    token = commands.add_parser("token", help="print a signed token", description="Print a token signed with "
                                "the configured key (JWT_SECRET, or the dev key with --dev).")
    token.add_argument("--sub", required=True, help="user id")
    token.add_argument("--role", required=True, help="ADMIN, EMPLOYEE, SERVICE, ...")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    token.add_argument("--rooms", default="", help="extra room patterns, comma-separated (lead:*,contact:42)")
    token.add_argument("--private-key", default="", help="PEM private key file for RS256/ES256")
    add_arguments(token)
    token.set_defaults(log_level="WARNING")
    migrate = commands.add_parser("migrate", help="bring the database schema up to date", description="Apply the "
                                  "database migrations this version has and the database lacks (serve does this "
                                  "at start unless --no-migrate). With --check, change nothing: exit 0 when the "
                                  "database is current, 1 when a migration is pending.")
    migrate.add_argument("--check", action="store_true", help="only say whether the database is current (exit 0) "
                         "or not (exit 1)")
    add_arguments(migrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args)
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "migrate":  # needs the database, not the signing key
            return _migrate(settings, args.check)
        settings = _dev_secret(settings)
        settings.validate()
        if args.command == "serve":
            if settings.workers > 1:  # the supervisor: N whole servers sharing the port (web/workers.py)
                from web.workers import supervise

                return supervise(settings, list(sys.argv[1:] if argv is None else argv))
            log_start(settings, "serve")
            return _serve(settings, demo=args.demo)
        return _token(settings, args)
    except ConfigError as exc:
        print(f"realtime-server: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
