"""Benchmark system "ours-inproc": our server, with events published through its in-process API.

Not part of the product. It runs the same server as ``realtime-server serve`` (same settings, same
``/ws`` and the same actors) and adds one bench-only trigger in front of the WSGI application, the
same trigger the raw and socketio peers have:

- ``POST /publish`` with a JSON body ``{"type", "room", "data"}``: calls ``ActorSystem.publish`` in
  the server process (the path a Python service embedded in the server, or ``system.events``,
  takes), and answers 202 with its result. No token, no Flask, no REST validation layer: what is
  measured is the actor path from ``publish`` to the sockets, not the HTTP API in front of it.

    python ours_inproc.py --host 127.0.0.1 --port 8103 --jwt-secret S [any `realtime-server serve` flag]
"""

from gevent import monkey

monkey.patch_all()  # before pykka, flask and jwt are imported (they must see the patched modules)

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:  # run from a checkout whose package is not installed
    sys.path.insert(0, ROOT)

from actors import ActorSystem  # noqa: E402
from actors.config import add_arguments, load_settings  # noqa: E402
from actors.errors import RealtimeError  # noqa: E402
from web.server import RealtimeServer, serve_forever  # noqa: E402

MAX_BODY = 64 * 1024


def with_publish(system: ActorSystem, app: Any) -> Any:
    """``POST /publish`` calls ``system.publish``; every other request goes to the server's own application."""

    def answer(start_response: Any, status: str, body: dict[str, Any]) -> list[bytes]:
        out = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
        return [out]

    def application(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/publish" or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length <= 0 or length > MAX_BODY:
            return answer(start_response, "400 Bad Request", {"error": "bad body"})
        try:
            event = json.loads(environ["wsgi.input"].read(length))
            result = system.publish(event["type"], event.get("data"), event.get("room"))
        except (ValueError, KeyError, TypeError) as exc:
            return answer(start_response, "400 Bad Request", {"error": repr(exc)})
        except RealtimeError as exc:
            return answer(start_response, f"{exc.http_status} {exc.code}", {"error": exc.to_dict()})
        return answer(start_response, "202 Accepted", result or {})

    return application


class InprocServer(RealtimeServer):
    """Our server, with ``POST /publish`` in front of its WSGI application once it has started."""

    def start(self) -> "InprocServer":
        super().start()
        assert self.http is not None and self.system is not None
        self.http.application = with_publish(self.system, self.http.application)
        print(f"ours_inproc listening on {self.settings.host}:{self.port}", file=sys.stderr, flush=True)
        return self


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(args)
    settings.validate()
    stop = Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    serve_forever(InprocServer(settings), stop)  # as `realtime-server serve`: start, GC tuning, wait, stop
    return 0


if __name__ == "__main__":
    sys.exit(main())
