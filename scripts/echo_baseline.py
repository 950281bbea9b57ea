"""A plain gevent-websocket echo server: the baseline ``scripts/conformance`` runs beside our /echo.

Nothing of the project's own is used here: gevent's WSGI server, gevent-websocket's handler and its
``WebSocket.receive``/``send``, exactly as its documentation shows them. The conformance suite runs
against both in the same run, so our results and times are read against what the library we replaced
does on the same machine at the same moment.

    .venv/bin/python scripts/echo_baseline.py --port 9001     (loopback only)
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import signal  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402


def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    ws = environ.get("wsgi.websocket")
    if ws is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"a WebSocket echo: connect with an upgrade\n"]
    while True:
        message = ws.receive()
        if message is None:
            break
        ws.send(message, binary=not isinstance(message, str))
    return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = WSGIServer(("127.0.0.1", args.port), echo, handler_class=WebSocketHandler, log=None)
    gevent.signal_handler(signal.SIGTERM, server.stop)
    gevent.signal_handler(signal.SIGINT, server.stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
