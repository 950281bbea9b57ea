"""The event catalogue: each event type's payload schema, default rooms and delivery rules, in one table.

``POST /api/live-sync`` and the in-process ``EventService`` both call ``prepare``, so a payload is
judged the same way whichever door it came through. Schemas name the fields a dashboard relies on
(ids to route by, the figures a widget shows); any other field passes through untouched.

Every rule about an event type lives in its ``EventSpec`` and nowhere else: which types supersede
their predecessor (``superseding``), which are coalesced before they reach a room (``route``), and
so which are never dropped or replaced on the way to a slow socket (every type that does not
supersede: alerts, notifications, messages).

Payloads are checked by a pydantic model built from each entry (``schemas.py``), which also gives the
JSON Schema of ``GET /api/openapi.json`` and docs/events.md: the table below is the one source.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import BadRequest, UnknownType
from .rooms import parse_room
from .schemas import ANY, BOOL, ID, NUMBER, OBJECT, TEXT, field_errors, payload_model  # noqa: F401 (kinds, re-exported)

STATS_ROOM = "stats:dashboard"


ROUTE_ROOM = "room"
"""Straight to the room: numbered and fanned out as published."""
ROUTE_COALESCE = "coalesce"
"""Through the Coalescer: at most one per COALESCE_INTERVAL per (type, room), the latest always sent."""
ROUTE_STATS = "stats"
"""Through the Coalescer's statistics: figures merged into the room's last known set, then coalesced."""


class Rooms:
    """Default rooms from templates (``lead:{leadId}``): a callable on the payload that also documents itself."""

    __slots__ = ("templates", "_fields")

    def __init__(self, *templates: str) -> None:
        self.templates = templates
        self._fields = [[name for _, name, _, _ in string.Formatter().parse(t) if name] for t in templates]

    def __call__(self, data: dict[str, Any]) -> list[str]:
        """The rooms of this payload; KeyError names a template field the payload lacks."""
        return [template.format(**{name: str(data[name]) for name in names})
                for template, names in zip(self.templates, self._fields, strict=True)]

    def fields(self) -> set[str]:
        return {name for names in self._fields for name in names}

    def describe(self) -> str:
        return ", ".join(f"`{t}`" for t in self.templates)


@dataclass(frozen=True, slots=True)
class EventSpec:
    """What one event type must carry, where it goes when the publisher names no room, how it travels.

    ``required`` and ``optional`` name each field's kind (``actors/protocol/schemas.py``); ``model`` is
    the pydantic model built from them, which validates payloads and gives their JSON Schema.
    """

    required: dict[str, str]
    optional: dict[str, str]
    rooms: Callable[[dict[str, Any]], list[str]]
    summary: str
    superseding: bool = False
    """A newer one replaces an older one still queued for a slow socket, and a new subscriber gets the
    latest at once. Types that do not supersede are never replaced or dropped (only a 4008 close ends them)."""
    route: str = ROUTE_ROOM
    room_doc: str = ""
    """The default rooms as docs/events.md shows them, when ``rooms`` is not a ``Rooms``."""
    custom: bool = False
    """Added by the deployment (EVENT_TYPES_FILE), not built in."""
    model: type[BaseModel] = field(init=False, repr=False, compare=False)
    _kinds: dict[str, str] = field(init=False, repr=False, compare=False)
    _validate: Callable[[Any], Any] = field(init=False, repr=False, compare=False)

    def build(self, type_: str, example: dict[str, Any] | None = None) -> EventSpec:
        """Make the pydantic model of this type's payload (once, when the catalogue is built)."""
        model = payload_model(type_, self.required, self.optional, self.summary, example)
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "_kinds", {**self.required, **self.optional})
        object.__setattr__(self, "_validate", model.__pydantic_validator__.validate_python)
        return self

    def check(self, type_: str, data: dict[str, Any]) -> None:
        """Raise BadRequest naming every bad field (``{"data.sent": "must be a number"}``); the data is not changed."""
        try:
            self._validate(data)
        except ValidationError as exc:
            raise BadRequest(f"invalid {type_} payload", fields=field_errors(exc, self._kinds)) from None

    def default_rooms(self) -> str:
        return self.rooms.describe() if isinstance(self.rooms, Rooms) else self.room_doc


_one = Rooms


