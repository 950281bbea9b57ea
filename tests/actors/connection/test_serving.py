"""Serving a stream: ``open_sse_stream`` (authorize, then start) and ``SseStream``; ``serve_websocket``'s own part.

Real sockets (socket pairs), a real Hub; the SSE text is read as the ``/sse`` response would write it.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pykka
import pytest

from actors.connection.serving import SseStream, new_connection_id, open_sse_stream, serve_websocket
from actors.errors import BadRequest, Forbidden, InvalidRoom
from actors.identity import Identity
from actors.protocol.positions import Since
from actors.rooms.actor_messages import Publish, Shutdown
from actors.runtime.reply import Reply
from tests.actors.parts import Peer, RunningHub, client_frame, identity
from tests.conftest import live_greenlets, wait_until


@pytest.fixture
def sse(start_hub: Callable[..., RunningHub]) -> Iterator[Callable[..., SseStream]]:
    """``sse(hub, identity, rooms, positions)``: an SSE stream over a socket pair, closed afterwards."""
    opened: list[tuple[SseStream, socket.socket, socket.socket]] = []

    def open_stream(hub: RunningHub, who: Identity, rooms: list[str],
                    positions: dict[str, Since] | None = None) -> SseStream:
        ours, theirs = socket.socketpair()
        try:
            stream = open_sse_stream(hub.ctx, who, ours, rooms, positions or {})
        except Exception:
            ours.close()
            theirs.close()
            raise
        opened.append((stream, ours, theirs))
        return stream

    yield open_stream
    for stream, ours, theirs in opened:
        stream.close()
        theirs.close()
        ours.close()


def events(stream: SseStream, count: int, timeout: float = 2.0) -> list[dict[str, Any]]:
    """The next ``count`` SSE events as ``{event, id?, data}``."""
    found: list[dict[str, Any]] = []
    with gevent.Timeout(timeout):
        while len(found) < count:
            chunk = stream.next_chunk(timeout)
            assert chunk is not None, f"the stream ended after {found}"
            for block in chunk.decode().split("\n\n"):
                event: dict[str, Any] = {}
                for line in block.splitlines():
                    name, _, value = line.partition(": ")
                    event[name] = json.loads(value) if name == "data" else value
                if event:
                    found.append(event)
    assert len(found) == count, found
    return found


def publish(hub: RunningHub, room: str, n: int) -> dict[str, Any]:
    reply = Reply()
    hub.hub.tell(Publish(room, "LEAD_UPDATED", {"leadId": "1", "n": n}, reply))
    return reply.get(timeout=2)  # type: ignore[no-any-return]


def started_anything(hub: RunningHub) -> tuple[int, int, int, int]:
    return (hub.ctx.tracer.count(), len(pykka.ActorRegistry.get_all()), hub.ctx.metrics.connections,
            live_greenlets())


# --- SSE -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("rooms, positions, error", [
    (["user:43"], {}, Forbidden),
    (["lead:1", "role:ADMIN"], {}, Forbidden),
    (["nope:1"], {}, InvalidRoom),
    (["lead:1"], {"user:43": Since("e", 1)}, Forbidden),  # a position names a room too
    (["lead:1", "lead:2"], {}, BadRequest),  # over the limit with the two home rooms
])
def test_open_sse_stream_refuses_before_anything_starts(start_hub, sse, rooms, positions, error):
    hub = start_hub(max_rooms_per_connection=3)
    before = started_anything(hub)
    with pytest.raises(error):
        sse(hub, identity("42", "EMPLOYEE"), rooms, positions)
    assert started_anything(hub) == before
    assert hub.status()["connections"] == 0 and hub.ctx.metrics.connections_total == 0


def test_a_stream_starts_with_connected_and_its_subscriptions_then_carries_events_with_ids(start_hub, sse):
    hub = start_hub()
    stream = sse(hub, identity("42", "EMPLOYEE"), [" lead:1 "])
    connected, subscribed = events(stream, 2)
    assert connected["event"] == "CONNECTED" and connected["data"]["data"]["userId"] == "42"
    assert subscribed["event"] == "SUBSCRIBED" and subscribed["data"]["data"]["room"] == "lead:1"
    assert "id" not in connected and "id" not in subscribed
    epoch = publish(hub, "lead:1", 1)["epoch"]
    [event] = events(stream, 1)
    assert event["event"] == "LEAD_UPDATED" and event["id"] == f"lead:1@{epoch}:1"
    assert event["data"]["data"] == {"leadId": "1", "n": 1}
    assert stream.next_chunk(0.05) == b""  # nothing more: a heartbeat's worth of nothing


def test_a_position_resumes_its_room_with_the_missed_events(start_hub, sse):
    hub = start_hub()
    epoch = [publish(hub, "lead:1", n) for n in (1, 2, 3)][0]["epoch"]
    stream = sse(hub, identity(), [], {"lead:1": Since(epoch, 1)})
    _, subscribed, *replayed = events(stream, 4)
    assert subscribed["data"]["data"]["recovered"] is True
    assert [e["id"] for e in replayed] == [f"lead:1@{epoch}:2", f"lead:1@{epoch}:3"]


def test_closing_the_stream_stops_its_actor_and_unregisters_it(start_hub, sse):
    hub = start_hub()
    registry = len(pykka.ActorRegistry.get_all())
    stream = sse(hub, identity(), ["lead:1"])
    events(stream, 2)
    assert len(pykka.ActorRegistry.get_all()) == registry + 1 and hub.status()["connections"] == 1
    stream.close()
    assert wait_until(lambda: len(pykka.ActorRegistry.get_all()) == registry)
    assert [a["kind"] for a in hub.ctx.tracer.actors()] == ["hub"]
    assert hub.status()["connections"] == 0 and hub.ctx.metrics.connections == 0
    assert stream.next_chunk(0.05) is None


def test_a_client_that_goes_ends_the_stream(start_hub):
    hub = start_hub()
    ours, theirs = socket.socketpair()
    try:
        stream = open_sse_stream(hub.ctx, identity(), ours, [], {})
        events(stream, 1)
        theirs.close()
        with gevent.Timeout(2):
            while (chunk := stream.next_chunk(1)) is not None:
                assert chunk == b""
        stream.close()
        assert wait_until(lambda: hub.ctx.metrics.connections == 0)
    finally:
        ours.close()


def test_the_hubs_shutdown_ends_the_stream_with_a_close_event(start_hub, sse):
    hub = start_hub()
    stream = sse(hub, identity(), [])
    events(stream, 1)
    hub.hub.ask(Shutdown(1001), timeout=2)
    [close] = events(stream, 1)
    assert close == {"event": "CLOSE", "data": {"code": 1001, "reason": "server shutting down"}}
    assert stream.next_chunk(0.05) is None


# --- WebSocket -----------------------------------------------------------------------------------


def test_serve_websocket_takes_the_bytes_read_past_the_handshake_first(start_hub, serve):
    hub = start_hub()
    served = serve(hub, pending=client_frame(b'{"type": "PING", "id": "early"}'))
    assert served.peer.json()["data"] == {"ref": "early"}


def test_serve_websocket_returns_when_the_client_goes_and_counts_the_connection(start_hub):
    hub = start_hub()
    ours, theirs = socket.socketpair()
    greenlet = gevent.spawn(serve_websocket, hub.ctx, identity(), ours)
    try:
        peer = Peer(theirs)
        assert peer.json()["type"] == "CONNECTED"
        assert hub.ctx.metrics.connections == 1 and hub.ctx.metrics.connections_total == 1
        theirs.close()
        greenlet.join(timeout=2)
        assert greenlet.dead and greenlet.successful()
        assert hub.ctx.metrics.connections == 0 and hub.ctx.metrics.connections_total == 1
    finally:
        greenlet.kill()
        ours.close()


def test_connection_ids_are_16_hex_digits_and_unique():
    ids = {new_connection_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert len({i[:6] for i in ids}) == 1  # one process tag
