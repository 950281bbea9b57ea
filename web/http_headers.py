"""Request headers for pywsgi, parsed without the email package when they are plain ``Name: value`` lines.

pywsgi builds its header object (``OldMessage``, an ``http.client.HTTPMessage``) with
``http.client.parse_headers``, which runs the email package's feed parser over the header block:
10 % of the server's CPU for a WebSocket handshake, and 12 % of a ``POST /api/live-sync``. For a
block whose every line is ``token: value`` with one line ending, that parser's result is simple
to state exactly (the name up to the first colon, unchanged; the value with leading blanks and the
line ending removed, ``email._policybase.Compat32.header_source_parse``), and this module builds the
same object directly. Any other line (a continuation, a stray carriage return, a name with a space,
no line ending) sends the whole block to the email parser as before, so the result never differs;
``tests/web/test_http_headers.py`` compares the two on such blocks.

The limits stay those of ``http.client``: line length (``LineTooLong``, which pywsgi turns into
``status``) and header count (``HTTPException``).
"""

from __future__ import annotations

import email.parser
import re
from http import client
from typing import Any

from gevent import pywsgi

_PLAIN = re.compile(r"[\041-\071\073-\176]+:[^\r\n]*\r?\n\Z")
"""One whole header line the feed parser would take as a single ``name: value`` (its own name rule)."""

_END = (b"\r\n", b"\n", b"")


def parse_request_headers(fp: Any, *args: Any) -> Any:
    """pywsgi's ``MessageClass``: an ``OldMessage`` holding the request's headers."""
    try:
        lines: list[bytes] = client._read_headers(fp)  # type: ignore[attr-defined]
    except client.LineTooLong:
        message = pywsgi.OldMessage()
        message.status = "Line too long"
        return message
    message = pywsgi.OldMessage()
    headers = message._headers
    for line in lines:
        if line in _END:
            break
        text = line.decode("iso-8859-1")
        if _PLAIN.match(text) is None:
            return email_parsed(lines)
        name, value = text.split(":", 1)
        headers.append((name, value.lstrip(" \t").rstrip("\r\n")))
    return message


def email_parsed(lines: list[bytes]) -> Any:
    """What ``http.client.parse_headers`` builds from these lines (pywsgi's own path)."""
    return email.parser.Parser(_class=pywsgi.OldMessage).parsestr(b"".join(lines).decode("iso-8859-1"))
