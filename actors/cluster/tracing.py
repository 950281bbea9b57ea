"""Tracing across the cluster: the rules in force on every node, and the debug views asked of every node.

Rules: a node that has its rules set (``PUT``/``DELETE /api/debug/tracing``) writes them to one Redis key
(expiring with them) and publishes them on the nodes' tracing channel; every other node puts them in
force as they arrive, and a node that starts reads the key, so a rule set on any node traces a user's
frames on whichever node their sockets are. A node that misses the message (its PUB/SUB connection was
down) still drops the rules when they expire, since each carries its own end.

Live streams: a stream on one node asks the others (renewing the ask every ``WATCH_RENEW`` seconds) to send
the entries its filter matches to that node's channel while the stream lasts.

Views: a question (``user``, ``event``, ``room``) is published on the nodes' request channel; every other
node answers from its own tracer and hub on the asker's answer channel, and the asker waits at most
``timeout`` for every node the registry lists as live, naming those that did not answer. Nothing but the
rules is stored in Redis; what the nodes know stays on the nodes, as with the member count
(``census.py``), whose shape this follows.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
from gevent.event import Event
from gevent.queue import Empty, Queue

from ..errors import Unavailable
from ..runtime.tracer import WATCHER_QUEUE_SIZE, TraceFilter, Tracer, TraceRules

log = logging.getLogger("realtime.cluster")

RULES_KEY = "trace:rules"
RULES_CHANNEL = "q:tracing"
REQUESTS = "q:debug"
ANSWERS = "r:debug:"
WATCHED = "r:watch:"
"""A node's channel for the entries other nodes send to its live streams (followed by its id)."""
WATCH_RENEW = 10.0
"""Seconds between a live stream's renewals of its watch on the other nodes; a watch not renewed for three of
them ends by itself (the stream's node died, or its PUB/SUB connection did)."""

AnswerHere = Callable[[str, str, dict[str, Any]], dict[str, Any] | None]
"""This node's answer to a view: (what, key, extra) -> the answer, or None when it knows nothing of it."""


class _Asked:
    __slots__ = ("answers", "expected", "done")

    def __init__(self) -> None:
        self.answers: dict[str, dict[str, Any] | None] = {}
        self.expected: set[str] | None = None
        self.done = Event()

    def check(self) -> None:
        if self.expected is not None and self.expected <= set(self.answers):
            self.done.set()


