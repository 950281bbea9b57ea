// Unit tests of the client side of delivery records (docs/presence.md): the device id, ACKs of pushes,
// ACKs of what the notification store shows, batching and chunking, ACKs kept while disconnected, and
// the unread count taken from pushes over older REST answers. The server side is tests/web/test_presence_deliveries.py.
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

import { NotificationStore } from "../../web/static/notifications.js";
import { RealtimeClient, deviceId } from "../../web/static/realtime.js";
import { Clock, FakeWebSocket } from "./fakes.mjs";

class MemoryStorage {
  constructor(values = {}) {
    this.values = { ...values };
  }

  getItem(key) {
    return key in this.values ? this.values[key] : null;
  }

  setItem(key, value) {
    this.values[key] = String(value);
  }
}

function makeClient(clock, options = {}) {
  return new RealtimeClient({
    url: "http://server.test", token: "t0", WebSocket: FakeWebSocket, transports: ["websocket"],
    setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, now: clock.now, random: () => 0.5,
    storage: new MemoryStorage(), ...options,
  });
}

const push = (offset, id) => ({ type: "NOTIFICATION", room: "user:42", epoch: "e", offset,
  data: { notification: { id: String(id), title: "t", priority: "LOW", read: false }, unreadCount: offset } });

beforeEach(() => FakeWebSocket.reset());

describe("device id", () => {
  test("is kept in storage and reused; a stored value that is not an id is replaced", () => {
    const storage = new MemoryStorage();
    const first = deviceId(storage);
    assert.match(first, /^[A-Za-z0-9_-]{1,64}$/);
    assert.equal(deviceId(storage), first);
    const spoiled = new MemoryStorage({ "realtime-server.device": "not an id!" });
    assert.match(deviceId(spoiled), /^[A-Za-z0-9_-]{1,64}$/);
    assert.notEqual(spoiled.getItem("realtime-server.device"), "not an id!");
    const refusing = { getItem() { throw new Error("denied"); }, setItem() { throw new Error("denied"); } };
    assert.match(deviceId(refusing), /^[A-Za-z0-9_-]{1,64}$/);
  });

  test("the client takes the device option, else the stored one", () => {
    const clock = new Clock();
    assert.equal(makeClient(clock, { device: "kiosk-3" }).device, "kiosk-3");
    const storage = new MemoryStorage({ "realtime-server.device": "phone-7" });
    assert.equal(makeClient(clock, { storage }).device, "phone-7");
  });
});

describe("ACK", () => {
  test("pushed notifications are acknowledged as delivered, a burst in one frame", async () => {
    const clock = new Clock();
    const client = makeClient(clock, { device: "d1" });
    client.connect();
    await clock.advance(0);
    FakeWebSocket.last.connected();
    for (let n = 1; n <= 3; n += 1) FakeWebSocket.last.receive(push(n, 10 + n));
    FakeWebSocket.last.receive(push(3, 13)); // a duplicate is dropped before anything else
    FakeWebSocket.last.receive({ type: "NOTIFICATION", room: "lead:1", epoch: "e", offset: 1, data: { title: "bare" } });
    assert.equal(FakeWebSocket.last.sentOfType("ACK").length, 0, "not before the burst is over");
    await clock.advance(300);
    const acks = FakeWebSocket.last.sentOfType("ACK");
    assert.equal(acks.length, 1);
    assert.deepEqual(acks[0].data, { ids: ["11", "12", "13"], device: "d1", seen: false });
  });

  test("seen wins over delivered, more than 100 ids are split, and nothing is sent with acks: false", async () => {
    const clock = new Clock();
    const client = makeClient(clock, { device: "d2", acks: false });
    client.connect();
    await clock.advance(0);
    FakeWebSocket.last.connected();
    FakeWebSocket.last.receive(push(1, 5));
    await clock.advance(300);
    assert.equal(FakeWebSocket.last.sentOfType("ACK").length, 0, "acks: false sends none by itself");
    client.ack(["7", "8"], { seen: false });
    client.ack(Array.from({ length: 150 }, (_, i) => i + 1).concat(["x", "0", "-1"]));
    await clock.advance(300);
    const acks = FakeWebSocket.last.sentOfType("ACK").map((frame) => frame.data);
    assert.deepEqual(acks.map((a) => [a.seen, a.ids.length]), [[true, 100], [true, 50]]);
    assert.deepEqual(acks.flatMap((a) => a.ids).slice(0, 3), ["1", "2", "3"]);
  });

  test("ACKs made while disconnected leave once connected", async () => {
    const clock = new Clock();
    const client = makeClient(clock, { device: "d3" });
    client.ack(["21"]);
    await clock.advance(300);
    client.connect();
    await clock.advance(0);
    assert.equal(FakeWebSocket.last.sentOfType("ACK").length, 0);
    FakeWebSocket.last.connected();
    await clock.advance(1);
    assert.deepEqual(FakeWebSocket.last.sentOfType("ACK").map((frame) => frame.data),
      [{ ids: ["21"], device: "d3", seen: true }]);
  });
});

describe("NotificationStore and delivery records", () => {
  function storeClient() {
    const acks = [];
    const answers = [];
    return {
      acks, answers, state: "open", on: () => () => {}, connect() {},
      ack(ids, { seen }) { acks.push({ ids: ids.map(String), seen }); },
      api() { return new Promise((resolve) => answers.push(resolve)); },
    };
  }

  test("a loaded page is delivered, a toast and what the app shows are seen", async () => {
    const client = storeClient();
    const store = new NotificationStore(client, { toastMinPriority: "HIGH" });
    const loading = store.refresh();
    client.answers.shift()({ notifications: [{ id: "1" }, { id: "2" }], unreadCount: 2, nextCursor: null });
    await loading;
    store._event({ type: "NOTIFICATION", room: "user:42", offset: 1, data: { notification: { id: "3", title: "x",
      priority: "URGENT", read: false }, unreadCount: 3, toast: true } });
    store.seen(["1"]);
    assert.deepEqual(client.acks, [{ ids: ["1", "2"], seen: false }, { ids: ["3"], seen: true },
      { ids: ["1"], seen: true }]);
    store.dismissToast("3");
  });

  test("a REST answer does not overwrite the count of a push that came while it was on its way", async () => {
    const client = storeClient();
    const store = new NotificationStore(client);
    const marking = store.markRead("1");
    store._event({ type: "NOTIFICATION_READ", room: "user:42", offset: 2, data: { ids: ["2"], read: true,
      unreadCount: 3 } }); // another device's later change
    client.answers.shift()({ notification: { id: "1" }, unreadCount: 4 });
    await marking;
    assert.equal(store.getSnapshot().unreadCount, 3);
    const again = store.markAllRead();
    client.answers.shift()({ updated: 3, unreadCount: 0 }); // no push in between: the answer is current
    await again;
    assert.equal(store.getSnapshot().unreadCount, 0);
  });
});
