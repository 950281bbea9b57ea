"""GcPauses: how often, and for how long, CPython's garbage collector stopped the server.

A collection stops every greenlet: every socket's delivery waits for it. With 10,000 connections
the server holds about 60 collector-tracked objects per socket, and a full (oldest-generation)
collection walks all of them: 300-400 ms, measured on the benchmark machine (docs/performance.md).
That is the largest single stall the server has, and it looks like a network hiccup from outside,
so the collector's own pauses are counted here, shown by ``GET /api/ws`` under ``gc``, and a pause
longer than ``GC_PAUSE_WARN_MS`` is logged.

One instance per process (the collector is per process); ``install`` is idempotent.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

import gevent

log = logging.getLogger("realtime.gc")

GENERATIONS = 3


class GcPauses:
    """Counts and times collections through ``gc.callbacks``; reports long ones after the fact."""

    def __init__(self) -> None:
        self.collections = [0] * GENERATIONS
        self.pause_ms_total = [0.0] * GENERATIONS
        self.pause_ms_max = [0.0] * GENERATIONS
        self.long_pauses = 0
        self.warn_ms = 0.0
        self.last_long: dict[str, Any] | None = None
        self._started = 0.0
        self._installed = False

    def install(self, warn_ms: float) -> GcPauses:
        self.warn_ms = warn_ms
        if not self._installed:
            gc.callbacks.append(self._callback)
            self._installed = True
        return self

    def uninstall(self) -> None:
        if self._installed:
            gc.callbacks.remove(self._callback)
            self._installed = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        ms = (time.perf_counter() - self._started) * 1000.0
        generation = info["generation"]
        self.collections[generation] += 1
        self.pause_ms_total[generation] += ms
        if ms > self.pause_ms_max[generation]:
            self.pause_ms_max[generation] = ms
        if self.warn_ms and ms >= self.warn_ms:
            self.long_pauses += 1
            self.last_long = {"generation": generation, "ms": round(ms, 1), "at": time.time(),
                              "collected": info.get("collected", 0)}
            # Not here: logging takes a lock, and blocking on it inside the collector would switch greenlets.
            gevent.get_hub().loop.run_callback(self._report, dict(self.last_long))

    def _report(self, pause: dict[str, Any]) -> None:
        log.warning("garbage collection (generation %d) stopped the server for %.0f ms (%d objects freed); "
                    "GC_PAUSE_WARN_MS is %g", pause["generation"], pause["ms"], pause["collected"], self.warn_ms)

    def snapshot(self) -> dict[str, Any]:
        return {
            "collections": list(self.collections),
            "pauseMsTotal": [round(v, 1) for v in self.pause_ms_total],
            "pauseMsMax": [round(v, 1) for v in self.pause_ms_max],
            "longPauses": self.long_pauses,
            "lastLongPause": self.last_long,
            "thresholds": list(gc.get_threshold()),
            "frozenObjects": gc.get_freeze_count(),
        }


PAUSES = GcPauses()
"""The process's one instance: ``ActorSystem.start`` installs it, ``GET /api/ws`` reads it."""
