"""The notification center's rules: what a valid notification and valid preferences are, and who gets what.

Pure functions and values, no database and no actors, so the web layer can refuse bad input before
anything is queued (a failed request changes nothing) and the service, the store and the tests share
one definition of priorities, channels and quiet hours.

The request bodies are pydantic models (``NotificationRequest``, ``PreferencesRequest``): they check the
shape of a body and print the JSON Schema of ``GET /api/openapi.json``. What a schema cannot say (exactly
one kind of recipient, a configured role, visible text, no NUL, a time zone the machine knows, start
before end) is checked here after them, and every failure is reported in the words callers already
rely on (``{"title": "must not be blank"}``), keyed by the field's dotted path.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from ..errors import BadRequest
from ..protocol.frames import dumps, encodable, surrogate_path

PRIORITIES = ("LOW", "NORMAL", "HIGH", "URGENT")
"""In rising order; a channel's minimum priority compares by this rank."""

CHANNELS = ("inApp", "toast", "browser")

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}\Z")

MAX_TITLE = 200
MAX_MESSAGE = 5_000
MAX_LINK = 2_048
MAX_RECIPIENTS = 1_000
MAX_TYPE_SWITCHES = 200

SKIP_IN_APP_DISABLED = "IN_APP_DISABLED"
SKIP_TYPE_DISABLED = "TYPE_DISABLED"


def rank(priority: str) -> int:
    return PRIORITIES.index(priority)


# --- a notification to create ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Draft:
    """A validated create request: either ``user_ids`` (one row each) or ``role`` (one shared row)."""

    user_ids: tuple[str, ...]
    role: str | None
    title: str
    message: str
    type: str
    priority: str
    data: dict[str, Any] | None = None
    link: str | None = None

    def fingerprint(self) -> str:
        """Same request, same fingerprint: an idempotency key reused for a different body is refused."""
        canonical = dumps({"userIds": list(self.user_ids), "role": self.role, "title": self.title,
                           "message": self.message, "type": self.type, "priority": self.priority,
                           "data": _sorted(self.data), "link": self.link})
        return hashlib.sha256(canonical.encode()).hexdigest()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def blank(text: str) -> bool:
    """Nothing a reader would see: only whitespace and control or format characters (NUL, U+200B, ...)."""
    return all(c.isspace() or unicodedata.category(c)[0] == "C" for c in text)


def text_problem(text: str) -> str | None:
    """Why text cannot be stored as it is on every database we support, or None.

    A lone surrogate cannot be encoded at all (SQLite's driver raises, and so would the push); NUL is
    refused by PostgreSQL's text type but kept by SQLite, so it is refused here for both alike.
    """
    if not encodable(text):
        return "not valid Unicode text (a lone surrogate)"
    if "\x00" in text:
        return "must not contain NUL characters"
    return None


UserIdText = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="a user id")]
TypeNameText = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
                                          description="an event type (LEAD_ASSIGNED) or a free category")]
Priority = Literal["LOW", "NORMAL", "HIGH", "URGENT"]
assert PRIORITIES == Priority.__args__  # type: ignore[attr-defined]

_USER_ID = "must be a user id: 1-64 characters from A-Z a-z 0-9 _ -"


class NotificationRequest(BaseModel):
    """``POST /api/notifications``: for exactly one of ``userId``, ``userIds`` or ``role`` (a configured role)."""

    model_config = ConfigDict(title="NotificationRequest", json_schema_extra={"examples": [
        {"userId": "42", "title": "Lead assigned", "message": "Acme Corp is yours", "type": "LEAD_ASSIGNED",
         "priority": "HIGH", "data": {"leadId": "9"}, "link": "/leads/9"}]})

    userId: UserIdText | None = None
    userIds: Annotated[list[UserIdText], Field(min_length=1, max_length=MAX_RECIPIENTS)] | None = None
    role: StrictStr | None = Field(None, description="one of the configured roles (ROLES)")
    title: Annotated[StrictStr, Field(min_length=1, max_length=MAX_TITLE)]
    message: Annotated[StrictStr, Field(min_length=1, max_length=MAX_MESSAGE)]
    type: TypeNameText
    priority: Priority = "NORMAL"
    data: dict[str, Any] | None = None
    link: Annotated[StrictStr, Field(max_length=MAX_LINK)] | None = None


