"""MemberCensus: a room's member count across the cluster, asked of every node when someone wants it.

Counting is done on request, not kept: each node already knows its own members of a room (the hub's
dicts), and nothing on the fan-out path should pay for a figure an administrator looks at now and
then. So ``count(room)`` publishes a request on the nodes' request channel; every other node asks its
hub (one message, a dict's length) and publishes its count to the asker's answer channel; the asker
adds its own count and waits, at most ``timeout``, for every node the registry lists as live. A node
that does not answer in time (it died less than three heartbeats ago, or its PUB/SUB connection is
down) is named in ``unanswered``: the total is then a lower bound, and says so. Nothing is stored in
Redis: requests and answers travel over PUB/SUB only.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event

log = logging.getLogger("realtime.cluster")

REQUESTS = "q:members"
"""The channel every node listens on for member-count requests (under the prefix)."""
ANSWERS = "r:"
"""A node's own answer channel is this followed by its id (under the prefix)."""


class _Asked:
    """One request in flight: the answers so far, and who is still expected."""

    __slots__ = ("answers", "expected", "done")

    def __init__(self) -> None:
        self.answers: dict[str, int] = {}
        self.expected: set[str] | None = None
        self.done = Event()

    def check(self) -> None:
        if self.expected is not None and self.expected <= set(self.answers):
            self.done.set()


class MemberCensus:
    """This node's side of the cluster-wide member count: asks the others, and answers them."""

    def __init__(self, client: Any, listen: Callable[[str, Callable[[bytes], None]], None], prefix: str,
                 node_id: str, count_here: Callable[[str], int], live_nodes: Callable[[], list[str]],
                 timeout: float) -> None:
        self._client = client
        self._listen = listen
        self._prefix = prefix
        self.node_id = node_id
        self._count_here = count_here
        """This process's members of a room (the hub's answer; may wait for it, never on the listener)."""
        self._live_nodes = live_nodes
        self._timeout = timeout
        self._asked: dict[str, _Asked] = {}
        self._answering: set[gevent.Greenlet] = set()
        self.answered = 0

    def start(self) -> None:
        self._listen(REQUESTS, self._requested)
        self._listen(f"{ANSWERS}{self.node_id}", self._answer_arrived)

    def close(self) -> None:
        for greenlet in list(self._answering):
            greenlet.kill(block=True, timeout=2)
        self._answering.clear()
        for asked in self._asked.values():
            asked.done.set()

    # --- asking ----------------------------------------------------------------------------------

    def count(self, room: str) -> dict[str, Any]:
        """``{room, members: {total, byNode}, unanswered}``: every live node's count, or who did not answer.

        Raises what Redis raises when the request cannot be sent (the caller maps it to 503).
        """
        request_id = os.urandom(8).hex()
        asked = self._asked[request_id] = _Asked()
        try:
            live = set(self._live_nodes())
            self._client.publish(f"{self._prefix}{REQUESTS}",
                                 json.dumps({"id": request_id, "room": room, "from": self.node_id}))
            asked.answers[self.node_id] = self._count_here(room)
            asked.expected = live | {self.node_id}
            asked.check()
            asked.done.wait(self._timeout)
        finally:
            del self._asked[request_id]
        by_node = dict(sorted(asked.answers.items()))
        return {"room": room, "members": {"total": sum(by_node.values()), "byNode": by_node},
                "unanswered": sorted((asked.expected or set()) - set(by_node))}

    def _answer_arrived(self, payload: bytes) -> None:
        try:
            answer = json.loads(payload)
            asked = self._asked.get(answer["id"])
            if asked is not None:
                asked.answers[str(answer["node"])] = int(answer["members"])
                asked.check()
        except (ValueError, KeyError, TypeError) as exc:  # another deployment's garbage must not end the listener
            log.warning("ignoring a malformed member-count answer: %s", exc)

    # --- answering -------------------------------------------------------------------------------

    def _requested(self, payload: bytes) -> None:
        """On the listener's greenlet: answer from a greenlet of our own (asking the hub waits)."""
        try:
            request = json.loads(payload)
            request_id, room, asker = str(request["id"]), str(request["room"]), str(request["from"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a malformed member-count request: %s", exc)
            return
        if asker == self.node_id:
            return  # the asker counts itself
        greenlet = gevent.spawn(self._answer, request_id, room, asker)
        self._answering.add(greenlet)
        greenlet.link(self._answering.discard)

    def _answer(self, request_id: str, room: str, asker: str) -> None:
        try:
            members = self._count_here(room)
            self._client.publish(f"{self._prefix}{ANSWERS}{asker}",
                                 json.dumps({"id": request_id, "node": self.node_id, "members": members}))
            self.answered += 1
        except Exception as exc:  # noqa: BLE001 (the asker reports us as unanswered)
            log.warning("could not answer a member count for %s: %s", room, exc)
