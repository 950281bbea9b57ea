"""SseOutlet: an Outlet drained by the HTTP response; the frames as SSE text, over a real socket pair."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest

from actors.observability.metrics import Metrics
from actors.protocol.frames import event_frame, server_frame
from actors.transport.framing import OP_BINARY, PING_FRAME, close_frame, encode_frame, frame_payload, text_frame
from actors.transport.outlet import Flusher
from actors.transport.sse_outlet import SseOutlet, close_event, sse_event


def event(n: int, type_: str = "LEAD_UPDATED", room: str = "lead:1") -> bytes:
    return text_frame(event_frame(type_, room, "e0", n, {"leadId": "1", "n": n}, "2024-01-01T00:00:00.000Z"))


CONNECTED = text_frame(server_frame("CONNECTED", {"userId": "42"}))


@pytest.fixture
def open_outlet() -> Iterator[Any]:
    """``open_outlet(**limits)``: (outlet, the client's end, metrics) over a socket pair; disposed afterwards."""
    made: list[tuple[SseOutlet, socket.socket, socket.socket]] = []

    def make(**limits: Any) -> tuple[SseOutlet, socket.socket, Metrics]:
        ours, theirs = socket.socketpair()
        metrics = Metrics()
        outlet = SseOutlet("s1", ours, Flusher(metrics), metrics, **{
            "max_frames": 100, "max_bytes": 1_000_000, "write_timeout": 5, "close_timeout": 0.5, **limits})
        made.append((outlet, ours, theirs))
        return outlet, theirs, metrics

    yield make
    for outlet, ours, theirs in made:
        outlet.dispose()
        ours.close()
        theirs.close()


# --- frames as SSE text --------------------------------------------------------------------------


def test_a_room_event_becomes_an_sse_event_with_its_position_as_id():
    frame = event(3)
    assert sse_event(frame) == (b"event: LEAD_UPDATED\nid: lead:1@e0:3\ndata: " + frame_payload(frame) + b"\n\n")


def test_a_frame_without_a_position_has_no_id():
    frame = CONNECTED
    assert sse_event(frame) == b"event: CONNECTED\ndata: " + frame_payload(frame) + b"\n\n"


def test_one_conversion_per_frame_object_for_every_stream_it_is_handed_to():
    frame = event(4)
    assert sse_event(frame) is sse_event(frame)


def test_a_ping_is_a_comment_a_close_ends_the_stream_and_binary_is_nothing():
    assert sse_event(PING_FRAME) == b": ping\n\n"
    assert sse_event(close_frame(4008, "slow consumer")) is None
    assert sse_event(encode_frame(b"\x00", OP_BINARY)) == b""
    assert close_event(close_frame(4008, "slow consumer")) == (
        b'event: CLOSE\ndata: {"code": 4008, "reason": "slow consumer"}\n\n')


# --- the outlet ----------------------------------------------------------------------------------


def test_nothing_is_handed_out_before_release_then_connected_comes_first(open_outlet):
    outlet, _, metrics = open_outlet()
    outlet.offer(event(1))
    assert outlet.next_chunk(0.02) == b""  # held: the response waits, the frames stay queued
    outlet.release(CONNECTED)
    chunk = outlet.next_chunk(1)
    assert chunk == sse_event(CONNECTED) + sse_event(event(1))
    assert metrics.bytes_out == len(chunk)
    assert outlet.next_chunk(0.02) == b""


def test_an_offer_wakes_the_waiting_response_at_once(open_outlet):
    outlet, _, _ = open_outlet()
    outlet.release(CONNECTED)
    outlet.next_chunk(1)
    gevent.spawn_later(0.02, outlet.offer, event(2))
    started = time.monotonic()
    assert outlet.next_chunk(5) == sse_event(event(2))
    assert time.monotonic() - started < 1


def test_next_chunk_refreshes_last_heard(open_outlet):
    outlet, _, _ = open_outlet()
    outlet.last_heard = 0.0
    outlet.next_chunk(0.01)
    assert outlet.last_heard > time.monotonic() - 5


def test_close_hands_out_what_was_queued_then_a_close_event_then_ends(open_outlet):
    outlet, _, _ = open_outlet()
    outlet.release(CONNECTED)
    outlet.offer(event(1))
    outlet.close(4001, "token expired")
    assert outlet.offer(event(2)) is False
    chunk = outlet.next_chunk(1)
    assert chunk == (sse_event(CONNECTED) + sse_event(event(1))
                     + b'event: CLOSE\ndata: {"code": 4001, "reason": "token expired"}\n\n')
    assert outlet.next_chunk(0.02) is None


def test_past_its_bound_a_stream_ends_with_4008_and_the_queued_events_are_dropped(open_outlet):
    outlet, _, metrics = open_outlet(max_frames=3)
    outlet.release(CONNECTED)
    accepted = [outlet.offer(event(n), "LEAD_UPDATED") for n in range(1, 6)]
    assert accepted == [True, True, False, False, False]
    assert outlet.next_chunk(1) == b'event: CLOSE\ndata: {"code": 4008, "reason": "slow consumer"}\n\n'
    assert metrics.slow_consumers_closed == 1 and metrics.of("LEAD_UPDATED").dropped == 3
    assert outlet.next_chunk(0.02) is None


def test_a_superseding_update_replaces_the_queued_one_while_held(open_outlet):
    outlet, _, metrics = open_outlet()
    key = "STATS_UPDATE:stats:dashboard"
    outlet.offer(event(1, "STATS_UPDATE", "stats:dashboard"), "STATS_UPDATE", key)
    outlet.offer(event(2, "SYSTEM_ALERT", "role:ADMIN"), "SYSTEM_ALERT")
    outlet.offer(event(3, "STATS_UPDATE", "stats:dashboard"), "STATS_UPDATE", key)
    outlet.release(CONNECTED)
    assert outlet.next_chunk(1) == (sse_event(CONNECTED) + sse_event(event(2, "SYSTEM_ALERT", "role:ADMIN"))
                                    + sse_event(event(3, "STATS_UPDATE", "stats:dashboard")))
    assert metrics.of("STATS_UPDATE").coalesced == 1


def test_a_client_that_goes_ends_the_stream_without_waiting_for_a_write(open_outlet):
    outlet, theirs, _ = open_outlet()
    outlet.release(CONNECTED)
    outlet.next_chunk(1)
    gevent.spawn_later(0.02, theirs.close)
    started = time.monotonic()
    assert outlet.next_chunk(5) is None
    assert time.monotonic() - started < 1 and outlet.closing


def test_dispose_ends_the_stream(open_outlet):
    outlet, _, _ = open_outlet()
    outlet.release(CONNECTED)
    outlet.dispose()
    assert outlet.next_chunk(0.02) is None
    assert outlet.offer(event(1)) is False
