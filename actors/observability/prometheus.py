"""Prometheus collectors: the counters the server already keeps, read when Prometheus scrapes.

Nothing here runs on the hot path. ``Metrics`` (plain integers the actors add to), ``GcPauses`` and
the hub's counts (through a status callable, one ask of the hub per scrape) are turned into metric
families only inside ``collect``, so a server nobody scrapes pays nothing for this module, and a
scrape costs one pass over a few dozen counters.

Every sample carries a ``node`` label naming the server process, so that the figures of several
processes (``serve --workers N``, or several machines) stay apart when they are stored together;
the process metrics of ``prometheus_client`` (CPU, memory, open files, the Python collector) get it
too. Sum over ``node`` for the whole cluster.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .gc_pauses import GcPauses
from .metrics import PUBLISH_BUCKETS, Metrics

StatusSource = Callable[[], Mapping[str, Any]]
"""``ActorSystem.status``: the hub's counts (``rooms``), the live ``actors`` and the ``broker``'s description.
It may raise (the hub is gone during shutdown); the figures it gives are then left out of that scrape."""


def default_node_name() -> str:
    """Host name and process id: unique per server process, also among the workers of one machine."""
    return f"{socket.gethostname()}:{os.getpid()}"


class RealtimeCollector(Collector):
    """The ``realtime_*`` families, built from the server's own counters at scrape time."""

    def __init__(self, metrics: Metrics, pauses: GcPauses, status: StatusSource, node: str) -> None:
        self._metrics = metrics
        self._pauses = pauses
        self._status = status
        self._node = node

    def collect(self) -> Iterator[Metric]:
        m, node = self._metrics, [self._node]
        try:
            status: Mapping[str, Any] = self._status()
        except Exception:  # noqa: BLE001  (a scrape during shutdown still answers what the counters say)
            status = {}

        connections = GaugeMetricFamily("realtime_connections", "Open client connections, by transport.",
                                        labels=["node", "transport"])
        connections.add_metric(node + ["websocket"], m.connections - m.sse_connections)
        connections.add_metric(node + ["sse"], m.sse_connections)
        yield connections
        if "rooms" in status:
            yield _gauge("realtime_rooms", "Rooms with members or a live room actor in this process.",
                         node, status["rooms"])
        if "actors" in status:
            yield _gauge("realtime_actors", "Live actors (hub, rooms, SSE streams, services).", node,
                         status["actors"])

        yield _counter("realtime_connections_opened", "Client connections accepted since start.", node,
                       m.connections_total)
        published = CounterMetricFamily("realtime_events_published", "Events numbered and fanned out by a room, "
                                        "by event type.", labels=["node", "type"])
        sent = CounterMetricFamily("realtime_messages_sent", "Event frames handed to client sockets (one per "
                                   "member per event), by event type.", labels=["node", "type"])
        dropped = CounterMetricFamily("realtime_messages_dropped", "Event frames discarded: the socket was "
                                      "closing or over its outbox bound, by event type.", labels=["node", "type"])
        coalesced = CounterMetricFamily("realtime_messages_coalesced", "Queued event frames replaced by a newer "
                                        "one of a superseding type, by event type.", labels=["node", "type"])
        for type_, counts in sorted(m.by_type.items()):
            published.add_metric(node + [type_], counts.published)
            sent.add_metric(node + [type_], counts.delivered)
            dropped.add_metric(node + [type_], counts.dropped)
            coalesced.add_metric(node + [type_], counts.coalesced)
        yield from (published, sent, dropped, coalesced)
        yield _counter("realtime_frames_received", "Client data messages received.", node, m.frames_in)
        yield _counter("realtime_frames_sent", "Frames queued to clients: events, answers, pings, close frames.",
                       node, m.frames_out)
        yield _counter("realtime_sent_bytes", "Bytes written to client sockets and SSE streams.", node, m.bytes_out)
        yield _counter("realtime_socket_writes", "Socket writes (send calls) carrying the frames sent: frames per "
                       "write tells how well bursts are batched.", node, m.writes_out)

        yield self._publish_duration()

        refusals = CounterMetricFamily("realtime_client_refusals", "ERROR answers to client frames, by code.",
                                       labels=["node", "code"])
        for code, count in sorted({**m.refusals, "RATE_LIMITED": m.rate_limited}.items()):
            refusals.add_metric(node + [code], count)
        yield refusals
        disconnects = CounterMetricFamily("realtime_disconnects", "Ended connections by close code (1006: no "
                                          "close frame, e.g. a dropped network or a closed SSE stream).",
                                          labels=["node", "code"])
        for close_code, count in sorted(m.disconnects.items()):
            disconnects.add_metric(node + [str(close_code)], count)
        yield disconnects
        recoveries = CounterMetricFamily("realtime_recoveries", "SUBSCRIBE with since: whether the missed events "
                                         "could be replayed.", labels=["node", "recovered"])
        recoveries.add_metric(node + ["false"], m.recoveries[False])
        recoveries.add_metric(node + ["true"], m.recoveries[True])
        yield recoveries
        yield _counter("realtime_slow_consumers_closed", "Sockets closed with 4008: outbox over its bound.", node,
                       m.slow_consumers_closed)
        yield _counter("realtime_write_timeouts", "Sockets cut because a write made no progress for WRITE_TIMEOUT.",
                       node, m.write_timeouts)
        yield _counter("realtime_notifications_created", "Notifications committed to the database.", node,
                       m.notifications_created)
        broker = status.get("broker") or {}
        yield _counter("realtime_broker_errors", "Failed calls to the broker (always 0 with memory://).", node,
                       broker.get("errors", 0) if isinstance(broker, Mapping) else 0)
        yield from self._gc()

    def _publish_duration(self) -> Metric:
        m = self._metrics
        cumulative, buckets = 0, []
        for bound, count in zip((*PUBLISH_BUCKETS, float("inf")), m.publish_buckets, strict=True):
            cumulative += count
            buckets.append((floatToGoString(bound), cumulative))
        histogram = HistogramMetricFamily("realtime_publish_duration_seconds", "A waited-for publish (REST), from "
                                          "the call that accepted it to the answer that its fan-out is done; "
                                          "coalesced updates held for the next window are not counted.",
                                          labels=["node"])
        histogram.add_metric([self._node], buckets, m.publish_seconds)
        return histogram

    def _gc(self) -> Iterable[Metric]:
        p, node = self._pauses, self._node
        pauses = SummaryMetricFamily("realtime_gc_pause_seconds", "Time the garbage collector stopped the server "
                                     "(every greenlet, every socket), by generation.", labels=["node", "generation"])
        longest = GaugeMetricFamily("realtime_gc_pause_max_seconds", "Longest collector pause since start, by "
                                    "generation.", labels=["node", "generation"])
        for generation, (count, total_ms, max_ms) in enumerate(zip(p.collections, p.pause_ms_total, p.pause_ms_max,
                                                                   strict=True)):
            pauses.add_metric([node, str(generation)], count, total_ms / 1000.0)
            longest.add_metric([node, str(generation)], max_ms / 1000.0)
        yield pauses
        yield longest
        yield _counter("realtime_gc_long_pauses", "Collector pauses of GC_PAUSE_WARN_MS or longer.", [node],
                       p.long_pauses)


class NodeLabelled(Collector):
    """Another collector's families with a ``node`` label added to every sample (the process metrics)."""

    def __init__(self, inner: Collector, node: str) -> None:
        self._inner = inner
        self._node = node

    def collect(self) -> Iterator[Metric]:
        for family in self._inner.collect():
            family.samples = [s._replace(labels={**s.labels, "node": self._node}) for s in family.samples]
            yield family


def build_registry(metrics: Metrics, pauses: GcPauses, status: StatusSource, node: str) -> CollectorRegistry:
    """A registry of its own (not prometheus_client's global one): the server's families and the process's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RealtimeCollector(metrics, pauses, status, node))
    # GCCollector always registers itself somewhere: a registry nobody reads, so that ours holds it labelled
    inners = (ProcessCollector(registry=None), PlatformCollector(registry=None), GCCollector(CollectorRegistry()))
    for inner in inners:
        registry.register(NodeLabelled(inner, node))
    return registry


def _gauge(name: str, documentation: str, node: list[str], value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["node"])
    family.add_metric(node, value)
    return family


def _counter(name: str, documentation: str, node: list[str], value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=["node"])
    family.add_metric(node, value)
    return family
