"""The fast header path builds exactly what pywsgi's own parser (http.client + email) builds."""

import random
from io import BytesIO

import pytest
from gevent import pywsgi

from web.http_headers import parse_request_headers

BLOCKS = [
    b"Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"Host: x\r\nX-Dup: 1\r\nX-Dup: 2\r\nx-dup: 3\r\n\r\n",
    b"Content-Type:application/json\r\nContent-Length:   12\r\n\r\n",
    b"Empty:\r\nTabbed:\t\tv\t\r\n\r\n",
    b"Host: x\nBare: lf\n\n",
    b"Host: x\r\n folded continuation\r\nNext: y\r\n\r\n",  # obs-fold: the email parser's business
    b" leading: continuation\r\nHost: x\r\n\r\n",
    b"Host: x\r\nBad Header: space in the name\r\nAfter: z\r\n\r\n",
    b"Host: x\r\n: no name\r\nAfter: z\r\n\r\n",
    b"From someone\r\nHost: x\r\n\r\n",
    b"Host: x\r\nFrom: me@example.com\r\n\r\n",
    b"Host: a\rb\r\nNext: y\r\n\r\n",  # a bare carriage return inside a value
    b"Host: x\r\nNo-Colon-Line\r\nAfter: z\r\n\r\n",
    b"Host: x\r\nTruncated: no end",  # the peer closed mid-line
    b"Host: caf\xe9\r\nX: \xff\xfe\r\n\r\n",
    b"\r\n",
    b"",
]


def both(block):
    ours = parse_request_headers(BytesIO(block), 0)
    theirs = pywsgi.headers_factory(BytesIO(block), 0)
    return ours, theirs


def same(ours, theirs):
    assert ours._headers == theirs._headers
    assert ours.status == theirs.status
    assert [type(d) for d in ours.defects] == [type(d) for d in theirs.defects]
    assert ours.get("host") == theirs.get("host") and list(ours.headers) == list(theirs.headers)


@pytest.mark.parametrize("block", BLOCKS)
def test_the_same_headers_as_pywsgi_for_plain_and_odd_blocks(block):
    same(*both(block))


def test_the_same_headers_for_random_blocks():
    rng = random.Random(7)
    alphabet = [b"a", b"Z", b"-", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\xe9", b"x", b"0", b"From ", b"\x7f"]
    for _ in range(3000):
        block = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        same(*both(block + b"\r\n\r\n"))


def test_limits_stay_those_of_http_client():
    long_line = b"X: " + b"a" * 70000 + b"\r\n\r\n"
    ours, theirs = both(long_line)
    assert ours.status == theirs.status == "Line too long"
    many = b"".join(b"X-%d: v\r\n" % n for n in range(150)) + b"\r\n"
    with pytest.raises(Exception) as ours_error:
        parse_request_headers(BytesIO(many), 0)
    with pytest.raises(Exception) as theirs_error:
        pywsgi.headers_factory(BytesIO(many), 0)
    assert type(ours_error.value) is type(theirs_error.value)


def test_the_same_headers_for_random_well_formed_blocks(monkeypatch):
    import web.http_headers as module

    fallbacks = []
    original = module.email_parsed
    monkeypatch.setattr(module, "email_parsed", lambda lines: fallbacks.append(1) or original(lines))
    rng = random.Random(11)
    name_chars = [chr(c) for c in range(0x21, 0x7F) if c != 0x3A]
    value_chars = [chr(c) for c in range(0x20, 0x7F)] + ["\t", "\xe9", "\xff"]
    endings = ["\r\n", "\n"]
    for _ in range(2000):
        lines = []
        for _ in range(rng.randint(0, 12)):
            name = "".join(rng.choice(name_chars) for _ in range(rng.randint(1, 12)))
            value = "".join(rng.choice(value_chars) for _ in range(rng.randint(0, 30)))
            lines.append((name + ":" + value + rng.choice(endings)).encode("iso-8859-1"))
        same(*both(b"".join(lines) + b"\r\n"))
    assert not fallbacks  # every one of these took the fast path, and it agreed with the email parser
