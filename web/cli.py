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

from actors.config import Settings, add_arguments, load_settings  # noqa: E402
from actors.errors import ConfigError  # noqa: E402
from actors.tokens import issue_token  # noqa: E402

log = logging.getLogger("realtime")

DEV_SECRET_FILE = "dev-jwt-secret"


def _dev_secret(settings: Settings) -> Settings:
    """In dev mode without JWT_SECRET: reuse or create a key under the data folder, so tokens survive restarts."""
    if settings.jwt_secret or not settings.dev:
        return settings
    path = os.path.join(settings.data_dir, DEV_SECRET_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            secret = fh.read().strip()
    else:
        os.makedirs(settings.data_dir, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secret)
    return settings.replace(jwt_secret=secret)


def _serve(settings: Settings, demo: bool = False) -> int:
    from web.server import RealtimeServer, serve_forever

    if settings.dev:
        admin = issue_token(settings, "1", "ADMIN", ttl=7 * 24 * 3600)
        employee = issue_token(settings, "2", "EMPLOYEE", ttl=7 * 24 * 3600)
        banner = "=" * 78
        log.warning("\n%s\n DEVELOPMENT MODE: not for production.\n JWT key generated and kept in %s\n"
                    " Origins from localhost are allowed.\n Admin token (sub 1):    %s\n"
                    " Employee token (sub 2): %s\n%s", banner, os.path.join(settings.data_dir, DEV_SECRET_FILE),
                    admin, employee, banner)
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
    serve.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"), help="DEBUG, INFO, WARNING")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = _dev_secret(load_settings(args))
        settings.validate()
        if args.command == "serve":
            return _serve(settings, demo=args.demo)
        return _token(settings, args)
    except ConfigError as exc:
        print(f"realtime-server: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
