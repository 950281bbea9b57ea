"""ConnectionActor: its own contract, read off a real socket with a real Hub behind it (no HTTP in between).

What the client may send, what each mistake costs it (an ERROR that keeps the socket, or a close code),
who may join which room, and how the actor's life ends. The exhaustive table of error codes over a
real server is tests/web/test_ws_frames.py; here each rule is checked where it is enforced.
"""

from __future__ import annotations

import json
import time

import pytest

from actors.rooms.actor_messages import Join, Shutdown
from actors.transport.framing import OP_BINARY, OP_CLOSE
from tests.actors.parts import client_frame, identity
from tests.conftest import token, wait_until


def pong(peer, frame_id="alive?"):
    """The connection still answers: the next frame is the PONG for this PING."""
    peer.send("PING", id=frame_id)
    answer = peer.json()
    assert answer == {"type": "PONG", "data": {"ref": frame_id}, "timestamp": answer["timestamp"]}


def error_message(room):
    return f"user 42 (EMPLOYEE) may not join {room}"


def error(peer):
    frame = peer.json()
    assert frame["type"] == "ERROR", frame
    return frame["data"]


def test_connected_comes_first_once_the_home_rooms_have_joined(start_hub, serve):
    hub = start_hub(heartbeat_interval=7)
    who = identity("42", "EMPLOYEE")
    served = serve(hub, who)
    assert served.connected == {"connectionId": served.connected["connectionId"], "userId": "42",
                                "role": "EMPLOYEE", "rooms": ["user:42", "role:EMPLOYEE"], "heartbeat": 7,
                                "exp": who.exp}
    assert hub.status()["connections"] == 1 and hub.ctx.metrics.connections == 1
    assert {a["id"] for a in hub.ctx.tracer.actors() if a["kind"] == "connection"} == {
        served.connected["connectionId"]}


@pytest.mark.parametrize("text, code, frame_id", [
    ("not json", "BAD_REQUEST", None),
    ('["PING"]', "BAD_REQUEST", None),
    ('{"type": "PING", "data": 5, "id": "d"}', "BAD_REQUEST", None),  # the id is read after the envelope
    ('{"type": "PING", "id": {"not": "an id"}}', "BAD_REQUEST", None),
    ('{"type": "NOPE", "id": "x"}', "UNKNOWN_TYPE", "x"),
    ('{"type": "STATS_UPDATE", "id": 3}', "UNKNOWN_TYPE", 3),  # a server event type is not a client frame
    ('{"type": "SUBSCRIBE", "data": {"room": "lead:1", "since": {"epoch": "e"}}, "id": "s"}', "BAD_REQUEST", "s"),
    ('{"type": "UNSUBSCRIBE", "data": {"room": "nope:1"}, "id": "u"}', "INVALID_ROOM", "u"),
    ('{"type": "TYPING_START", "data": {"contactId": true}}', "BAD_REQUEST", None),
    ('{"type": "AUTH", "data": {"token": "garbage"}, "id": "a"}', "BAD_REQUEST", "a"),
])
def test_a_bad_frame_is_answered_with_an_error_and_the_socket_stays(start_hub, serve, text, code, frame_id):
    hub = start_hub()
    served = serve(hub)
    served.peer.send_frame(text.encode())
    answer = error(served.peer)
    assert answer["code"] == code and answer["message"], answer
    assert answer.get("ref") == frame_id
    pong(served.peer)
    assert hub.ctx.metrics.frames_in == 2


def test_a_binary_message_is_a_bad_request(start_hub, serve):
    served = serve(start_hub())
    served.peer.send_frame(b"\x00\x01", OP_BINARY)
    assert error(served.peer)["code"] == "BAD_REQUEST"
    pong(served.peer)


# --- rooms ---------------------------------------------------------------------------------------


def test_subscribe_is_authorized_by_the_room_policy_before_the_hub_hears_of_it(start_hub, serve):
    hub = start_hub()
    served = serve(hub, identity("42", "EMPLOYEE"))
    for room in ("user:43", "role:ADMIN"):
        served.peer.send("SUBSCRIBE", {"room": room}, id="no")
        assert error(served.peer) == {"code": "FORBIDDEN", "message": error_message(room), "ref": "no"}
    served.peer.send("SUBSCRIBE", {"room": "secrets:1"})
    assert error(served.peer)["code"] == "INVALID_ROOM"
    assert hub.status()["rooms"] == 2  # the home rooms only: nothing refused reached the hub
    served.peer.send("SUBSCRIBE", {"room": "lead:9"}, id="yes")
    answer = served.peer.json()
    assert answer["type"] == "SUBSCRIBED" and answer["data"]["room"] == "lead:9" and answer["data"]["ref"] == "yes"


def test_an_admin_joins_any_valid_room_and_token_patterns_extend_the_policy(start_hub, serve):
    hub = start_hub(room_prefixes=("team",))
    admin = serve(hub, identity("1", "ADMIN"))
    admin.peer.send("SUBSCRIBE", {"room": "user:43"})
    assert admin.peer.json()["type"] == "SUBSCRIBED"
    service = serve(hub, identity("s", "SERVICE", room_patterns=("team:*",)))
    service.peer.send("SUBSCRIBE", {"room": "team:sales"})
    assert service.peer.json()["type"] == "SUBSCRIBED"
    service.peer.send("SUBSCRIBE", {"room": "lead:1"})
    assert error(service.peer)["code"] == "FORBIDDEN"  # CRM rooms are open to EMPLOYEE, not to every role


