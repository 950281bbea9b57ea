"""Real parts for the actor tests: a context, a hub on a MemoryBroker, sockets read as a client reads them.

Nothing here is a mock. A ``Peer`` is the far end of a real socket pair (or loopback connection): it
reads the exact bytes the server side wrote (unmasked RFC 6455 frames) and writes frames as a browser
does (masked). A ``Member`` is an ``Outlet`` over such a pair, what a room hands its frames to. The
fixtures that start actors stop them, and the ones that open sockets close them.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gevent
import gevent.queue
import pykka
import pytest

from actors.config import Settings
from actors.identity import Identity
from actors.rooms.actor_messages import Deliver, GetStatus
from actors.rooms.hub import Hub
from actors.rooms.memory_broker import MemoryBroker
from actors.runtime.actor import TracedActor
from actors.runtime.context import ActorContext
from actors.transport.framing import OP_CLOSE, OP_TEXT, parse_close, text_frame
from actors.transport.outlet import Outlet
from tests.conftest import SECRET

CONNECTED = text_frame('{"type":"CONNECTED"}')


def make_ctx(**overrides: Any) -> ActorContext:
    """A context of its own (tracer, metrics, flusher, policy, verifier), as a single actor's test needs."""
    settings = Settings(**{"jwt_secret": SECRET, "close_timeout": 0.5, **overrides})
    settings.validate()
    return ActorContext.create(settings)


def identity(user_id: str = "42", role: str = "EMPLOYEE", ttl: float = 3600, **kwargs: Any) -> Identity:
    return Identity(user_id, role, int(time.time() + ttl), **kwargs)


def stop_actors(ctx: ActorContext, timeout: float = 2.0) -> None:
    """Stop every live actor of ``ctx``, hub last (what ``ActorSystem.stop`` does once sockets are closed).

    Again until none is left: a hub that is still running while the others stop may start a room for
    a publish that was on its way, and an actor is in the tracer only once its greenlet has run.
    """
    for _ in range(5):
        gevent.sleep(0)  # an actor joins the tracer when its greenlet first runs (on_start)
        refs = [ref for ref in ctx.tracer.live_refs() if ref.is_alive()]
        if not refs:
            return
        for ref in refs:
            try:
                ref.stop(block=True, timeout=timeout)
            except (pykka.ActorDeadError, pykka.Timeout):
                pass


# --- the client's side of a socket ---------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    opcode: int
    payload: bytes
    raw: bytes
    """The whole frame as written, header included."""

    def json(self) -> dict[str, Any]:
        assert self.opcode == OP_TEXT, f"not a text frame: {self}"
        return json.loads(self.payload)  # type: ignore[no-any-return]

    @property
    def close_code(self) -> int | None:
        assert self.opcode == OP_CLOSE, f"not a close frame: {self}"
        return parse_close(self.payload)[0]


def client_frame(payload: bytes, opcode: int = OP_TEXT, *, fin: bool = True, masked: bool = True) -> bytes:
    """A frame as a browser sends it: masked, the length in the shortest RFC 6455 form."""
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    bit = 0x80 if masked else 0
    if n < 126:
        head = bytes((first, bit | n))
    elif n < 65536:
        head = struct.pack("!BBH", first, bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, bit | 127, n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Peer:
    """The far end of a socket: reads the server's frames, writes a client's."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def frame(self, timeout: float = 2.0) -> Frame:
        """The next whole frame; EOFError when the connection ends first, TimeoutError when none comes."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no frame within {timeout}s")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise TimeoutError(f"no frame within {timeout}s") from None
            except ConnectionResetError:
                data = b""
            if not data:
                raise EOFError("the server side closed the connection")
            self._buffer += data

    def json(self, timeout: float = 2.0) -> dict[str, Any]:
        """The next data frame's JSON. A heartbeat ping the server sends meanwhile (its round reaches a
        socket at a moment of its own) is passed over, as a browser answers it without the page seeing it."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.frame(max(0.0, deadline - time.monotonic()))
            if frame.opcode != 0x9:  # not a ping
                return frame.json()

    def frames(self, count: int, timeout: float = 2.0) -> list[Frame]:
        return [self.frame(timeout) for _ in range(count)]

    def silent(self, within: float = 0.05) -> bool:
        """True when nothing arrives within ``within`` seconds."""
        try:
            frame = self.frame(within)
        except TimeoutError:
            return True
        raise AssertionError(f"expected nothing, got {frame}")

    def ended(self, timeout: float = 2.0) -> bool:
        """True once the server side has closed the connection (frames before that are read and dropped)."""
        try:
            while True:
                self.frame(timeout)
        except EOFError:
            return True

    def close_code(self, timeout: float = 2.0) -> int | None:
        """Read up to the server's close frame and return its code."""
        while True:
            frame = self.frame(timeout)
            if frame.opcode == OP_CLOSE:
                return frame.close_code

    def send_frame(self, payload: bytes, opcode: int = OP_TEXT, **kwargs: Any) -> None:
        self.sock.sendall(client_frame(payload, opcode, **kwargs))

    def send(self, type_: str, data: dict[str, Any] | None = None, id: Any = None) -> None:
        frame: dict[str, Any] = {"type": type_, "data": data or {}}
        if id is not None:
            frame["id"] = id
        self.send_frame(json.dumps(frame).encode())

    def _parse(self) -> Frame | None:
        data = self._buffer
        if len(data) < 2:
            return None
        assert not data[1] & 0x80, "server frames are never masked"
        length, head = data[1] & 0x7F, 2
        if length == 126:
            if len(data) < 4:
                return None
            (length,), head = struct.unpack("!H", data[2:4]), 4
        elif length == 127:
            if len(data) < 10:
                return None
            (length,), head = struct.unpack("!Q", data[2:10]), 10
        if len(data) < head + length:
            return None
        self._buffer = data[head + length:]
        return Frame(data[0] & 0x0F, data[head:head + length], data[:head + length])


