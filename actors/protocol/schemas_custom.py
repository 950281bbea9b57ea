"""A deployment's own event types, read from ``EVENT_TYPES_FILE`` (TOML or JSON) at start-up.

A company that publishes ``ORDER_SHIPPED`` to its dashboards declares it the way the built-in types are
declared: fields by kind, default rooms as templates, a one-line summary and a valid example::

    [ORDER_SHIPPED]
    summary = "an order left the warehouse"
    rooms = ["order:{orderId}"]            # "order" must be a room prefix (ROOM_PREFIXES=order)
    required = { orderId = "id", carrier = "text" }
    optional = { weight = "number" }
    example = { orderId = "A-17", carrier = "DHL", weight = 2.5 }

Each becomes an ``EventSpec`` in the catalogue: validated by its own pydantic model, published with
``POST /api/live-sync`` or ``system.events.publish``, listed in ``GET /api/openapi.json``. Everything
is checked before the server starts (a kind that does not exist, a room prefix the server does not
know, a template naming a field that is not required, an example its own schema refuses), and a
mistake stops the start with a message naming the file, the type and the fix.
"""

from __future__ import annotations

import json
import re
import string
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigError, RealtimeError
from .events import CATALOGUE, EventSpec, Rooms, register, unregister
from .rooms import parse_room
from .schemas import KINDS

TYPE_NAME = re.compile(r"[A-Z][A-Z0-9_]{1,63}\Z")
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
KEYS = {"summary", "rooms", "required", "optional", "example"}


def read_file(path: str) -> dict[str, Any]:
    """The file's table of types: TOML when it ends in ``.toml``, else JSON."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"EVENT_TYPES_FILE: cannot read {path}: {exc.strerror or exc}") from None
    try:
        loaded = tomllib.loads(raw.decode()) if path.endswith(".toml") else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"EVENT_TYPES_FILE {path}: not valid {'TOML' if path.endswith('.toml') else 'JSON'}: "
                          f"{exc}") from None
    if not isinstance(loaded, dict) or not loaded:
        raise ConfigError(f"EVENT_TYPES_FILE {path}: expected a table of event types, e.g. [ORDER_SHIPPED]")
    return loaded


def parse_types(declared: dict[str, Any], prefixes: tuple[str, ...], where: str = "EVENT_TYPES_FILE"
                ) -> dict[str, tuple[EventSpec, dict[str, Any]]]:
    """Check every declaration and build its spec and example; ConfigError names the first mistake."""
    specs: dict[str, tuple[EventSpec, dict[str, Any]]] = {}
    for type_, entry in declared.items():
        def fail(problem: str, name: str = type_) -> ConfigError:
            return ConfigError(f"{where}: {name}: {problem}")

        if not isinstance(type_, str) or not TYPE_NAME.match(type_):
            raise fail("a type is 2-64 characters from A-Z 0-9 _, starting with a letter")
        if type_ in CATALOGUE and not CATALOGUE[type_].custom:
            raise fail("is a built-in event type; choose another name")
        if not isinstance(entry, dict):
            raise fail("expected a table with summary, rooms, required, optional, example")
        unknown = set(entry) - KEYS
        if unknown:
            raise fail(f"unknown key {sorted(unknown)[0]!r}; expected {', '.join(sorted(KEYS))}")
        summary = entry.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            raise fail("summary: required, one line saying what happened")
        fields: dict[str, dict[str, str]] = {}
        for part in ("required", "optional"):
            table = entry.get(part, {})
            if not isinstance(table, dict):
                raise fail(f"{part}: expected a table of field = kind")
            for name, kind in table.items():
                if not FIELD_NAME.match(name):
                    raise fail(f"{part}.{name}: a field name is 1-64 characters from A-Z a-z 0-9 _")
                if kind not in KINDS:
                    raise fail(f"{part}.{name}: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
            fields[part] = dict(table)
        both = set(fields["required"]) & set(fields["optional"])
        if both:
            raise fail(f"{sorted(both)[0]} is both required and optional")
        templates = entry.get("rooms")
        if not isinstance(templates, list) or not templates or not all(isinstance(t, str) for t in templates):
            raise fail('rooms: required, a list of room templates such as ["order:{orderId}"]')
        for template in templates:
            _check_template(template, fields["required"], prefixes, fail)
        example = entry.get("example")
        if not isinstance(example, dict):
            raise fail("example: required, a valid payload (it documents the type and is checked here)")
        spec = EventSpec(fields["required"], fields["optional"], Rooms(*templates), summary.strip(), custom=True)
        spec.build(type_, example)
        try:
            spec.check(type_, example)
            for room in spec.rooms(example):
                parse_room(room, prefixes)
        except RealtimeError as exc:
            details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items()) if exc.fields else exc.message
            raise fail(f"example is refused by its own declaration ({details})") from None
        specs[type_] = (spec, example)
    return specs


def _check_template(template: str, required: dict[str, str], prefixes: tuple[str, ...], fail: Any) -> None:
    prefix, sep, _ = template.partition(":")
    if not sep or prefix not in prefixes:
        raise fail(f"rooms: {template!r}: the prefix must be one of {', '.join(prefixes)} (ROOM_PREFIXES adds one)")
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise fail(f"rooms: {template!r}: {exc}") from None
    for name in names:
        if name not in required:
            raise fail(f"rooms: {template!r} names {{{name}}}, which is not a required field: a payload without "
                       "it would have no room")


def install(path: str, prefixes: tuple[str, ...]) -> list[str]:
    """Read ``path`` and add its types to the catalogue; the names added (for ``uninstall``)."""
    specs = parse_types(read_file(path), prefixes, where=f"EVENT_TYPES_FILE {path}")
    for type_, (spec, example) in specs.items():
        try:
            register(type_, spec, example)
        except ValueError as exc:
            raise ConfigError(f"EVENT_TYPES_FILE {path}: {exc}") from None
    return list(specs)


def uninstall(names: list[str]) -> None:
    for type_ in names:
        unregister(type_)


__all__ = ["install", "parse_types", "read_file", "uninstall"]
