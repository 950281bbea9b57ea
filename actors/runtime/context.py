"""What every actor of one server shares: settings, the hub's address, tracing, counters, the flusher."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pykka

from ..config import Settings
from ..observability.metrics import Metrics
from ..protocol.rooms import RoomPolicy
from ..tokens import TokenVerifier
from ..transport.outlet import Flusher
from .tracer import Tracer


@dataclass(slots=True)
class ActorContext:
    """Built once by ``ActorSystem``; ``hub`` (and the other actors' refs) are filled in as they start."""

    settings: Settings
    tracer: Tracer
    metrics: Metrics
    flusher: Flusher
    policy: RoomPolicy
    verifier: TokenVerifier
    hub: pykka.ActorRef[Any] | None = field(default=None)
    presence: pykka.ActorRef[Any] | None = field(default=None)
    """The PresenceActor (presence, typing), when the system runs one; joins of presence rooms go through it."""
    claims: pykka.ActorRef[Any] | None = field(default=None)
    """The ClaimsActor (CLAIM, RELEASE), when the system runs one."""
    deliveries: pykka.ActorRef[Any] | None = field(default=None)
    """The DeliveryRecorder (ACK), when the system has a database."""

    @classmethod
    def create(cls, settings: Settings) -> ActorContext:
        """A context of its own (tracer, counters, flusher, policy, verifier) for actors started outside
        an ``ActorSystem``: tests and benchmarks of a single actor."""
        metrics = Metrics()
        return cls(settings, Tracer.from_settings(settings), metrics, Flusher(metrics),
                   RoomPolicy(settings.all_room_prefixes), TokenVerifier(settings))
