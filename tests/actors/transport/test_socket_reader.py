"""SocketReader: the event-loop-driven read side of a WebSocket, fed by a real socket pair.

What the actor is told (``deliver``, ``end``), what is answered on the outlet without the actor (pong,
close echo, refusals), and the back-pressure that stops reading while the actor's mailbox is deep.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.queue
import pytest

from actors.observability.metrics import Metrics
from actors.transport.framing import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
)
from actors.transport.outlet import Flusher, Outlet
from actors.transport.socket_reader import HIGH_WATER, LOW_WATER, SocketReader
from tests.actors.parts import CONNECTED, Peer, client_frame
from tests.conftest import wait_until


@dataclass
class Reading:
    reader: SocketReader
    outlet: Outlet
    peer: Peer
    inbox: gevent.queue.Queue[Any]
    """What the actor was told: the text of each message (None for a binary one)."""
    ends: list[int | None] = field(default_factory=list)

    def told(self, count: int, timeout: float = 2.0) -> list[Any]:
        assert wait_until(lambda: self.inbox.qsize() >= count, timeout), f"{self.inbox.qsize()} of {count}"
        return [self.inbox.get_nowait() for _ in range(count)]


@pytest.fixture
def reading() -> Iterator[Any]:
    """``reading(pending=b"", max_message_bytes=1024)``: a started reader over a socket pair, closed afterwards."""
    made: list[tuple[Reading, socket.socket]] = []

    def start(pending: bytes = b"", max_message_bytes: int = 1024) -> Reading:
        ours, theirs = socket.socketpair()
        metrics = Metrics()
        outlet = Outlet("c1", ours, Flusher(metrics), metrics, max_frames=100, max_bytes=1_000_000, write_timeout=5,
                        close_timeout=0.5)
        peer = Peer(theirs)
        outlet.release(CONNECTED)
        assert peer.frame().raw == CONNECTED
        inbox: gevent.queue.Queue[Any] = gevent.queue.Queue()
        ends: list[int | None] = []
        reader = SocketReader(ours, pending, max_message_bytes, outlet, deliver=inbox.put, end=ends.append,
                              inbox=inbox)
        state = Reading(reader, outlet, peer, inbox, ends)
        made.append((state, ours))
        reader.start()
        return state

    yield start
    for state, ours in made:
        state.reader.close()
        state.outlet.dispose()
        ours.close()
        state.peer.sock.close()


def text(payload: str, **kwargs: Any) -> bytes:
    return client_frame(payload.encode(), OP_TEXT, **kwargs)


# --- messages for the actor ----------------------------------------------------------------------


def test_messages_are_delivered_whole_and_in_order(reading):
    r = reading()
    r.peer.sock.sendall(text("one") + text("two") + client_frame(b"\x01\x02", OP_BINARY) + text("é"))
    assert r.told(4) == ["one", "two", None, "é"]
    assert r.ends == [] and not r.reader.ended


def test_a_message_arriving_a_byte_at_a_time_is_delivered_once_complete(reading):
    r = reading()
    frame = text(json.dumps({"type": "PING", "pad": "x" * 300}))  # a 16-bit length header
    for i in range(len(frame)):
        r.peer.sock.sendall(frame[i:i + 1])
        if i % 50 == 0:
            gevent.sleep(0.001)
    assert json.loads(r.told(1)[0])["pad"] == "x" * 300
    assert r.inbox.empty()


def test_a_ping_between_fragments_is_answered_and_the_message_is_delivered_whole(reading):
    r = reading()
    r.peer.sock.sendall(text("hel", fin=False) + client_frame(b"are you there", OP_PING)
                        + client_frame(b"lo", OP_CONTINUATION))
    pong = r.peer.frame()
    assert (pong.opcode, pong.payload) == (OP_PONG, b"are you there")  # answered by the reader, not the actor
    assert r.told(1) == ["hello"]


def test_the_bytes_read_past_the_handshake_come_first(reading):
    r = reading(pending=text("early") + text("ear", fin=False))
    r.peer.sock.sendall(client_frame(b"lier", OP_CONTINUATION))
    assert r.told(2) == ["early", "earlier"]


def test_any_bytes_refresh_last_heard(reading):
    r = reading()
    r.outlet.last_heard = 0.0
    r.peer.sock.sendall(client_frame(b"", OP_PONG))
    assert wait_until(lambda: r.outlet.last_heard > time.monotonic() - 5)
    assert r.inbox.empty()  # a pong is not the actor's business


# --- the end of a connection ---------------------------------------------------------------------


@pytest.mark.parametrize("sent, echoed", [(4100, 4100), (1000, 1000), (1001, 1001), (1005, 1000), (2999, 1000),
                                          (None, 1000)])
def test_a_close_is_echoed_with_an_echoable_code_and_ends_the_reader(reading, sent, echoed):
    r = reading()
    r.peer.send_frame(b"" if sent is None else struct.pack("!H", sent) + b"bye", OP_CLOSE)
    assert r.peer.close_code() == echoed
    assert r.ends == [sent] and r.reader.ended and not r.reader.refused


def test_end_of_file_ends_the_reader_without_a_close_frame(reading):
    r = reading()
    r.peer.sock.shutdown(socket.SHUT_WR)
    assert wait_until(lambda: r.ends == [None])
    assert r.reader.ended and not r.reader.refused and not r.outlet.closing


@pytest.mark.parametrize("frame, code", [
    (struct.pack("!BBQ", 0x81, 0x80 | 127, 100_000) + b"mask", 1009),  # refused from the header alone
    (text("x" * 600, fin=False) + client_frame(b"y" * 600, OP_CONTINUATION), 1009),  # the whole message counts
    (client_frame(b"\xff\xfe", OP_TEXT), 1007),
    (client_frame(b"plain", OP_TEXT, masked=False), 1002),
    (client_frame(b"", 0x3), 1002),
    (client_frame(b"x", OP_CONTINUATION), 1002),
])
def test_a_protocol_violation_closes_with_its_code_and_refuses_the_rest(reading, frame, code):
    r = reading()
    r.peer.sock.sendall(frame)
    assert r.peer.close_code() == code
    assert r.ends == [code] and r.reader.refused and r.reader.ended
    r.peer.sock.sendall(text("after"))
    gevent.sleep(0.02)
    assert r.inbox.empty() and r.ends == [code]


def test_a_closed_reader_tells_nothing_more(reading):
    r = reading()
    r.reader.close()
    r.peer.sock.sendall(text("late"))
    r.peer.sock.shutdown(socket.SHUT_WR)
    gevent.sleep(0.02)
    assert r.inbox.empty() and r.ends == []


# --- back-pressure -------------------------------------------------------------------------------


def test_reading_stops_while_the_mailbox_is_deep_and_resumes_once_drained(reading):
    r = reading()
    r.peer.sock.sendall(b"".join(text(str(n)) for n in range(HIGH_WATER + 6)))
    assert wait_until(lambda: r.reader.paused)
    assert r.inbox.qsize() == HIGH_WATER + 6
    r.peer.sock.sendall(text("held back"))
    gevent.sleep(0.02)
    assert r.inbox.qsize() == HIGH_WATER + 6  # not read: the client meets TCP back-pressure
    while r.inbox.qsize() > LOW_WATER + 1:
        r.inbox.get_nowait()
    r.reader.resume_if_drained()
    assert r.reader.paused  # not drained enough yet
    r.inbox.get_nowait()
    r.reader.resume_if_drained()
    assert not r.reader.paused
    assert r.told(LOW_WATER + 1)[-1] == "held back"
