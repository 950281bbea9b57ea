"""Serving one client stream: a WebSocket's whole life, or an SSE stream's start, around a ConnectionActor.

A WebSocket is served in the greenlet that accepted it: the reader is an event-loop callback (no
greenlet of its own) and the actor's mailbox loop runs inline, so one socket costs one greenlet.
An SSE stream's actor runs on its own greenlet, because the HTTP response generator is the writer:
it pulls chunks from the outlet (``SseStream.next_chunk``) until the stream ends.

Room authorization is the ConnectionActor's rule for both: ``SUBSCRIBE`` over a WebSocket, and the
rooms an SSE request names, are checked by the same ``RoomPolicy`` here, before anything starts.
"""

from __future__ import annotations

import itertools
import os
import socket
from typing import Any

import gevent
import pykka
from gevent.event import Event

from ..errors import BadRequest
from ..identity import Identity
from ..protocol.positions import Since
from ..runtime.context import ActorContext
from ..transport.framing import OP_BINARY, Message, encode_frame, text_frame
from ..transport.limits import ReadLimits
from ..transport.outlet import Outlet
from ..transport.socket_reader import SocketReader
from ..transport.sse_outlet import SseOutlet
from .actor_messages import ClientFrame, ClientGone
from .connection_actor import ConnectionActor

_PROCESS_TAG = os.urandom(3).hex()
_CONNECTION_SERIAL = itertools.count(1)


def new_connection_id() -> str:
    """16 hex digits, unique in this process: a random per-process tag and a serial number.

    A uuid4 per connection (an ``os.urandom`` call) was 2.5 % of the server's CPU while 10,000
    browsers connected; the tag keeps ids from two processes (or restarts) apart in logs and traces.
    """
    return f"{_PROCESS_TAG}{next(_CONNECTION_SERIAL):010x}"


def _linger(sock: Any, timeout: float) -> None:
    """After refusing a frame: end our side of the TCP connection, then discard what the peer still sends
    until it closes (bounded).

    Closing a socket with unread bytes in it sends RST, which can destroy our close frame before the
    peer reads it: a peer that sent an oversize frame would see 1006 instead of 1009. The FIN goes
    first because RFC 6455 (7.1.1) wants the server to end the TCP connection, and a peer that waits for
    that (the conformance suite does) would otherwise have to drop it itself.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        return
    with gevent.Timeout(timeout, False):
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass


def serve_websocket(ctx: ActorContext, identity: Identity, sock: Any, pending: bytes = b"") -> None:
    """Run a WebSocket's connection actor in the calling (request) greenlet until the socket ends.

    ``pending``: bytes already read past the handshake.
    """
    settings = ctx.settings
    connection_id = new_connection_id()
    outlet = Outlet(connection_id, sock, ctx.flusher, ctx.metrics, max_frames=settings.outbox_max_frames,
                    max_bytes=settings.outbox_max_bytes, write_timeout=settings.write_timeout,
                    close_timeout=settings.close_timeout)
    actor = ConnectionActor(ctx, connection_id, identity, outlet, inline=True)
    ref = actor.actor_ref

    def deliver(message: Message, limited: bool) -> None:
        ref.tell(ClientFrame(message.text, limited))

    actor.reader = reader = SocketReader(
        sock, pending, outlet, ReadLimits.from_settings(settings), ctx.metrics, deliver=deliver,
        end=lambda code, reason: ref.tell(ClientGone(code, reason)), inbox=actor.actor_inbox)
    ctx.metrics.connections += 1
    ctx.metrics.connections_total += 1
    try:
        actor.run_inline()
    finally:
        reader.close()
        outlet.drain(settings.close_timeout)
        if reader.refused:
            _linger(sock, settings.close_timeout)
        outlet.dispose()


def serve_echo(ctx: ActorContext, sock: Any, pending: bytes = b"") -> None:
    """Echo every message back until the socket ends: ``/echo``, only with ``--conformance-echo``.

    The conformance suite (``scripts/conformance``) judges our transport through it, so everything
    between the socket and the echo is what ``/ws`` runs: the reader, its parser and limits (size,
    fragments, deadline, frame rate), the outlet with its bounds, and the close handling. Only the
    connection actor is left out: there is no token, no room and no JSON here. A message the rate
    limit refuses is not echoed.
    """
    settings = ctx.settings
    outlet = Outlet(new_connection_id(), sock, ctx.flusher, ctx.metrics, max_frames=settings.outbox_max_frames,
                    max_bytes=settings.outbox_max_bytes, write_timeout=settings.write_timeout,
                    close_timeout=settings.close_timeout, held=False)
    ended = Event()
    closing: list[tuple[int | None, str]] = []

    def echo(message: Message, limited: bool) -> None:
        if not limited:
            frame = (text_frame(message.text) if message.text is not None
                     else encode_frame(message.payload, OP_BINARY))
            outlet.offer(frame)

    def end(code: int | None, reason: str) -> None:
        closing.append((code, reason))
        ended.set()

    reader = SocketReader(sock, pending, outlet, ReadLimits.from_settings(settings), ctx.metrics, deliver=echo,
                          end=end)
    try:
        reader.start()
        ended.wait()
        code, reason = closing[0]
        if code is not None:
            outlet.close(code, reason)
    finally:
        reader.close()
        outlet.drain(settings.close_timeout)
        if reader.refused:
            _linger(sock, settings.close_timeout)
        outlet.dispose()


class SseStream:
    """An open SSE stream as the web layer sees it: chunks to write, and a way to end it."""

    __slots__ = ("_outlet", "_ref")

    def __init__(self, outlet: SseOutlet, ref: pykka.ActorRef[Any]) -> None:
        self._outlet = outlet
        self._ref = ref

    def next_chunk(self, timeout: float) -> bytes | None:
        """The queued events as SSE text (b"" after ``timeout`` with nothing queued); None once finished."""
        return self._outlet.next_chunk(timeout)

    def close(self) -> None:
        """The response ended (client gone, or the stream finished): release the outlet, stop the actor."""
        self._outlet.dispose()
        try:
            self._ref.tell(ClientGone(None))
        except pykka.ActorDeadError:
            pass


def open_sse_stream(ctx: ActorContext, identity: Identity, sock: Any, rooms: list[str],
                    positions: dict[str, Since]) -> SseStream:
    """Check the rooms an SSE request names (and those of its positions), then start its actor.

    Raises ``InvalidRoom``/``Forbidden``/``BadRequest`` before anything starts, so the web layer
    answers a refused stream with a plain HTTP error.
    """
    settings = ctx.settings
    wanted = [ctx.policy.check(identity, room.strip()) for room in rooms]
    if len(wanted) + len(identity.home_rooms) > settings.max_rooms_per_connection:
        raise BadRequest(f"at most {settings.max_rooms_per_connection - len(identity.home_rooms)} rooms per stream")
    for room in positions:  # a position for a room not asked for: subscribe it too (if allowed)
        if room not in wanted:
            wanted.append(ctx.policy.check(identity, room))
    subscriptions = tuple((room, positions.get(room)) for room in dict.fromkeys(wanted))
    connection_id = new_connection_id()
    outlet = SseOutlet(connection_id, sock, ctx.flusher, ctx.metrics, max_frames=settings.outbox_max_frames,
                       max_bytes=settings.outbox_max_bytes, write_timeout=settings.write_timeout,
                       close_timeout=settings.close_timeout)
    ctx.metrics.connections += 1
    ctx.metrics.connections_total += 1
    ref = ConnectionActor.start(ctx, connection_id, identity, outlet, subscriptions)
    return SseStream(outlet, ref)
