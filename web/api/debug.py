"""``/api/debug/...``: tracing switched at runtime, and what it tells about a user, a room and one event.

Every call needs an ADMIN token, and none needs ``--debug``: tracing rules are set here
(``PUT /api/debug/tracing``) for users, rooms or actors, for some minutes, on every node when the nodes
share Redis. The views (``users``, ``rooms``, ``events``) answer for every node, each part naming its node;
a node that did not answer in time is named in ``unanswered``. docs/debugging.md walks through them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context

from actors.errors import BadRequest, NotFound
from actors.runtime.tracer import USER_ID, TraceFilter, parse_rules, valid_trace_id

from ..auth import require_role, system
from ..json_body import json_object

bp = Blueprint("debug", __name__)

MAX_FILTER = 140
STREAM_HEARTBEAT = 15.0
"""Seconds without an entry before the live stream writes a comment line (proxies keep it; a gone client shows)."""


def _tracing_state() -> dict[str, Any]:
    running = system()
    tracer = running.tracer
    return {"rules": tracer.current_rules().to_dict(), "node": tracer.node,
            "cluster": running.trace_cluster is not None, "debugFlag": running.settings.websocket_debug,
            "memory": tracer.memory(),
            "limits": {"ringEntries": tracer.limits.ring_entries, "ringBytes": tracer.limits.ring_bytes,
                       "totalBytes": tracer.limits.total_bytes, "records": tracer.limits.records,
                       "keepSeconds": tracer.limits.keep_seconds, "events": tracer.limits.events,
                       "maxMinutes": tracer.limits.max_minutes}}


@bp.get("/api/debug/tracing")
def tracing() -> Any:
    """The rules in force (and when they end), this node, what the rings hold against their bounds."""
    require_role("ADMIN")
    return jsonify(_tracing_state())


@bp.put("/api/debug/tracing")
def set_tracing() -> Any:
    """``{"users": [...], "rooms": [...], "actors": [...], "all": false, "minutes": 15}``: replaces the rules."""
    who = require_role("ADMIN")
    running = system()
    rules = parse_rules(json_object(), running.settings.all_room_prefixes, running.tracer.limits.max_minutes,
                        f"user {who.user_id}")
    running.set_tracing(who, rules)
    return jsonify(_tracing_state())


@bp.delete("/api/debug/tracing")
def clear_tracing() -> Any:
    who = require_role("ADMIN")
    system().set_tracing(who, None)
    return jsonify(_tracing_state())


@bp.get("/api/debug/actors")
def actors() -> Any:
    """Every live actor of this node (with or without rules), and the recently stopped ones."""
    require_role("ADMIN")
    tracer = system().tracer
    listed = tracer.actors()
    return jsonify({"node": tracer.node, "count": len(listed), "actors": listed, "stopped": tracer.stopped_actors()})


@bp.get("/api/debug/actors/<path:actor_id>")
def actor(actor_id: str) -> Any:
    require_role("ADMIN")
    found = system().tracer.actor(actor_id)
    if found is None:
        raise NotFound(f"no actor {actor_id[:140]!r} on this node, live or recently stopped")
    return jsonify(found)


@bp.get("/api/debug/users/<user_id>")
def user(user_id: str) -> Any:
    """A user's connections (live and recently closed, with close code and reason), refusals, deliveries and
    misses, on every node."""
    require_role("ADMIN")
    if not USER_ID.match(user_id):
        raise BadRequest("not a user id", fields={"userId": "1-64 characters from A-Z a-z 0-9 _ -"})
    view = system().debug_view("user", user_id)
    return jsonify(merge_user(user_id, view))


@bp.get("/api/debug/events/<trace_id>")
def event(trace_id: str) -> Any:
    """One event by its trace id: its steps, every connection it was written to and every traced one it was not,
    with the reason; on every node."""
    require_role("ADMIN")
    if not valid_trace_id(trace_id):
        raise BadRequest("not a trace id", fields={"traceId": "1-64 characters from A-Z a-z 0-9 _ . : -"})
    view = system().debug_view("event", trace_id)
    if not view["answers"]:
        raise NotFound(f"no traced event {trace_id!r}: tracing was off for it, or it is older than the events kept")
    return jsonify(merge_event(view))


@bp.get("/api/debug/rooms/<path:room>")
def room(room: str) -> Any:
    """A room, dormant or live: epoch, offset, history size, members and their users, recent publishes."""
    require_role("ADMIN")
    view = system().debug_view("room", room)
    return jsonify(merge_room(room, view))


@bp.get("/api/debug/trace")
def trace() -> Response:
    """Entries as they are recorded, as Server-Sent Events, until the client goes away.

    ``?user=`` ``?room=`` ``?actor=`` ``?type=`` keep only the matching ones (a message type such as ``Join``,
    an event type such as ``LEAD_ASSIGNED``, a client frame type, or an entry kind such as ``refused``). With
    Redis the other nodes send theirs while the stream lasts; each entry names its node.
    """
    require_role("ADMIN")
    wanted = _filter()
    running = system()

    def entries() -> Iterator[str]:
        yield f": trace stream of node {running.tracer.node}\n\n"
        for entry in running.watch(wanted, STREAM_HEARTBEAT):
            if entry is None:
                yield ": ping\n\n"
            else:
                yield f"data: {json.dumps(entry, default=str)}\n\n"

    return Response(stream_with_context(entries()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _filter() -> TraceFilter:
    values: dict[str, str | None] = {}
    fields: dict[str, str] = {}
    for name in ("user", "room", "actor", "type"):
        value = request.args.get(name)
        if value is not None and not 0 < len(value) <= MAX_FILTER:
            fields[name] = f"1-{MAX_FILTER} characters"
        values[name] = value or None
    if fields:
        raise BadRequest("invalid filter", fields=fields)
    return TraceFilter(**values)


# --- one answer from every node's part -----------------------------------------------------------


def _nodes(view: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"nodes": sorted({a.get("node", "?") for a in view["answers"]}),
                           "unanswered": view.get("unanswered", [])}
    if view.get("error"):
        out["error"] = view["error"]
    return out


def _newest(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: item.get(key) or 0, reverse=True)


def merge_user(user_id: str, view: dict[str, Any]) -> dict[str, Any]:
    answers = [a for a in view["answers"] if "error" not in a]
    return {"userId": user_id, **_nodes(view), "traced": any(a.get("traced") for a in answers),
            "connections": {
                "live": [c for a in answers for c in a["connections"]["live"]],
                "closed": _newest([c for a in answers for c in a["connections"]["closed"]], "closed")},
            "refusals": _newest([r for a in answers for r in a["refusals"]], "at"),
            "deliveries": _newest([d for a in answers for d in a["deliveries"]], "at"),
            "missed": _newest([m for a in answers for m in a["missed"]], "at")}


def merge_event(view: dict[str, Any]) -> dict[str, Any]:
    answers = [a for a in view["answers"] if "error" not in a]
    base = dict(answers[0])
    if len(answers) > 1:
        rooms: dict[tuple[str, str], dict[str, Any]] = {}
        users: dict[str, list[dict[str, Any]]] = {}
        for answer in answers:
            for part in answer["rooms"]:
                rooms[(part["room"], part.get("node", answer["node"]))] = part
            for name, outcomes in answer["users"].items():
                users.setdefault(name, []).extend(outcomes)
        base.update(
            rooms=list(rooms.values()), users=users,
            steps=sorted((s for a in answers for s in a["steps"]), key=lambda s: s["at"]),
            connections=[c for a in answers for c in a["connections"]],
            connectionsNotListed=sum(a["connectionsNotListed"] for a in answers),
            entries=sorted((e for a in answers for e in a["entries"]), key=lambda e: e["at"]),
            outcome=next((a["outcome"] for a in answers if a.get("outcome")), None))
    base.pop("node", None)
    for name, total in (("members", "members"), ("delivered", "delivered"), ("notDelivered", "notDelivered")):
        base[total] = sum(part.get(name) or 0 for part in base["rooms"]) if base["rooms"] else None
    return {**base, **_nodes(view)}


def merge_room(room: str, view: dict[str, Any]) -> dict[str, Any]:
    answers = [a for a in view["answers"] if "error" not in a]
    if not answers:
        return {"room": room, **_nodes(view), "state": "not held", "members": [], "users": [], "publishes": []}
    states = {a["state"] for a in answers}
    first = answers[0]
    publishes: dict[Any, dict[str, Any]] = {}
    for answer in answers:
        for item in answer["publishes"]:
            key = item.get("offset") if item.get("offset") is not None else item.get("traceId")
            known = publishes.get(key)
            if known is None:
                publishes[key] = dict(item)
                continue
            for count in ("members", "delivered", "notDelivered"):
                if item.get(count) is not None:
                    known[count] = (known.get(count) or 0) + item[count]
    return {"room": room, **_nodes(view),
            "state": "live" if "live" in states else "dormant" if "dormant" in states else "not held",
            "states": {a["node"]: a["state"] for a in answers}, "epoch": first["epoch"], "offset": first["offset"],
            "historySize": first["historySize"], "traced": any(a["traced"] for a in answers),
            "members": [m for a in answers for m in a["members"]],
            "users": sorted({u for a in answers for u in a["users"]}),
            "publishes": sorted(publishes.values(), key=lambda p: p.get("offset") or 0, reverse=True),
            "actors": [a["actor"] for a in answers if a.get("actor") is not None]}
