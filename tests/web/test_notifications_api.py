"""The notification center over real HTTP and WebSockets, against a running server on SQLite and PostgreSQL."""

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import gevent
import pytest
import requests

from store import notifications as nt
from tests.client import WsClient
from tests.conftest import token


class Api:
    """REST calls as a given user; ``as_`` is (sub, role)."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method, path, as_=("1", "ADMIN"), headers=None, **kwargs):
        headers = {"Authorization": f"Bearer {token(*as_)}", **(headers or {})}
        return requests.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def create(self, as_=("1", "ADMIN"), headers=None, **body):
        body = {"title": "Lead assigned", "message": "Lead 9 is yours", "type": "LEAD_ASSIGNED", **body}
        return self.call("POST", "/api/notifications", as_, headers, json=body)

    def listing(self, user, query=""):
        response = self.call("GET", "/api/notifications" + query, as_=user)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def srv(start_server, database_url):
    return start_server(database_url=database_url)


@pytest.fixture
def api(srv):
    return Api(srv.port)


@pytest.fixture
def sockets(srv):
    """``sockets(sub, role)`` opens a real WebSocket and reads CONNECTED; all are closed afterwards."""
    opened = []

    def open_socket(sub, role="EMPLOYEE"):
        client = WsClient.open(srv.port, token(sub, role))
        opened.append(client)
        assert client.recv()["type"] == "CONNECTED"
        return client

    yield open_socket
    for client in opened:
        client.close()


def next_event(client, type_):
    return client.recv_until(lambda f: f["type"] == type_)


def rows(srv):
    return srv.store.run(lambda: nt.Notification.select().count())


ANN, BOB, BOSS = ("7", "EMPLOYEE"), ("8", "EMPLOYEE"), ("9", "ADMIN")


def test_create_answers_201_and_pushes_the_notification_with_the_unread_count(api, sockets):
    tab, phone = sockets("7"), sockets("7")
    response = api.create(userId="7", priority="HIGH", data={"leadId": 9}, link="/leads/9")
    assert response.status_code == 201, response.text
    [created] = response.json()["notifications"]
    assert created["userId"] == "7" and created["priority"] == "HIGH" and created["data"] == {"leadId": 9}
    for client in (tab, phone):
        event = next_event(client, "NOTIFICATION")
        assert event["room"] == "user:7"
        assert event["data"]["notification"] == created
        assert event["data"]["unreadCount"] == 1 and event["data"]["silent"] is False
        assert event["data"]["toast"] is True and event["data"]["browser"] is True
    listed = api.listing(ANN)
    assert listed["notifications"] == [created] and listed["unreadCount"] == 1


def test_a_role_notification_reaches_each_holder_with_their_own_count(api, sockets):
    ann, bob, boss = sockets(*ANN), sockets(*BOB), sockets(*BOSS)
    assert api.create(userId="8").status_code == 201
    assert next_event(bob, "NOTIFICATION")["data"]["unreadCount"] == 1
    response = api.create(role="EMPLOYEE", type="SYSTEM_ALERT")
    assert response.status_code == 201
    [shared] = response.json()["notifications"]
    assert shared["role"] == "EMPLOYEE" and shared["userId"] is None
    assert next_event(ann, "NOTIFICATION")["data"]["unreadCount"] == 1
    assert next_event(bob, "NOTIFICATION")["data"]["unreadCount"] == 2
    assert api.create(userId="9").status_code == 201
    first_for_boss = next_event(boss, "NOTIFICATION")  # the same room gets events in order: no role push came first
    assert first_for_boss["data"]["notification"]["userId"] == "9"

    assert api.call("PATCH", f"/api/notifications/{shared['id']}", ANN, json={"read": True}).status_code == 200
    assert next_event(ann, "NOTIFICATION_READ")["data"] == {"ids": [shared["id"]], "read": True, "unreadCount": 0}
    assert api.listing(BOB)["unreadCount"] == 2  # read state is per user
    assert api.call("DELETE", f"/api/notifications/{shared['id']}", BOB).status_code == 204
    assert [n["id"] for n in api.listing(ANN)["notifications"]] == [shared["id"]]  # deleted for bob only


def test_the_count_in_a_push_includes_role_notifications_of_a_user_the_service_never_saw(api, sockets):
    assert api.create(role="EMPLOYEE").status_code == 201  # nobody is connected yet
    ann = sockets(*ANN)
    assert api.create(userId="7").status_code == 201
    assert next_event(ann, "NOTIFICATION")["data"]["unreadCount"] == 2  # the role's row and the own one


def test_every_read_side_change_reaches_every_tab(api, sockets):
    tab, other_tab = sockets(*ANN), sockets(*ANN)
    created = [api.create(userId="7", title=f"n{i}").json()["notifications"][0]["id"] for i in range(5)]
    for client in (tab, other_tab):
        for _ in created:
            next_event(client, "NOTIFICATION")

    page = api.listing(ANN, "?limit=2")
    assert [n["id"] for n in page["notifications"]] == created[:-3:-1] and page["unreadCount"] == 5
    rest = api.listing(ANN, f"?limit=10&before={page['nextCursor']}")
    assert [n["id"] for n in rest["notifications"]] == created[-3::-1] and rest["nextCursor"] is None

    patched = api.call("PATCH", f"/api/notifications/{created[0]}", ANN, json={"read": True})
    assert patched.status_code == 200 and patched.json()["notification"]["read"] is True
    assert patched.json()["unreadCount"] == 4
    assert api.call("DELETE", f"/api/notifications/{created[1]}", ANN).status_code == 204
    unread = api.listing(ANN, "?unread=true")
    assert sorted(n["id"] for n in unread["notifications"]) == sorted(created[2:]) and unread["unreadCount"] == 3
    answer = api.call("POST", "/api/notifications/mark-all-read", ANN)
    assert answer.status_code == 200 and answer.json() == {"updated": 3, "unreadCount": 0}
    for client in (tab, other_tab):
        assert next_event(client, "NOTIFICATION_READ")["data"] == {"ids": [created[0]], "read": True,
                                                                   "unreadCount": 4}
        assert next_event(client, "NOTIFICATION_READ")["data"] == {"ids": [created[1]], "deleted": True,
                                                                   "unreadCount": 3}
        everything = next_event(client, "NOTIFICATION_READ")["data"]
        assert sorted(everything["ids"]) == sorted(created[2:]) and everything["unreadCount"] == 0
    assert api.call("PATCH", f"/api/notifications/{created[0]}", ANN, json={"read": False}).json()["unreadCount"] == 1
    assert next_event(tab, "NOTIFICATION_READ")["data"] == {"ids": [created[0]], "read": False, "unreadCount": 1}


def test_concurrent_retries_with_one_idempotency_key_give_one_row(api, srv):
    headers = {"Idempotency-Key": "campaign-42-done"}
    answers = [gevent.spawn(api.create, headers=headers, userIds=["7", "8"]) for _ in range(12)]
    responses = [g.get(timeout=20) for g in answers]
    assert {r.status_code for r in responses} == {201}
    assert len({r.text for r in responses}) == 1  # every retry gets the original answer
    assert sorted(r.headers["Idempotent-Replayed"] for r in responses) == ["false"] + ["true"] * 11
    assert rows(srv) == 2  # one per user, once
    reused = api.create(headers=headers, userIds=["7", "8"], title="something else")
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "CONFLICT"
    assert rows(srv) == 2


def zone_where_local_hour_is(hour):
    """An IANA zone (Etc/GMT±N) where it is now ``hour``:xx, so a test needs no particular time of day."""
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        name = f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"  # Etc/GMT-9 is UTC+9
        if now.astimezone(ZoneInfo(name)).hour == hour:
            return name
    raise AssertionError(f"no zone has hour {hour} now")


def test_quiet_hours_spanning_midnight_silence_the_push_but_store_and_count(api, sockets):
    night = zone_where_local_hour_is(0)  # 00:xx there: inside 22:00-07:00, which spans midnight
    noon = zone_where_local_hour_is(12)  # 12:xx there: outside it
    quiet = {"start": "22:00", "end": "07:00"}
    for user, zone in ((ANN, night), (BOB, noon)):
        saved = api.call("PUT", "/api/notifications/preferences", user,
                         json={"quietHours": {**quiet, "timezone": zone}})
        assert saved.status_code == 200 and saved.json()["quietHours"]["timezone"] == zone
    ann, bob = sockets(*ANN), sockets(*BOB)
    assert api.create(userIds=["7", "8"], priority="HIGH").status_code == 201
    asleep = next_event(ann, "NOTIFICATION")["data"]
    assert asleep["silent"] is True and asleep["toast"] is False and asleep["browser"] is False
    assert asleep["unreadCount"] == 1
    awake = next_event(bob, "NOTIFICATION")["data"]
    assert awake["silent"] is False and awake["toast"] is True
    assert api.create(userId="7", priority="URGENT").status_code == 201
    urgent = next_event(ann, "NOTIFICATION")["data"]
    assert urgent["silent"] is False and urgent["toast"] is True and urgent["unreadCount"] == 2
    assert api.listing(ANN)["unreadCount"] == 2  # stored and counted either way


def test_a_type_switched_off_is_not_stored_and_the_answer_says_who_and_why(api, srv):
    off = api.call("PUT", "/api/notifications/preferences", ANN, json={"types": {"CAMPAIGN_PROGRESS": False}})
    assert off.status_code == 200
    assert off.json()["types"]["CAMPAIGN_PROGRESS"] == {"inApp": False, "toast": False, "browser": False}
    response = api.create(userIds=["7", "8"], type="CAMPAIGN_PROGRESS")
    assert response.status_code == 201
    assert [n["userId"] for n in response.json()["notifications"]] == ["8"]
    assert response.json()["skipped"] == [{"userId": "7", "reason": "TYPE_DISABLED"}]
    alone = api.create(userId="7", type="CAMPAIGN_PROGRESS")
    assert alone.status_code == 200 and alone.json() == {"notifications": [],
                                                         "skipped": [{"userId": "7", "reason": "TYPE_DISABLED"}]}
    assert api.listing(ANN)["notifications"] == [] and rows(srv) == 1


def test_preferences_default_round_trip_and_a_bad_put_changes_nothing(api):
    defaults = api.call("GET", "/api/notifications/preferences", ANN).json()
    assert defaults == {"channels": {"inApp": True, "toast": True, "browser": True}, "types": {},
                        "minPriority": {"toast": "NORMAL", "browser": "HIGH"}, "quietHours": None}
    wanted = {"channels": {"inApp": True, "toast": False, "browser": True}, "types": {},
              "minPriority": {"toast": "HIGH", "browser": "URGENT"},
              "quietHours": {"start": "23:30", "end": "06:15", "timezone": "America/Sao_Paulo"}}
    assert api.call("PUT", "/api/notifications/preferences", ANN, json=wanted).json() == wanted
    bad = api.call("PUT", "/api/notifications/preferences", ANN,
                   json={"quietHours": {"start": "25:00", "end": "06:15", "timezone": "Nowhere/Town"}})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"quietHours.start", "quietHours.timezone"}
    assert api.call("GET", "/api/notifications/preferences", ANN).json() == wanted
    assert api.call("GET", "/api/notifications/preferences", BOB).json() == defaults  # per user


@pytest.mark.parametrize("body, fields", [
    ({"userId": "7", "message": "m", "type": "X"}, {"title"}),
    ({"userId": 7, "title": "t", "message": ["m"], "type": "X"}, {"userId", "message"}),
    ({"userId": "7", "title": "t", "message": "m", "type": "X", "priority": "CRITICAL"}, {"priority"}),
    ({"title": "t", "message": "m", "type": "X"}, {"userId"}),
    ({"userId": "7", "role": "EMPLOYEE", "title": "t", "message": "m", "type": "X"}, {"userId", "role"}),
    ({"userIds": ["7", "not valid"], "title": "t", "message": "m", "type": "X", "data": "x"}, {"userIds", "data"}),
])
def test_bad_creates_are_400_with_field_errors_and_create_nothing(api, srv, body, fields):
    response = api.call("POST", "/api/notifications", json=body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "BAD_REQUEST"
    assert set(response.json()["error"]["fields"]) == fields
    assert rows(srv) == 0


def test_malformed_json_forbidden_callers_and_big_bodies(start_server, database_url):
    srv = start_server(database_url=database_url, max_body_bytes=4096)
    api = Api(srv.port)
    malformed = api.call("POST", "/api/notifications", data='{"userId": "7", "title": ',
                         headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and "JSON" in malformed.json()["error"]["message"]
    assert api.call("POST", "/api/notifications", data="[]").status_code == 400
    assert api.create(as_=ANN, userId="7").status_code == 403
    assert requests.post(api.base + "/api/notifications", json={}, timeout=5).status_code == 401
    big = api.create(userId="7", message="x" * 4000, data={"padding": "y" * 1000})
    assert big.status_code == 413 and big.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert api.create(headers={"Idempotency-Key": "has spaces"}, userId="7").status_code == 400
    assert api.call("GET", "/api/notifications?limit=0", ANN).status_code == 400
    bad_query = api.call("GET", "/api/notifications?unread=maybe&before=abc", ANN)
    assert set(bad_query.json()["error"]["fields"]) == {"unread", "before"}
    assert api.call("PATCH", "/api/notifications/1", ANN, json={"read": "yes"}).status_code == 400
    assert rows(srv) == 0


def test_someone_elses_notification_is_not_found_exactly_like_a_missing_one(api, srv):
    mine = api.create(userId="7").json()["notifications"][0]["id"]
    admins = api.create(role="ADMIN").json()["notifications"][0]["id"]
    missing = api.call("PATCH", "/api/notifications/999999", BOB, json={"read": True})
    assert missing.status_code == 404
    for nid in (mine, admins):
        for method, kwargs in (("PATCH", {"json": {"read": True}}), ("DELETE", {})):
            response = api.call(method, f"/api/notifications/{nid}", BOB, **kwargs)
            assert response.status_code == 404
            assert response.json()["error"]["code"] == missing.json()["error"]["code"] == "NOT_FOUND"
    assert api.call("DELETE", "/api/notifications/preferences", ANN).status_code == 404
    assert api.listing(ANN)["notifications"][0]["read"] is False and rows(srv) == 2


def test_retention_keeps_the_newest_per_user_and_nothing_too_old(start_server, database_url):
    srv = start_server(database_url=database_url, notification_max_per_user=2, notification_purge_interval=0.2,
                       notification_max_age_days=2 / 86400)
    api = Api(srv.port)
    created = [api.create(userId="7", title=f"n{i}").json()["notifications"][0]["id"] for i in range(4)]
    assert api.listing(ANN)["unreadCount"] in (2, 4)  # the purge may already have run
    wait = gevent.Timeout(5)
    with wait:
        while rows(srv) > 2:
            gevent.sleep(0.05)
    assert [n["id"] for n in api.listing(ANN)["notifications"]] == created[:1:-1]
    gevent.sleep(2.1)
    assert api.listing(ANN) == {"notifications": [], "unreadCount": 0, "nextCursor": None}  # hidden at once
    with gevent.Timeout(5):
        while rows(srv) > 0:  # and deleted by the next purge
            gevent.sleep(0.05)


def test_the_created_answer_is_valid_json_and_the_idempotent_replay_survives_a_restart(start_server, tmp_path):
    url = f"sqlite:///{tmp_path}/restart.db"
    first = start_server(database_url=url)
    answer = Api(first.port).create(userId="7", headers={"Idempotency-Key": "k"})
    assert answer.status_code == 201
    first.stop()
    second = start_server(database_url=url)
    again = Api(second.port).create(userId="7", headers={"Idempotency-Key": "k"})
    assert again.headers["Idempotent-Replayed"] == "true" and json.loads(again.text) == answer.json()
    assert rows(second) == 1
