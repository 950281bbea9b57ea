"""ACK: what a client sends to say which notifications a device got and showed, checked before anything is queued."""

from __future__ import annotations

import re
from typing import Any

from ..errors import BadRequest
from ..presence.client_frames import Sender
from .actor_messages import RecordAck

DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
"""A device id names a browser (realtime.js keeps one per browser profile): the same alphabet as room ids."""
NOTIFICATION_ID = re.compile(r"[1-9][0-9]{0,17}\Z")


def parse_ack(data: dict[str, Any], most: int) -> tuple[tuple[int, ...], str, bool]:
    """ACK's ``ids`` (notification ids, as strings or integers), ``device`` and ``seen`` (default true)."""
    ids = data.get("ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= most:
        raise BadRequest(f"'ids' must be a list of 1 to {most} notification ids",
                         fields={"ids": f"1 to {most} notification ids"})
    numbers: list[int] = []
    for value in ids:
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not NOTIFICATION_ID.match(text):
            raise BadRequest("'ids' must hold notification ids", fields={"ids": "notification ids"})
        numbers.append(int(text))
    device = data.get("device")
    if not isinstance(device, str) or not DEVICE_ID.match(device):
        raise BadRequest("'device' must be 1-64 characters from A-Z a-z 0-9 _ -",
                         fields={"device": "required: 1-64 characters from A-Z a-z 0-9 _ -"})
    seen = data.get("seen", True)
    if not isinstance(seen, bool):
        raise BadRequest("'seen' must be true or false", fields={"seen": "must be a boolean"})
    return tuple(sorted(set(numbers))), device, seen


def record_ack(sender: Sender, data: dict[str, Any]) -> None:
    """ACK ``{ids, device, seen?}``: checked here (a bad one is an ERROR), stored by the DeliveryRecorder; no answer.

    Without a database there is nothing to record into, and an ACK is dropped as quietly as it is taken.
    """
    ids, device, seen = parse_ack(data, sender.ctx.settings.ack_max_ids)
    deliveries = sender.ctx.deliveries
    if deliveries is not None:
        sender.send(deliveries, RecordAck(sender.identity, ids, device, seen), "deliveries")
