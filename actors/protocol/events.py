"""The event catalogue: each event type's payload schema, default rooms and delivery rules, in one table.

``POST /api/live-sync`` and the in-process ``EventService`` both call ``prepare``, so a payload is
judged the same way whichever door it came through. Schemas name the fields a dashboard relies on
(ids to route by, the figures a widget shows); any other field passes through untouched.

Every rule about an event type lives in its ``EventSpec`` and nowhere else: which types supersede
their predecessor (``superseding``), which are coalesced before they reach a room (``route``), and
so which are never dropped or replaced on the way to a slow socket (every type that does not
supersede: alerts, notifications, messages).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest, UnknownType
from .rooms import parse_room

ID = "id"          # a string or an integer id; routed as a string
TEXT = "text"      # a string
NUMBER = "number"  # an int or a float (not a bool)
OBJECT = "object"  # a JSON object
BOOL = "bool"
ANY = "any"        # any JSON value

STATS_ROOM = "stats:dashboard"


ROUTE_ROOM = "room"
"""Straight to the room: numbered and fanned out as published."""
ROUTE_COALESCE = "coalesce"
"""Through the Coalescer: at most one per COALESCE_INTERVAL per (type, room), the latest always sent."""
ROUTE_STATS = "stats"
"""Through the Coalescer's statistics: figures merged into the room's last known set, then coalesced."""


@dataclass(frozen=True, slots=True)
class EventSpec:
    """What one event type must carry, where it goes when the publisher names no room, how it travels."""

    required: dict[str, str]
    optional: dict[str, str]
    rooms: Callable[[dict[str, Any]], list[str]]
    summary: str
    superseding: bool = False
    """A newer one replaces an older one still queued for a slow socket, and a new subscriber gets the
    latest at once. Types that do not supersede are never replaced or dropped (only a 4008 close ends them)."""
    route: str = ROUTE_ROOM


def _one(template: str) -> Callable[[dict[str, Any]], list[str]]:
    return lambda data: [template.format(**{k: str(v) for k, v in data.items()})]


def _lead_assigned(data: dict[str, Any]) -> list[str]:
    return [f"lead:{data['leadId']}", f"user:{data['assignedTo']}"]


def _notification(data: dict[str, Any]) -> list[str]:
    if "userId" in data:
        return [f"user:{data['userId']}"]
    if "role" in data:
        return [f"role:{data['role']}"]
    raise BadRequest("NOTIFICATION needs a room, a 'userId' or a 'role'",
                     fields={"userId": "required when no room and no role is given"})


_MESSAGE = {"messageId": ID, "contactId": ID}
_MESSAGE_OPT = {"content": TEXT, "channel": TEXT, "status": TEXT, "direction": TEXT, "sentAt": TEXT}

CATALOGUE: dict[str, EventSpec] = {
    "MESSAGE_RECEIVED": EventSpec(_MESSAGE, _MESSAGE_OPT, _one("contact:{contactId}"), "a new message from a contact"),
    "MESSAGE_SENT": EventSpec(_MESSAGE, _MESSAGE_OPT, _one("contact:{contactId}"), "a message sent to a contact"),
    "MESSAGE_STATUS_UPDATE": EventSpec({**_MESSAGE, "status": TEXT}, {"error": TEXT},
                                       _one("contact:{contactId}"), "delivered, read, failed, ..."),
    "TYPING_START": EventSpec({"contactId": ID}, {"userId": ID}, _one("contact:{contactId}"), "someone is typing"),
    "TYPING_STOP": EventSpec({"contactId": ID}, {"userId": ID}, _one("contact:{contactId}"), "typing stopped"),
    "CAMPAIGN_STARTED": EventSpec({"campaignId": ID}, {"name": TEXT, "total": NUMBER},
                                  _one("campaign:{campaignId}"), "a campaign began sending"),
    "CAMPAIGN_PROGRESS": EventSpec({"campaignId": ID, "sent": NUMBER},
                                   {"total": NUMBER, "failed": NUMBER, "delivered": NUMBER, "percent": NUMBER},
                                   _one("campaign:{campaignId}"), "progress; coalesced per campaign",
                                   superseding=True, route=ROUTE_COALESCE),
    "CAMPAIGN_COMPLETED": EventSpec({"campaignId": ID}, {"sent": NUMBER, "failed": NUMBER, "total": NUMBER},
                                    _one("campaign:{campaignId}"), "a campaign finished"),
    "CAMPAIGN_FAILED": EventSpec({"campaignId": ID}, {"error": TEXT}, _one("campaign:{campaignId}"),
                                 "a campaign stopped on an error"),
    "LEAD_CREATED": EventSpec({"leadId": ID}, {"name": TEXT, "source": TEXT, "status": TEXT},
                              _one("lead:{leadId}"), "a new lead"),
    "LEAD_UPDATED": EventSpec({"leadId": ID}, {"changes": OBJECT, "status": TEXT}, _one("lead:{leadId}"),
                              "lead fields changed"),
    "LEAD_ASSIGNED": EventSpec({"leadId": ID, "assignedTo": ID}, {"assignedBy": ID, "name": TEXT}, _lead_assigned,
                               "a lead was assigned; also sent to the assignee's user room"),
    "LEAD_CONVERTED": EventSpec({"leadId": ID}, {"contactId": ID, "value": NUMBER}, _one("lead:{leadId}"),
                                "a lead became a customer"),
    "CONTACT_UPDATED": EventSpec({"contactId": ID}, {"changes": OBJECT}, _one("contact:{contactId}"),
                                 "contact fields changed"),
    "SYSTEM_ALERT": EventSpec({"level": TEXT, "message": TEXT}, {"title": TEXT, "source": TEXT},
                              lambda data: ["role:ADMIN"], "alerts, errors, maintenance; never dropped"),
    "STATS_UPDATE": EventSpec({}, {}, lambda data: [STATS_ROOM], "dashboard statistics; coalesced",
                              superseding=True, route=ROUTE_STATS),
    "NOTIFICATION": EventSpec({}, {"userId": ID, "role": TEXT, "title": TEXT, "message": TEXT, "priority": TEXT},
                              _notification, "a bare frame, not stored (POST /api/notifications)"),
    "NOTIFICATION_READ": EventSpec({"userId": ID}, {"ids": ANY, "unreadCount": NUMBER}, _one("user:{userId}"),
                                   "read state changed on another tab or device"),
}
EVENT_TYPES = frozenset(CATALOGUE)
"""Event types a room carries (server to client)."""

SUPERSEDING_TYPES = frozenset(type_ for type_, spec in CATALOGUE.items() if spec.superseding)


def _check(value: Any, kind: str) -> str | None:
    """None when ``value`` is of ``kind``; else what it should have been."""
    if kind == ANY:
        return None
    if kind == ID:
        ok = (isinstance(value, str) and 0 < len(value) <= 64) or (
            isinstance(value, int) and not isinstance(value, bool))
        return None if ok else "must be a string or an integer id"
    if kind == TEXT:
        return None if isinstance(value, str) else "must be a string"
    if kind == NUMBER:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else "must be a number"
    if kind == OBJECT:
        return None if isinstance(value, dict) else "must be an object"
    if kind == BOOL:
        return None if isinstance(value, bool) else "must be true or false"
    return None


def validate(type_: Any, data: Any) -> EventSpec:
    """Raise UnknownType or BadRequest (with one message per bad field); return the type's spec."""
    if not isinstance(type_, str) or type_ not in CATALOGUE:
        raise UnknownType(f"unknown event type {str(type_)[:40]!r}; expected one of {', '.join(sorted(CATALOGUE))}")
    if not isinstance(data, dict):
        raise BadRequest("'data' must be an object", fields={"data": "must be an object"})
    spec = CATALOGUE[type_]
    fields: dict[str, str] = {}
    for name, kind in spec.required.items():
        if name not in data:
            fields[f"data.{name}"] = "required"
        else:
            problem = _check(data[name], kind)
            if problem:
                fields[f"data.{name}"] = problem
    for name, kind in spec.optional.items():
        if name in data and data[name] is not None:
            problem = _check(data[name], kind)
            if problem:
                fields[f"data.{name}"] = problem
    if fields:
        raise BadRequest(f"invalid {type_} payload", fields=fields)
    return spec


