"""Delivery records and the unread count across devices, over real sockets and REST: ACKs from two devices and the
deliveries view; the unread count equal on three devices after mixed reads, deletes, mark-alls and creates."""

from __future__ import annotations

import random

import gevent
import pytest
import requests

from tests.client import WsClient
from tests.conftest import token, wait_until


def headers(sub: str, role: str = "EMPLOYEE") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, role)}"}


def create(server, **body):
    answer = requests.post(f"http://127.0.0.1:{server.port}/api/notifications", headers=headers("1", "ADMIN"),
                           json={"title": "t", "message": "m", "type": "LEAD_ASSIGNED", **body}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["notifications"]


def deliveries(server, nid, sub, role="EMPLOYEE"):
    return requests.get(f"http://127.0.0.1:{server.port}/api/notifications/{nid}/deliveries",
                        headers=headers(sub, role), timeout=5)


@pytest.fixture
def devices(server):
    opened: list[WsClient] = []

    def open_(sub: str, count: int) -> list[WsClient]:
        for _ in range(count):
            client = WsClient.open(server.port, token(sub, "EMPLOYEE"))
            assert client.recv()["type"] == "CONNECTED"
            opened.append(client)
        return opened[-count:]

    yield open_
    for client in opened:
        client.close()


def test_acks_from_two_devices_and_the_deliveries_view(server, devices):
    laptop, phone = devices("ann", 2)
    [note] = create(server, userId="ann")
    nid = note["id"]
    for client in (laptop, phone):
        push = client.recv_until(lambda f: f["type"] == "NOTIFICATION")
        assert push["data"]["notification"]["id"] == nid
    laptop.send("ACK", {"ids": [nid], "device": "laptop-1", "seen": False})
    phone.send("ACK", {"ids": [int(nid)], "device": "phone-1"})  # seen by default
    rows = wait_until(lambda: len(deliveries(server, nid, "ann").json()["deliveries"]) == 2 and
                      deliveries(server, nid, "ann").json()["deliveries"])
    assert rows, deliveries(server, nid, "ann").text
    by_device = {row["device"]: row for row in rows}
    assert by_device["laptop-1"]["seenAt"] is None and by_device["laptop-1"]["deliveredAt"].endswith("Z")
    assert by_device["phone-1"]["seenAt"] == by_device["phone-1"]["deliveredAt"]
    laptop.send("ACK", {"ids": [nid], "device": "laptop-1"})  # shown later on the laptop
    assert wait_until(lambda: deliveries(server, nid, "ann").json()["deliveries"][0]["seenAt"] is not None)
    admin = deliveries(server, nid, "1", "ADMIN")
    assert admin.status_code == 200 and admin.json()["notification"] == nid
    assert {row["userId"] for row in admin.json()["deliveries"]} == {"ann"}
    assert deliveries(server, nid, "bob").status_code == 404  # not his: not found
    assert deliveries(server, "abc", "ann").status_code == 404


def test_acks_are_checked_and_unanswered(server, devices):
    [client] = devices("ann", 1)
    for bad in ({"ids": [], "device": "d"}, {"ids": ["x"], "device": "d"}, {"ids": ["1"]},
                {"ids": ["1"], "device": "no spaces"}, {"ids": ["1"], "device": "d", "seen": 1},
                {"ids": [str(n) for n in range(1, 102)], "device": "d"}):
        client.send("ACK", bad, id="a")
        refused = client.recv()
        assert refused["type"] == "ERROR" and refused["data"]["code"] == "BAD_REQUEST", (bad, refused)
    client.send("ACK", {"ids": ["999999"], "device": "d"}, id="fine")  # not ann's: skipped, and still no answer
    client.send("PING", id="p")
    assert client.recv()["type"] == "PONG"


@pytest.mark.parametrize("seed", [16, 17])
def test_the_unread_count_is_the_same_on_three_devices_after_mixed_operations(start_server, database_url, seed):
    """On SQLite and PostgreSQL (whose four workers commit side by side, so pushes could leave in another order
    than the commits that counted them)."""
    server = start_server(database_url=database_url)
    phones = []
    for _ in range(3):
        phone = WsClient.open(server.port, token("ann", "EMPLOYEE"))
        assert phone.recv()["type"] == "CONNECTED"
        phones.append(phone)
    rng = random.Random(seed)
    notes = [n["id"] for n in create(server, userId="ann")]
    notes += [n["id"] for n in create(server, role="EMPLOYEE")]
    base = f"http://127.0.0.1:{server.port}/api/notifications"
    mine = headers("ann")

    def operation(step: int) -> None:
        kind = rng.choice(["read", "unread", "delete", "all", "create", "create"])
        if kind == "create" or not notes:
            made = create(server, userId="ann") if step % 2 else create(server, role="EMPLOYEE")
            notes.extend(n["id"] for n in made)
        elif kind == "all":
            requests.post(f"{base}/mark-all-read", headers=mine, timeout=10)
        elif kind == "delete":
            requests.delete(f"{base}/{notes.pop(rng.randrange(len(notes)))}", headers=mine, timeout=10)
        else:
            requests.patch(f"{base}/{rng.choice(notes)}", headers=mine, json={"read": kind == "read"}, timeout=10)

    for round_ in range(8):  # operations from several "devices" at once, creates among them
        gevent.joinall([gevent.spawn(operation, round_ * 10 + n) for n in range(6)], raise_error=True)
    truth = requests.get(base, headers=mine, timeout=10).json()["unreadCount"]

    def last_count(client: WsClient) -> int | None:
        count = None
        try:
            while True:
                frame = client.recv(timeout=1.0)
                if frame["type"] in ("NOTIFICATION", "NOTIFICATION_READ") and "unreadCount" in frame["data"]:
                    count = frame["data"]["unreadCount"]
        except Exception:  # noqa: BLE001 (quiet for a second: everything pushed has arrived)
            return count

    counts = [last_count(phone) for phone in phones]
    for phone in phones:
        phone.close()
    assert counts == [truth] * 3, (counts, truth)
