"""The WebSocket frames of docs/protocol.md as pydantic models: the components of the API document.

These describe the wire; they do not parse it. A client frame is parsed on the hot path by
``frames.parse_client_frame`` (hand-written, checked field by field with the same rules), because a
socket's frames arrive thousands of times a second and most of them are a four-byte ``PING``.
``tests/web/test_frame_schemas.py`` holds the two together: the frames a real server sends match them, what
they allow a real server takes, and what the parser refuses they refuse.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from .schemas import IdType

FrameIdType = str | StrictInt | StrictFloat
Timestamp = Annotated[str, Field(description="UTC, ISO 8601 with milliseconds and Z",
                                 examples=["2026-11-26T04:19:48.319Z"])]
Room = Annotated[str, Field(description="prefix:id, e.g. lead:9", examples=["lead:9"])]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="allow")


class Position(BaseModel):
    """The last event a client saw in a room."""

    model_config = ConfigDict(title="Position")
    epoch: str
    offset: Annotated[StrictInt, Field(ge=0)]


class RoomData(BaseModel):
    model_config = ConfigDict(title="RoomData", extra="allow")
    room: Room


class SubscribeData(RoomData):
    model_config = ConfigDict(title="SubscribeData", extra="allow")
    since: Position | None = None
    presence: StrictBool | None = None


class PingFrame(_Frame):
    """Answered with PONG."""

    model_config = ConfigDict(title="PingFrame", extra="allow")
    type: Literal["PING"]
    data: dict[str, Any] | None = None
    id: FrameIdType | None = None


class SubscribeFrame(_Frame):
    """Join a room; with ``since``, replay what was missed (recovery)."""

    model_config = ConfigDict(title="SubscribeFrame", extra="allow")
    type: Literal["SUBSCRIBE"]
    data: SubscribeData
    id: FrameIdType | None = None


class UnsubscribeFrame(_Frame):
    model_config = ConfigDict(title="UnsubscribeFrame", extra="allow")
    type: Literal["UNSUBSCRIBE"]
    data: RoomData
    id: FrameIdType | None = None


class TypingData(BaseModel):
    model_config = ConfigDict(title="TypingData", extra="allow")
    contactId: IdType


class TypingFrame(_Frame):
    """Published to ``contact:{contactId}`` with ``userId`` added; no answer on success."""

    model_config = ConfigDict(title="TypingFrame", extra="allow")
    type: Literal["TYPING_START", "TYPING_STOP"]
    data: TypingData
    id: FrameIdType | None = None


class AuthData(BaseModel):
    model_config = ConfigDict(title="AuthData", extra="allow")
    token: str


class AuthFrame(_Frame):
    """A fresh token for the same user and role extends the connection (answered with AUTHENTICATED)."""

    model_config = ConfigDict(title="AuthFrame", extra="allow")
    type: Literal["AUTH"]
    data: AuthData
    id: FrameIdType | None = None


class ConnectedData(BaseModel):
    model_config = ConfigDict(title="ConnectedData")
    connectionId: str
    userId: str
    role: str
    rooms: list[Room]
    heartbeat: float = Field(description="HEARTBEAT_INTERVAL in seconds")
    exp: int = Field(description="the token's expiry, seconds since the epoch")


class ConnectedFrame(_Frame):
    """The server's first frame: the connection is already in ``user:{sub}`` and ``role:{role}``."""

    model_config = ConfigDict(title="ConnectedFrame", extra="allow")
    type: Literal["CONNECTED"]
    data: ConnectedData
    timestamp: Timestamp


class RefData(BaseModel):
    model_config = ConfigDict(title="RefData", extra="allow")
    ref: FrameIdType | None = Field(None, description="the id of the client frame this answers")


class PongFrame(_Frame):
    model_config = ConfigDict(title="PongFrame", extra="allow")
    type: Literal["PONG"]
    data: RefData
    timestamp: Timestamp


class SubscribedData(RefData):
    model_config = ConfigDict(title="SubscribedData", extra="allow")
    room: Room
    epoch: str
    offset: int = Field(description="the room's last offset when the subscription took effect")
    recovered: bool | None = Field(None, description="present when the client sent since")


class SubscribedFrame(_Frame):
    model_config = ConfigDict(title="SubscribedFrame", extra="allow")
    type: Literal["SUBSCRIBED"]
    data: SubscribedData
    timestamp: Timestamp


class UnsubscribedData(RefData):
    model_config = ConfigDict(title="UnsubscribedData", extra="allow")
    room: Room


class UnsubscribedFrame(_Frame):
    model_config = ConfigDict(title="UnsubscribedFrame", extra="allow")
    type: Literal["UNSUBSCRIBED"]
    data: UnsubscribedData
    timestamp: Timestamp


class AuthenticatedData(RefData):
    model_config = ConfigDict(title="AuthenticatedData", extra="allow")
    exp: int


class AuthenticatedFrame(_Frame):
    model_config = ConfigDict(title="AuthenticatedFrame", extra="allow")
    type: Literal["AUTHENTICATED"]
    data: AuthenticatedData
    timestamp: Timestamp


class ErrorData(RefData):
    model_config = ConfigDict(title="ErrorData", extra="allow")
    code: str = Field(description="BAD_REQUEST, UNKNOWN_TYPE, INVALID_ROOM, FORBIDDEN, RATE_LIMITED, ...")
    message: str


class ErrorFrame(_Frame):
    """A refused client frame; the connection stays open (docs/protocol.md, Errors)."""

    model_config = ConfigDict(title="ErrorFrame", extra="allow")
    type: Literal["ERROR"]
    data: ErrorData
    timestamp: Timestamp


CLIENT_FRAMES: tuple[type[BaseModel], ...] = (PingFrame, SubscribeFrame, UnsubscribeFrame, TypingFrame, AuthFrame)
SERVER_FRAMES: tuple[type[BaseModel], ...] = (ConnectedFrame, PongFrame, SubscribedFrame, UnsubscribedFrame,
                                              AuthenticatedFrame, ErrorFrame)
