"""Fuzz target: the RFC 6455 frame parser (``FrameParser``), checked against a slow reference (atheris).

An input is four bytes of settings and then the bytes a client sends: ``FrameParser`` is fed them cut
into reads of sizes the settings choose (one byte at a time up to all at once), ``reference`` parses
them whole, byte by byte, the plain way. For any input:

- nothing but a ``FrameError`` may come out of the parser, and ``feed`` keeps even that (an exception
  escaping is a crash: the reader's event-loop callback would die with it);
- the parser and the reference must agree on every message (opcode, payload or text, frames counted),
  on the error (its close code) and on whether something is left half received.

The reference states the rules once each, in the order a byte stream reveals them: reserved bits,
mask bit, control frame rules, continuation and opcode rules, the fragment limit (all known from the
first two bytes), then the 64-bit length's top bit and the message size (known from the length bytes),
then, once a control frame's payload is whole, the close payload; UTF-8 is checked as bytes arrive: a
text message fails as soon as what came of it cannot be the start of valid UTF-8 (tried by completing
it with continuation bytes), and must decode whole at its end.

Run: ``scripts/fuzz frames --seconds 60`` (copies the corpus; libFuzzer writes to the first directory).
``run_corpus`` replays the committed seeds without atheris (the test suite does so).
"""

from __future__ import annotations

import random
import sys
from itertools import product
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: the repository root is where the packages are
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actors.transport.framing import FrameParser  # noqa: E402

CORPUS = Path(__file__).parent / "corpus" / "frames"
SETTINGS = 4
"""Bytes of settings before the stream: size limit, fragment limit, and the seed of the cuts."""

# Each continuation-byte range that a lead byte may require starts or ends at one of these.
_CONTINUATIONS = (0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF)


def settings(data: bytes) -> tuple[int, int, int, bytes]:
    """(max message bytes, max fragments (0: none), seed of the cuts, the stream) from an input."""
    head = data[:SETTINGS].ljust(SETTINGS, b"\0")
    return (head[0] << 2) | 3, head[1] % 8, int.from_bytes(head[2:4], "big"), data[SETTINGS:]


def may_start_utf8(data: bytes) -> bool:
    """True when some bytes after ``data`` make it valid UTF-8 (at most three more are ever needed)."""
    for extra in range(4):
        for tail in product(_CONTINUATIONS, repeat=extra):
            try:
                (data + bytes(tail)).decode("utf-8")
                return True
            except UnicodeDecodeError:
                pass
    return False


class Refused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def reference(stream: bytes, max_bytes: int, max_fragments: int) -> tuple[list[tuple[Any, ...]], int | None, bool]:
    """(messages, error code or None, something half received) for ``stream`` parsed whole, slowly."""
    messages: list[tuple[Any, ...]] = []
    state: dict[str, Any] = {"opcode": None, "body": b"", "fragments": 0, "frames": 0}

    def check_text_so_far(final: bool) -> None:
        if state["opcode"] != 0x1:
            return
        body = state["body"]
        if final:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                raise Refused(1007) from None
        elif not may_start_utf8(body):
            raise Refused(1007)

    i = 0
    try:
        while i < len(stream):
            if len(stream) - i < 2:
                return messages, None, True
            b0, b1 = stream[i], stream[i + 1]
            fin, rsv, opcode, masked, length = b0 >> 7, (b0 >> 4) & 7, b0 & 15, b1 >> 7, b1 & 127
            control = opcode >= 8
            if rsv:
                raise Refused(1002)
            if not masked:
                raise Refused(1002)
            if control and opcode not in (8, 9, 10):
                raise Refused(1002)
            if control and (not fin or length > 125):
                raise Refused(1002)
            if opcode == 0 and state["opcode"] is None:
                raise Refused(1002)
            if opcode == 0 and max_fragments and state["fragments"] >= max_fragments:
                raise Refused(1008)
            if 3 <= opcode <= 7:
                raise Refused(1002)
            if opcode in (1, 2) and state["opcode"] is not None:
                raise Refused(1002)
            j = i + 2
            if length == 126:
                if len(stream) - j < 2:
                    return messages, None, True
                length = stream[j] * 256 + stream[j + 1]
                j += 2
            elif length == 127:
                if len(stream) - j < 8:
                    return messages, None, True
                length = 0
                for byte in stream[j:j + 8]:
                    length = length * 256 + byte
                if length >= 2 ** 63:
                    raise Refused(1002)
                j += 8
            if not control and len(state["body"]) + length > max_bytes:
                raise Refused(1009)
            if len(stream) - j < 4:
                return messages, None, True
            mask = stream[j:j + 4]
            j += 4
            available = min(length, len(stream) - j)
            payload = bytes(stream[j + k] ^ mask[k % 4] for k in range(available))
            if not control:
                if opcode:
                    state["opcode"] = opcode
                state["body"] += payload
            if available < length:  # the stream ends inside this frame
                if not control:
                    check_text_so_far(final=False)
                return messages, None, True
            i = j + length
            state["frames"] += 1
            if control:
                if opcode == 8 and payload:
                    if len(payload) == 1:
                        raise Refused(1002)
                    code = payload[0] * 256 + payload[1]
                    if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
                        raise Refused(1002)
                    try:
                        payload[2:].decode("utf-8")
                    except UnicodeDecodeError:
                        raise Refused(1007) from None
                messages.append((opcode, payload, state["frames"]))
                continue
            state["fragments"] += 1
            check_text_so_far(final=bool(fin))
            if fin:
                body = state["body"]
                content = body.decode("utf-8") if state["opcode"] == 1 else body
                messages.append((state["opcode"], content, state["frames"]))
                state.update(opcode=None, body=b"", fragments=0)
    except Refused as refused:
        return messages, refused.code, False
    return messages, None, state["opcode"] is not None


def cuts(stream: bytes, seed: int) -> list[bytes]:
    """The stream as reads: all at once, a byte at a time, or pieces of random sizes, by ``seed``."""
    if seed % 4 == 0:
        return [stream]
    if seed % 4 == 1:
        return [stream[i:i + 1] for i in range(len(stream))]
    rng = random.Random(seed)
    pieces, i = [], 0
    while i < len(stream):
        step = rng.randint(1, 3 if seed % 4 == 2 else 64)
        pieces.append(stream[i:i + step])
        i += step
    return pieces


def check(data: bytes) -> None:
    """One input, the whole way; raises AssertionError on a disagreement, anything else on a crash."""
    max_bytes, max_fragments, seed, stream = settings(data)
    parser = FrameParser(max_bytes, max_fragments)
    got: list[tuple[Any, ...]] = []
    for piece in cuts(stream, seed):
        for message in parser.feed(piece):
            content = message.text if message.text is not None else message.payload
            got.append((message.opcode, content, message.frames))
    error = parser.error.close_code if parser.error is not None else None
    expected, expected_error, half = reference(stream, max_bytes, max_fragments)
    assert got == expected, f"messages: parser {got!r}, reference {expected!r}"
    assert error == expected_error, f"error: parser {error}, reference {expected_error}, after {got!r}"
    if error is None:
        assert parser.busy == half, f"half received: parser {parser.busy}, reference {half}"


def run_corpus(directory: Path = CORPUS) -> int:
    """Every seed through ``check`` (no atheris needed); returns how many ran."""
    count = 0
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        for seed in range(4):  # each seed cut each way: whole, bytewise, small and larger pieces
            check(data[:2] + seed.to_bytes(2, "big") + data[SETTINGS:])
        count += 1
    return count


def main() -> None:
    import atheris

    atheris.instrument_all()  # coverage feedback from every module loaded above (the parser)
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