def _draft_problem(name: str, kind: str, value: Any) -> str:
    """What to tell the caller about a field of a create body the model refused."""
    if value is None and name in ("title", "message", "type"):
        return "required"
    if name in ("title", "message"):
        limit = MAX_TITLE if name == "title" else MAX_MESSAGE
        if kind == "string_too_long":
            return f"at most {limit} characters"
        if kind == "string_too_short":
            return "must not be blank"
        return SURROGATE_TEXT if kind == "string_unicode" else "must be a string"
    if name == "userId":
        return _USER_ID
    if name == "userIds":
        if kind == "too_long":
            return f"at most {MAX_RECIPIENTS} user ids"
        if isinstance(value, list) and value:
            return "every entry must be a user id: 1-64 characters from A-Z a-z 0-9 _ -"
        return "must be a non-empty list of user ids"
    if name == "type":
        return "must be 1-64 characters from A-Z a-z 0-9 _ . : -"
    if name == "priority":
        if not isinstance(value, str):
            return "must be a string"
        return f"unknown priority {value[:20]!r}; expected one of {', '.join(PRIORITIES)}"
    if name == "data":
        return "must be an object"
    if name == "link":
        return f"must be a string of at most {MAX_LINK} characters"
    return "invalid"


SURROGATE_TEXT = "not valid Unicode text (a lone surrogate)"


def parse_draft(body: Mapping[str, Any], roles: tuple[str, ...]) -> Draft:
    """The body of ``POST /api/notifications`` as a Draft, or BadRequest naming every bad field."""
    fields: dict[str, str] = {}
    given = [name for name in ("userId", "userIds", "role") if body.get(name) is not None]
    if len(given) != 1:
        message = "exactly one of userId, userIds or role is required"
        for name in given or ["userId"]:
            fields[name] = message
    try:
        request = NotificationRequest.model_validate(body)
    except ValidationError as exc:
        request = None
        for error in exc.errors(include_url=False, include_context=False):
            name = str(error["loc"][0]) if error["loc"] else ""
            if name in fields or name == "role" or (name in ("userId", "userIds") and len(given) != 1):
                continue  # the role is judged against the configured roles below
            if name == "data" and isinstance(body.get("data"), dict):
                continue  # a key pydantic could not read (a lone surrogate): named below, by its path
            fields[name] = _draft_problem(name, error["type"], body.get(name))
    if len(given) == 1 and given[0] == "role" and "role" not in fields:
        role_value = body["role"]
        if not isinstance(role_value, str) or role_value not in roles:
            fields["role"] = f"must be one of {', '.join(roles)}"
    for name in ("title", "message"):
        value = body.get(name)
        if name not in fields and isinstance(value, str):
            if not encodable(value):
                fields[name] = SURROGATE_TEXT
            elif blank(value):
                fields[name] = "must not be blank"
            elif (problem := text_problem(value)) is not None:
                fields[name] = problem
    data = body.get("data")
    if "data" not in fields and isinstance(data, dict) and (bad := surrogate_path(data)) is not None:
        fields[f"data.{bad}"] = SURROGATE_TEXT
    link = body.get("link")
    if "link" not in fields and isinstance(link, str) and (problem := text_problem(link)) is not None:
        fields["link"] = problem
    if fields or request is None:
        raise BadRequest("invalid notification", fields=fields or {"body": "invalid"})
    user_ids: tuple[str, ...] = ()
    if request.userId is not None:
        user_ids = (request.userId,)
    elif request.userIds is not None:
        user_ids = tuple(dict.fromkeys(request.userIds))
    return Draft(user_ids, request.role, request.title, request.message, request.type, request.priority,
                 data if isinstance(data, dict) else None, request.link)


def parse_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not IDEMPOTENCY_KEY.match(value):
        raise BadRequest("invalid Idempotency-Key", fields={"Idempotency-Key": "1-255 printable ASCII characters"})
    return value


# --- preferences ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window in the user's time zone; ``start`` after ``end`` means it spans midnight."""

    start: str
    end: str
    timezone: str

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        start, end = _minutes(self.start), _minutes(self.end)
        if start < end:
            return start <= minute < end
        return minute >= start or minute < end

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start, "end": self.end, "timezone": self.timezone}


def _minutes(hh_mm: str) -> int:
    hours, minutes = hh_mm.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True)
class Delivery:
    """How a pushed notification should surface in the user's dashboard."""

    silent: bool
    toast: bool
    browser: bool


