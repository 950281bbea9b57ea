"""In-process publishes are held to standard JSON, as REST bodies are at the door: refused, never numbered."""

from __future__ import annotations

import math

import pytest

from actors.errors import BadRequest
from web.server import RealtimeServer


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "\udc80", {"\ud800": 1}, ["ok", "\udfff"]])
def test_an_in_process_publish_that_json_cannot_carry_is_refused_and_takes_no_offset(
        server: RealtimeServer, value: object) -> None:
    system = server.system
    assert system is not None
    first = system.events.lead_updated("77", {"status": "A"})
    assert first is not None
    with pytest.raises(BadRequest) as refused:
        system.events.lead_updated("77", {"score": value})
    assert refused.value.fields, "the answer names the field"
    after = system.events.lead_updated("77", {"status": "B"})
    assert after is not None and after["offset"] == first["offset"] + 1  # the refused one took no offset
