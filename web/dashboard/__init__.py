"""The built-in dashboard: ``pages.py`` is its blueprint (``/``, ``/admin``, ``/api/dashboard/config``,
``/api/dev/tokens``).

The pages and their scripts are static files in ``web/static/dashboard/``, served by the app's static
folder at ``/static/dashboard/...`` next to the browser client (``/static/realtime.js``). Like ``web``
itself, this package's ``__init__`` imports nothing.
"""
