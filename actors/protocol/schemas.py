"""Payload schemas as pydantic v2 models: one declaration gives the validation and the JSON Schema.

An event type declares its fields by *kind* (``id``, ``text``, ``number``, ...), the same short
vocabulary a company uses for its own event types (``events_config.py``). Each kind is a strict
pydantic type, so a field is checked by pydantic-core (compiled, about 1 µs for a typical payload)
and the same model prints the JSON Schema that ``GET /api/openapi.json``, docs/events.md and the
client generators read. Strict, because a publisher's ``"5"`` must not quietly become the number 5,
nor ``true`` the id 1: the payload is passed on as it came, so what is checked must be what is sent.

pydantic reports errors in its own words (``Input should be a valid integer`` twice for an id, once
per member of the union); ``field_errors`` turns them into one message per field in the words of
docs/protocol.md (``{"data.sent": "must be a number"}``), which is what callers and tests rely on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, ValidationError, create_model

ID = "id"          # a string (1-64 characters) or an integer id; routed as a string
TEXT = "text"      # a string
NUMBER = "number"  # an int or a float (not a bool)
OBJECT = "object"  # a JSON object
BOOL = "bool"
ANY = "any"        # any JSON value

IdType = Annotated[str, Field(min_length=1, max_length=64)] | StrictInt
KIND_TYPES: dict[str, Any] = {
    ID: IdType,
    TEXT: Annotated[str, Field()],
    NUMBER: StrictInt | StrictFloat,
    OBJECT: dict[str, Any],
    BOOL: StrictBool,
    ANY: Any,
}
"""The pydantic type of each kind (the model is strict, so ``str`` takes only a string)."""

KIND_MESSAGES: dict[str, str] = {
    ID: "must be a string or an integer id",
    TEXT: "must be a string",
    NUMBER: "must be a number",
    OBJECT: "must be an object",
    BOOL: "must be true or false",
    ANY: "must be a JSON value",
}
"""What a caller is told when a field is not of its kind: the words of docs/protocol.md."""

KINDS = tuple(KIND_TYPES)
SURROGATE = "not valid Unicode text (a lone surrogate)"
_NAME = re.compile(r"[^A-Za-z0-9]+")


def model_name(type_: str) -> str:
    """``LEAD_ASSIGNED`` -> ``LeadAssignedData``: the schema's title, as the TypeScript types name it."""
    return "".join(part.capitalize() for part in _NAME.split(type_) if part) + "Data"


def payload_model(type_: str, required: Mapping[str, str], optional: Mapping[str, str], summary: str,
                  example: Mapping[str, Any] | None = None) -> type[BaseModel]:
    """A strict model of one event type's payload; fields it does not name pass through (``extra="allow"``).

    Fields get Python-safe names and the payload's name as alias, so any JSON field name works, even one
    that is a method of ``BaseModel`` (``copy``, ``schema``) or a keyword (``from``).
    """
    fields: dict[str, Any] = {}
    for index, (name, kind) in enumerate({**required, **optional}.items()):
        if kind not in KIND_TYPES:
            raise ValueError(f"{type_}.{name}: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        annotation = KIND_TYPES[kind]
        if name in required:
            fields[f"f{index}"] = (annotation, Field(alias=name, title=name))
        else:
            fields[f"f{index}"] = (annotation | None, Field(None, alias=name, title=name))
    extra: dict[str, Any] = {"description": summary}
    if example is not None:
        extra["examples"] = [dict(example)]
    config = ConfigDict(extra="allow", strict=True, title=model_name(type_), json_schema_extra=extra,
                        populate_by_name=False)
    model: type[BaseModel] = create_model(model_name(type_), __config__=config, **fields)
    return model


def field_errors(exc: ValidationError, kinds: Mapping[str, str], prefix: str = "data.") -> dict[str, str]:
    """pydantic's errors as one message per field, keyed by the field's dotted path (``data.leadId``)."""
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_context=False):
        loc = error["loc"]
        if not loc:
            continue
        name = str(loc[0])
        path = prefix + name[:64]
        if path in fields:
            continue  # an id fails as a string and as an integer: one message for both
        if error["type"] == "missing":
            fields[path] = "required"
        elif error["type"] == "string_unicode":
            fields[path] = SURROGATE
        else:
            fields[path] = KIND_MESSAGES.get(kinds.get(name, ANY), "invalid")
    return fields


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema (2020-12, as OpenAPI 3.1 takes it), with the payload's field names."""
    return model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")


__all__ = ["ANY", "BOOL", "ID", "KINDS", "KIND_MESSAGES", "NUMBER", "OBJECT", "TEXT", "ValidationError",
           "field_errors", "json_schema", "model_name", "payload_model"]
