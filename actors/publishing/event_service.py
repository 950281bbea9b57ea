"""EventService: the in-process API for publishing events, one method per event type.

Code running in the server process (a provider, a plugin, the demo simulator) calls these instead
of building dicts; each goes through ``ActorSystem.publish``, the same validation and routing as
``POST /api/live-sync``. Keyword arguments beyond the named ones are sent along in ``data``. Each
method returns the first room's ``{room, epoch, offset, delivered}`` (plus ``rooms`` when the event
went to several), or None with ``wait=False`` (fire and forget).
"""

from __future__ import annotations

from typing import Any, Protocol

Id = str | int
Answer = dict[str, Any] | None


class Publisher(Protocol):
    """Where the typed methods end: ``ActorSystem`` (its ``publish`` is the one validated path)."""

    def publish(self, type_: object, data: object, room: object = None, *,
                wait: bool = True) -> dict[str, Any] | None: ...


class EventService:
    """Typed publishing for code inside the server process."""

    def __init__(self, system: Publisher, *, wait: bool = True) -> None:
        self._system = system
        self._wait = wait

    def publish(self, type_: str, data: dict[str, Any], room: str | None = None) -> Answer:
        """Any event type by name; the typed methods below all end here."""
        return self._system.publish(type_, data, room, wait=self._wait)

    def _send(self, type_: str, room: str | None, extra: dict[str, Any], **fields: Any) -> Answer:
        data = {key: value for key, value in fields.items() if value is not None}
        data.update(extra)
        return self.publish(type_, data, room)

    # --- messages --------------------------------------------------------------------------------

    def message_received(self, contact_id: Id, message_id: Id, content: str | None = None, *,
                         room: str | None = None, **extra: Any) -> Answer:
        return self._send("MESSAGE_RECEIVED", room, extra, contactId=contact_id, messageId=message_id,
                          content=content)

    def message_sent(self, contact_id: Id, message_id: Id, content: str | None = None, *,
                     room: str | None = None, **extra: Any) -> Answer:
        return self._send("MESSAGE_SENT", room, extra, contactId=contact_id, messageId=message_id, content=content)

    def message_status_update(self, contact_id: Id, message_id: Id, status: str, *, room: str | None = None,
                              **extra: Any) -> Answer:
        return self._send("MESSAGE_STATUS_UPDATE", room, extra, contactId=contact_id, messageId=message_id,
                          status=status)

    def typing_start(self, contact_id: Id, user_id: Id, *, room: str | None = None, **extra: Any) -> Answer:
        return self._send("TYPING_START", room, extra, contactId=contact_id, userId=user_id)

    def typing_stop(self, contact_id: Id, user_id: Id, *, room: str | None = None, **extra: Any) -> Answer:
        return self._send("TYPING_STOP", room, extra, contactId=contact_id, userId=user_id)

    # --- campaigns -------------------------------------------------------------------------------

    def campaign_started(self, campaign_id: Id, *, name: str | None = None, total: int | None = None,
                         room: str | None = None, **extra: Any) -> Answer:
        return self._send("CAMPAIGN_STARTED", room, extra, campaignId=campaign_id, name=name, total=total)

    def campaign_progress(self, campaign_id: Id, sent: int, total: int | None = None, *, failed: int | None = None,
                          room: str | None = None, **extra: Any) -> Answer:
        """Coalesced per campaign: at most one per COALESCE_INTERVAL, the latest always sent."""
        return self._send("CAMPAIGN_PROGRESS", room, extra, campaignId=campaign_id, sent=sent, total=total,
                          failed=failed)

    def campaign_completed(self, campaign_id: Id, *, sent: int | None = None, failed: int | None = None,
                           room: str | None = None, **extra: Any) -> Answer:
        return self._send("CAMPAIGN_COMPLETED", room, extra, campaignId=campaign_id, sent=sent, failed=failed)

    def campaign_failed(self, campaign_id: Id, error: str, *, room: str | None = None, **extra: Any) -> Answer:
        return self._send("CAMPAIGN_FAILED", room, extra, campaignId=campaign_id, error=error)

    # --- leads and contacts ----------------------------------------------------------------------

    def lead_created(self, lead_id: Id, *, name: str | None = None, room: str | None = None,
                     **extra: Any) -> Answer:
        return self._send("LEAD_CREATED", room, extra, leadId=lead_id, name=name)

    def lead_updated(self, lead_id: Id, changes: dict[str, Any] | None = None, *, room: str | None = None,
                     **extra: Any) -> Answer:
        return self._send("LEAD_UPDATED", room, extra, leadId=lead_id, changes=changes)

    def lead_assigned(self, lead_id: Id, assigned_to: Id, *, assigned_by: Id | None = None,
                      room: str | None = None, **extra: Any) -> Answer:
        """To ``lead:{lead_id}`` and to the assignee's ``user:{assigned_to}``."""
        return self._send("LEAD_ASSIGNED", room, extra, leadId=lead_id, assignedTo=assigned_to,
                          assignedBy=assigned_by)

    def lead_converted(self, lead_id: Id, *, contact_id: Id | None = None, room: str | None = None,
                       **extra: Any) -> Answer:
        return self._send("LEAD_CONVERTED", room, extra, leadId=lead_id, contactId=contact_id)

    def contact_updated(self, contact_id: Id, changes: dict[str, Any] | None = None, *, room: str | None = None,
                        **extra: Any) -> Answer:
        return self._send("CONTACT_UPDATED", room, extra, contactId=contact_id, changes=changes)

    # --- system ----------------------------------------------------------------------------------

    def system_alert(self, level: str, message: str, *, title: str | None = None, room: str | None = None,
                     **extra: Any) -> Answer:
        """To ``role:ADMIN`` unless a room is given; never coalesced or dropped."""
        return self._send("SYSTEM_ALERT", room, extra, level=level, message=message, title=title)

    def stats_update(self, figures: dict[str, Any], *, room: str | None = None) -> Answer:
        """Merged into the last known statistics; coalesced."""
        return self.publish("STATS_UPDATE", dict(figures), room)

    def notification(self, *, user_id: Id | None = None, role: str | None = None, room: str | None = None,
                     **data: Any) -> Answer:
        """A bare NOTIFICATION frame; stored notifications go through the notification center instead."""
        return self._send("NOTIFICATION", room, data, userId=user_id, role=role)

    def notification_read(self, user_id: Id, ids: list[Any], unread_count: int, *, room: str | None = None,
                          **extra: Any) -> Answer:
        return self._send("NOTIFICATION_READ", room, extra, userId=user_id, ids=ids, unreadCount=unread_count)
