"""RFC 6455 framing: outbound frames, unmasking, and the incremental parser of client frames.

The parser is fed the way a socket gives bytes: all at once, a byte at a time, or cut anywhere, and
it must give the same messages each way, fail at the first byte that breaks a rule, keep what came
before a violation, and do work in proportion to the bytes it is given.
"""

from __future__ import annotations

import os
import struct
import sys
from typing import Any

import pytest

from actors.transport.framing import (
    CLOSE_INVALID_DATA,
    CLOSE_POLICY,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_BIG,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameParser,
    Message,
    close_frame,
    encode_frame,
    parse_close,
    unmask,
    valid_close_code,
)


def client_frame(payload: bytes, opcode: int = OP_TEXT, fin: bool = True, mask: bytes | None = None,
                 masked: bool = True, rsv: int = 0) -> bytes:
    """A frame as a browser sends it: masked, with the length encoded the three RFC 6455 ways."""
    mask = mask or os.urandom(4)
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    bit = 0x80 if masked else 0
    if n < 126:
        head = bytes((first, bit | n))
    elif n < 65536:
        head = struct.pack("!BBH", first, bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, bit | 127, n)
    if not masked:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def parse(data: bytes, limit: int = 1024, fragments: int = 0, step: int = 0) -> tuple[list[Message], Any]:
    """Feed ``data`` whole (``step`` 0) or ``step`` bytes at a time; the messages and the error, if any."""
    parser = FrameParser(limit, fragments)
    messages: list[Message] = []
    pieces = [data] if not step else [data[i:i + step] for i in range(0, len(data), step)]
    for piece in pieces:
        messages += parser.feed(piece)
    return messages, parser.error


def summary(messages: list[Message]) -> list[tuple[int, Any]]:
    return [(m.opcode, m.text if m.text is not None else m.payload) for m in messages]


# --- outbound frames and unmasking -----------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_encode_frame_length_forms(size):
    frame = encode_frame(b"x" * size)
    assert frame[0] == 0x81
    if size < 126:
        assert frame[1] == size and len(frame) == 2 + size
    elif size < 65536:
        assert frame[1] == 126 and struct.unpack("!H", frame[2:4])[0] == size
    else:
        assert frame[1] == 127 and struct.unpack("!Q", frame[2:10])[0] == size


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 1000])
def test_unmask_matches_the_bytewise_definition(size):
    payload, mask = os.urandom(size), os.urandom(4)
    expected = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert unmask(payload, mask) == expected


def test_close_frame_carries_the_code_first():
    frame = close_frame(4008, "slow consumer")
    assert frame[0] == 0x88
    assert parse_close(frame[2:]) == (4008, "slow consumer")


# --- messages ----------------------------------------------------------------------------------------


STREAM = (client_frame("héllo".encode()) + client_frame(b"ab", fin=False)
          + client_frame(b"cd", OP_CONTINUATION, fin=False) + client_frame(b"PING", OP_PING)
          + client_frame(b"ef", OP_CONTINUATION) + client_frame(b"\x00\x01" * 100, OP_BINARY)
          + client_frame(b"x" * 300) + client_frame(b"", OP_PONG) + client_frame("é€😀".encode() * 50, fin=False)
          + client_frame(b"", OP_CONTINUATION, fin=False) + client_frame(b"!", OP_CONTINUATION))
EXPECTED = [(OP_TEXT, "héllo"), (OP_PING, b"PING"), (OP_TEXT, "abcdef"), (OP_BINARY, b"\x00\x01" * 100),
            (OP_TEXT, "x" * 300), (OP_PONG, b""), (OP_TEXT, "é€😀" * 50 + "!")]


@pytest.mark.parametrize("step", [0, 1, 2, 3, 7, 13, 64, 1000])
def test_the_same_messages_however_the_bytes_are_cut(step):
    messages, error = parse(STREAM, step=step)
    assert error is None
    assert summary(messages) == EXPECTED  # a control frame between fragments comes first, as it arrived


def test_each_message_counts_the_frames_up_to_it():
    messages, _ = parse(STREAM)
    assert [m.frames for m in messages] == [1, 4, 5, 6, 7, 8, 11]


def test_a_64_bit_length_and_an_empty_frame():
    big = b"y" * 70_000
    messages, error = parse(client_frame(big, OP_BINARY) + client_frame(b""), limit=100_000, step=4096)
    assert error is None and summary(messages) == [(OP_BINARY, big), (OP_TEXT, "")]


