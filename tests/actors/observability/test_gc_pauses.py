"""GcPauses times the collector through gc.callbacks and reports long pauses outside the collector."""

import gc
import logging

import gevent

from actors.observability.gc_pauses import GcPauses


def test_collections_are_counted_and_timed_per_generation():
    pauses = GcPauses().install(warn_ms=0)
    try:
        gc.collect(1)
        gc.collect(2)
    finally:
        pauses.uninstall()
    gc.collect()  # after uninstall: not counted
    assert pauses.collections[1] == 1 and pauses.collections[2] == 1
    assert pauses.pause_ms_total[2] > 0 and pauses.pause_ms_max[2] == pauses.pause_ms_total[2]
    assert pauses.long_pauses == 0  # warn_ms=0: never warns


def test_a_pause_over_the_threshold_is_logged_after_the_collection(caplog):
    pauses = GcPauses().install(warn_ms=1e-6)  # any collection is "long"
    try:
        with caplog.at_level(logging.WARNING, logger="realtime.gc"):
            gc.collect()
            assert not caplog.records  # not from inside the collector
            gevent.sleep(0)  # the event loop runs the deferred report
    finally:
        pauses.uninstall()
    assert pauses.long_pauses >= 1 and pauses.last_long is not None and pauses.last_long["generation"] == 2
    assert any("garbage collection (generation 2) stopped the server" in r.getMessage() for r in caplog.records)
    assert pauses.snapshot()["longPauses"] == pauses.long_pauses


def test_install_is_idempotent():
    pauses = GcPauses()
    pauses.install(100)
    pauses.install(50)
    try:
        assert gc.callbacks.count(pauses._callback) == 1 and pauses.warn_ms == 50
    finally:
        pauses.uninstall()
    assert pauses._callback not in gc.callbacks
