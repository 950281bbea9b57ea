"""SocketReader: the event-loop-driven read side of a WebSocket, fed by a real socket pair.

What is handed on (``deliver``, ``end``), what is answered on the outlet without the actor (pongs),
the limits every frame is held to (rate, fragments, deadline, size), what counts as life for the
heartbeat, and the back-pressure that stops reading while the actor's mailbox is deep.
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
    Message,
)
from actors.transport.limits import ReadLimits
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
    """What was delivered: the text of each message (the payload of a binary one), or ("limited", text)."""
    metrics: Metrics
    ends: list[tuple[int | None, str]] = field(default_factory=list)
    """Each ``end(code, reason)``: the close frame the reader asked for (None: the peer is gone)."""

    def told(self, count: int, timeout: float = 2.0) -> list[Any]:
        assert wait_until(lambda: self.inbox.qsize() >= count, timeout), f"{self.inbox.qsize()} of {count}"
        return [self.inbox.get_nowait() for _ in range(count)]

    def ended_with(self, timeout: float = 2.0) -> int | None:
        assert wait_until(lambda: self.ends, timeout), "the reader did not end"
        assert len(self.ends) == 1, self.ends
        return self.ends[0][0]


@pytest.fixture
def reading() -> Iterator[Any]:
    """``reading(pending=b"", **limits)``: a started reader over a socket pair, closed afterwards."""
    made: list[tuple[Reading, socket.socket]] = []

    def start(pending: bytes = b"", **limits: Any) -> Reading:
        ours, theirs = socket.socketpair()
        metrics = Metrics()
        outlet = Outlet("c1", ours, Flusher(metrics), metrics, max_frames=100, max_bytes=1_000_000, write_timeout=5,
                        close_timeout=0.5)
        peer = Peer(theirs)
        outlet.release(CONNECTED)
        assert peer.frame().raw == CONNECTED
        inbox: gevent.queue.Queue[Any] = gevent.queue.Queue()
        ends: list[tuple[int | None, str]] = []

        def deliver(message: Message, limited: bool) -> None:
            content = message.text if message.text is not None else message.payload
            inbox.put(("limited", content) if limited else content)

        limits = {"max_message_bytes": 1024, **limits}
        reader = SocketReader(ours, pending, outlet, ReadLimits(**limits), metrics, deliver=deliver,
                              end=lambda code, reason: ends.append((code, reason)), inbox=inbox)
        state = Reading(reader, outlet, peer, inbox, metrics, ends)
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
    assert r.told(4) == ["one", "two", b"\x01\x02", "é"]
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


# --- life, for the heartbeat ---------------------------------------------------------------------


def test_a_pong_or_a_whole_message_counts_as_life(reading):
    r = reading()
    r.outlet.last_heard = 0.0
    r.peer.sock.sendall(client_frame(b"", OP_PONG))
    assert wait_until(lambda: r.outlet.last_heard > time.monotonic() - 5)
    assert r.inbox.empty()  # a pong is not the actor's business
    r.outlet.last_heard = 0.0
    r.peer.sock.sendall(text("hi"))
    assert r.told(1) == ["hi"] and r.outlet.last_heard > time.monotonic() - 5


def test_bytes_that_complete_nothing_do_not_count_as_life(reading):
    """A trickle of fragments (or of a frame's bytes) must not keep a socket alive past HEARTBEAT_TIMEOUT."""
    r = reading(max_fragments=0)
    r.outlet.last_heard = 0.0
    r.peer.sock.sendall(text("", fin=False))
    for _ in range(5):
        r.peer.sock.sendall(client_frame(b"", OP_CONTINUATION, fin=False))
        gevent.sleep(0.01)
    half = client_frame(b"xyz", OP_CONTINUATION, fin=False)
    r.peer.sock.sendall(half[:4])  # half a frame
    gevent.sleep(0.01)
    r.peer.sock.sendall(half[4:])
    gevent.sleep(0.02)
    assert r.outlet.last_heard == 0.0 and r.inbox.empty() and r.ends == []
    r.peer.sock.sendall(client_frame(b"!", OP_CONTINUATION))  # the message is whole: that is life
    assert r.told(1) == ["xyz!"] and r.outlet.last_heard > 0.0


# --- the end of a connection ---------------------------------------------------------------------


@pytest.mark.parametrize("sent, answer", [(4100, 4100), (1000, 1000), (1001, 1001), (1011, 1011), (3000, 3000),
                                          (None, 1000)])
def test_a_valid_close_is_answered_with_its_own_code_and_ends_the_reader(reading, sent, answer):
    r = reading()
    r.peer.send_frame(b"" if sent is None else struct.pack("!H", sent) + b"bye", OP_CLOSE)
    assert r.ended_with() == answer
    assert r.reader.ended and not r.reader.refused


@pytest.mark.parametrize("payload, answer", [
    (b"\x03", 1002),                                              # a one-byte payload
    *((struct.pack("!H", code), 1002) for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000)),
    (struct.pack("!H", 1000) + b"\xce\xba\xed\xa0\x80", 1007),      # a reason that is not UTF-8
])
def test_an_invalid_close_frame_is_a_protocol_error(reading, payload, answer):
    r = reading()
    r.peer.send_frame(payload, OP_CLOSE)
    assert r.ended_with() == answer and r.reader.refused


