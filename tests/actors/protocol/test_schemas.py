"""Payload schemas from the catalogue: strict kinds, one message per field, JSON Schema, docs/events.md current."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.errors import BadRequest
from actors.protocol.events import CATALOGUE, EXAMPLES, EventSpec, Rooms, validate
from actors.protocol.events_docs import render_doc
from actors.protocol.schemas import KIND_MESSAGES, payload_model


@pytest.mark.parametrize("kind, good, bad", [
    ("id", ["x", "a" * 64, 0, -5], ["", "a" * 65, True, 1.5, None, [], {}]),
    ("text", ["", "hi"], [5, True, None, []]),
    ("number", [0, 1.5, -3], ["5", True, None]),
    ("object", [{}, {"a": [1]}], [[], "x", None]),
    ("bool", [True, False], [0, 1, "true", None]),
    ("any", [None, 1, "x", [], {}], []),
])
def test_each_kind_is_strict(kind, good, bad):
    model = payload_model("T_T", {"f": kind}, {}, "test")
    for value in good:
        model.model_validate({"f": value})
    for value in bad:
        with pytest.raises(BadRequest) as refused:
            EventSpec({"f": kind}, {}, Rooms("lead:{f}"), "test").build("T_T").check("T_T", {"f": value})
        assert refused.value.fields == {"data.f": KIND_MESSAGES[kind]}


def test_fields_that_are_methods_or_keywords_work():
    model = payload_model("X", {"copy": "id", "from": "text", "model_config": "number"}, {}, "odd names")
    model.model_validate({"copy": 1, "from": "a", "model_config": 2})
    assert set(model.model_json_schema(by_alias=True)["properties"]) == {"copy", "from", "model_config"}


def test_unknown_fields_pass_through_and_the_payload_is_not_changed():
    data = {"leadId": 7, "extra": {"nested": [1, 2]}, "changes": None}
    before = repr(data)
    assert validate("LEAD_UPDATED", data) is CATALOGUE["LEAD_UPDATED"]
    assert repr(data) == before


def test_an_optional_null_passes_a_required_null_does_not():
    validate("LEAD_UPDATED", {"leadId": "1", "status": None})
    with pytest.raises(BadRequest) as refused:
        validate("LEAD_UPDATED", {"leadId": None})
    assert refused.value.fields == {"data.leadId": "must be a string or an integer id"}


def test_every_example_is_in_its_schema():
    for type_, spec in CATALOGUE.items():
        schema = spec.model.model_json_schema(by_alias=True)
        assert schema["examples"] == [EXAMPLES[type_]]
        assert set(schema.get("required", [])) == set(spec.required)


def test_docs_events_md_is_generated_from_the_catalogue():
    doc = (Path(__file__).resolve().parents[3] / "docs" / "events.md").read_text()
    assert doc == render_doc(), "run: python -m actors.protocol.events_docs > docs/events.md"
