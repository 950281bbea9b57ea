"""The actor runtime on gevent: the actor base (pykka's hooks), the one future, supervision, tracing."""

from __future__ import annotations

from .actor import TracedActor
from .context import ActorContext
from .reply import Failure, Reply, answer, unwrap
from .tracer import TraceEvent, Tracer

__all__ = [
    "ActorContext", "Failure", "Reply", "TraceEvent", "TracedActor", "Tracer", "answer", "unwrap",
]
