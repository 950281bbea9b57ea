"""When to retry a request and how long to wait: exponential backoff with jitter, ``Retry-After`` honoured.

Retried: connection errors (refused, reset, a timeout, a response cut off) and the answers 429 and 503,
which mean "later", not "no". Every retry of one call sends the same ``Idempotency-Key``, so a request
whose answer was lost on the way back is answered from the server's record instead of done twice.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` in all (1 = no retry); delays grow by ``factor`` from ``initial`` up to ``max_delay``
    seconds, each shortened by up to ``jitter`` of itself at random, so that many clients failing at
    once do not come back at once."""

    attempts: int = 4
    initial: float = 0.25
    factor: float = 2.0
    max_delay: float = 8.0
    jitter: float = 0.5
    max_retry_after: float = 30.0
    """A server's ``Retry-After`` is followed up to this many seconds (beyond it the call gives up)."""
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds before retry number ``retry`` (0-based); at least the server's ``Retry-After``."""
        base = min(self.max_delay, self.initial * self.factor ** min(retry, 64))
        wait = base * (1 - self.jitter * self.random())
        if retry_after is not None:
            wait = max(wait, retry_after)
        return max(0.0, wait)


NO_RETRY = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds (a number of seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    import time

    return max(0.0, when.timestamp() - (time.time() if now is None else now))