def test_end_of_file_ends_the_reader_without_a_close_frame(reading):
    r = reading()
    r.peer.sock.shutdown(socket.SHUT_WR)
    assert r.ended_with() is None
    assert r.reader.ended and not r.reader.refused and not r.outlet.closing


@pytest.mark.parametrize("frame, code", [
    (struct.pack("!BBQ", 0x81, 0x80 | 127, 100_000) + b"mask", 1009),  # refused from the header alone
    (text("x" * 600, fin=False) + client_frame(b"y" * 600, OP_CONTINUATION), 1009),  # the whole message counts
    (client_frame(b"\xff\xfe", OP_TEXT), 1007),
    (client_frame(b"plain", OP_TEXT, masked=False), 1002),
    (client_frame(b"", 0x3), 1002),
    (client_frame(b"x", OP_CONTINUATION), 1002),
])
def test_a_protocol_violation_ends_with_its_code_and_refuses_the_rest(reading, frame, code):
    r = reading()
    r.peer.sock.sendall(frame)
    assert r.ended_with() == code
    assert r.reader.refused and r.reader.ended
    r.peer.sock.sendall(text("after"))
    gevent.sleep(0.02)
    assert r.inbox.empty() and len(r.ends) == 1


def test_what_came_before_a_violation_in_the_same_write_is_answered_first(reading):
    """A text message, a ping and then a reserved opcode in one write: the message is delivered and the
    ping answered before the reader asks for 1002 (it used to drop both)."""
    r = reading()
    r.peer.sock.sendall(text('{"type":"PING"}') + client_frame(b"ping?", OP_PING) + client_frame(b"", 0x5))
    assert r.told(1) == ['{"type":"PING"}']
    pong = r.peer.frame()
    assert (pong.opcode, pong.payload) == (OP_PONG, b"ping?")
    assert r.ended_with() == 1002


def test_a_closed_reader_tells_nothing_more(reading):
    r = reading()
    r.reader.close()
    r.peer.sock.sendall(text("late"))
    r.peer.sock.shutdown(socket.SHUT_WR)
    gevent.sleep(0.02)
    assert r.inbox.empty() and r.ends == []


# --- the frame rate, every frame counted ---------------------------------------------------------


def test_empty_continuation_frames_are_charged_and_a_flood_of_them_ends_with_1008(reading):
    """The attack: a message opened with FIN=0 and then nothing but empty continuation frames."""
    r = reading(burst=10, rate_per_second=1, strikes=5, max_fragments=0)
    r.peer.sock.sendall(text("", fin=False) + client_frame(b"", OP_CONTINUATION, fin=False) * 1000)
    assert r.ended_with() == 1008  # 10 frames allowed, then 5 refused in a row
    assert r.ends[0][1] == "rate limit exceeded repeatedly" and r.reader.refused
    assert r.metrics.rate_limited >= 5 and r.inbox.empty()


