"""The Prometheus collectors over a real ActorSystem: what a scrape reads, and a scrape during shutdown."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from actors.config import Settings
from actors.observability.gc_pauses import PAUSES
from actors.observability.log_context import close_fields, frame_fields
from actors.observability.metrics import PUBLISH_BUCKETS, Metrics
from actors.observability.prometheus import build_registry
from actors.system import ActorSystem
from tests.conftest import SECRET


def samples(registry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_publish_durations_fall_in_cumulative_buckets():
    metrics = Metrics()
    for seconds in (0.0002, 0.003, 0.003, 0.4, 60.0):
        metrics.published_in(seconds)
    assert metrics.publish_buckets[0] == 1  # <= 0.5 ms
    assert metrics.publish_buckets[PUBLISH_BUCKETS.index(0.005)] == 2
    assert metrics.publish_buckets[-1] == 1  # over the last bound: +Inf only
    registry = build_registry(metrics, PAUSES, dict, "n1")
    found = samples(registry)

    def bucket(le: str) -> float:
        return found[("realtime_publish_duration_seconds_bucket", (("le", le), ("node", "n1")))]

    assert (bucket("0.0005"), bucket("0.0025"), bucket("0.005"), bucket("0.5"), bucket("+Inf")) == (1, 1, 3, 4, 5)
    assert found[("realtime_publish_duration_seconds_count", (("node", "n1"),))] == 5
    assert abs(found[("realtime_publish_duration_seconds_sum", (("node", "n1"),))] - 60.4062) < 1e-9


def test_counters_keep_their_labels_apart():
    metrics = Metrics()
    metrics.connections, metrics.sse_connections = 5, 2
    metrics.refused("FORBIDDEN")
    metrics.refused("FORBIDDEN")
    metrics.rate_limited = 7
    metrics.disconnected(None, sse=True)
    metrics.disconnected(4008, sse=False)
    metrics.recovery(True)
    metrics.recovery(None)  # a SUBSCRIBE without since is not a recovery
    found = samples(build_registry(metrics, PAUSES, dict, "n1"))
    assert found[("realtime_connections", (("node", "n1"), ("transport", "websocket")))] == 2  # 5 open (2 SSE), then one of each ended
    assert found[("realtime_connections", (("node", "n1"), ("transport", "sse")))] == 1
    assert found[("realtime_client_refusals_total", (("code", "FORBIDDEN"), ("node", "n1")))] == 2
    assert found[("realtime_client_refusals_total", (("code", "RATE_LIMITED"), ("node", "n1")))] == 7
    assert found[("realtime_disconnects_total", (("code", "1006"), ("node", "n1")))] == 1
    assert found[("realtime_disconnects_total", (("code", "4008"), ("node", "n1")))] == 1
    assert found[("realtime_recoveries_total", (("node", "n1"), ("recovered", "true")))] == 1
    assert found[("realtime_recoveries_total", (("node", "n1"), ("recovered", "false")))] == 0
    assert ("realtime_rooms", (("node", "n1"),)) not in found  # the status source gave no rooms


def test_a_scrape_of_a_stopped_system_still_answers_the_counters():
    system = ActorSystem(Settings(jwt_secret=SECRET, close_timeout=0.5)).start()
    registry = build_registry(system.metrics, PAUSES, system.status, "n1")
    running = samples(registry)
    assert running[("realtime_rooms", (("node", "n1"),))] == 0
    assert running[("realtime_actors", (("node", "n1"),))] >= 2  # the hub and the coalescer
    assert running[("realtime_broker_errors_total", (("node", "n1"),))] == 0
    system.stop()
    stopped = samples(registry)  # the hub is gone: no rooms figure, everything else as before
    assert ("realtime_rooms", (("node", "n1"),)) not in stopped
    assert stopped[("realtime_connections", (("node", "n1"), ("transport", "websocket")))] == 0
    assert any(name == "process_resident_memory_bytes" and dict(labels)["node"] == "n1" for name, labels in stopped)


def test_log_context_of_a_refused_frame_names_its_type_and_room_only():
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl"
    assert frame_fields('{"type":"AUTH","data":{"token":"' + token + '"}}') == {"frame": "AUTH"}
    assert frame_fields('{"type":"SUBSCRIBE","data":{"room":"user:99"}}') == {"frame": "SUBSCRIBE", "room": "user:99"}
    assert frame_fields("not json") == {} and frame_fields(None) == {"frame": "binary"}
    assert frame_fields("[" * 30_000) == {}  # a frame too deep to parse is not parsed here either
    assert frame_fields('{"type":"SUBSCRIBE","data":{"room":"a\\nINFO forged line"}}') == {"frame": "SUBSCRIBE"}
    assert close_fields(None) == {"code": 1006, "reason": "connection dropped without a close frame"}
    assert close_fields(4008)["reason"] == "slow consumer" and close_fields(4999)["reason"] == "application close"