def _notification(data: dict[str, Any]) -> list[str]:
    if "userId" in data:
        return [f"user:{data['userId']}"]
    if "role" in data:
        return [f"role:{data['role']}"]
    raise BadRequest("NOTIFICATION needs a room, a 'userId' or a 'role'",
                     fields={"userId": "required when no room and no role is given"})


_NOTIFICATION_ROOMS = "`user:{userId}` or `role:{role}`"
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
    "LEAD_ASSIGNED": EventSpec({"leadId": ID, "assignedTo": ID}, {"assignedBy": ID, "name": TEXT},
                               Rooms("lead:{leadId}", "user:{assignedTo}"),
                               "a lead was assigned; also sent to the assignee's user room"),
    "LEAD_CONVERTED": EventSpec({"leadId": ID}, {"contactId": ID, "value": NUMBER}, _one("lead:{leadId}"),
                                "a lead became a customer"),
    "CONTACT_UPDATED": EventSpec({"contactId": ID}, {"changes": OBJECT}, _one("contact:{contactId}"),
                                 "contact fields changed"),
    "SYSTEM_ALERT": EventSpec({"level": TEXT, "message": TEXT}, {"title": TEXT, "source": TEXT},
                              Rooms("role:ADMIN"), "alerts, errors, maintenance; never dropped"),
    "STATS_UPDATE": EventSpec({}, {}, Rooms(STATS_ROOM), "dashboard statistics; coalesced",
                              superseding=True, route=ROUTE_STATS),
    "NOTIFICATION": EventSpec({}, {"userId": ID, "role": TEXT, "title": TEXT, "message": TEXT, "priority": TEXT},
                              _notification, "a bare frame, not stored (POST /api/notifications)",
                              room_doc=_NOTIFICATION_ROOMS),
    "NOTIFICATION_READ": EventSpec({"userId": ID}, {"ids": ANY, "unreadCount": NUMBER}, _one("user:{userId}"),
                                   "read state changed on another tab or device"),
}
EVENT_TYPES = frozenset(CATALOGUE)
"""Event types a room carries (server to client)."""

SUPERSEDING_TYPES = frozenset(type_ for type_, spec in CATALOGUE.items() if spec.superseding)


def validate(type_: Any, data: Any) -> EventSpec:
    """Raise UnknownType or BadRequest (with one message per bad field); return the type's spec."""
    spec = CATALOGUE.get(type_) if isinstance(type_, str) else None
    if spec is None:
        raise UnknownType(f"unknown event type {str(type_)[:40]!r}; expected one of {', '.join(sorted(CATALOGUE))}")
    if not isinstance(data, dict):
        raise BadRequest("'data' must be an object", fields={"data": "must be an object"})
    spec.check(type_, data)
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
    """The Markdown table of docs/events.md (built-in types only: a deployment's own are in its document)."""
    rows = ["| type | required fields | optional fields | default rooms |", "|---|---|---|---|"]
    for type_, spec in sorted(CATALOGUE.items()):
        if spec.custom:
            continue
        required = ", ".join(f"`{k}` ({v})" for k, v in spec.required.items()) or "—"
        optional = ", ".join(f"`{k}` ({v})" for k, v in spec.optional.items()) or "any"
        rows.append(f"| `{type_}` | {required} | {optional} | {spec.default_rooms()} |")
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
for _type, _spec in CATALOGUE.items():
    _spec.build(_type, EXAMPLES[_type])


def register(type_: str, spec: EventSpec, example: dict[str, Any]) -> None:
    """Add a deployment's own event type (``EVENT_TYPES_FILE``, see ``schemas_custom.py``) to the catalogue.

    The catalogue is the process's table of event types, read by every publish, so a custom type is
    validated, routed and documented exactly like a built-in one. Custom types go straight to their
    room: they are never coalesced and never replaced in a slow socket's queue.
    """
    if type_ in CATALOGUE and not CATALOGUE[type_].custom:
        raise ValueError(f"{type_} is a built-in event type")
    if spec.route != ROUTE_ROOM or spec.superseding:
        raise ValueError(f"{type_}: a custom event type goes straight to its room")
    CATALOGUE[type_] = spec.build(type_, example)
    EXAMPLES[type_] = example


def unregister(type_: str) -> None:
    """Remove a custom type again (a server that loaded it stops; built-in types cannot be removed)."""
    if type_ in CATALOGUE and CATALOGUE[type_].custom:
        del CATALOGUE[type_]
        EXAMPLES.pop(type_, None)

