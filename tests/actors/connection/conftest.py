"""A WebSocket served by ``serve_websocket`` over a socket pair, with a real Hub behind it.

The handshake is the web layer's; from the first frame on, everything a client sees comes from the
ConnectionActor, its reader and its outlet, and the test reads it as a browser would.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gevent
import pytest

from actors.connection.serving import serve_websocket
from actors.identity import Identity
from tests.actors import parts
from tests.actors.parts import Peer, RunningHub, identity

start_hub = parts.start_hub
members = parts.members


@dataclass
class Served:
    peer: Peer
    greenlet: gevent.Greenlet
    connected: dict[str, Any]


@pytest.fixture
def serve(start_hub: Callable[..., RunningHub]) -> Iterator[Callable[..., Served]]:
    """``serve(hub, identity, pending=b"")``: one served WebSocket; its CONNECTED frame is read already."""
    opened: list[tuple[Served, socket.socket]] = []

    def open_socket(hub: RunningHub, who: Identity | None = None, pending: bytes = b"") -> Served:
        ours, theirs = socket.socketpair()
        greenlet = gevent.spawn(serve_websocket, hub.ctx, who or identity(), ours, pending)
        peer = Peer(theirs)
        connected = peer.json()
        assert connected["type"] == "CONNECTED", connected
        served = Served(peer, greenlet, connected["data"])
        opened.append((served, ours))
        return served

    yield open_socket
    for served, ours in opened:
        served.peer.sock.close()  # the client goes: the reader sees EOF and the actor stops
        served.greenlet.join(timeout=3)
        assert served.greenlet.dead, "serve_websocket did not return after the client went"
        ours.close()
