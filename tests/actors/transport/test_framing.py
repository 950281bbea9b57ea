import io
import os
import struct

import pytest

from actors.transport.framing import (
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_BIG,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_TEXT,
    FrameError,
    FrameReader,
    close_frame,
    encode_frame,
    parse_close,
    unmask,
)


def client_frame(payload: bytes, opcode: int = OP_TEXT, fin: bool = True, mask: bytes | None = None,
                 masked: bool = True) -> bytes:
    """A frame as a browser sends it: masked, with the length encoded the three RFC 6455 ways."""
    mask = mask or os.urandom(4)
    first = (0x80 if fin else 0) | opcode
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


def reader(data: bytes, limit: int = 1024) -> FrameReader:
    return FrameReader(io.BytesIO(data).read, limit)


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


def test_reads_text_and_fragmented_messages():
    data = client_frame("héllo".encode()) + client_frame(b"ab", fin=False) + \
        client_frame(b"cd", OP_CONTINUATION, fin=False) + client_frame(b"PING", OP_PING) + \
        client_frame(b"ef", OP_CONTINUATION)
    r = reader(data)
    assert r.read_message().payload.decode() == "héllo"
    ping = r.read_message()  # a control frame may arrive between fragments
    assert (ping.opcode, ping.payload) == (OP_PING, b"PING")
    message = r.read_message()
    assert (message.opcode, message.payload) == (OP_TEXT, b"abcdef")
    with pytest.raises(EOFError):
        r.read_message()


def test_oversize_frame_refused_from_its_header_before_the_payload_is_read():
    head_only = client_frame(b"x" * 2000)[:8]  # header and mask, no payload at all
    with pytest.raises(FrameError) as err:
        reader(head_only, limit=1000).read_message()
    assert err.value.close_code == CLOSE_TOO_BIG


def test_oversize_message_refused_across_fragments():
    data = client_frame(b"x" * 600, fin=False) + client_frame(b"x" * 600, OP_CONTINUATION)
    with pytest.raises(FrameError) as err:
        reader(data, limit=1000).read_message()
    assert err.value.close_code == CLOSE_TOO_BIG


@pytest.mark.parametrize("data", [
    client_frame(b"hi", masked=False),                           # clients must mask
    bytes((0xC1, 0x80)) + b"\0\0\0\0",                           # reserved bit set
    client_frame(b"x" * 126, OP_PING),                           # control frame over 125 bytes
    client_frame(b"x", OP_CONTINUATION),                         # continuation without a start
    client_frame(b"a", fin=False) + client_frame(b"b"),          # new message inside a fragmented one
    client_frame(b"", 0x3),                                      # reserved opcode
])
def test_protocol_errors_close_with_1002(data):
    with pytest.raises(FrameError) as err:
        reader(data).read_message()
    assert err.value.close_code == CLOSE_PROTOCOL_ERROR


def test_binary_and_close_frames_pass_through():
    r = reader(client_frame(b"\x00\x01", OP_BINARY) + client_frame(struct.pack("!H", 1000) + b"bye", OP_CLOSE))
    assert r.read_message().opcode == OP_BINARY
    close = r.read_message()
    assert close.opcode == OP_CLOSE and parse_close(close.payload) == (1000, "bye")