def test_busy_while_anything_is_half_received():
    parser = FrameParser(1024)
    assert not parser.busy
    frame = client_frame(b"hello")
    parser.feed(frame[:1])
    assert parser.busy  # half a header
    parser.feed(frame[1:8])
    assert parser.busy  # half a payload
    assert summary(parser.feed(frame[8:])) == [(OP_TEXT, "hello")] and not parser.busy
    parser.feed(client_frame(b"a", fin=False))
    assert parser.busy  # a fragmented message is open


# --- limits ------------------------------------------------------------------------------------------


def test_oversize_frame_refused_from_its_header_before_the_payload_is_read():
    messages, error = parse(client_frame(b"x" * 2000)[:4], limit=1000)  # the length, not even the mask
    assert messages == [] and error.close_code == CLOSE_TOO_BIG


def test_oversize_message_refused_across_fragments():
    data = client_frame(b"x" * 600, fin=False) + client_frame(b"x" * 600, OP_CONTINUATION)
    assert parse(data, limit=1000)[1].close_code == CLOSE_TOO_BIG


def test_control_frames_do_not_count_toward_the_message_size():
    data = client_frame(b"x" * 900, fin=False) + client_frame(b"p" * 125, OP_PING) + client_frame(b"y" * 100, 0)
    assert summary(parse(data, limit=1000)[0]) == [(OP_PING, b"p" * 125), (OP_TEXT, "x" * 900 + "y" * 100)]


def test_a_message_in_more_fragments_than_allowed_is_refused_with_1008():
    three = client_frame(b"a", fin=False) + client_frame(b"b", 0, fin=False) + client_frame(b"c", 0)
    assert summary(parse(three, fragments=3)[0]) == [(OP_TEXT, "abc")]
    messages, error = parse(three, fragments=2)
    assert messages == [] and error.close_code == CLOSE_POLICY
    empty = client_frame(b"", fin=False) + client_frame(b"", 0, fin=False) * 5  # empty fragments count too
    assert parse(empty, fragments=4)[1].close_code == CLOSE_POLICY


# --- protocol errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    client_frame(b"hi", masked=False),                           # clients must mask
    client_frame(b"hi", rsv=4),                                  # reserved bit set (no extension agreed)
    client_frame(b"hi", rsv=1),
    client_frame(b"x" * 126, OP_PING),                           # control frame over 125 bytes
    client_frame(b"x", OP_PING, fin=False),                      # fragmented control frame
    client_frame(b"x", OP_CONTINUATION),                         # continuation without a start
    client_frame(b"a", fin=False) + client_frame(b"b"),          # new message inside a fragmented one
    client_frame(b"", 0x3),                                      # reserved opcodes
    client_frame(b"", 0xB),
    struct.pack("!BBQ", 0x82, 0xFF, 1 << 63) + b"mask",          # 64-bit length with the top bit set
])
def test_protocol_errors_close_with_1002(data):
    messages, error = parse(data)
    assert messages == [] and error.close_code == CLOSE_PROTOCOL_ERROR


def test_what_came_before_a_violation_in_the_same_read_is_kept_and_nothing_after():
    data = (client_frame(b'{"type":"PING"}') + client_frame(b"are you there", OP_PING) + client_frame(b"", 0x5)
            + client_frame(b"after"))
    parser = FrameParser(1024)
    assert summary(parser.feed(data)) == [(OP_TEXT, '{"type":"PING"}'), (OP_PING, b"are you there")]
    assert parser.error.close_code == CLOSE_PROTOCOL_ERROR
    assert parser.feed(client_frame(b"later")) == []  # nothing more is parsed after a violation


# --- close frames ------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                                  3999, 4000, 4999])
def test_a_close_frame_with_a_code_a_peer_may_send_is_passed_on(code):
    messages, error = parse(client_frame(close_payload(code, "café".encode()), OP_CLOSE))
    assert error is None and summary(messages) == [(OP_CLOSE, close_payload(code, "café".encode()))]
    assert valid_close_code(code)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
def test_a_close_frame_with_a_reserved_or_unassigned_code_is_a_protocol_error(code):
    assert parse(client_frame(close_payload(code), OP_CLOSE))[1].close_code == CLOSE_PROTOCOL_ERROR
    assert not valid_close_code(code)


