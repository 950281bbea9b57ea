"""A position in a room's numbering, as a client names it to resume (``since``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:

    pass

@dataclass(frozen=True, slots=True)
class Since:
    """The last position a client saw in a room."""

    epoch: str
    offset: int

