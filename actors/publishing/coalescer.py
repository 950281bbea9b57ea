"""Coalescer: the coalescing of frequent updates, and the dashboard statistics it sends.

``CAMPAIGN_PROGRESS`` (per campaign room) and ``STATS_UPDATE`` (per stats room) go out at most once per
``COALESCE_INTERVAL``: the first of a quiet spell at once (leading edge), the rest held, each newer value
replacing the held one, and the held one sent when the interval ends (trailing edge), so the last value
of a burst always goes out. Coalescing happens before the room, so a replaced update never takes an
offset or a place in history.

Statistics are merged per stats room: a push adds or replaces figures in the last known set, and every
``STATS_UPDATE`` carries the whole merged set. A provider (``STATS_PROVIDER=module:function``) may
recompute them, on request or every ``STATS_REFRESH_SECONDS``; it runs on a worker thread so a slow
query does not hold the loop.

With several processes sharing Redis (``shared``: ``actors/cluster/coalescing.py``) the windows, the held
values and the merged figures live in Redis instead, so the rules above hold for the cluster, not per
process: one update per interval per (type, room) from all processes together, the last one always sent,
one merged set of figures. The Coalescer stays the one actor that talks to Redis for it (one script per
update, on its own greenlet); the node that opened a window flushes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent

from ..cluster.coalescing import FLUSH_MARGIN, SharedWindows
from ..errors import Conflict, Unavailable
from ..protocol.events import STATS_ROOM
from ..rooms.actor_messages import Publish
from ..runtime.actor import TracedActor
from ..runtime.context import ActorContext
from ..runtime.reply import Failure, Reply
from .actor_messages import Coalesce, FlushCoalesced, GetSyncStatus, PushStats, RecomputeStats, StatsComputed
from .statistics import StatsState, load_provider

log = logging.getLogger("realtime.coalescer")


@dataclass(slots=True)
class _Slot:
    """Coalescing state of one (type, room)."""

    last_sent: float = -1e9
    pending: dict[str, Any] | None = None
    timer: gevent.Greenlet | None = None
    token: str | None = None
    """Shared windows: the window this node opened, which its timer flushes."""


class Coalescer(TracedActor):
    """One per process: the sync service behind ``/api/live-sync``'s superseding updates and statistics."""

    kind = "coalescer"

    def __init__(self, ctx: ActorContext, leader: Callable[[], bool] | None = None,
                 shared: SharedWindows | None = None) -> None:
        super().__init__(ctx, "coalescer")
        self._leader = leader
        """With several processes: whether this one holds the statistics lease (None: one process, always)."""
        self._shared = shared
        """With several processes: the windows and figures in Redis (None: this process's memory)."""
        self._interval = ctx.settings.coalesce_interval
        self._slots: dict[tuple[str, str], _Slot] = {}
        self._stats: dict[str, StatsState] = {}
        self._provider = load_provider(ctx.settings.stats_provider)
        self._computing: list[Reply] | None = None
        self._last_recompute: dict[str, Any] | None = None
        self._refresher: gevent.Greenlet | None = None
        self._trace_in: str | None = None
        """The trace id of the update being handled (or of the held one being flushed), for its Publish."""
        self._trace_sent = False
        self._held_traces: dict[tuple[str, str], str] = {}
        """The trace id of the update each (type, room) window holds."""

    def started(self) -> None:
        if self._provider is not None and self.ctx.settings.stats_refresh_seconds > 0:
            self._refresher = gevent.spawn(self._refresh_loop)

    def stopping(self) -> None:
        for slot in self._slots.values():
            if slot.timer is not None:
                slot.timer.kill(block=False)
        if self._refresher is not None:
            self._refresher.kill(block=False)

    def handle(self, message: Any) -> Any:
        self._trace_in, self._trace_sent = None, False
        if isinstance(message, Coalesce):
            self._trace_in = message.trace_id
            self._coalesce(message.room, message.type, message.data, message.reply)
            self._trace_held(message.type, message.room)
        elif isinstance(message, FlushCoalesced):
            self._trace_in = self._held_traces.pop((message.type, message.room), None)
            self._flush(message.type, message.room)
        elif isinstance(message, PushStats):
            self._trace_in = message.trace_id
            self._push_stats(message.room, message.figures, message.reply)
            self._trace_held("STATS_UPDATE", message.room)
        elif isinstance(message, RecomputeStats):
            self._recompute(message.reply)
        elif isinstance(message, StatsComputed):
            self._computed(message.figures, message.error)
        elif isinstance(message, GetSyncStatus):
            return self._status()
        else:
            return super().handle(message)
        return None

    # --- coalescing ------------------------------------------------------------------------------

    def _coalesce(self, room: str, type_: str, data: dict[str, Any], reply: Reply | None) -> None:
        if self._shared is not None:
            self._coalesce_shared(room, type_, data, reply)
            return
        key = (type_, room)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot()
        now = time.monotonic()
        if slot.pending is None and now - slot.last_sent >= self._interval:
            slot.last_sent = now
            self._publish(room, type_, data, reply)
            self._arm(slot, type_, room, self._interval)  # to forget the slot once the spell is over
            return
        if slot.pending is not None:
            self.ctx.metrics.of(type_).coalesced += 1
        slot.pending = data
        self._arm(slot, type_, room, max(0.0, slot.last_sent + self._interval - now))
        if reply is not None:
            reply.set({"room": room, "coalesced": True, "offset": None, "delivered": 0})

    def _arm(self, slot: _Slot, type_: str, room: str, delay: float) -> None:
        if slot.timer is None:
            slot.timer = gevent.spawn_later(delay, self._tell_flush, type_, room)

    def _tell_flush(self, type_: str, room: str) -> None:
        slot = self._slots.get((type_, room))
        if slot is not None:
            slot.timer = None
        try:
            self.actor_ref.tell(FlushCoalesced(type_, room))
        except Exception:  # noqa: BLE001 (stopped meanwhile)
            pass

    def _flush(self, type_: str, room: str) -> None:
        slot = self._slots.get((type_, room))
        if slot is None or slot.timer is not None:
            return
        if self._shared is not None:
            self._flush_shared(slot, type_, room)
            return
        if slot.pending is None:
            del self._slots[(type_, room)]
            return
        data, slot.pending = slot.pending, None
        slot.last_sent = time.monotonic()
        self._publish(room, type_, data, None)
        self._arm(slot, type_, room, self._interval)

    def _publish(self, room: str, type_: str, data: dict[str, Any], reply: Reply | None) -> None:
        self.tell_hub(Publish(room, type_, data, reply, self._trace_in))
        self._trace_sent = True

    def _trace_held(self, type_: str, room: str) -> None:
        """The update just taken was held for the next window: its trace id waits with it, and the one it
        replaces is traced as coalesced into it (it takes no offset and reaches no one)."""
        trace = self._trace_in
        if self._trace_sent or trace is None:
            return
        replaced = self._held_traces.get((type_, room))
        self._held_traces[(type_, room)] = trace
        tracer = self.ctx.tracer
        if tracer.enabled:
            tracer.event_step(trace, self.actor_id, "held", f"for the next {type_} window of {room}",
                              type_=type_, room=room)
            tracer.event_outcome(trace, "held for the next coalescing window")
            if replaced is not None:
                tracer.event_step(replaced, self.actor_id, "coalesced", f"replaced by the newer {trace}", room=room)
                tracer.event_outcome(replaced, f"coalesced into the newer {trace}: sent to no one")

    # --- coalescing for the cluster (windows in Redis) -------------------------------------------

    def _coalesce_shared(self, room: str, type_: str, data: dict[str, Any], reply: Reply | None) -> Unavailable | None:
        """Ask Redis whether the update opens a window (send it now) or is held for the window's owner.

        ``STATS_UPDATE`` carries figures to merge into the room's set in Redis; what is sent is the merged set.
        Returns the failure when Redis could not be asked (``reply`` has it too): nothing was stored or sent.
        """
        assert self._shared is not None
        merge = type_ == "STATS_UPDATE"
        try:
            offered = self._shared.offer(room, type_, data, merge=merge)
        except Unavailable as exc:
            if reply is not None:
                reply.set(Failure(exc))
            return exc
        if merge and offered.value is not None:
            self._remember_figures(room, offered.value)
        if offered.lead:
            assert offered.value is not None
            key = (type_, room)
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
            slot.token = offered.token
            slot.last_sent = time.monotonic()
            self._publish(room, type_, offered.value, reply)
            self._rearm(slot, type_, room)
            return None
        if offered.replaced:
            self.ctx.metrics.of(type_).coalesced += 1
        if reply is not None:
            reply.set({"room": room, "coalesced": True, "offset": None, "delivered": 0})
        return None

    def _rearm(self, slot: _Slot, type_: str, room: str) -> None:
        """The flush of the window this node just opened, just after it ends (a timer of an older window goes)."""
        if slot.timer is not None:
            slot.timer.kill(block=False)
            slot.timer = None
        assert self._shared is not None
        self._arm(slot, type_, room, self._shared.interval + FLUSH_MARGIN)

    def _flush_shared(self, slot: _Slot, type_: str, room: str) -> None:
        assert self._shared is not None and slot.token is not None
        merge = type_ == "STATS_UPDATE"
        try:
            value, token = self._shared.flush(room, type_, slot.token, merge=merge)
        except Unavailable as exc:
            log.warning("flushing the %s window of %s failed: %s", type_, room, exc.message)
            value = token = None
        if value is None:
            del self._slots[(type_, room)]  # nothing held, or another node's window now: its owner flushes it
            return
        if merge:
            self._remember_figures(room, value)
        slot.token = token
        slot.last_sent = time.monotonic()
        self._publish(room, type_, value, None)
        self._rearm(slot, type_, room)

    def _remember_figures(self, room: str, figures: dict[str, Any]) -> None:
        """The cluster's merged set as this node last saw it (GET /api/live-sync)."""
        state = self._stats.setdefault(room, StatsState())
        state.figures = dict(figures)
        state.updated_at = time.time()

    # --- statistics ------------------------------------------------------------------------------

    def _push_stats(self, room: str, figures: dict[str, Any], reply: Reply | None) -> None:
        if self._shared is not None:  # merged in Redis, for the cluster
            self._coalesce_shared(room, "STATS_UPDATE", figures, reply)
            return
        state = self._stats.setdefault(room, StatsState())
        state.figures.update(figures)
        state.updated_at = time.time()
        self._coalesce(room, "STATS_UPDATE", dict(state.figures), reply)

    def _recompute(self, reply: Reply | None) -> None:
        if self._provider is None:
            if reply is not None:
                reply.set_exception(exc_info=(Conflict, Conflict(
                    "no STATS_PROVIDER is configured: push figures with {\"stats\": {...}} instead"), None))
            return
        if self._computing is not None:  # one computation at a time; later askers share its result
            if reply is not None:
                self._computing.append(reply)
            return
        self._computing = [reply] if reply is not None else []
        provider = self._provider
        result = gevent.get_hub().threadpool.spawn(provider)
        result.rawlink(self._provider_done)

    def _provider_done(self, result: Any) -> None:
        try:
            if result.successful():
                message = StatsComputed(result.value, None)
            else:
                message = StatsComputed(None, repr(result.exception))
            self.actor_ref.tell(message)
        except Exception:  # noqa: BLE001 (stopped meanwhile)
            pass

    def _computed(self, figures: Any, error: str | None) -> None:
        waiting, self._computing = self._computing or [], None
        if error is None and not isinstance(figures, dict):
            error = f"STATS_PROVIDER returned {type(figures).__name__}, not a dict"
        if error is not None:
            log.error("statistics provider failed: %s", error)
            self._last_recompute = {"at": time.time(), "error": error}
            for reply in waiting:
                reply.set_exception(exc_info=(Conflict, Conflict(f"statistics provider failed: {error}"), None))
            return
        self._last_recompute = {"at": time.time(), "error": None}
        if self._shared is not None:
            failed = self._coalesce_shared(STATS_ROOM, "STATS_UPDATE", figures, None)
            if failed is not None:
                for reply in waiting:
                    reply.set(Failure(failed))
                return
            merged = dict(self._stats[STATS_ROOM].figures)
        else:
            state = self._stats.setdefault(STATS_ROOM, StatsState())
            state.figures.update(figures)
            state.updated_at = time.time()
            merged = dict(state.figures)
            self._coalesce(STATS_ROOM, "STATS_UPDATE", dict(state.figures), None)
        answer = {"room": STATS_ROOM, "stats": merged}
        for reply in waiting:
            reply.set(answer)

    def _refresh_loop(self) -> None:
        while True:
            gevent.sleep(self.ctx.settings.stats_refresh_seconds)
            if self._leader is not None and not self._leader():
                continue  # another node holds the statistics lease: STATS_UPDATE once per interval for the cluster
            try:
                self.actor_ref.tell(RecomputeStats(None))
            except Exception:  # noqa: BLE001 (stopped)
                return

    def _status(self) -> dict[str, Any]:
        return {
            "coalesceIntervalMs": round(self._interval * 1000),
            **({"sharedWindows": True, "windowsOpenHere": len(self._slots)} if self._shared is not None else {}),
            "pendingCoalesced": sum(1 for slot in self._slots.values() if slot.pending is not None),
            "statsProvider": self.ctx.settings.stats_provider or None,
            "statsRefreshSeconds": self.ctx.settings.stats_refresh_seconds,
            "lastRecompute": self._last_recompute,
            "stats": {room: {"figures": state.figures, "updatedAt": state.updated_at}
                      for room, state in self._stats.items()},
        }
