"""Who a caller is, as established by a verified token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Identity:
    """The claims the server acts on; built only by ``TokenVerifier``."""

    user_id: str
    role: str
    exp: int
    room_patterns: tuple[str, ...] = ()

    @property
    def home_rooms(self) -> tuple[str, str]:
        """Rooms every connection is in from the start."""
        return (f"user:{self.user_id}", f"role:{self.role}")
