"""ClaimsActor: who is handling a lead or a contact, so that two agents never answer the same customer.

One per process. ``CLAIM`` (or ``POST /api/rooms/{room}/claim``) on a room whose prefix is in
``CLAIM_PREFIXES``: the first claimant wins and the room gets ``CLAIMED {room, by, until}``; a second
one gets ``ERROR CONFLICT`` naming the holder. ADMIN may take over (``force``), and the room's
``CLAIMED`` then says from whom (``takenFrom``). A claim ends with ``RELEASE`` (the holder or ADMIN),
``CLAIM_GRACE`` after its holder's last connection went, or at its ``until``; the room then gets
``RELEASED {room, by, reason}``. CLAIMED and RELEASED are room events (numbered, kept in the history),
so a client that resumes with ``since`` learns of a claim it missed.

The claims themselves live in a ``ClaimStore``: this process's memory with the memory broker, Redis
with several processes (one script per change: one holder, however the nodes race). Every
``ClaimsTick`` each node renews the claims whose holder has a connection on it (the hub says who),
and sweeps the claims past their time; the store hands each one to a single sweeper.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
import pykka

from ..errors import Conflict, Forbidden, RealtimeError, Unavailable
from ..protocol.frames import server_frame
from ..rooms.actor_messages import ConnectedUsers, Publish
from ..runtime.actor import TracedActor
from ..runtime.context import ActorContext
from ..runtime.reply import Failure
from ..transport.framing import text_frame
from .actor_messages import ClaimsTick, DropClaim, GetClaim, TakeClaim
from .claim_store import Claim, ClaimStore
from .wire import iso

log = logging.getLogger("realtime.claims")

ADMIN = "ADMIN"


class ClaimHeld(Conflict):
    """Someone else holds the claim: a CONFLICT that names the holder."""

    def __init__(self, claim: Claim) -> None:
        super().__init__(f"{claim.room} is claimed by user {claim.by} until {iso(claim.until)}")
        self.claim = claim


def claim_json(claim: Claim | None) -> dict[str, Any] | None:
    """A claim as REST answers and CONFLICT frames show it."""
    if claim is None:
        return None
    return {"by": claim.by, "role": claim.role, "since": iso(claim.since), "until": iso(claim.until)}


class ClaimsActor(TracedActor):
    """One per process: takes, ends, renews and expires claims, and tells their rooms."""

    kind = "claims"

    def __init__(self, ctx: ActorContext, store: ClaimStore) -> None:
        super().__init__(ctx, "claims")
        self._store = store
        self._timer: gevent.Greenlet | None = None
        self.taken = 0
        self.conflicts = 0
        self.ended = 0

    def started(self) -> None:
        self._timer = gevent.spawn(self._tick)

    def stopping(self) -> None:
        if self._timer is not None:
            self._timer.kill(block=False)
            self._timer = None

    @property
    def _every(self) -> float:
        """Seconds between ClaimsTicks: a third of the grace, at most two."""
        return min(2.0, max(0.05, self.ctx.settings.claim_grace / 3))

    def _grace_from(self, now: float) -> float:
        """When a claim renewed now ends unless renewed again: the grace counts from the holder's last connection,
        which may go just after this renewal, so one tick is added (it ends between one and two ticks late)."""
        return now + self.ctx.settings.claim_grace + self._every

    def _tick(self) -> None:
        while True:
            gevent.sleep(self._every)
            try:
                self.actor_ref.tell(ClaimsTick())
            except pykka.ActorDeadError:
                return

    def handle(self, message: Any) -> Any:
        if isinstance(message, TakeClaim):
            return self._answer(message, self._take)
        if isinstance(message, DropClaim):
            return self._answer(message, self._drop)
        if isinstance(message, GetClaim):
            return {"room": message.room, "claim": claim_json(self._store.get(message.room, time.time()))}
        if isinstance(message, ClaimsTick):
            self._sweep()
            return None
        return super().handle(message)

    def _answer(self, message: TakeClaim | DropClaim, work: Any) -> Any:
        """Run ``work``; a refusal goes back to the REST caller (``reply``) or to the socket as an ERROR frame."""
        try:
            result = work(message)
        except RealtimeError as exc:
            if message.reply is not None:
                message.reply.set(Failure(exc))
            elif message.outlet is not None:
                data: dict[str, Any] = {"code": exc.code, "message": exc.message}
                if isinstance(exc, ClaimHeld):
                    data.update(claim_json(exc.claim) or {})
                if message.frame_id is not None:
                    data["ref"] = message.frame_id
                message.outlet.offer(text_frame(server_frame("ERROR", data)), now=True)
            return None
        if message.reply is not None:
            message.reply.set(result)
        return result

    def _take(self, message: TakeClaim) -> dict[str, Any]:
        identity, room = message.identity, message.room
        if message.force and identity.role != ADMIN:
            raise Forbidden("only ADMIN may take over a claim")
        settings = self.ctx.settings
        now = time.time()
        claim = Claim(room, identity.user_id, identity.role, now, now + (message.ttl or settings.claim_ttl))
        taken = self._store.take(claim, self._grace_from(now), now, message.force)
        if not taken.won:
            self.conflicts += 1
            raise ClaimHeld(taken.current)
        self.taken += 1
        data: dict[str, Any] = {"room": room, "by": claim.by, "until": iso(claim.until)}
        previous = taken.previous
        if message.force and previous is not None and previous.by != claim.by:
            data["takenFrom"] = previous.by
            log.info("user %s (%s) took over the claim on %s from user %s", claim.by, claim.role, room, previous.by)
        self.tell_hub(Publish(room, "CLAIMED", data))
        return {"room": room, "claim": claim_json(claim)}

    def _drop(self, message: DropClaim) -> dict[str, Any]:
        identity, room = message.identity, message.room
        admin = identity.role == ADMIN
        ended, held = self._store.release(room, None if admin else identity.user_id)
        if ended and held is not None:
            data = {"room": room, "by": held.by, "reason": "released"}
            if held.by != identity.user_id:
                data["releasedBy"] = identity.user_id
            self._ended(data)
        elif held is not None:
            raise ClaimHeld(held)
        return {"room": room, "claim": None}

    def _sweep(self) -> None:
        """Renew the claims of holders connected here; end the claims past their time (each told once)."""
        store = self._store
        now = time.time()
        try:
            holders = store.holders()
            if holders:
                connected = self._connected(tuple(sorted(set(holders.values()))))
                held = [(room, user) for room, user in holders.items() if user in connected]
                if held:
                    store.renew(held, self._grace_from(now))
            for claim in store.expire_due(now):
                self._ended({"room": claim.room, "by": claim.by,
                             "reason": "expired" if claim.until <= now else "disconnected"})
        except Unavailable as exc:
            log.warning("claims not renewed or swept this time: %s", exc.message)

    def _connected(self, users: tuple[str, ...]) -> dict[str, str]:
        """Which of ``users`` have a connection here (the hub's answer; none if it does not answer in time)."""
        hub = self.ctx.hub
        if hub is None:
            return {}
        try:
            answer = hub.ask(ConnectedUsers((), users), block=False).get(timeout=self.ctx.settings.ask_timeout)
        except (pykka.ActorDeadError, pykka.Timeout, gevent.Timeout):
            log.warning("the hub did not say who is connected; claims not renewed this time")
            return {}
        return answer if isinstance(answer, dict) else {}

    def _ended(self, data: dict[str, Any]) -> None:
        self.ended += 1
        self.tell_hub(Publish(data["room"], "RELEASED", data))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "taken": self.taken, "conflicts": self.conflicts, "ended": self.ended}
