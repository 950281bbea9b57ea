"""The notification center's rules: what a valid notification and valid preferences are, and who gets what.

Pure functions and values, no database and no actors, so the web layer can refuse bad input before
anything is queued (a failed request changes nothing) and the service, the store and the tests share
one definition of priorities, channels and quiet hours.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import BadRequest
from ..protocol.frames import dumps, encodable, surrogate_path
from ..protocol.rooms import ROOM_ID

PRIORITIES = ("LOW", "NORMAL", "HIGH", "URGENT")
"""In rising order; a channel's minimum priority compares by this rank."""

CHANNELS = ("inApp", "toast", "browser")

TYPE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}\Z")
"""A notification type: an event type (LEAD_ASSIGNED) or a free category (billing.invoice)."""

HH_MM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])\Z")
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


def _text(body: Mapping[str, Any], name: str, limit: int, fields: dict[str, str]) -> str:
    value = body.get(name)
    if value is None:
        fields[name] = "required"
    elif not isinstance(value, str):
        fields[name] = "must be a string"
    elif len(value) > limit:
        fields[name] = f"at most {limit} characters"
    elif not encodable(value):
        fields[name] = "not valid Unicode text (a lone surrogate)"
    elif blank(value):
        fields[name] = "must not be blank"
    elif (problem := text_problem(value)) is not None:
        fields[name] = problem
    else:
        return value
    return ""


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


def parse_draft(body: Mapping[str, Any], roles: tuple[str, ...]) -> Draft:
    """The body of ``POST /api/notifications`` as a Draft, or BadRequest naming every bad field."""
    fields: dict[str, str] = {}
    given = [name for name in ("userId", "userIds", "role") if body.get(name) is not None]
    user_ids: tuple[str, ...] = ()
    role: str | None = None
    if len(given) != 1:
        message = "exactly one of userId, userIds or role is required"
        for name in given or ["userId"]:
            fields[name] = message
    elif given[0] == "userId":
        value = body["userId"]
        if not isinstance(value, str) or not ROOM_ID.match(value):
            fields["userId"] = "must be a user id: 1-64 characters from A-Z a-z 0-9 _ -"
        else:
            user_ids = (value,)
    elif given[0] == "userIds":
        value = body["userIds"]
        if not isinstance(value, list) or not value:
            fields["userIds"] = "must be a non-empty list of user ids"
        elif len(value) > MAX_RECIPIENTS:
            fields["userIds"] = f"at most {MAX_RECIPIENTS} user ids"
        elif not all(isinstance(v, str) and ROOM_ID.match(v) for v in value):
            fields["userIds"] = "every entry must be a user id: 1-64 characters from A-Z a-z 0-9 _ -"
        else:
            user_ids = tuple(dict.fromkeys(value))
    else:
        value = body["role"]
        if not isinstance(value, str) or value not in roles:
            fields["role"] = f"must be one of {', '.join(roles)}"
        else:
            role = value
    title = _text(body, "title", MAX_TITLE, fields)
    message = _text(body, "message", MAX_MESSAGE, fields)
    type_ = body.get("type")
    if type_ is None:
        fields["type"] = "required"
    elif not isinstance(type_, str) or not TYPE_NAME.match(type_):
        fields["type"] = "must be 1-64 characters from A-Z a-z 0-9 _ . : -"
    priority = body.get("priority", "NORMAL")
    if not isinstance(priority, str):
        fields["priority"] = "must be a string"
    elif priority not in PRIORITIES:
        fields["priority"] = f"unknown priority {priority[:20]!r}; expected one of {', '.join(PRIORITIES)}"
    data = body.get("data")
    if data is not None and not isinstance(data, dict):
        fields["data"] = "must be an object"
    elif data is not None and (bad := surrogate_path(data)) is not None:
        fields[f"data.{bad}"] = "not valid Unicode text (a lone surrogate)"
    link = body.get("link")
    if link is not None and (not isinstance(link, str) or len(link) > MAX_LINK):
        fields["link"] = f"must be a string of at most {MAX_LINK} characters"
    elif link is not None and (problem := text_problem(link)) is not None:
        fields["link"] = problem
    if fields:
        raise BadRequest("invalid notification", fields=fields)
    return Draft(user_ids, role, title, message, str(type_), str(priority), data, link)


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


