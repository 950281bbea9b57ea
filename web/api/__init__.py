"""The REST API, one module (one Flask blueprint) per resource:

- ``status.py``: ``GET /api/ws`` (server status) and ``GET /healthz``
- ``live_sync.py``: ``/api/live-sync``, where backend services publish events and statistics
- ``rooms.py``: ``GET /api/rooms/<room>/history``, recovery over REST
- ``notifications.py``: ``/api/notifications``, the notification center
- ``debug.py``: ``/api/debug/...``, live actors and their traces (debug mode only)

Errors are JSON (``web.app``); like ``web`` itself, this package's ``__init__`` imports nothing.
"""