class ClusterTracing:
    """This node's side of cluster-wide tracing: shares its rules, takes the others', asks and answers views."""

    def __init__(self, client: Any, listen: Callable[[str, Callable[[bytes], None]], None], prefix: str,
                 node_id: str, tracer: Tracer, answer_here: AnswerHere, live_nodes: Callable[[], list[str]],
                 timeout: float) -> None:
        self._client = client
        self._listen = listen
        self._prefix = prefix
        self.node_id = node_id
        self._tracer = tracer
        self._answer_here = answer_here
        self._live_nodes = live_nodes
        self._timeout = timeout
        self._asked: dict[str, _Asked] = {}
        self._answering: set[gevent.Greenlet] = set()
        self._streams: dict[str, Queue[dict[str, Any] | None]] = {}
        """This node's live streams that watch the other nodes: watch id -> the stream's queue."""
        self._serving: dict[str, tuple[gevent.Greenlet, list[float]]] = {}
        """Other nodes' watches served here: watch id -> the greenlet sending entries, and its deadline."""

    def start(self) -> None:
        self._listen(RULES_CHANNEL, self._rules_arrived)
        self._listen(REQUESTS, self._requested)
        self._listen(f"{ANSWERS}{self.node_id}", self._answer_arrived)
        self._listen(f"{WATCHED}{self.node_id}", self._watched_arrived)
        self._tracer.on_change = self._rules_changed
        try:
            stored = self._client.get(f"{self._prefix}{RULES_KEY}")
        except Exception as exc:  # noqa: BLE001 (Redis down at start: the next change reaches us)
            log.warning("could not read the cluster's tracing rules: %s", exc)
            return
        if stored:
            rules = TraceRules.from_dict(json.loads(stored))
            if not self._tracer.enabled or not rules.empty:
                self._tracer.set_rules(rules, announce=False)

    def close(self) -> None:
        if self._tracer.on_change == self._rules_changed:
            self._tracer.on_change = None
        for greenlet in list(self._answering) + [served for served, _ in self._serving.values()]:
            greenlet.kill(block=True, timeout=2)
        self._answering.clear()
        self._serving.clear()
        for queue in self._streams.values():
            queue.put(None)
        for asked in self._asked.values():
            asked.done.set()

    # --- rules -----------------------------------------------------------------------------------

    def _rules_changed(self, rules: TraceRules) -> None:
        """Rules set or cleared on this node: stored for nodes that start later, published to the others."""
        body = rules.to_dict()
        key = f"{self._prefix}{RULES_KEY}"
        try:
            with self._client.pipeline(transaction=True) as pipe:
                if rules.empty:
                    pipe.delete(key)
                elif rules.until is None:
                    pipe.set(key, json.dumps(body))
                else:
                    pipe.set(key, json.dumps(body), px=max(1, int((rules.until - time.time()) * 1000)))
                pipe.publish(f"{self._prefix}{RULES_CHANNEL}", json.dumps({"from": self.node_id, "rules": body}))
                pipe.execute()
        except Exception as exc:  # noqa: BLE001 (in force here; the caller is told the others may not know)
            raise Unavailable(f"tracing rules are in force on this node only: Redis could not be told ({exc})") \
                from None

    def _rules_arrived(self, payload: bytes) -> None:
        """On the listener's greenlet (nothing here waits): another node's rules."""
        try:
            message = json.loads(payload)
            if message["from"] == self.node_id:
                return
            rules = TraceRules.from_dict(message["rules"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring malformed tracing rules: %s", exc)
            return
        if rules.empty:
            self._tracer.clear_rules(announce=False)
        else:
            self._tracer.set_rules(rules, announce=False)

    # --- views -----------------------------------------------------------------------------------

    def ask(self, what: str, key: str, extra: dict[str, Any], here: dict[str, Any] | None) -> dict[str, Any]:
        """``{answers: [every node's answer that knows something], unanswered: [node ids]}``.

        Raises what Redis raises when the question cannot be sent (the caller answers 503).
        """
        request_id = os.urandom(8).hex()
        asked = self._asked[request_id] = _Asked()
        try:
            live = set(self._live_nodes())
            self._client.publish(f"{self._prefix}{REQUESTS}", json.dumps(
                {"id": request_id, "from": self.node_id, "what": what, "key": key, "extra": extra}))
            asked.answers[self.node_id] = here
            asked.expected = live | {self.node_id}
            asked.check()
            asked.done.wait(self._timeout)
        finally:
            del self._asked[request_id]
        answers = [asked.answers[node] for node in sorted(asked.answers) if asked.answers[node] is not None]
        return {"answers": answers, "unanswered": sorted((asked.expected or set()) - set(asked.answers))}

    def _answer_arrived(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
            asked = self._asked.get(message["id"])
            if asked is not None:
                asked.answers[str(message["node"])] = message.get("answer")
                asked.check()
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a malformed debug answer: %s", exc)

    def _requested(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
            request_id, asker = str(message["id"]), str(message["from"])
            what, key, extra = str(message["what"]), str(message["key"]), dict(message.get("extra") or {})
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a malformed debug request: %s", exc)
            return
        if asker == self.node_id:
            return
        if what in ("watch", "unwatch"):
            self._watch_requested(what, request_id, asker, extra)
            return
        greenlet = gevent.spawn(self._answer, request_id, asker, what, key, extra)
        self._answering.add(greenlet)
        greenlet.link(self._answering.discard)

    def _answer(self, request_id: str, asker: str, what: str, key: str, extra: dict[str, Any]) -> None:
        try:
            answer = self._answer_here(what, key, extra)
        except Exception as exc:  # noqa: BLE001 (the asker shows this node's error instead of its view)
            answer = {"node": self.node_id, "error": str(exc)[:200]}
        try:
            self._client.publish(f"{self._prefix}{ANSWERS}{asker}", json.dumps(
                {"id": request_id, "node": self.node_id, "answer": answer}, default=str))
        except Exception as exc:  # noqa: BLE001 (the asker reports us as unanswered)
            log.warning("could not answer a debug %s question: %s", what, exc)

    # --- live streams that span the nodes ---------------------------------------------------------

    def watch(self, wanted: TraceFilter, idle: float) -> Iterator[dict[str, Any] | None]:
        """The live stream of every node: this node's entries, and those the other nodes send while the stream
        lasts (each names its node). None after ``idle`` seconds without an entry, for the stream's heartbeat."""
        watch_id = os.urandom(8).hex()
        queue: Queue[dict[str, Any] | None] = Queue()
        self._streams[watch_id] = queue
        local = gevent.spawn(self._pump_local, wanted, queue)
        filter_ = {"user": wanted.user, "room": wanted.room, "actor": wanted.actor, "type": wanted.type}
        renewed = 0.0
        try:
            while True:
                if time.monotonic() - renewed >= WATCH_RENEW:
                    renewed = time.monotonic()
                    self._send_watch("watch", watch_id, filter_)
                try:
                    yield queue.get(timeout=min(idle, WATCH_RENEW))
                except Empty:
                    yield None
        finally:
            self._streams.pop(watch_id, None)
            local.kill(block=False)
            self._send_watch("unwatch", watch_id, filter_)

    def _pump_local(self, wanted: TraceFilter, queue: Queue[dict[str, Any] | None]) -> None:
        for entry in self._tracer.watch(wanted):
            if entry is not None:
                queue.put(self._tracer.entry_dict(entry))

    def _send_watch(self, what: str, watch_id: str, filter_: dict[str, Any]) -> None:
        try:
            self._client.publish(f"{self._prefix}{REQUESTS}", json.dumps(
                {"id": watch_id, "from": self.node_id, "what": what, "key": "", "extra": filter_}))
        except Exception as exc:  # noqa: BLE001 (the stream goes on with this node's entries)
            log.warning("could not ask the other nodes to %s a live trace: %s", what, exc)

    def _watched_arrived(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
            queue = self._streams.get(str(message["id"]))
            if queue is not None and queue.qsize() < WATCHER_QUEUE_SIZE:
                queue.put_nowait(dict(message["entry"]))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a malformed live trace entry: %s", exc)

    def _watch_requested(self, what: str, watch_id: str, asker: str, filter_: dict[str, Any]) -> None:
        """Another node's live stream starts, renews or ends its watch of this node's entries."""
        served = self._serving.get(watch_id)
        if what == "unwatch":
            if served is not None:
                del self._serving[watch_id]
                served[0].kill(block=False)
            return
        deadline = time.monotonic() + WATCH_RENEW * 3
        if served is not None:
            served[1][0] = deadline
            return
        try:
            wanted = TraceFilter(**{k: (str(v) if v is not None else None) for k, v in filter_.items()
                                    if k in ("user", "room", "actor", "type")})
        except TypeError as exc:
            log.warning("ignoring a malformed live trace watch: %s", exc)
            return
        until = [deadline]
        greenlet = gevent.spawn(self._serve_watch, watch_id, asker, wanted, until)
        self._serving[watch_id] = (greenlet, until)
        greenlet.link(lambda _: self._serving.pop(watch_id, None))

    def _serve_watch(self, watch_id: str, asker: str, wanted: TraceFilter, until: list[float]) -> None:
        channel = f"{self._prefix}{WATCHED}{asker}"
        for entry in self._tracer.watch(wanted, idle=1.0):
            if time.monotonic() > until[0]:
                return  # not renewed: the stream is gone
            if entry is None:
                continue
            try:
                self._client.publish(channel, json.dumps({"id": watch_id, "entry": self._tracer.entry_dict(entry)},
                                                         default=str))
            except Exception as exc:  # noqa: BLE001 (that stream misses entries; it is told nothing better)
                log.warning("could not send a live trace entry to %s: %s", asker, exc)
