// Unit tests of realtime.js's presence and claim calls (docs/presence.md): SUBSCRIBE asks for presence
// only when a handler wants it (and asks again when a later handler does), the viewers reach
// onSubscribed, PRESENCE reaches onPresence and the 'presence' listeners, CLAIM/RELEASE frames, and a
// CONFLICT carries the claim's id as its ref. The server side and the dashboard are in tests/web and
// tests/browser/test_presence_ui.py.
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

import { RealtimeClient } from "../../web/static/realtime.js";
import { Clock, FakeWebSocket, flush } from "./fakes.mjs";

function makeClient(clock) {
  return new RealtimeClient({
    url: "http://server.test", token: "t0", WebSocket: FakeWebSocket, transports: ["websocket"],
    setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, now: clock.now, random: () => 0.5,
    acks: false,
  });
}

async function connectedClient() {
  const clock = new Clock();
  const client = makeClient(clock).connect();
  await clock.advance(0);
  FakeWebSocket.last.connected();
  await flush();
  return client;
}

const subscribesTo = (room) => FakeWebSocket.last.sentOfType("SUBSCRIBE").filter((f) => f.data.room === room);

beforeEach(() => FakeWebSocket.reset());

describe("presence", () => {
  test("SUBSCRIBE carries presence only when asked, and the viewers reach onSubscribed", async () => {
    const client = await connectedClient();
    client.subscribe("lead:1", () => {});
    assert.equal(subscribesTo("lead:1").length, 1);
    assert.equal(subscribesTo("lead:1")[0].data.presence, undefined);
    const infos = [];
    client.subscribe("lead:2", () => {}, { presence: true, onSubscribed: (info) => infos.push(info) });
    const [frame] = subscribesTo("lead:2");
    assert.equal(frame.data.presence, true);
    FakeWebSocket.last.receive({ type: "SUBSCRIBED", data: { room: "lead:2", epoch: "e", offset: 0, ref: frame.id,
      presence: ["7", "42"] } });
    assert.deepEqual(infos.map((i) => i.presence), [["7", "42"]]);
  });

  test("a later handler that wants presence subscribes again with it; a third does not", async () => {
    const client = await connectedClient();
    client.subscribe("lead:3", () => {});
    client.subscribe("lead:3", () => {}, { presence: true });
    client.subscribe("lead:3", () => {}, { presence: true });
    assert.deepEqual(subscribesTo("lead:3").map((f) => f.data.presence), [undefined, true]);
  });

  test("PRESENCE reaches the handlers that asked for it and the 'presence' listeners", async () => {
    const client = await connectedClient();
    const asked = [];
    const notAsked = [];
    const heard = [];
    client.subscribe("contact:5", () => {}, { presence: true, onPresence: (change) => asked.push(change) });
    client.subscribe("contact:5", () => {}, { onPresence: (change) => notAsked.push(change) });
    client.on("presence", (change) => heard.push(change));
    FakeWebSocket.last.receive({ type: "PRESENCE", data: { room: "contact:5", joins: ["9"], leaves: [] } });
    FakeWebSocket.last.receive({ type: "PRESENCE", data: { room: "contact:6", joins: ["1"] } });
    assert.deepEqual(asked, [{ room: "contact:5", joins: ["9"], leaves: [] }]);
    assert.deepEqual(notAsked, []);
    assert.deepEqual(heard.map((c) => c.room), ["contact:5", "contact:6"]);
    assert.deepEqual(heard[1].leaves, []);
  });
});

describe("claims", () => {
  test("claim and release send their frames; a CONFLICT's ref is the claim's id", async () => {
    const client = await connectedClient();
    const errors = [];
    client.on("error", (error) => errors.push(error));
    const id = client.claim("lead:9");
    const forced = client.claim("lead:9", { force: true, ttl: 60 });
    client.release("lead:9");
    const socket = FakeWebSocket.last;
    assert.deepEqual(socket.sentOfType("CLAIM").map((f) => f.data),
      [{ room: "lead:9" }, { room: "lead:9", ttl: 60, force: true }]);
    assert.deepEqual(socket.sentOfType("CLAIM").map((f) => f.id), [id, forced]);
    assert.deepEqual(socket.sentOfType("RELEASE").map((f) => f.data), [{ room: "lead:9" }]);
    socket.receive({ type: "ERROR", data: { code: "CONFLICT", message: "held by 7", by: "7", until: 1, ref: id } });
    assert.equal(errors.length, 1);
    assert.equal(errors[0].ref, id);
    assert.equal(errors[0].by, "7");
  });

  test("a claim made while disconnected is queued and sent once connected", async () => {
    const clock = new Clock();
    const client = makeClient(clock);
    assert.notEqual(client.claim("contact:2"), null);
    client.connect();
    await clock.advance(0);
    FakeWebSocket.last.connected();
    await flush();
    assert.deepEqual(FakeWebSocket.last.sentOfType("CLAIM").map((f) => f.data), [{ room: "contact:2" }]);
  });
});