def test_the_subscription_limit_counts_home_rooms_and_not_a_room_held_already(start_hub, serve):
    hub = start_hub(max_rooms_per_connection=3)
    served = serve(hub)
    served.peer.send("SUBSCRIBE", {"room": "lead:1"})
    assert served.peer.json()["type"] == "SUBSCRIBED"
    served.peer.send("SUBSCRIBE", {"room": "lead:1"})  # held already: not one more
    assert served.peer.json()["type"] == "SUBSCRIBED"
    served.peer.send("SUBSCRIBE", {"room": "lead:2"}, id="x")
    answer = error(served.peer)
    assert answer["code"] == "FORBIDDEN" and "3 rooms" in answer["message"] and answer["ref"] == "x"


def test_unsubscribe_goes_through_the_hub_only_for_a_room_held(start_hub, serve):
    hub = start_hub()
    served = serve(hub)
    served.peer.send("SUBSCRIBE", {"room": "lead:1"})
    served.peer.json()
    served.peer.send("UNSUBSCRIBE", {"room": "lead:1"}, id="u1")
    assert served.peer.json()["data"] == {"room": "lead:1", "ref": "u1"}
    assert hub.status()["rooms"] == 2
    served.peer.send("UNSUBSCRIBE", {"room": "lead:2"}, id="u2")  # never held: answered by the connection
    assert served.peer.json()["data"] == {"room": "lead:2", "ref": "u2"}


def test_typing_is_published_to_the_contact_room_as_the_tokens_user(start_hub, serve, members):
    hub = start_hub()
    watcher = members(hub.ctx)
    hub.hub.tell(Join("contact:123", watcher.connection_id, watcher.outlet))
    assert watcher.peer.json()["type"] == "SUBSCRIBED"
    typist = serve(hub, identity("42", "EMPLOYEE"))
    typist.peer.send("TYPING_START", {"contactId": 123, "userId": "someone else"})
    event = watcher.peer.json()
    assert (event["type"], event["room"], event["data"]) == ("TYPING_START", "contact:123",
                                                             {"contactId": "123", "userId": "42"})
    service = serve(hub, identity("s", "SERVICE"))
    service.peer.send("TYPING_STOP", {"contactId": "123"})
    assert error(service.peer)["code"] == "FORBIDDEN"
    assert watcher.peer.silent()


# --- limits and the end of a connection ----------------------------------------------------------


def test_the_rate_limit_answers_rate_limited_then_closes_with_1008(start_hub, serve):
    hub = start_hub(rate_limit_per_second=1, rate_limit_burst=3, rate_limit_strikes=3)
    served = serve(hub)
    for n in range(8):
        served.peer.send("PING", id=n)
    assert [served.peer.json()["type"] for _ in range(3)] == ["PONG"] * 3
    assert [error(served.peer)["code"] for _ in range(2)] == ["RATE_LIMITED"] * 2
    assert served.peer.close_code() == 1008
    assert hub.ctx.metrics.rate_limited >= 3


def test_auth_extends_the_same_user_and_refuses_another(start_hub, serve):
    hub = start_hub()
    served = serve(hub, identity("42", "EMPLOYEE", ttl=60))
    served.peer.send("AUTH", {"token": token("42", "EMPLOYEE", ttl=7200)}, id="a1")
    answer = served.peer.json()
    assert answer["type"] == "AUTHENTICATED" and answer["data"]["ref"] == "a1"
    assert answer["data"]["exp"] > time.time() + 3600
    served.peer.send("AUTH", {"token": token("43", "EMPLOYEE")}, id="a2")
    assert error(served.peer)["code"] == "FORBIDDEN"
    assert [a for a in hub.ctx.tracer.actors() if a["kind"] == "connection"][0]["userId"] == "42"


def test_an_expired_token_closes_with_4001(start_hub, serve):
    hub = start_hub(jwt_leeway=0)
    served = serve(hub, identity(ttl=1.5))  # exp is whole seconds: 0.5 to 1.5 s from now
    assert served.peer.close_code(timeout=3) == 4001


def test_the_hubs_shutdown_closes_the_socket_with_its_code(start_hub, serve):
    hub = start_hub()
    served = serve(hub)
    hub.hub.ask(Shutdown(1001), timeout=2)
    frame = served.peer.frame()
    assert frame.opcode == OP_CLOSE and frame.close_code == 1001 and b"server shutting down" in frame.payload


def test_a_client_close_is_echoed_and_the_actor_stops(start_hub, serve):
    hub = start_hub()
    served = serve(hub)
    served.peer.send_frame(b"\x10\x04bye", OP_CLOSE)  # 4100
    assert served.peer.close_code() == 4100
    served.greenlet.join(timeout=2)
    assert served.greenlet.dead
    assert hub.status()["connections"] == 0 and hub.ctx.metrics.connections == 0


def test_a_client_that_goes_leaves_nothing_behind(start_hub, serve):
    hub = start_hub()
    served = serve(hub)
    served.peer.send("SUBSCRIBE", {"room": "lead:1"})
    served.peer.json()
    served.peer.sock.close()
    served.greenlet.join(timeout=2)
    assert served.greenlet.dead
    assert wait_until(lambda: hub.status() == {"connections": 0, "rooms": 0, "roomActors": 0, "roomsCreated": 0})
    assert hub.ctx.metrics.connections == 0
    assert [a["kind"] for a in hub.ctx.tracer.actors()] == ["hub"]


def test_answers_to_a_burst_of_frames_keep_their_order(start_hub, serve):
    served = serve(start_hub())
    served.peer.sock.sendall(b"".join(client_frame(json.dumps({"type": "PING", "id": n}).encode())
                                      for n in range(20)))
    assert [served.peer.json()["data"]["ref"] for _ in range(20)] == list(range(20))