def test_pings_are_charged_and_one_over_the_limit_is_not_answered(reading):
    r = reading(burst=3, rate_per_second=0.001, strikes=5)
    r.peer.sock.sendall(client_frame(b"1", OP_PING) + client_frame(b"2", OP_PING) + client_frame(b"3", OP_PING)
                        + client_frame(b"4", OP_PING))
    assert [f.payload for f in r.peer.frames(3)] == [b"1", b"2", b"3"]
    assert r.peer.silent(0.1)
    assert r.metrics.rate_limited == 1 and r.ends == []


def test_a_data_message_over_the_limit_is_delivered_marked_limited(reading):
    r = reading(burst=2, rate_per_second=0.001, strikes=3)
    r.peer.sock.sendall(text("a") + text("b") + text("c") + text("d"))
    assert r.told(4) == ["a", "b", ("limited", "c"), ("limited", "d")]
    assert r.ends == []
    r.peer.sock.sendall(text("e"))  # the third refusal in a row
    assert r.ended_with() == 1008 and r.inbox.empty()


def test_the_fragments_of_a_message_are_charged_with_it(reading):
    r = reading(burst=4, rate_per_second=0.001, strikes=10)
    r.peer.sock.sendall(text("a", fin=False) + client_frame(b"b", OP_CONTINUATION, fin=False)
                        + client_frame(b"c", OP_CONTINUATION))  # three frames, three tokens
    assert r.told(1) == ["abc"]
    r.peer.sock.sendall(text("d") + text("e"))
    assert r.told(2) == ["d", ("limited", "e")]


# --- fragments and the message deadline ----------------------------------------------------------


def test_a_message_in_too_many_fragments_ends_with_1008(reading):
    r = reading(max_fragments=4)
    r.peer.sock.sendall(text("a", fin=False) + client_frame(b"b", OP_CONTINUATION, fin=False) * 2
                        + client_frame(b"c", OP_CONTINUATION))
    assert r.told(1) == ["abbc"]
    r.peer.sock.sendall(text("a", fin=False) + client_frame(b"", OP_CONTINUATION, fin=False) * 4)
    assert r.ended_with() == 1008 and "fragments" in r.ends[0][1]


def test_a_message_not_finished_within_the_deadline_ends_with_1008(reading):
    r = reading(message_timeout=0.3)
    r.peer.sock.sendall(text("slow", fin=False))
    gevent.sleep(0.1)
    r.peer.sock.sendall(client_frame(b"ly", OP_CONTINUATION, fin=False))
    assert r.ended_with(timeout=2) == 1008
    assert "not completed within 0.3 s" in r.ends[0][1] and r.reader.refused and r.inbox.empty()


def test_a_frame_trickled_past_the_deadline_ends_with_1008(reading):
    r = reading(message_timeout=0.3)
    r.peer.sock.sendall(text("x" * 500)[:20])  # the header and a few bytes, the rest never comes
    assert r.ended_with(timeout=2) == 1008


def test_pings_do_not_extend_a_message_deadline(reading):
    r = reading(message_timeout=0.4)
    r.peer.sock.sendall(text("held", fin=False))
    for n in range(4):
        gevent.sleep(0.15)
        if r.ends:
            break
        r.peer.sock.sendall(client_frame(str(n).encode(), OP_PING))
    assert r.ended_with(timeout=2) == 1008


def test_the_deadline_is_per_message(reading):
    """Messages that each arrive within the deadline are fine however long the stream of them lasts."""
    r = reading(message_timeout=0.3)
    for n in range(5):
        frame = text(f"message {n}")
        r.peer.sock.sendall(frame[:5])  # every read ends inside a frame
        gevent.sleep(0.1)
        r.peer.sock.sendall(frame[5:])
    assert r.told(5) == [f"message {n}" for n in range(5)]
    gevent.sleep(0.4)
    assert r.ends == []


# --- back-pressure -------------------------------------------------------------------------------


def test_reading_stops_while_the_mailbox_is_deep_and_resumes_once_drained(reading):
    r = reading(burst=1000)
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