def test_a_close_frame_with_a_one_byte_payload_is_a_protocol_error():
    assert parse(client_frame(b"\x03", OP_CLOSE))[1].close_code == CLOSE_PROTOCOL_ERROR


def test_a_close_reason_that_is_not_utf8_is_1007_and_an_empty_close_is_fine():
    assert parse(client_frame(close_payload(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"),
                              OP_CLOSE))[1].close_code == CLOSE_INVALID_DATA
    assert summary(parse(client_frame(b"", OP_CLOSE))[0]) == [(OP_CLOSE, b"")]


# --- UTF-8, checked as the bytes arrive --------------------------------------------------------------


def test_invalid_utf8_in_one_frame_is_1007():
    assert parse(client_frame(b"\xff\xfe"))[1].close_code == CLOSE_INVALID_DATA


def test_a_fragmented_text_message_fails_at_its_first_bad_fragment_not_at_its_end():
    parser = FrameParser(1024)
    parser.feed(client_frame("κόσμε".encode(), fin=False))
    assert parser.error is None
    parser.feed(client_frame(b"\xf4\x90\x80\x80", OP_CONTINUATION, fin=False))  # past U+10FFFF
    assert parser.error.close_code == CLOSE_INVALID_DATA  # the message's last fragment never came


def test_one_frame_arriving_in_pieces_fails_at_the_first_bad_piece():
    frame = client_frame("κόσμε".encode() + b"\xf4\x90\x80\x80" + b"edited")
    parser = FrameParser(1024)
    head_and_good = 2 + 4 + len("κόσμε".encode())
    parser.feed(frame[:head_and_good])
    assert parser.error is None and parser.busy
    parser.feed(frame[head_and_good:head_and_good + 2])  # F4 90: no code point can follow
    assert parser.error.close_code == CLOSE_INVALID_DATA


def test_a_surrogate_is_refused_as_soon_as_its_second_byte_arrives():
    parser = FrameParser(1024)
    parser.feed(client_frame(b"ok\xed", fin=False))
    assert parser.error is None  # ED may start U+D000..U+D7FF
    parser.feed(client_frame(b"\xa0", OP_CONTINUATION, fin=False))  # ED A0: only a surrogate starts so
    assert parser.error.close_code == CLOSE_INVALID_DATA


def test_a_code_point_cut_between_fragments_is_joined():
    snowman = "☃".encode()
    data = b"".join(client_frame(snowman[i:i + 1], OP_CONTINUATION if i else OP_TEXT, fin=i == 2) for i in range(3))
    assert summary(parse(data)[0]) == [(OP_TEXT, "☃")]


def test_a_message_ending_inside_a_code_point_is_1007():
    data = client_frame("☃".encode()[:2], fin=False) + client_frame(b"", OP_CONTINUATION)
    assert parse(data)[1].close_code == CLOSE_INVALID_DATA


# --- work in proportion to the bytes -----------------------------------------------------------------


def calls_to_feed(chunks: list[bytes]) -> int:
    """Python function calls made while feeding ``chunks`` one read each (a count, not a time)."""
    parser = FrameParser(1 << 20, 0)
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        for chunk in chunks:
            parser.feed(chunk)
    finally:
        sys.setprofile(None)
    assert parser.error is None
    return calls


@pytest.mark.parametrize("fragment", [b"", b"x"])
def test_an_unfinished_message_is_not_parsed_again_on_every_read(fragment):
    """The attack: a message opened and never finished, its fragments sent one read each. Each read must
    cost the same, however many fragments came before it (it used to re-parse them all: quadratic)."""
    def work(n: int) -> int:
        return calls_to_feed([client_frame(b"", fin=False)] + [client_frame(fragment, OP_CONTINUATION, fin=False)] * n)

    small, large = work(500), work(2000)
    assert large <= 4 * small * 1.1  # four times the reads, four times the work (quadratic would be 16x)


def test_a_frame_trickled_a_byte_at_a_time_costs_in_proportion_to_its_length():
    def work(n: int) -> int:
        frame = client_frame(b"x" * n)
        return calls_to_feed([frame[i:i + 1] for i in range(len(frame))])

    small, large = work(2000), work(8000)
    assert large <= 4 * small * 1.1
