from tests.conftest import token


def test_connected_first(connect):
    client = connect("42", "EMPLOYEE")
    data = client.connected["data"]
    assert data["userId"] == "42" and data["role"] == "EMPLOYEE"
    assert data["rooms"] == ["user:42", "role:EMPLOYEE"]
    assert token()
