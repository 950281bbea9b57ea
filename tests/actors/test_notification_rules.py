"""Notification rules without a server: validation, preferences, quiet hours across midnight."""

from datetime import UTC, datetime

import pytest

from actors.errors import BadRequest
from actors.notifications.rules import (
    DEFAULT_PREFERENCES,
    SKIP_IN_APP_DISABLED,
    SKIP_TYPE_DISABLED,
    QuietHours,
    parse_draft,
    parse_idempotency_key,
    parse_preferences,
)

ROLES = ("ADMIN", "EMPLOYEE")


def fields_of(call):
    with pytest.raises(BadRequest) as caught:
        call()
    return caught.value.fields


def test_a_valid_draft_defaults_priority_and_dedupes_recipients():
    draft = parse_draft({"userIds": ["7", "8", "7"], "title": "t", "message": "m", "type": "billing.invoice"}, ROLES)
    assert draft.user_ids == ("7", "8") and draft.role is None and draft.priority == "NORMAL"


def test_every_bad_field_is_named_at_once():
    fields = fields_of(lambda: parse_draft({"userId": 7, "title": "", "message": 3, "type": "has space",
                                            "priority": "CRITICAL", "data": [1], "link": 5}, ROLES))
    assert set(fields) == {"userId", "title", "message", "type", "priority", "data", "link"}
    assert "unknown priority" in fields["priority"]


@pytest.mark.parametrize("recipients", [{}, {"userId": "1", "role": "ADMIN"}, {"userIds": []}, {"role": "NOBODY"}])
def test_recipients_must_be_exactly_one_valid_kind(recipients):
    body = {"title": "t", "message": "m", "type": "X", **recipients}
    assert set(fields_of(lambda: parse_draft(body, ROLES))) & {"userId", "userIds", "role"}


def test_fingerprint_ignores_key_order_in_data_but_not_content():
    base = {"userId": "1", "title": "t", "message": "m", "type": "X"}
    a = parse_draft({**base, "data": {"a": 1, "b": 2}}, ROLES).fingerprint()
    b = parse_draft({**base, "data": {"b": 2, "a": 1}}, ROLES).fingerprint()
    c = parse_draft({**base, "data": {"a": 1, "b": 3}}, ROLES).fingerprint()
    assert a == b != c


def test_idempotency_key_must_be_printable_ascii():
    assert parse_idempotency_key("order-17/retry") == "order-17/retry"
    assert "Idempotency-Key" in fields_of(lambda: parse_idempotency_key("with space"))
    assert "Idempotency-Key" in fields_of(lambda: parse_idempotency_key("x" * 256))


def test_quiet_hours_spanning_midnight_in_a_time_zone():
    quiet = QuietHours("22:00", "07:00", "Asia/Tokyo")  # UTC+9, no daylight saving
    assert quiet.contains(datetime(2024, 1, 1, 13, 30, tzinfo=UTC))  # 22:30 in Tokyo
    assert quiet.contains(datetime(2024, 1, 1, 15, 30, tzinfo=UTC))  # 00:30 the next day in Tokyo
    assert quiet.contains(datetime(2024, 1, 1, 21, 59, tzinfo=UTC))  # 06:59
    assert not quiet.contains(datetime(2024, 1, 1, 22, 0, tzinfo=UTC))  # 07:00: the end is not quiet
    assert not quiet.contains(datetime(2024, 1, 1, 3, 0, tzinfo=UTC))  # 12:00
    assert not quiet.contains(datetime(2024, 1, 1, 12, 59, tzinfo=UTC))  # 21:59


def test_quiet_hours_follow_daylight_saving():
    quiet = QuietHours("23:00", "06:00", "Europe/Berlin")
    assert quiet.contains(datetime(2024, 1, 15, 22, 30, tzinfo=UTC))  # 23:30 CET (UTC+1)
    assert not quiet.contains(datetime(2024, 7, 15, 20, 30, tzinfo=UTC))  # 22:30 CEST (UTC+2)
    assert quiet.contains(datetime(2024, 7, 15, 21, 30, tzinfo=UTC))  # 23:30 CEST


def test_quiet_hours_silence_all_but_urgent_and_switches_shape_delivery():
    prefs = parse_preferences({"quietHours": {"start": "00:00", "end": "23:59", "timezone": "UTC"},
                               "types": {"LEAD_UPDATED": {"toast": False}}, "minPriority": {"browser": "URGENT"}})
    at = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert prefs.delivery("X", "HIGH", at).silent
    urgent = prefs.delivery("X", "URGENT", at)
    assert not urgent.silent and urgent.toast and urgent.browser
    outside = datetime(2024, 1, 1, 23, 59, 30, tzinfo=UTC)
    high = prefs.delivery("X", "HIGH", outside)
    assert not high.silent and high.toast and not high.browser  # browser needs URGENT
    assert not prefs.delivery("LEAD_UPDATED", "HIGH", outside).toast
    assert not DEFAULT_PREFERENCES.delivery("X", "LOW", at).toast  # default minimum for toast is NORMAL


def test_storage_switches():
    assert parse_preferences({"channels": {"inApp": False}}).skip_reason("X") == SKIP_IN_APP_DISABLED
    prefs = parse_preferences({"types": {"CAMPAIGN_PROGRESS": False}})
    assert prefs.skip_reason("CAMPAIGN_PROGRESS") == SKIP_TYPE_DISABLED and prefs.skip_reason("X") is None
    assert prefs.hidden_types() == frozenset({"CAMPAIGN_PROGRESS"})


@pytest.mark.parametrize("body, field", [
    ({"quietHours": {"start": "24:00", "end": "07:00", "timezone": "UTC"}}, "quietHours.start"),
    ({"quietHours": {"start": "7:00", "end": "07:00", "timezone": "UTC"}}, "quietHours.start"),
    ({"quietHours": {"start": "22:00", "end": "22:00", "timezone": "UTC"}}, "quietHours.end"),
    ({"quietHours": {"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus"}}, "quietHours.timezone"),
    ({"quietHours": {"start": "22:00", "end": "07:00", "timezone": "../../etc/passwd"}}, "quietHours.timezone"),
    ({"quietHours": {"start": "22:00", "end": "07:00"}}, "quietHours.timezone"),
    ({"channels": {"inApp": "yes"}}, "channels.inApp"),
    ({"channels": {"sms": True}}, "channels.sms"),
    ({"minPriority": {"toast": "LOUD"}}, "minPriority.toast"),
    ({"types": {"X": {"inApp": 1}}}, "types.X.inApp"),
    ({"quiet_hours": None}, "quiet_hours"),
])
def test_bad_preferences_name_the_field(body, field):
    assert field in fields_of(lambda: parse_preferences(body))


def test_preferences_round_trip_through_their_stored_form():
    prefs = parse_preferences({"channels": {"browser": False}, "types": {"X": False, "Y": {"toast": False}},
                               "minPriority": {"toast": "HIGH"},
                               "quietHours": {"start": "22:00", "end": "07:00", "timezone": "America/New_York"}})
    assert parse_preferences(prefs.to_dict()) == prefs
