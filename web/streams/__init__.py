"""The two long-lived streams a browser holds open: ``/ws`` (``ws.py``, WebSocket) and ``/sse``
(``sse.py``, the Server-Sent Events fallback).

Both admit a caller the same way (``web.auth.admit_stream``: token, Origin, connection limit) before
anything is upgraded or streamed, then hand the socket to ``actors.ActorSystem``. Like ``web``
itself, this package's ``__init__`` imports nothing.
"""
