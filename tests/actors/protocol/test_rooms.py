import pytest

from actors.config import DEFAULT_ROOM_PREFIXES
from actors.errors import BadRequest, Forbidden, InvalidRoom
from actors.identity import Identity
from actors.protocol.rooms import RoomPolicy

POLICY = RoomPolicy(DEFAULT_ROOM_PREFIXES + ("team",))
EMPLOYEE = Identity("42", "EMPLOYEE", 0)
ADMIN = Identity("1", "ADMIN", 0)


@pytest.mark.parametrize("room", ["user:42", "role:EMPLOYEE", "contact:123", "campaign:c-1", "lead:9",
                                  "lead:" + "a" * 64])
def test_employee_rooms(room):
    assert POLICY.check(EMPLOYEE, room) == room


@pytest.mark.parametrize("room", ["user:43", "role:ADMIN", "team:x"])
def test_employee_forbidden(room):
    with pytest.raises(Forbidden):
        POLICY.check(EMPLOYEE, room)


@pytest.mark.parametrize("room", ["user:43", "role:EMPLOYEE", "team:x", "contact:1"])
def test_admin_joins_anything_valid(room):
    assert POLICY.check(ADMIN, room) == room


@pytest.mark.parametrize("room", ["nope:1", "user", "user:", "user:a b", "lead:" + "a" * 65, "lead:é", ":1",
                                  "contact:1:2"])
def test_invalid_rooms(room):
    with pytest.raises(InvalidRoom):
        POLICY.check(ADMIN, room)


def test_room_must_be_a_string():
    with pytest.raises(BadRequest):
        POLICY.check(ADMIN, 5)


def test_token_patterns_extend_the_policy():
    service = Identity("s1", "SERVICE", 0, room_patterns=("team:*", "user:7"))
    assert POLICY.check(service, "team:sales") == "team:sales"
    assert POLICY.check(service, "user:7") == "user:7"
    assert POLICY.check(service, "user:s1") == "user:s1"
    with pytest.raises(Forbidden):
        POLICY.check(service, "lead:1")  # CRM rooms are open to EMPLOYEE, not to every role