def prepare(type_: Any, data: Any, room: Any, prefixes: tuple[str, ...]) -> list[str]:
    """Validate an event and decide its rooms: the given one, or the type's defaults."""
    spec = validate(type_, data)
    if room is not None:
        parse_room(room, prefixes)
        return [room]
    try:
        rooms = spec.rooms(data)
    except KeyError as missing:
        raise BadRequest(f"{type_} needs a room or the field {missing}", fields={"room": "required"}) from None
    for name in rooms:
        parse_room(name, prefixes)
    return rooms


def catalogue_table() -> str:
    """The Markdown table of docs/events.md."""
    rows = ["| type | required fields | optional fields | default rooms |", "|---|---|---|---|"]
    examples = {"contactId": "C", "campaignId": "K", "leadId": "L", "assignedTo": "U", "userId": "U",
                "messageId": "M", "level": "warn", "message": "m", "status": "s", "sent": 1}
    for type_, spec in sorted(CATALOGUE.items()):
        try:
            rooms = ", ".join(f"`{r}`" for r in spec.rooms({**examples}))
        except BadRequest:
            rooms = "`user:{userId}` or `role:{role}`"
        rooms = rooms.replace(":C", ":{contactId}").replace(":K", ":{campaignId}").replace(":L", ":{leadId}")
        rooms = rooms.replace(":U", ":{userId}" if type_ != "LEAD_ASSIGNED" else ":{assignedTo}")
        required = ", ".join(f"`{k}` ({v})" for k, v in spec.required.items()) or "—"
        optional = ", ".join(f"`{k}` ({v})" for k, v in spec.optional.items()) or "any"
        rows.append(f"| `{type_}` | {required} | {optional} | {rooms} |")
    return "\n".join(rows) + "\n"