@dataclass(frozen=True, slots=True)
class Preferences:
    """One user's notification settings; the defaults apply to a user who never saved any."""

    in_app: bool = True
    toast: bool = True
    browser: bool = True
    types: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)
    min_toast: str = "NORMAL"
    min_browser: str = "HIGH"
    quiet: QuietHours | None = None

    def _switch(self, type_: str, channel: str) -> bool:
        return self.types.get(type_, {}).get(channel, True)

    def skip_reason(self, type_: str) -> str | None:
        """Why a notification of ``type_`` is not stored for this user, or None when it is."""
        if not self.in_app:
            return SKIP_IN_APP_DISABLED
        if not self._switch(type_, "inApp"):
            return SKIP_TYPE_DISABLED
        return None

    def hidden_types(self) -> frozenset[str] | None:
        """Types the center hides for this user; None means every type (the in-app channel is off)."""
        if not self.in_app:
            return None
        return frozenset(t for t, switches in self.types.items() if not switches.get("inApp", True))

    def delivery(self, type_: str, priority: str, at: datetime) -> Delivery:
        silent = priority != "URGENT" and self.quiet is not None and self.quiet.contains(at)
        level = rank(priority)
        toast = (not silent and self.toast and self._switch(type_, "toast") and level >= rank(self.min_toast))
        browser = (not silent and self.browser and self._switch(type_, "browser")
                   and level >= rank(self.min_browser))
        return Delivery(silent, toast, browser)

    def to_dict(self) -> dict[str, Any]:
        return {
            "channels": {"inApp": self.in_app, "toast": self.toast, "browser": self.browser},
            "types": {t: {c: s.get(c, True) for c in CHANNELS} for t, s in sorted(self.types.items())},
            "minPriority": {"toast": self.min_toast, "browser": self.min_browser},
            "quietHours": self.quiet.to_dict() if self.quiet is not None else None,
        }


DEFAULT_PREFERENCES = Preferences()

_TOP_LEVEL = ("channels", "types", "minPriority", "quietHours")
_SWITCHES_OBJECT = "must be an object: {inApp, toast, browser} -> true/false"
_HH_MM_TEXT = Annotated[StrictStr, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM")]


class ChannelSwitches(BaseModel):
    """On or off per channel; a channel left out stays on."""

    model_config = ConfigDict(extra="forbid", title="ChannelSwitches")

    inApp: StrictBool = True
    toast: StrictBool = True
    browser: StrictBool = True


class MinPriority(BaseModel):
    """The lowest priority that raises a toast or a browser notification."""

    model_config = ConfigDict(extra="forbid", title="MinPriority")

    toast: Priority = "NORMAL"
    browser: Priority = "HIGH"


class QuietHoursRequest(BaseModel):
    """A daily window in an IANA time zone; ``start`` after ``end`` spans midnight; only URGENT sounds then."""

    model_config = ConfigDict(extra="forbid", title="QuietHours")

    start: _HH_MM_TEXT
    end: _HH_MM_TEXT
    timezone: Annotated[StrictStr, Field(min_length=1, max_length=64, description="IANA time zone, e.g. Europe/Berlin")]


class PreferencesRequest(BaseModel):
    """``PUT /api/notifications/preferences``: a full replacement; parts left out take their defaults."""

    model_config = ConfigDict(extra="forbid", title="PreferencesRequest", json_schema_extra={"examples": [
        {"channels": {"browser": False}, "types": {"CAMPAIGN_PROGRESS": False, "LEAD_UPDATED": {"toast": False}},
         "minPriority": {"toast": "HIGH"}, "quietHours": {"start": "22:00", "end": "07:00",
                                                         "timezone": "Europe/Berlin"}}]})

    channels: ChannelSwitches | None = None
    types: Annotated[dict[TypeNameText, StrictBool | ChannelSwitches],
                     Field(max_length=MAX_TYPE_SWITCHES,
                           description="type -> true/false (every channel) or per channel")] | None = None
    minPriority: MinPriority | None = None
    quietHours: QuietHoursRequest | None = None


_UNION_TAGS = frozenset({"bool", "ChannelSwitches"})
_TYPE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}\Z")


