// Unit tests of realtime.js's own logic (backoff, recovery bookkeeping, queueing, token refresh,
// SSE fallback decision) with a scripted WebSocket and a manual clock: node --test tests/js
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

import {
  RealtimeClient, RoomPositions, SseParser, backoffDelay, decodeToken, refreshDelay,
} from "../../web/static/realtime.js";
import { Clock, FakeWebSocket, fakeFetch, fakeToken, flush } from "./fakes.mjs";

function makeClient(clock, options = {}) {
  return new RealtimeClient({
    url: "http://server.test", token: "t0", WebSocket: FakeWebSocket, transports: ["websocket"],
    setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, now: clock.now, random: () => 0.5,
    ...options,
  });
}

beforeEach(() => FakeWebSocket.reset());

describe("backoff", () => {
  test("grows exponentially, is capped, and jitter only shortens it", () => {
    const opts = { initial: 100, max: 1000, factor: 2, jitter: 0.5 };
    assert.deepEqual([0, 1, 2, 3, 4, 10, 100].map((n) => backoffDelay(n, opts, () => 0)),
      [100, 200, 400, 800, 1000, 1000, 1000]);
    assert.equal(backoffDelay(3, opts, () => 1), 400); // at most half taken off
    for (let i = 0; i < 200; i += 1) {
      const delay = backoffDelay(5, opts);
      assert.ok(delay >= 500 && delay <= 1000, `delay ${delay}`);
    }
  });

  test("the client waits the backoff delays between failed attempts and resets after CONNECTED", async () => {
    const clock = new Clock();
    const client = makeClient(clock, { backoff: { initial: 100, max: 400, factor: 2, jitter: 0.5 } });
    const delays = [];
    client.on("state", (state, info) => state === "reconnecting" && delays.push(info.delay));
    client.connect();
    await flush();
    for (let i = 0; i < 5; i += 1) {
      assert.equal(FakeWebSocket.instances.length, i + 1);
      FakeWebSocket.last.drop(1006);
      await flush();
      await clock.advance(delays[i] - 1);
      assert.equal(FakeWebSocket.instances.length, i + 1, "no attempt before the delay is over");
      await clock.advance(1);
    }
    assert.deepEqual(delays, [75, 150, 300, 300, 300]); // random 0.5 takes a quarter off; capped at 400
    FakeWebSocket.last.connected();
    assert.equal(client.state, "open");
    assert.equal(client.attempt, 0);
    FakeWebSocket.last.drop(1001);
    await flush();
    assert.equal(delays.at(-1), 75);
  });

  test("close() stops reconnecting", async () => {
    const clock = new Clock();
    const client = makeClient(clock);
    client.connect();
    await flush();
    FakeWebSocket.last.drop(1006);
    await flush();
    client.close();
    await clock.advance(60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.equal(client.state, "closed");
  });
});

describe("recovery bookkeeping", () => {
  test("RoomPositions drops duplicates and asks from the highest offset it accounts for", () => {
    const positions = new RoomPositions();
    positions.subscribed("lead:9", { epoch: "e1", offset: 3 });
    assert.deepEqual(positions.since("lead:9"), { epoch: "e1", offset: 3 });
    assert.equal(positions.accept("lead:9", "e1", 2), true, "latest values sent after SUBSCRIBED are new");
    assert.equal(positions.accept("lead:9", "e1", 4), true);
    assert.equal(positions.accept("lead:9", "e1", 4), false, "duplicate");
    assert.equal(positions.accept("lead:9", "e1", 3), false, "older than delivered");
    assert.deepEqual(positions.since("lead:9"), { epoch: "e1", offset: 4 });
    positions.subscribed("lead:9", { epoch: "e1", offset: 6, recovered: true });
    assert.deepEqual(positions.since("lead:9"), { epoch: "e1", offset: 4 }, "the replay moves it, not SUBSCRIBED");
    positions.subscribed("lead:9", { epoch: "e2", offset: 1, recovered: false });
    assert.deepEqual(positions.since("lead:9"), { epoch: "e2", offset: 1 });
    assert.equal(positions.accept("lead:9", "e2", 1), true, "a new epoch restarts offsets");
    positions.forget("lead:9");
    assert.equal(positions.since("lead:9"), undefined);
  });

  test("after a reconnect every room is resubscribed with since; replays are deduplicated; recovered:false is reported",
    async () => {
      const clock = new Clock();
      const client = makeClient(clock);
      const got = [];
      const subscribed = [];
      client.subscribe("lead:9", (event) => got.push(event.offset), { onSubscribed: (info) => subscribed.push(info) });
      client.on("subscribed", (info) => info.room === "user:42" && subscribed.push(info));
      client.connect();
      await flush();
      let ws = FakeWebSocket.last;
      ws.connected();
      assert.deepEqual(ws.sentOfType("SUBSCRIBE").map((f) => f.data), [{ room: "user:42" }, { room: "role:EMPLOYEE" },
        { room: "lead:9" }], "home rooms too, to learn their positions");
      const subscribeId = (room) => ws.sentOfType("SUBSCRIBE").find((f) => f.data.room === room).id;
      ws.receive({ type: "SUBSCRIBED", data: { room: "user:42", epoch: "u1", offset: 0, ref: subscribeId("user:42") } });
      ws.receive({ type: "SUBSCRIBED", data: { room: "lead:9", epoch: "e1", offset: 3, ref: subscribeId("lead:9") } });
      for (const offset of [4, 5]) ws.receive({ type: "LEAD_UPDATED", room: "lead:9", epoch: "e1", offset, data: {} });
      ws.receive({ type: "SYSTEM_ALERT", room: "user:42", epoch: "u1", offset: 1, data: {} });
      assert.deepEqual(subscribed.map((s) => [s.room, s.recovered, s.resumed]), [["user:42", undefined, false],
        ["lead:9", undefined, false]]);

      ws.drop(1006);
      await clock.advance(1000);
      ws = FakeWebSocket.last;
      assert.equal(FakeWebSocket.instances.length, 2);
      ws.connected();
      const resubscribes = Object.fromEntries(ws.sentOfType("SUBSCRIBE").map((f) => [f.data.room, f.data.since]));
      assert.deepEqual(resubscribes, { "user:42": { epoch: "u1", offset: 1 }, "role:EMPLOYEE": undefined,
        "lead:9": { epoch: "e1", offset: 5 } });
      ws.receive({ type: "SUBSCRIBED", data: { room: "lead:9", epoch: "e1", offset: 7, recovered: true } });
      for (const offset of [5, 6, 7, 7]) ws.receive({ type: "LEAD_UPDATED", room: "lead:9", epoch: "e1", offset, data: {} });
      ws.receive({ type: "SUBSCRIBED", data: { room: "user:42", epoch: "u2", offset: 0, recovered: false } });
      ws.receive({ type: "SUBSCRIBED", data: { room: "role:EMPLOYEE", epoch: "r2", offset: 0 } });
      assert.deepEqual(got, [4, 5, 6, 7], "each offset exactly once");
      assert.deepEqual(subscribed.slice(2).map((s) => [s.room, s.recovered, s.resumed]),
        [["lead:9", true, true], ["user:42", false, true]]);
      const all = [];
      client.on("subscribed", (info) => all.push(info));
      ws.drop(1006);
      await clock.advance(1000);
      FakeWebSocket.last.connected();
      FakeWebSocket.last.receive({ type: "SUBSCRIBED", data: { room: "lead:9", epoch: "e9", offset: 2, recovered: false } });
      assert.deepEqual(all.map((s) => [s.room, s.recovered]), [["lead:9", false]]);
    });

  test("a room without a known position is reported not recovered after a reconnect", async () => {
    const clock = new Clock();
    const client = makeClient(clock);
    const infos = [];
    client.subscribe("campaign:7", () => {}, { onSubscribed: (info) => infos.push(info) });
    client.connect();
    await flush();
    FakeWebSocket.last.connected();
    FakeWebSocket.last.drop(1006); // before SUBSCRIBED came back
    await clock.advance(1000);
    const ws = FakeWebSocket.last;
    ws.connected();
    assert.equal(ws.sentOfType("SUBSCRIBE").find((f) => f.data.room === "campaign:7").data.since, undefined);
    ws.receive({ type: "SUBSCRIBED", data: { room: "campaign:7", epoch: "c1", offset: 4 } });
    assert.deepEqual(infos.map((i) => i.recovered), [false]);
  });

  test("unsubscribing the last handler sends UNSUBSCRIBE and forgets the position", async () => {
    const clock = new Clock();
    const client = makeClient(clock);
    client.connect();
    await flush();
    const ws = FakeWebSocket.last;
    ws.connected();
    const first = client.subscribe("lead:1", () => {});
    const second = client.subscribe("lead:1", () => {});
    assert.equal(ws.sentOfType("SUBSCRIBE").filter((f) => f.data.room === "lead:1").length, 1);
    ws.receive({ type: "SUBSCRIBED", data: { room: "lead:1", epoch: "e", offset: 2 } });
    first();
    assert.equal(ws.sentOfType("UNSUBSCRIBE").length, 0);
    second();
    assert.deepEqual(ws.sentOfType("UNSUBSCRIBE").map((f) => f.data), [{ room: "lead:1" }]);
    assert.equal(client.positions.since("lead:1"), undefined);
  });

  test("ERROR answering a SUBSCRIBE reaches that room's onError", async () => {
    const clock = new Clock();
    const client = makeClient(clock);
    const errors = [];
    client.subscribe("user:7", () => {}, { onError: (e) => errors.push(e) });
    client.connect();
    await flush();
    const ws = FakeWebSocket.last;
    ws.connected();
    const id = ws.sentOfType("SUBSCRIBE").find((f) => f.data.room === "user:7").id;
    ws.receive({ type: "ERROR", data: { code: "FORBIDDEN", message: "no", ref: id } });
    assert.deepEqual(errors.map((e) => [e.code, e.room]), [["FORBIDDEN", "user:7"]]);
  });
});

describe("outgoing queue", () => {
  test("frames sent while disconnected go out in order after the resubscriptions; the oldest are dropped past the limit",
    async () => {
      const clock = new Clock();
      const client = makeClient(clock, { queueLimit: 3 });
      const errors = [];
      client.on("error", (e) => errors.push(e.code));
      for (const n of [1, 2, 3, 4]) client.send("TYPING_START", { contactId: String(n) });
      assert.equal(client.send("SUBSCRIBE", { room: "lead:1" }), null, "subscriptions are state, not queued");
      assert.deepEqual(errors, ["QUEUE_FULL"]);
      client.subscribe("lead:1", () => {});
      client.connect();
      await flush();
      const ws = FakeWebSocket.last;
      ws.connected();
      assert.deepEqual(ws.sent.map((f) => f.type === "SUBSCRIBE" ? f.data.room : f.data.contactId),
        ["user:42", "role:EMPLOYEE", "lead:1", "2", "3", "4"]);
      client.send("TYPING_STOP", { contactId: "9" });
      assert.equal(ws.sent.at(-1).type, "TYPING_STOP", "sent at once while open");
      ws.drop(1006);
      await flush();
      client.send("TYPING_STOP", { contactId: "10" });
      await clock.advance(1000);
      FakeWebSocket.last.connected();
      assert.deepEqual(FakeWebSocket.last.sentOfType("TYPING_STOP").map((f) => f.data.contactId), ["10"]);
    });

  test("request() resolves with the answer that carries its id and rejects on ERROR", async () => {
    const clock = new Clock();
    const client = makeClient(clock);
    client.connect();
    await flush();
    const ws = FakeWebSocket.last;
    ws.connected();
    const pong = client.request("PING");
    ws.receive({ type: "PONG", data: { ref: ws.sent.at(-1).id } });
    assert.equal((await pong).type, "PONG");
    const bad = client.request("TYPING_START", { contactId: 5 });
    ws.receive({ type: "ERROR", data: { code: "FORBIDDEN", message: "nope", ref: ws.sent.at(-1).id } });
    await assert.rejects(bad, /nope/);
  });
});

describe("tokens", () => {
  test("a token function is asked again before expiry and the fresh token is sent with AUTH", async () => {
    const clock = new Clock();
    const nowS = () => Math.floor(clock.now() / 1000);
    const issued = [];
    const tokenFn = async () => {
      const token = fakeToken({ exp: nowS() + 120, n: issued.length });
      issued.push(token);
      return token;
    };
    const client = makeClient(clock, { token: tokenFn, refreshMargin: 30_000 });
    client.connect();
    await flush();
    assert.equal(issued.length, 1);
    assert.ok(FakeWebSocket.last.url.endsWith(`/ws?token=${encodeURIComponent(issued[0])}`));
    const ws = FakeWebSocket.last;
    ws.connected({ exp: nowS() + 120, heartbeat: 1000 });
    await clock.advance(89_000);
    assert.equal(issued.length, 1, "not yet: 30 s margin of 120 s");
    await clock.advance(1_000);
    assert.equal(issued.length, 2);
    const auth = ws.sentOfType("AUTH");
    assert.deepEqual(auth.map((f) => f.data.token), [issued[1]]);
    ws.receive({ type: "AUTHENTICATED", data: { exp: nowS() + 120, ref: auth[0].id } });
    await clock.advance(89_000);
    assert.equal(issued.length, 2);
    await clock.advance(1_000);
    assert.equal(issued.length, 3, "rescheduled from AUTHENTICATED's exp");
  });

  test("the refresh follows the server's clock (CONNECTED.timestamp), not a skewed local one", async () => {
    const clock = new Clock();
    let calls = 0;
    const client = makeClient(clock, { token: async () => { calls += 1; return fakeToken({ exp: 9e9 }); },
      refreshMargin: 30_000 });
    client.connect();
    await flush();
    const serverNow = clock.now() + 60_000; // the local clock is a minute slow
    FakeWebSocket.last.connected({ exp: Math.floor(serverNow / 1000) + 120, heartbeat: 1000 }, new Date(serverNow).toISOString());
    await clock.advance(89_000);
    assert.equal(calls, 1);
    await clock.advance(1_000);
    assert.equal(calls, 2, "90 s after CONNECTED: 30 s before exp on the server's clock (150 s by the local one)");
  });

  test("refreshDelay and decodeToken", () => {
    assert.equal(refreshDelay(200_000, 0, 60_000), 140_000);
    assert.equal(refreshDelay(100_000, 0, 60_000), 50_000, "never later than half the remaining time");
    assert.equal(refreshDelay(1_000, 2_000), 0);
    assert.deepEqual(decodeToken(fakeToken({ exp: 5 })), { sub: "42", role: "EMPLOYEE", exp: 5 });
    assert.equal(decodeToken("opaque"), null);
  });

  test("close 4001 with a static token stops instead of looping on a dead token; with a function it reconnects fresh",
    async () => {
      const clock = new Clock();
      const client = makeClient(clock);
      client.connect();
      await flush();
      FakeWebSocket.last.connected();
      FakeWebSocket.last.drop(4001, "token expired");
      await clock.advance(60_000);
      assert.equal(client.state, "closed");
      assert.equal(FakeWebSocket.instances.length, 1);

      let calls = 0;
      const fresh = makeClient(clock, { token: async () => { calls += 1; return fakeToken({ exp: 9e9, n: calls }); } });
      fresh.connect();
      await flush();
      FakeWebSocket.last.connected();
      FakeWebSocket.last.drop(4001, "token expired");
      await clock.advance(1000);
      assert.equal(FakeWebSocket.instances.length, 3);
      assert.equal(calls, 2, "a new token for the new connection");
    });
});

describe("liveness", () => {
  test("a silent socket gets a PING after a heartbeat and is replaced after two heartbeats plus 5 s", async () => {
    const clock = new Clock();
    const client = makeClient(clock);
    client.connect();
    await flush();
    const ws = FakeWebSocket.last;
    ws.connected({ heartbeat: 10 });
    await clock.advance(10_000);
    assert.equal(ws.sentOfType("PING").length, 1);
    ws.receive({ type: "PONG", data: {} });
    await clock.advance(24_000);
    assert.equal(FakeWebSocket.instances.length, 1);
    await clock.advance(2_000);
    assert.equal(ws.closedWith.code, 4000);
    assert.equal(FakeWebSocket.instances.length, 2, "a new attempt after the backoff delay");
    assert.equal(client.state, "connecting");
  });
});

describe("SSE fallback", () => {
  test("when /ws fails before CONNECTED and /healthz answers, the same attempt streams /sse with the rooms", async () => {
    const clock = new Clock();
    const { fetch, calls, streams } = fakeFetch();
    const client = makeClient(clock, { fetch, transports: ["websocket", "sse"], token: fakeToken({ exp: 9e9 }) });
    const got = [];
    client.subscribe("lead:9", (e) => got.push(e.data.n));
    client.connect();
    await flush();
    FakeWebSocket.last.drop(1006);
    await flush();
    await flush();
    assert.deepEqual(calls.map((c) => new URL(c.url).pathname), ["/healthz", "/sse"]);
    const sse = new URL(calls[1].url);
    assert.equal(sse.searchParams.get("rooms"), "user:42,role:EMPLOYEE,lead:9");
    assert.equal(calls[1].init.headers.Authorization, `Bearer ${fakeToken({ exp: 9e9 })}`);
    streams[0].push("retry: 2000\n\n");
    streams[0].event("CONNECTED", { type: "CONNECTED", data: { rooms: ["user:42", "role:EMPLOYEE"], heartbeat: 25 } });
    streams[0].event("SUBSCRIBED", { type: "SUBSCRIBED", data: { room: "lead:9", epoch: "e", offset: 0 } });
    streams[0].event("LEAD_UPDATED", { type: "LEAD_UPDATED", room: "lead:9", epoch: "e", offset: 1, data: { n: 1 } });
    await clock.advance(10);
    assert.equal(client.state, "open");
    assert.equal(client.transport, "sse");
    assert.deepEqual(got, [1]);
    assert.equal(client.send("TYPING_START", { contactId: "1" }), null, "no upstream on SSE");

    client.subscribe("campaign:3", () => {}); // a new room: the stream restarts with every position
    await clock.advance(10);
    const restart = new URL(calls.at(-1).url);
    assert.equal(restart.searchParams.get("rooms"), "user:42,role:EMPLOYEE,lead:9,campaign:3");
    assert.equal(restart.searchParams.get("since"), "lead:9@e:1");
  });

  test("when /healthz fails too (server down) it backs off and tries WebSocket again", async () => {
    const clock = new Clock();
    const { fetch, calls } = fakeFetch({ healthy: false });
    const client = makeClient(clock, { fetch, transports: ["websocket", "sse"] });
    client.connect();
    await flush();
    FakeWebSocket.last.drop(1006);
    await flush();
    await flush();
    assert.equal(client.state, "reconnecting");
    assert.deepEqual(calls.map((c) => new URL(c.url).pathname), ["/healthz"]);
    await clock.advance(1000);
    assert.equal(FakeWebSocket.instances.length, 2);
  });

  test("SseParser: chunks split anywhere, CRLF, comments, multi-line data", () => {
    const events = [];
    const comments = [];
    const parser = new SseParser((e) => events.push(e), (c) => comments.push(c));
    const text = "retry: 2000\r\n\r\n: ping\n\nevent: A\ndata: {\"x\":\ndata: 1}\nid: r@e:1\n\nevent: B\ndata: 2\n\n";
    for (const ch of text) parser.push(ch);
    assert.deepEqual(events, [{ event: "A", data: "{\"x\":\n1}", id: "r@e:1" }, { event: "B", data: "2", id: null }]);
    assert.deepEqual(comments, ["ping"]);
  });
});