def parse_preferences(body: Mapping[str, Any]) -> Preferences:
    """The body of ``PUT /api/notifications/preferences``: a full replacement, missing parts default.

    Raises BadRequest whose ``fields`` name every bad part by its dotted path.
    """
    fields: dict[str, str] = {}
    for name in body:
        if name not in _TOP_LEVEL:
            fields[str(name)[:64]] = f"unknown field; expected {', '.join(_TOP_LEVEL)}"
    channels = _switches(body.get("channels"), "channels", fields)
    types: dict[str, dict[str, bool]] = {}
    raw_types = body.get("types")
    if raw_types is not None:
        if not isinstance(raw_types, dict):
            fields["types"] = "must be an object: type -> true/false or {inApp, toast, browser}"
        elif len(raw_types) > MAX_TYPE_SWITCHES:
            fields["types"] = f"at most {MAX_TYPE_SWITCHES} types"
        else:
            for type_, value in raw_types.items():
                path = f"types.{str(type_)[:64]}"
                if not TYPE_NAME.match(type_):
                    fields[path] = "not a type name: 1-64 characters from A-Z a-z 0-9 _ . : -"
                elif isinstance(value, bool):
                    types[type_] = {c: value for c in CHANNELS}
                else:
                    types[type_] = {**{c: True for c in CHANNELS}, **_switches(value, path, fields, required=True)}
    minimum = {"toast": DEFAULT_PREFERENCES.min_toast, "browser": DEFAULT_PREFERENCES.min_browser}
    raw_min = body.get("minPriority")
    if raw_min is not None:
        if not isinstance(raw_min, dict):
            fields["minPriority"] = "must be an object: {toast, browser}"
        else:
            for name, value in raw_min.items():
                path = f"minPriority.{str(name)[:64]}"
                if name not in ("toast", "browser"):
                    fields[path] = "unknown channel; expected toast or browser"
                elif not isinstance(value, str) or value not in PRIORITIES:
                    fields[path] = f"unknown priority; expected one of {', '.join(PRIORITIES)}"
                else:
                    minimum[name] = value
    quiet = _quiet_hours(body.get("quietHours"), fields)
    if fields:
        raise BadRequest("invalid preferences", fields=fields)
    return Preferences(in_app=channels.get("inApp", True), toast=channels.get("toast", True),
                       browser=channels.get("browser", True), types=types, min_toast=minimum["toast"],
                       min_browser=minimum["browser"], quiet=quiet)


def _switches(value: Any, path: str, fields: dict[str, str], required: bool = False) -> dict[str, bool]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        fields[path] = "must be an object: {inApp, toast, browser} -> true/false"
        return {}
    switches: dict[str, bool] = {}
    for name, on in value.items():
        if name not in CHANNELS:
            fields[f"{path}.{str(name)[:64]}"] = f"unknown channel; expected {', '.join(CHANNELS)}"
        elif not isinstance(on, bool):
            fields[f"{path}.{name}"] = "must be true or false"
        else:
            switches[name] = on
    return switches


def _quiet_hours(value: Any, fields: dict[str, str]) -> QuietHours | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        fields["quietHours"] = "must be null or an object: {start, end, timezone}"
        return None
    for name in value:
        if name not in ("start", "end", "timezone"):
            fields[f"quietHours.{str(name)[:64]}"] = "unknown field; expected start, end, timezone"
    times: dict[str, str] = {}
    for name in ("start", "end"):
        raw = value.get(name)
        if not isinstance(raw, str) or not HH_MM.match(raw):
            fields[f"quietHours.{name}"] = "required time as HH:MM (00:00-23:59)"
        else:
            times[name] = raw
    if len(times) == 2 and times["start"] == times["end"]:
        fields["quietHours.end"] = "must differ from start"
    zone = value.get("timezone")
    if not isinstance(zone, str) or not valid_timezone(zone):
        fields["quietHours.timezone"] = "required IANA time zone name, such as Europe/Berlin"
    if any(key.startswith("quietHours") for key in fields):
        return None
    return QuietHours(times["start"], times["end"], str(zone))


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