class Member:
    """A room member as the room sees it (an ``Outlet``), with the client's end of its socket."""

    def __init__(self, ctx: ActorContext, connection_id: str, *, release: bool = True, **limits: Any) -> None:
        self.connection_id = connection_id
        self._ours, theirs = socket.socketpair()
        settings = ctx.settings
        self.outlet = Outlet(connection_id, self._ours, ctx.flusher, ctx.metrics, **{
            "max_frames": settings.outbox_max_frames, "max_bytes": settings.outbox_max_bytes,
            "write_timeout": settings.write_timeout, "close_timeout": settings.close_timeout, **limits})
        self.peer = Peer(theirs)
        if release:
            self.outlet.release(CONNECTED)
            assert self.peer.frame().raw == CONNECTED

    def close(self) -> None:
        self.outlet.dispose()
        self._ours.close()
        self.peer.sock.close()


# --- actors --------------------------------------------------------------------------------------


class Inbox(TracedActor):
    """A real actor that keeps what it is told, for the actors that answer another actor (Joined, RoomIdle)."""

    kind = "inbox"

    def __init__(self, ctx: ActorContext, received: gevent.queue.Queue[Any], actor_id: str = "inbox") -> None:
        super().__init__(ctx, actor_id)
        self._received = received

    def handle(self, message: Any) -> Any:
        self._received.put(message)
        return None


def next_of(queue: gevent.queue.Queue[Any], kind: type, timeout: float = 2.0) -> Any:
    """The next message of ``kind`` an ``Inbox`` received (others before it are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        message = queue.get(timeout=max(0.0, deadline - time.monotonic()))
        if isinstance(message, kind):
            return message


@dataclass
class RunningHub:
    ctx: ActorContext
    broker: MemoryBroker
    hub: pykka.ActorRef[Any]

    def status(self) -> dict[str, Any]:
        return self.hub.ask(GetStatus(), timeout=2)  # type: ignore[no-any-return]


@pytest.fixture
def start_hub() -> Iterator[Callable[..., RunningHub]]:
    """``start_hub(**settings)``: a Hub on a MemoryBroker with a context of its own, as ``ActorSystem`` wires them.

    Every actor of that context (hub, rooms, connections) is stopped afterwards and the broker closed.
    """
    started: list[RunningHub] = []

    def start(**overrides: Any) -> RunningHub:
        ctx = make_ctx(**overrides)
        broker = MemoryBroker(ctx.settings.history_size, ctx.settings.history_seconds)
        ctx.hub = hub = Hub.start(ctx, broker)
        broker.start(lambda publication: hub.tell(Deliver(publication)))
        running = RunningHub(ctx, broker, hub)
        started.append(running)
        return running

    yield start
    for running in started:
        stop_actors(running.ctx)
        running.broker.close()


@pytest.fixture
def members() -> Iterator[Callable[..., Member]]:
    """``members(ctx, connection_id)``: a Member over a socket pair, closed afterwards."""
    made: list[Member] = []

    def member(ctx: ActorContext, connection_id: str = "c1", **kwargs: Any) -> Member:
        made.append(Member(ctx, connection_id, **kwargs))
        return made[-1]

    yield member
    for one in made:
        one.close()
