"""The outlet's slow-consumer policy over a real socket pair whose far end does not read."""

import json
import socket
from contextlib import contextmanager

import gevent

from actors.observability.metrics import Metrics
from actors.protocol.frames import event_frame
from actors.transport.framing import frame_payload, text_frame
from actors.transport.outlet import Flusher, Outlet


def frame(type_, n):
    return text_frame(event_frame(type_, "stats:dashboard", "e", n, {"n": n, "pad": "x" * 2000}, "t"))


def stuck_outlet(**limits):
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    metrics = Metrics()
    outlet = Outlet("c1", ours, Flusher(metrics), metrics, write_timeout=30, close_timeout=1,
                    **{"max_frames": 1000, "max_bytes": 10_000_000, **limits})
    outlet.release(text_frame('{"type":"CONNECTED"}'))
    return outlet, ours, theirs, metrics


def queued_types(outlet):
    return [json.loads(frame_payload(entry[0]))["data"]["n"] if entry[1] else None for entry in outlet._queue]


def test_superseded_updates_replace_older_ones_and_alerts_survive():
    outlet, ours, theirs, metrics = stuck_outlet()
    try:
        for n in range(40):  # fill the kernel buffers until a writer waits on the socket
            outlet.offer(frame("LEAD_UPDATED", n), "LEAD_UPDATED")
            gevent.sleep(0)
        assert outlet._writer is not None, "the socket never backed up"
        outlet.offer(frame("STATS_UPDATE", 100), "STATS_UPDATE", "STATS_UPDATE:stats:dashboard")
        outlet.offer(frame("SYSTEM_ALERT", 101), "SYSTEM_ALERT")
        outlet.offer(frame("STATS_UPDATE", 102), "STATS_UPDATE", "STATS_UPDATE:stats:dashboard")
        outlet.offer(frame("SYSTEM_ALERT", 103), "SYSTEM_ALERT")
        outlet.offer(frame("STATS_UPDATE", 104), "STATS_UPDATE", "STATS_UPDATE:stats:dashboard")
        tail = [entry for entry in outlet._queue if entry[1] in ("STATS_UPDATE", "SYSTEM_ALERT")]
        kinds = [(entry[1], json.loads(frame_payload(entry[0]))["data"]["n"]) for entry in tail]
        assert kinds == [("SYSTEM_ALERT", 101), ("SYSTEM_ALERT", 103), ("STATS_UPDATE", 104)]
        assert metrics.of("STATS_UPDATE").coalesced == 2 and metrics.of("SYSTEM_ALERT").coalesced == 0
    finally:
        outlet.dispose()
        ours.close()
        theirs.close()


def test_past_the_bound_the_socket_gets_4008_and_nothing_more_is_queued():
    outlet, ours, theirs, metrics = stuck_outlet(max_frames=30)
    try:
        accepted = [outlet.offer(frame("NOTIFICATION", n), "NOTIFICATION") for n in range(400)]
        gevent.sleep(0)
        assert False in accepted and outlet.closing and outlet.close_code == 4008
        assert metrics.slow_consumers_closed == 1 and metrics.of("NOTIFICATION").dropped > 0
        assert outlet.offer(frame("NOTIFICATION", 99), "NOTIFICATION") is False
    finally:
        outlet.dispose()
        ours.close()
        theirs.close()


def read_frames(sock, count):
    """The payloads of the next ``count`` server frames (unmasked, short) on ``sock``."""
    data, out = b"", []
    sock.settimeout(2)
    while len(out) < count:
        data += sock.recv(65536)
        while len(data) >= 2 and len(data) >= 2 + (data[1] & 0x7F):
            size = data[1] & 0x7F
            out.append(data[2:2 + size].decode())
            data = data[2 + size:]
    return out


@contextmanager
def reading_pair():
    """An outlet over a socket pair whose far end reads: (outlet, far end)."""
    ours, theirs = socket.socketpair()
    metrics = Metrics()
    outlet = Outlet("c1", ours, Flusher(metrics), metrics, write_timeout=30, close_timeout=1, max_frames=100,
                    max_bytes=1_000_000)
    try:
        yield outlet, theirs
    finally:
        outlet.dispose()
        ours.close()
        theirs.close()


def test_now_writes_an_idle_socket_at_once_and_never_overtakes_queued_frames():
    with reading_pair() as (outlet, theirs):
        outlet.release(text_frame('{"n":0}'))
        assert read_frames(theirs, 1) == ['{"n":0}']
        outlet.offer(text_frame('{"n":1}'), now=True)  # idle socket: written before this call returns
        theirs.setblocking(False)
        assert theirs.recv(100)[2:] == b'{"n":1}'
        outlet.offer(text_frame('{"n":2}'))  # queued for the Flusher...
        outlet.offer(text_frame('{"n":3}'), now=True)  # ...so this one waits behind it
        assert outlet.queued == 2
        gevent.sleep(0)
        assert read_frames(theirs, 2) == ['{"n":2}', '{"n":3}']


def test_release_writes_connected_and_what_was_held_at_once_in_order():
    with reading_pair() as (outlet, theirs):
        outlet.offer(text_frame('{"n":1}'))  # a room's event while the connection is held
        assert outlet.queued == 1
        outlet.release(text_frame('{"type":"CONNECTED"}'))  # no loop iteration needed
        theirs.setblocking(False)
        assert theirs.recv(1000) == text_frame('{"type":"CONNECTED"}') + text_frame('{"n":1}')
