"""Reply: the one-shot answer slot a message sent with ``tell`` carries back to a waiting caller.

``ActorSystem`` sends ``Publish``, ``History`` and the notification messages with a reply slot and
waits on it, instead of ``ask``, so that a room can answer from wherever it handles the message. A
``pykka.ThreadingFuture`` did the job, but it is built on ``queue.Queue`` (a mutex and three
conditions, each a lock object under gevent): creating and waiting on one was 10 % of the CPU of a
``POST /api/live-sync``. Every actor here runs on the gevent hub of the main thread, so a gevent
``AsyncResult`` is enough; the interface stays pykka's (``set``, ``set_exception(exc_info)``,
``get(timeout)`` raising ``pykka.Timeout``), so handlers need not know which one they hold.
"""

from __future__ import annotations

import sys
from typing import Any

import pykka
from gevent.event import AsyncResult


class Reply:
    """Set once by the actor that handles the message; ``get`` waits for it in the caller's greenlet."""

    __slots__ = ("_result",)

    def __init__(self) -> None:
        self._result = AsyncResult()

    def set(self, value: Any = None) -> None:
        self._result.set(value)

    def set_exception(self, exc_info: Any = None) -> None:
        error = (exc_info or sys.exc_info())[1]
        self._result.set_exception(error)

    def done(self) -> bool:
        return bool(self._result.ready())

    def get(self, timeout: float | None = None) -> Any:
        """The value, or the exception raised; ``pykka.Timeout`` when nothing came within ``timeout`` seconds."""
        result = self._result
        result.wait(timeout)  # returns on timeout without raising, so an outer gevent.Timeout stays the caller's
        if not result.ready():
            raise pykka.Timeout(f"no reply within {timeout} seconds")
        return result.get(block=False)
