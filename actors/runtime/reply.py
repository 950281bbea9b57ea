"""Reply: the one future of the actor runtime, for ``ask`` and for a told message's answer slot.

pykka lets an actor type choose its future (``Actor._create_future``); ``TracedActor`` returns a
``Reply``, so ``ref.ask(...)`` and a message that carries ``reply=Reply()`` wait on the same kind of
object. A ``pykka.ThreadingFuture`` is built on ``queue.Queue`` (a mutex and three conditions, each a
lock object under gevent): creating and waiting on one was 10 % of the CPU of a ``POST
/api/live-sync``. Every actor here runs on the gevent hub of the main thread, so a gevent
``AsyncResult`` is enough. The interface stays pykka's (``set``, ``set_exception(exc_info)``,
``get(timeout)`` raising ``pykka.Timeout``; ``map``/``filter``/``join`` come from ``pykka.Future``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import pykka
from gevent.event import AsyncResult

from ..errors import RealtimeError, Unavailable


@dataclass(frozen=True, slots=True)
class Failure:
    """What a waiting caller gets back when handling its message raised; ``answer`` re-raises it."""

    error: BaseException


def unwrap(result: Any, failed: str) -> Any:
    """An actor's answer, or the error its handler raised (a ``Failure``) raised here for the caller.

    A caller's mistake (a ``RealtimeError``: 400, 404, ...) is raised as it is; anything else means the
    server could not do it, and becomes ``Unavailable`` naming ``failed``.
    """
    if isinstance(result, Failure):
        if isinstance(result.error, RealtimeError):
            raise result.error
        raise Unavailable(f"{failed}: {result.error!r}")
    return result


def answer(reply: pykka.Future[Any], timeout: float, what: str) -> Any:
    """Wait up to ``timeout`` seconds for ``reply``; its value, or ``Unavailable`` saying what did not answer."""
    try:
        result = reply.get(timeout=timeout)
    except pykka.Timeout:
        raise Unavailable(f"{what} did not answer within {timeout}s") from None
    except pykka.ActorDeadError:
        raise Unavailable("the server is shutting down") from None
    return unwrap(result, f"{what} failed")  # a handler that raised answered with a Failure at once


class Reply(pykka.Future[Any]):
    """Set once by the actor that handles the message; ``get`` waits for it in the caller's greenlet."""

    def __init__(self) -> None:
        super().__init__()
        self._result = AsyncResult()

    def set(self, value: Any = None) -> None:
        self._result.set(value)

    def set_exception(self, exc_info: Any = None) -> None:
        error = (exc_info or sys.exc_info())[1]
        self._result.set_exception(error)

    def done(self) -> bool:
        return bool(self._result.ready())

    def get(self, *, timeout: float | None = None) -> Any:
        """The value, or the exception raised; ``pykka.Timeout`` when nothing came within ``timeout`` seconds."""
        if self._get_hook is not None:  # a future made by map/filter/join: pykka computes it
            return super().get(timeout=timeout)
        result = self._result
        result.wait(timeout)  # returns on timeout without raising, so an outer gevent.Timeout stays the caller's
        if not result.ready():
            raise pykka.Timeout(f"no reply within {timeout} seconds")
        return result.get(block=False)
