"""Fuzz target: the client-frame (JSON) handler, checked against a simple reference (atheris).

What a client sends as a WebSocket text message reaches ``parse_client_frame`` (strict JSON, nesting
limit, the envelope), then the checks of its fields (``parse_room``, ``RoomPolicy.check``,
``parse_since``), then an answer (``PONG``, ``SUBSCRIBED``, ``ERROR``) is encoded. For any bytes:

- the transport's part is mimicked first: a message that is not UTF-8 is closed with 1007 and never
  reaches the handler, so it is skipped here;
- only ``RealtimeError`` may come out of the handler (anything else escaping is a crash: a 500, or an
  ``ERROR`` never sent);
- ``parse_client_frame`` must agree with ``reference``: Python's permissive ``json.loads`` followed by
  plain, obviously correct checks (recursion over the parsed value, ``math.isfinite``, ``str.encode``);
- every answer must be standard JSON that the strict parser reads back to the same value.

Run: ``python tests/fuzz/fuzz_client_frames.py [corpus dir] -max_total_time=60 -timeout=10`` (libFuzzer
flags; a corpus directory is written to, so pass a copy of ``tests/fuzz/corpus/client_frames``).
``run_corpus`` replays the committed seeds without atheris (the test suite does so).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: the repository root is where the packages are
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actors.errors import BadRequest, RealtimeError  # noqa: E402
from actors.identity import Identity  # noqa: E402
from actors.protocol.frames import (  # noqa: E402
    error_frame,
    loads_strict,
    parse_client_frame,
    server_frame,
    subscribed_frame,
)
from actors.protocol.positions import parse_since  # noqa: E402
from actors.protocol.rooms import RoomPolicy, parse_room  # noqa: E402
from actors.transport.framing import text_frame  # noqa: E402

MAX_DEPTH = 64
CORPUS = Path(__file__).parent / "corpus" / "client_frames"
REFUSED = "refused"


def reference(text: str, max_depth: int) -> Any:
    """What ``parse_client_frame`` should answer, written the plain way: ``(type, data, id)`` or REFUSED."""
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        return REFUSED

    def acceptable(value: Any, depth: int) -> bool:
        if isinstance(value, dict):
            return depth + 1 <= max_depth and all(
                _encodes(key) and acceptable(item, depth + 1) for key, item in value.items())
        if isinstance(value, list):
            return depth + 1 <= max_depth and all(acceptable(item, depth + 1) for item in value)
        if isinstance(value, float):
            return math.isfinite(value)
        if isinstance(value, str):
            return _encodes(value)
        return True

    try:
        if not acceptable(frame, 0):
            return REFUSED
    except RecursionError:
        return REFUSED
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return REFUSED
    data = frame.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return REFUSED
    frame_id = frame.get("id")
    if frame_id is not None and (isinstance(frame_id, bool) or not isinstance(frame_id, (str, int, float))):
        return REFUSED
    return frame["type"], data, frame_id


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same JSON kinds all the way down (``1 == 1.0 == True`` in Python, not in JSON)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and a == b
    return type(a) is type(b) and a == b


def _answer_is_standard_json(text: str, expected: Any) -> None:
    frame = text_frame(text)  # UTF-8: raises on a lone surrogate
    assert frame, "an empty frame"
    parsed = loads_strict(text, MAX_DEPTH + 8)  # what a browser's JSON.parse takes, and nothing it does not
    assert _same(parsed["data"], expected), (parsed, expected)


def check(data: bytes) -> None:
    """One input, the whole way; raises AssertionError on a disagreement, anything else on a crash."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # the transport closes with 1007 before any handler sees it
    expected = reference(text, MAX_DEPTH)
    try:
        got: Any = parse_client_frame(text, MAX_DEPTH)
    except BadRequest as refused:
        _answer_is_standard_json(error_frame(refused.code, refused.message), {"code": refused.code,
                                                                           "message": refused.message})
        got = REFUSED
    assert expected == REFUSED and got == REFUSED or (
        expected != REFUSED and got != REFUSED and all(_same(a, b) for a, b in zip(got, expected, strict=True))), \
        f"parse_client_frame said {got!r}, the reference {expected!r}, for {text[:200]!r}"
    if got == REFUSED:
        return
    type_, body, frame_id = got
    ref = {} if frame_id is None else {"ref": frame_id}
    _answer_is_standard_json(server_frame("PONG", ref), ref)
    policy = RoomPolicy(("user", "role", "contact", "campaign", "lead", "stats"))
    try:
        room = policy.check(Identity("42", "EMPLOYEE", exp=2_000_000_000), body.get("room"))
        parse_room(room, policy.prefixes)
        since = parse_since(body.get("since"))
        position = since.offset if since is not None else 0
        answer = {"room": room, "epoch": "0123456789ab", "offset": position, "recovered": since is not None,
                  **({"ref": frame_id} if frame_id is not None else {})}
        _answer_is_standard_json(subscribed_frame(room, "0123456789ab", position, since is not None, frame_id),
                                 answer)
    except RealtimeError as refused:
        answer = {"code": refused.code, "message": refused.message, **ref}
        _answer_is_standard_json(error_frame(refused.code, refused.message, frame_id), answer)
    del type_


def run_corpus(directory: Path = CORPUS) -> int:
    """Every seed through ``check`` (no atheris needed); returns how many ran."""
    count = 0
    for path in sorted(directory.iterdir()):
        check(path.read_bytes())
        count += 1
    return count


def main() -> None:
    import atheris

    atheris.instrument_all()  # coverage feedback from every module loaded above (our parsers, json)
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