EXAMPLES: dict[str, dict[str, Any]] = {
    "MESSAGE_RECEIVED": {"messageId": "m-1", "contactId": "123", "content": "Hi, is my order on its way?",
                         "channel": "whatsapp"},
    "MESSAGE_SENT": {"messageId": "m-2", "contactId": "123", "content": "It ships today.", "channel": "whatsapp"},
    "MESSAGE_STATUS_UPDATE": {"messageId": "m-2", "contactId": "123", "status": "READ"},
    "TYPING_START": {"contactId": "123", "userId": "42"},
    "TYPING_STOP": {"contactId": "123", "userId": "42"},
    "CAMPAIGN_STARTED": {"campaignId": "7", "name": "Black Friday", "total": 5000},
    "CAMPAIGN_PROGRESS": {"campaignId": "7", "sent": 1200, "total": 5000, "failed": 3, "percent": 24},
    "CAMPAIGN_COMPLETED": {"campaignId": "7", "sent": 4990, "failed": 10, "total": 5000},
    "CAMPAIGN_FAILED": {"campaignId": "7", "error": "provider quota exceeded"},
    "LEAD_CREATED": {"leadId": "9", "name": "Acme Corp", "source": "web form"},
    "LEAD_UPDATED": {"leadId": "9", "changes": {"status": "QUALIFIED"}},
    "LEAD_ASSIGNED": {"leadId": "9", "assignedTo": "42", "assignedBy": "1", "name": "Acme Corp"},
    "LEAD_CONVERTED": {"leadId": "9", "contactId": "123", "value": 12000},
    "CONTACT_UPDATED": {"contactId": "123", "changes": {"phone": "+1 555 0100"}},
    "SYSTEM_ALERT": {"level": "warning", "message": "SMS provider degraded", "source": "gateway"},
    "STATS_UPDATE": {"totalContacts": 1520, "openLeads": 87, "messagesToday": 412},
    "NOTIFICATION": {"userId": "42", "title": "Lead assigned", "message": "Acme Corp is yours", "priority": "HIGH"},
    "NOTIFICATION_READ": {"userId": "42", "ids": [1, 2], "unreadCount": 0},
}
"""A valid payload per type: the documentation's examples and the tests' fixtures."""
assert set(EXAMPLES) == set(CATALOGUE)