def _preference_problem(loc: tuple[str | int, ...], kind: str, body: Mapping[str, Any]) -> tuple[str, str] | None:
    """A refused part of a preferences body as (dotted path, message), or None when another error says it."""
    parts = [str(part) for part in loc if part not in _UNION_TAGS]
    top = parts[0]
    if len(parts) == 1 and kind == "extra_forbidden":
        return top[:64], f"unknown field; expected {', '.join(_TOP_LEVEL)}"
    if top == "channels":
        if len(parts) == 1:
            return "channels", _SWITCHES_OBJECT
        return _switch_problem("channels", parts[1], kind)
    if top == "types":
        if len(parts) == 1:
            if kind == "too_long":
                return "types", f"at most {MAX_TYPE_SWITCHES} types"
            return "types", "must be an object: type -> true/false or {inApp, toast, browser}"
        path = f"types.{parts[1][:64]}"
        if len(parts) > 2 and parts[2] == "[key]":
            return path, "not a type name: 1-64 characters from A-Z a-z 0-9 _ . : -"
        if not _TYPE_NAME.match(parts[1]):
            return None  # the name is refused: what it maps to is not looked at
        raw = body.get("types")
        value = raw.get(parts[1]) if isinstance(raw, dict) else None
        if len(parts) == 2:
            return None if isinstance(value, (bool, dict)) else (path, _SWITCHES_OBJECT)
        if not isinstance(value, dict):
            return None
        return _switch_problem(path, parts[2], kind)
    if top == "minPriority":
        if len(parts) == 1:
            return "minPriority", "must be an object: {toast, browser}"
        path = f"minPriority.{parts[1][:64]}"
        if kind == "extra_forbidden":
            return path, "unknown channel; expected toast or browser"
        return path, f"unknown priority; expected one of {', '.join(PRIORITIES)}"
    if top == "quietHours":
        if len(parts) == 1:
            return "quietHours", "must be null or an object: {start, end, timezone}"
        path = f"quietHours.{parts[1][:64]}"
        if kind == "extra_forbidden":
            return path, "unknown field; expected start, end, timezone"
        if parts[1] == "timezone":
            return path, "required IANA time zone name, such as Europe/Berlin"
        return path, "required time as HH:MM (00:00-23:59)"
    return top[:64], "invalid"


def _switch_problem(path: str, channel: str, kind: str) -> tuple[str, str]:
    if kind == "extra_forbidden":
        return f"{path}.{channel[:64]}", f"unknown channel; expected {', '.join(CHANNELS)}"
    return f"{path}.{channel}", "must be true or false"


def parse_preferences(body: Mapping[str, Any]) -> Preferences:
    """The body of ``PUT /api/notifications/preferences``: a full replacement, missing parts default.

    Raises BadRequest whose ``fields`` name every bad part by its dotted path.
    """
    fields: dict[str, str] = {}
    request: PreferencesRequest | None = None
    try:
        request = PreferencesRequest.model_validate(body)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_context=False):
            if error["loc"] and (found := _preference_problem(error["loc"], error["type"], body)) is not None:
                fields.setdefault(*found)
    quiet_raw = body.get("quietHours")
    if isinstance(quiet_raw, dict):
        zone = quiet_raw.get("timezone")
        if "quietHours.timezone" not in fields and (not isinstance(zone, str) or not valid_timezone(zone)):
            fields["quietHours.timezone"] = "required IANA time zone name, such as Europe/Berlin"
        start, end = quiet_raw.get("start"), quiet_raw.get("end")
        if ("quietHours.start" not in fields and "quietHours.end" not in fields and isinstance(start, str)
                and start == end):
            fields["quietHours.end"] = "must differ from start"
    if fields or request is None:
        raise BadRequest("invalid preferences", fields=fields or {"body": "invalid"})
    channels = request.channels or ChannelSwitches()
    types: dict[str, dict[str, bool]] = {}
    for type_, value in (request.types or {}).items():
        if isinstance(value, bool):
            types[type_] = {c: value for c in CHANNELS}
        else:
            types[type_] = value.model_dump()
    minimum = request.minPriority or MinPriority()
    quiet = request.quietHours
    return Preferences(in_app=channels.inApp, toast=channels.toast, browser=channels.browser, types=types,
                       min_toast=minimum.toast, min_browser=minimum.browser,
                       quiet=QuietHours(quiet.start, quiet.end, quiet.timezone) if quiet is not None else None)


def valid_timezone(name: str) -> bool:
    if not name or len(name) > 64 or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def preferences_from_json(value: Mapping[str, Any] | None) -> Preferences:
    """Stored preferences (written by ``Preferences.to_dict``) back as a value; defaults for None."""
    if value is None:
        return DEFAULT_PREFERENCES
    try:
        return parse_preferences(value)
    except BadRequest:  # e.g. a time zone the machine's tz database no longer has: fall back, never fail a push
        return DEFAULT_PREFERENCES


def utc_now() -> datetime:
    return datetime.now(UTC)
