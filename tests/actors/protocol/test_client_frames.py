"""Strict JSON in (``loads_strict``), the client-frame envelope (``parse_client_frame``), strict JSON out (``dumps``)."""

from __future__ import annotations

import json
import math

import pytest

from actors.errors import BadRequest
from actors.protocol.frames import dumps, loads_strict, parse_client_frame, surrogate_path

DEPTH = 64


@pytest.mark.parametrize("text, expected", [
    ('{"type":"PING"}', ("PING", {}, None)),
    ('{"type":"PING","data":null,"id":"a"}', ("PING", {}, "a")),
    ('{"type":"SUBSCRIBE","data":{"room":"lead:1"},"id":7}', ("SUBSCRIBE", {"room": "lead:1"}, 7)),
    ('{"type":"X","id":2.5}', ("X", {}, 2.5)),
    ('{"type":"X","id":"\\ud83d\\ude00"}', ("X", {}, "\U0001f600")),
    ('{"type":"X","id":1.7976931348623157e308}', ("X", {}, 1.7976931348623157e308)),
    ('{"type":"X","id":' + "9" * 400 + "}", ("X", {}, int("9" * 400))),
])
def test_good_frames(text, expected):
    assert parse_client_frame(text, DEPTH) == expected


@pytest.mark.parametrize("text", [
    "", "nope", "[]", '"PING"', "1", '{"type":1}', '{"data":{}}', '{"type":"X","data":[]}', '{"type":"X","data":1}',
    '{"type":"X","id":true}', '{"type":"X","id":false}', '{"type":"X","id":[]}', '{"type":"X","id":{}}',
    '{"type":"X","id":NaN}', '{"type":"X","id":Infinity}', '{"type":"X","id":-Infinity}', '{"type":"X","id":1e999}',
    '{"type":"X","id":-1E+400}', '{"type":"X","id":' + "9" * 400 + ".0}", '{"type":"X","id":"\\ud800"}',
    '{"type":"X","data":{"\\udc00":1}}', '{"type":"\\udfff"}', "[" * 30_000 + "]" * 30_000,
    '{"type":"X","data":{"a":' + "[" * 1_000 + "]" * 1_000 + "}}", '{"type":"X","id":' + "1" * 5_000 + "}",
    '{"type":"X"} trailing', "\ufeff{}",
])
def test_bad_frames_are_bad_requests(text):
    with pytest.raises(BadRequest):
        parse_client_frame(text, DEPTH)


def test_the_depth_limit_is_exact():
    at_limit = '{"type":"X","data":' + '{"a":' * (DEPTH - 1) + "1" + "}" * (DEPTH - 1) + "}"  # 1 + 63 levels
    parse_client_frame(at_limit, DEPTH)
    one_more = '{"type":"X","data":' + '{"a":' * DEPTH + "1" + "}" * DEPTH + "}"
    with pytest.raises(BadRequest, match="nested deeper than 64"):
        parse_client_frame(one_more, DEPTH)
    many_shallow = "[" + ",".join(["[]"] * 5_000) + "]"  # many brackets, depth 2: counted, then measured
    assert len(loads_strict(many_shallow, DEPTH)) == 5_000
    brackets_in_strings = json.dumps({"type": "X", "data": {"s": "[" * 500}})
    assert parse_client_frame(brackets_in_strings, DEPTH)[1] == {"s": "[" * 500}


def test_bytes_must_be_utf8_and_a_lone_surrogate_is_named():
    assert loads_strict('{"a":"é"}'.encode(), DEPTH) == {"a": "é"}
    with pytest.raises(BadRequest, match="UTF-8"):
        loads_strict(b'{"a":"\xed\xa0\x80"}', DEPTH)  # a surrogate encoded as UTF-8 bytes
    with pytest.raises(BadRequest) as refused:
        loads_strict(b'{"a":{"b":[1,"ok","\\udc80"]}}', DEPTH)
    assert refused.value.fields == {"a.b.2": "not valid Unicode text (a lone surrogate)"}
    escaped_backslash = loads_strict(b'{"a":"\\\\ud800"}', DEPTH)  # a backslash, then "ud800": fine
    assert escaped_backslash == {"a": "\\ud800"}


def test_surrogate_path():
    assert surrogate_path({"a": ["x", {"b": "\udc80"}]}) == "a.1.b"
    assert surrogate_path({"dat\ufeffa": {"\udc00": 1}}) == "dat\ufeffa.\\udc00"  # found by the fuzz target
    assert surrogate_path(["\ud800"]) == "0"
    assert surrogate_path({"ok": ["fine", 1, None]}) is None


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, {"a": [math.nan]}])
def test_what_we_emit_is_never_nan(value):
    with pytest.raises(ValueError):
        dumps(value)
