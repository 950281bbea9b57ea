"""ConnectionActor: one per socket. Parses client frames, enforces limits, owns the socket's lifecycle.

The web layer only reads frames and tells this actor about them; everything the client may do,
and every error it can get, is decided here.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent

from ..deliveries.wire import record_ack
from ..errors import BadRequest, Forbidden, RealtimeError, Unauthorized, UnknownType
from ..identity import Identity
from ..observability.log_context import close_fields, connection_fields, frame_fields
from ..presence import client_frames as presence
from ..protocol.frames import (
    CLIENT_TYPES,
    FrameId,
    error_frame,
    parse_client_frame,
    server_frame,
    unsubscribed_frame,
)
from ..protocol.positions import Since, parse_since
from ..protocol.rooms import parse_room
from ..rooms.actor_messages import (
    CloseConnection,
    Join,
    Joined,
    Leave,
    Publish,
    RegisterConnection,
    UnregisterConnection,
)
from ..runtime.actor import TracedActor
from ..runtime.context import ActorContext
from ..transport.framing import CLOSE_TOKEN_EXPIRED, text_frame
from ..transport.outlet import Outlet
from ..transport.socket_reader import SocketReader
from .actor_messages import ClientFrame, ClientGone, TokenExpired

log = logging.getLogger("realtime.connection")


class ConnectionActor(TracedActor):
    """The server side of one WebSocket."""

    kind = "connection"

    def __init__(self, ctx: ActorContext, connection_id: str, identity: Identity, outlet: Outlet,
                 subscriptions: tuple[tuple[str, Since | None], ...] = (), *, inline: bool = False) -> None:
        super().__init__(ctx, connection_id, inline=inline)
        self._initial = subscriptions
        self.reader: SocketReader | None = None
        self.connection_id = connection_id
        self.identity = identity
        self.outlet = outlet
        self.rooms: set[str] = set()
        self._typed = False
        """Sent TYPING_START: the PresenceActor hears when this socket ends (a typer who leaves stops)."""
        self._awaiting_home: set[str] = set(identity.home_rooms)
        self._expiry: Any = None  # a libev timer: no greenlet per connection

    # --- lifecycle -------------------------------------------------------------------------------

    def started(self) -> None:
        hub = self.ctx.hub
        assert hub is not None
        self.rooms.update(self.identity.home_rooms)
        self.send(hub, RegisterConnection(self.connection_id, self.actor_ref, self.outlet, self.identity), "hub")
        for room, since in self._initial:  # an SSE stream's ?rooms=, already authorized by the web layer
            self.rooms.add(room)
            join = Join(room, self.connection_id, self.outlet, since)
            if not presence.enter(self, join, False):
                self.send(hub, join, "hub")
        self._arm_expiry(self.identity.exp)
        if self.reader is not None:
            self.reader.start()
        self.ctx.metrics.sse_connections += not self.inline  # SSE streams run on their own greenlet
        log.info("connected", extra=connection_fields(self.connection_id, self.identity,
                                                      transport="websocket" if self.inline else "sse"))

    def stopping(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self._expiry is not None:
            self._expiry.close()
            self._expiry = None

    def handle(self, message: Any) -> Any:
        if isinstance(message, ClientFrame):
            self.ctx.metrics.frames_in += 1
            if message.limited:
                self._rate_limited()
            else:
                self._client_frame(message.text)
            if self.reader is not None and self.reader.paused:
                self.reader.resume_if_drained()
        elif isinstance(message, Joined):
            self._home_joined(message.rooms)
        elif isinstance(message, ClientGone):
            if message.code is not None:
                self.outlet.close(message.code, message.reason)
            self._gone()
        elif isinstance(message, CloseConnection):
            self.outlet.close(message.code, message.reason)
        elif isinstance(message, TokenExpired):
            if message.exp == self.identity.exp:
                self.outlet.close(CLOSE_TOKEN_EXPIRED, "token expired")
        else:
            return super().handle(message)
        return None

    def _home_joined(self, rooms: tuple[str, ...]) -> None:
        self._awaiting_home.difference_update(rooms)
        if self._awaiting_home or not self.outlet.held:
            return
        self.outlet.release(text_frame(server_frame("CONNECTED", {
            "connectionId": self.connection_id,
            "userId": self.identity.user_id,
            "role": self.identity.role,
            "rooms": list(self.identity.home_rooms),
            "heartbeat": self.ctx.settings.heartbeat_interval,
            "exp": self.identity.exp,
        })))

    def _gone(self) -> None:
        self.outlet.closing = True  # no new frames; what is queued (a close frame) is still written
        self.ctx.metrics.disconnected(self.outlet.close_code, sse=not self.inline)
        log.info("disconnected", extra=connection_fields(self.connection_id, self.identity,
                                                         **close_fields(self.outlet.close_code)))
        self.ctx.tracer.connection_closed(self, self.rooms, self.outlet.close_code, self.outlet.close_reason,
                                          "websocket" if self.inline else "sse")
        hub = self.ctx.hub
        if hub is not None:
            rooms = presence.left(self, tuple(self.rooms), self._typed)  # presence rooms: through the PresenceActor
            self.send(hub, UnregisterConnection(self.connection_id, rooms), "hub")
        self.rooms.clear()
        self.stop()

    # --- client frames ---------------------------------------------------------------------------

    def _client_frame(self, text: str | None) -> None:
        frame_id = None
        try:
            if text is None:
                raise BadRequest("binary frames are not accepted; send JSON text")
            type_, data, frame_id = parse_client_frame(text, self.ctx.settings.max_json_depth)
            self._dispatch(type_, data, frame_id)
        except RealtimeError as exc:
            self.ctx.metrics.refused(exc.code)
            log.info("refused: %s", exc.message, extra=connection_fields(self.connection_id, self.identity,
                                                                         code=exc.code, **frame_fields(text)))
            self.trace_refusal(exc.code, exc.message, text)
            self._answer(text_frame(error_frame(exc.code, exc.message, frame_id)))

    def _answer(self, frame: bytes) -> None:
        """An answer to the client's frame: written at once unless more of its frames wait in the mailbox
        (then the answers share one write at the end of the loop iteration)."""
        self.outlet.offer(frame, now=not self.mailbox_depth())

    def _dispatch(self, type_: str, data: dict[str, Any], frame_id: FrameId) -> None:
        if type_ not in CLIENT_TYPES:
            raise UnknownType(f"unknown frame type {type_[:40]!r}; expected one of {', '.join(sorted(CLIENT_TYPES))}")
        if type_ == "PING":
            self._answer(text_frame(server_frame("PONG", {"ref": frame_id} if frame_id is not None else {})))
        elif type_ == "SUBSCRIBE":
            self._subscribe(data, frame_id)
        elif type_ == "UNSUBSCRIBE":
            self._unsubscribe(data, frame_id)
        elif type_ in ("TYPING_START", "TYPING_STOP"):
            self._typing(type_, data)
        elif type_ == "AUTH":
            self._auth(data, frame_id)
        elif type_ in ("CLAIM", "RELEASE"):
            presence.claim_frame(self, type_, data, frame_id)
        elif type_ == "ACK":
            record_ack(self, data)

    def _subscribe(self, data: dict[str, Any], frame_id: FrameId) -> None:
        room = self.ctx.policy.check(self.identity, data.get("room"))
        since = parse_since(data.get("since"))
        watch = presence.parse_watch(data)
        if room not in self.rooms and len(self.rooms) >= self.ctx.settings.max_rooms_per_connection:
            raise Forbidden(f"subscription limit reached ({self.ctx.settings.max_rooms_per_connection} rooms)")
        self.rooms.add(room)
        join = Join(room, self.connection_id, self.outlet, since, frame_id)
        if not presence.enter(self, join, watch):
            self.tell_hub(join)

    def _unsubscribe(self, data: dict[str, Any], frame_id: FrameId) -> None:
        room = data.get("room")
        parse_room(room, self.ctx.policy.prefixes)
        if room in self.rooms:
            self.rooms.discard(room)
            leave = Leave(room, self.connection_id, answer=True, frame_id=frame_id)
            if not presence.leave(self, leave):
                self.tell_hub(leave)
        else:
            assert isinstance(room, str)  # parse_room has checked it
            self._answer(text_frame(unsubscribed_frame(room, frame_id)))

    def _typing(self, type_: str, data: dict[str, Any]) -> None:
        contact = data.get("contactId")
        if isinstance(contact, int) and not isinstance(contact, bool):
            contact = str(contact)
        if not isinstance(contact, str):
            raise BadRequest("'contactId' must be a string", fields={"contactId": "required string"})
        room = self.ctx.policy.check(self.identity, f"contact:{contact}")
        payload = {"contactId": contact, "userId": self.identity.user_id}
        self.tell_hub(Publish(room, type_, payload))
        self._typed = presence.typed(self, room, type_ == "TYPING_START") or self._typed

    def _auth(self, data: dict[str, Any], frame_id: FrameId) -> None:
        token = data.get("token")
        if not isinstance(token, str):
            raise BadRequest("'token' must be a string", fields={"token": "required string"})
        try:
            fresh = self.ctx.verifier.verify(token)
        except Unauthorized as exc:
            raise BadRequest(exc.message) from None
        if fresh.user_id != self.identity.user_id or fresh.role != self.identity.role:
            raise Forbidden("AUTH must carry a token for the same user and role; reconnect to change them")
        self.identity = fresh
        self._arm_expiry(fresh.exp)
        answer: dict[str, Any] = {"exp": fresh.exp}
        if frame_id is not None:
            answer["ref"] = frame_id
        self._answer(text_frame(server_frame("AUTHENTICATED", answer)))

    # --- limits ----------------------------------------------------------------------------------

    def _rate_limited(self) -> None:
        """A message the reader's frame budget refused (it charges every frame, fragments and pings too,
        and closes with 1008 after ``RATE_LIMIT_STRIKES`` refusals in a row): answered, never read."""
        self.trace_refusal("RATE_LIMITED", "too many frames: not read", None, read=False)
        self._answer(text_frame(error_frame(
            "RATE_LIMITED", f"more than {self.ctx.settings.rate_limit_per_second:g} frames per second")))

    def _arm_expiry(self, exp: int) -> None:
        if self._expiry is not None:
            self._expiry.close()
        delay = max(0.0, exp + self.ctx.settings.jwt_leeway - time.time())
        self._expiry = gevent.get_hub().loop.timer(delay)
        self._expiry.start(self._expired, exp)

    def _expired(self, exp: int) -> None:
        """Runs in the event loop itself (a timer callback): only a non-blocking tell."""
        try:
            self.actor_ref.tell(TokenExpired(exp))
        except Exception:  # noqa: BLE001 (already stopped)
            pass

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "userId": self.identity.user_id, "role": self.identity.role,
                "rooms": sorted(self.rooms), "outbox": self.outlet.queued}

