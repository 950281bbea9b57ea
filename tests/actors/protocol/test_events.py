import pytest

from actors.config import DEFAULT_ROOM_PREFIXES
from actors.errors import BadRequest, InvalidRoom, UnknownType
from actors.protocol.events import CATALOGUE, EVENT_TYPES, EXAMPLES, SUPERSEDING_TYPES, catalogue_table, prepare

PREFIXES = DEFAULT_ROOM_PREFIXES

PROTOCOL_EVENT_TYPES = {
    "NOTIFICATION", "MESSAGE_RECEIVED", "MESSAGE_SENT", "MESSAGE_STATUS_UPDATE", "TYPING_START", "TYPING_STOP",
    "CAMPAIGN_STARTED", "CAMPAIGN_PROGRESS", "CAMPAIGN_COMPLETED", "CAMPAIGN_FAILED", "LEAD_CREATED",
    "LEAD_UPDATED", "LEAD_ASSIGNED", "LEAD_CONVERTED", "SYSTEM_ALERT", "STATS_UPDATE", "CONTACT_UPDATED",
    "NOTIFICATION_READ",
}
"""The event types docs/protocol.md names: the catalogue must carry exactly these."""


def test_every_event_type_has_a_schema_and_a_valid_example():
    assert set(CATALOGUE) == set(EXAMPLES) == EVENT_TYPES == PROTOCOL_EVENT_TYPES


def test_superseding_types_are_the_coalesced_updates() -> None:
    """Statistics and campaign progress replace their predecessors; alerts and notifications never are."""
    assert SUPERSEDING_TYPES == {"STATS_UPDATE", "CAMPAIGN_PROGRESS"}
    assert CATALOGUE["STATS_UPDATE"].route == "stats" and CATALOGUE["CAMPAIGN_PROGRESS"].route == "coalesce"
    assert all(spec.route == "room" for type_, spec in CATALOGUE.items() if type_ not in SUPERSEDING_TYPES)
    for type_, example in EXAMPLES.items():
        assert prepare(type_, example, None, PREFIXES)


@pytest.mark.parametrize("type_, data, rooms", [
    ("MESSAGE_RECEIVED", {"messageId": 1, "contactId": 123}, ["contact:123"]),
    ("MESSAGE_STATUS_UPDATE", {"messageId": "m", "contactId": "c1", "status": "READ"}, ["contact:c1"]),
    ("CAMPAIGN_PROGRESS", {"campaignId": "7", "sent": 3}, ["campaign:7"]),
    ("LEAD_CREATED", {"leadId": "9"}, ["lead:9"]),
    ("LEAD_ASSIGNED", {"leadId": "9", "assignedTo": 42}, ["lead:9", "user:42"]),
    ("SYSTEM_ALERT", {"level": "error", "message": "down"}, ["role:ADMIN"]),
    ("STATS_UPDATE", {"anything": 1}, ["stats:dashboard"]),
    ("CONTACT_UPDATED", {"contactId": "5"}, ["contact:5"]),
    ("NOTIFICATION", {"role": "EMPLOYEE"}, ["role:EMPLOYEE"]),
    ("NOTIFICATION_READ", {"userId": "42"}, ["user:42"]),
])
def test_default_rooms(type_, data, rooms):
    assert prepare(type_, data, None, PREFIXES) == rooms


def test_a_given_room_wins_over_the_default():
    assert prepare("LEAD_ASSIGNED", EXAMPLES["LEAD_ASSIGNED"], "lead:other", PREFIXES) == ["lead:other"]


def test_field_errors_name_every_bad_field():
    with pytest.raises(BadRequest) as err:
        prepare("CAMPAIGN_PROGRESS", {"sent": "many", "total": True}, None, PREFIXES)
    assert err.value.fields == {"data.campaignId": "required", "data.sent": "must be a number",
                                "data.total": "must be a number"}


@pytest.mark.parametrize("type_, data, room, error", [
    ("NOPE", {}, None, UnknownType),
    ("LEAD_CREATED", [], None, BadRequest),
    ("LEAD_CREATED", {"leadId": {"x": 1}}, None, BadRequest),
    ("LEAD_CREATED", {"leadId": "has space"}, None, InvalidRoom),
    ("LEAD_CREATED", {"leadId": "1"}, "shop:1", InvalidRoom),
    ("NOTIFICATION", {"title": "t"}, None, BadRequest),
])
def test_bad_events(type_, data, room, error):
    with pytest.raises(error):
        prepare(type_, data, room, PREFIXES)


def test_documented_table_is_up_to_date():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "events.md").read_text()
    assert catalogue_table() in doc, "run: python -m actors.protocol.events_docs > docs/events.md"
